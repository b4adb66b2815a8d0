"""Every user-facing exception of gencommons.

```
GencommonsError
  UserError             # fixable by the user; the CLI prints it as "Error: ..." without a traceback
    ConfigError         # a pipeline YAML or option is wrong; names the config key
    UnknownNameError    # a registry lookup missed; suggests the closest names
    MissingDependencyError  # an optional extra is not installed; says what to pip install
    InputDataError      # an input file is malformed; names the file and line
    OutputConflictError # an output directory holds the result of a different config
    BackendError        # a model endpoint is down, refused the request or answered garbage; names the URL
    InvalidRequestError # a generation request is out of bounds (max_tokens, a prompt past the context)
```

A message says what happened, what is allowed and what to type.
"""

from __future__ import annotations

from typing import Any


class GencommonsError(Exception):
    """Base of every gencommons exception."""


class UserError(GencommonsError):
    """An error the user can fix; the CLI prints it without a traceback."""


class ConfigError(UserError):
    """A configuration value is missing or invalid."""


class UnknownNameError(UserError, KeyError):
    """A registry has no entry of that name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(UserError, ImportError):
    """An optional dependency is not installed."""


class InputDataError(UserError):
    """An input record or file is malformed.

    Attributes:
        path: the input file.
        line: 1-based line (JSONL, text) or record number (WARC, Parquet row), when known.
        reason: a short machine-readable reason (``malformed_json``, ``invalid_utf8``, ...).
    """

    def __init__(self, message: str, *, path: str, line: int | None = None, reason: str = "bad_input"):
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.reason = reason
        self._message = message

    def __reduce__(self) -> tuple[Any, ...]:  # keep the kw-only args across process pools
        return _rebuild_input_error, (self._message, self.path, self.line, self.reason)


def _rebuild_input_error(message: str, path: str, line: int | None, reason: str) -> InputDataError:
    return InputDataError(message, path=path, line=line, reason=reason)


class OutputConflictError(UserError):
    """The output directory holds the (partial) result of a different configuration."""


class BackendError(UserError):
    """A model backend failed: the endpoint is down, refused the request or answered garbage.

    Attributes:
        url: the endpoint (or model folder) that failed.
        status: the HTTP status it answered, when it answered.
    """

    def __init__(self, message: str, *, url: str, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class InvalidRequestError(UserError):
    """A generation request is out of bounds; the server answers it with HTTP 400.

    Attributes:
        param: the offending request field (``max_tokens``, ``messages``), as OpenAI names it.
        code: a short machine-readable code (``context_length_exceeded``, ``invalid_value``).
    """

    def __init__(self, message: str, *, param: str | None = None, code: str = "invalid_value"):
        super().__init__(message)
        self.param = param
        self.code = code


def require(module: str, *, extra: str) -> None:
    """Raise MissingDependencyError unless ``module`` can be imported."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(f"This feature needs '{module}': pip install 'gencommons[{extra}]'")
