"""One small Registry: register by name, discover plugins through entry points, suggest on a miss.

Built-ins register with the same decorator third-party plugins use. A registry imports the modules of
its home package the first time a name is asked for, so a new built-in is one new file. Asked for one
name, it first imports only the home modules whose source spells that name in quotes (a pipeline of
dedup steps then never imports the filters and their polars); all of them if that finds nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from gencommons.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named plugins of one kind.

    Args:
        kind: what the entries are, for messages ("pipeline step").
        package: the package (or packages) whose modules hold the built-ins (imported lazily).
        group: the entry-point group third-party packages register under.

    Example:
        >>> r: Registry[int] = Registry("number", package=None, group=None)
        >>> _ = r.add("one", 1)
        >>> r["one"]
        1
    """

    def __init__(self, kind: str, *, package: str | tuple[str, ...] | None, group: str | None):
        self.kind = kind
        self.packages = (package,) if isinstance(package, str) else (package or ())
        self.group = group
        self._entries: dict[str, T] = {}
        self._loaded = False

    def add(self, name: str, entry: T) -> T:
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(entry: T) -> T:
            return self.add(name, entry)

        return decorate

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for package in self.packages:
            pkg = importlib.import_module(package)
            for info in pkgutil.iter_modules(pkg.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{package}.{info.name}")
        if self.group:
            # imported here: importlib.metadata (with email, csv, zipfile) costs a process ~2 MB
            from importlib.metadata import entry_points

            for ep in entry_points(group=self.group):
                if ep.name not in self._entries:
                    loaded = ep.load()
                    if ep.name not in self._entries:  # the module may have registered itself
                        self._entries[ep.name] = loaded

    def _find(self, name: str) -> None:
        """Import the home modules that mention ``"name"`` (an optimisation only: ``_load`` follows
        if the name is still missing)."""
        if self._loaded or name in self._entries:
            return
        for package in self.packages:
            pkg = importlib.import_module(package)
            for info in pkgutil.iter_modules(pkg.__path__):
                if info.name.startswith("_"):
                    continue
                spec = importlib.util.find_spec(f"{package}.{info.name}")
                origin = spec.origin if spec is not None else None
                try:
                    with open(origin or "", encoding="utf-8") as fh:
                        source = fh.read()
                    mentions = f'"{name}"' in source or f"'{name}'" in source
                except OSError:
                    mentions = True  # no readable source (a compiled module): import it
                if mentions:
                    importlib.import_module(f"{package}.{info.name}")
                    if name in self._entries:
                        return

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self._find(name)
            if name in self._entries:
                return True
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __getitem__(self, name: str) -> T:
        self._find(name)
        if name in self._entries:
            return self._entries[name]
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.miss_message(name)) from None

    def miss_message(self, name: str) -> str:
        import difflib

        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names())}."
