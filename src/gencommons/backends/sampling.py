"""Next-token sampling for a batch whose rows each have their own temperature, top_p and seed.

Temperature and nucleus (top_p) filtering are applied to the whole ``(B, V)`` logits at once; the draw is
one ``torch.multinomial`` per row with that row's own ``torch.Generator``, so a row's tokens depend on its
seed and its logits only, never on which other requests share the batch. Temperature 0 is greedy.
Nucleus sampling: Holtzman et al. 2019, https://arxiv.org/abs/1904.09751.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def sample_next_tokens(
    logits: torch.Tensor,
    *,
    temperatures: Sequence[float],
    top_ps: Sequence[float],
    generators: Sequence[torch.Generator],
) -> list[int]:
    """One token id per row of ``logits`` (B, V), on the CPU in float32.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> sample_next_tokens(torch.tensor([[0.0, 5.0], [9.0, 0.0]]), temperatures=[0, 1],
        ...                    top_ps=[1, 0.5], generators=[g, g])
        [1, 0]
    """
    logits = logits.float().cpu()
    out = logits.argmax(dim=-1).tolist()
    rows = [i for i, t in enumerate(temperatures) if t > 0]
    if not rows:
        return out
    idx = torch.tensor(rows)
    temps = torch.tensor([temperatures[i] for i in rows], dtype=torch.float32).unsqueeze(1)
    probs = torch.softmax(logits[idx] / temps, dim=-1)  # (R, V)
    top_p = torch.tensor([top_ps[i] for i in rows], dtype=torch.float32).unsqueeze(1)
    if (top_p < 1).any():
        sorted_p, order = probs.sort(dim=-1, descending=True)
        # keep a token while the mass before it is below top_p (the first token is always kept)
        drop = (sorted_p.cumsum(dim=-1) - sorted_p) >= top_p
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
    for j, i in enumerate(rows):
        out[i] = int(torch.multinomial(probs[j], 1, generator=generators[i]).item())
    return out
