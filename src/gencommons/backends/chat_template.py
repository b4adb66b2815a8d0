"""The default chat template (ChatML style) for tiny models whose tokenizer has none, and the one
function that turns chat messages into a prompt.

``DEFAULT_CHAT_TEMPLATE`` renders

```
<|im_start|>system
You are terse.<|im_end|>
<|im_start|>user
Hi<|im_end|>
<|im_start|>assistant
```

(the last line only with ``add_generation_prompt=True``). A tokenizer that uses it should have
``<|im_start|>`` and ``<|im_end|>`` as special tokens and ``<|im_end|>`` as its eos token, so that a
model stops at the end of its turn; the local backend also stops at ``<|im_end|>`` whenever the vocabulary
has it. The tokenizer trainer sets it with ``PreTrainedTokenizerFast(..., chat_template=DEFAULT_CHAT_TEMPLATE)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
END_OF_TURN = "<|im_end|>"


def render_chat(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    """The prompt text for ``messages``: the tokenizer's own chat template, else the default one."""
    template = getattr(tokenizer, "chat_template", None) or DEFAULT_CHAT_TEMPLATE
    text = tokenizer.apply_chat_template(
        [dict(m) for m in messages], chat_template=template, tokenize=False, add_generation_prompt=True
    )
    assert isinstance(text, str)
    return text
