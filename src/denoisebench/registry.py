"""A small name -> factory registry used for methods, models, datasets and noise models."""

from __future__ import annotations

import sys
from typing import Callable, Generic, Iterator, TypeVar

from denoisebench.errors import UnknownNameError

T = TypeVar("T")

#: Modules first imported while a registry loader ran (paper packages imported to register their items): an
#: entry's depfile counts them only where it looked up an item they registered (:data:`LOOKED_UP`).
LOADER_IMPORTED: set[str] = set()
#: Modules that registered an item some lookup returned, since the process started (the pipeline's depfiles).
LOOKED_UP: set[str] = set()


def _caller_module() -> str:
    """The module that called into this one (the one registering an item)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    return frame.f_globals.get("__name__", "?") if frame is not None else "?"


def load_paper_registrations() -> None:
    """Loader of the registries a paper package may extend (noise models, datasets, dataset layouts, metric
    protocols, released weights): import every paper's ``registers`` modules (``Paper.registers``)."""
    from denoisebench.papers import load_paper_registrations as load

    load()


class Registry(Generic[T]):
    """Maps names to objects; an unknown name fails with the list of valid names.

    Args:
        kind: what the registry holds ("method", "dataset", ...), used in error messages.
        loader: called once, before the first lookup, to import the modules that register items (e.g. the
            discovered paper packages); registering never triggers it.
    """

    def __init__(self, kind: str, loader: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._loader = loader

    def _load(self) -> None:
        """Run the loader once (cleared first, so a lookup during loading does not recurse)."""
        loader, self._loader = self._loader, None
        if loader is not None:
            before = set(sys.modules)
            loader()
            LOADER_IMPORTED.update(set(sys.modules) - before)

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name``; registering a name twice is a programming error."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = item
        self._origins[name] = _caller_module()
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorator(item: T) -> T:
            return self.add(name, item)

        return decorator

    def get(self, name: str) -> T:
        """Return the object registered as ``name`` or raise :class:`UnknownNameError` (the loader runs only when
        ``name`` is not registered yet, so a core method is found without importing the paper packages)."""
        if name not in self._items:
            self._load()
        try:
            item = self._items[name]
        except KeyError:
            valid = ", ".join(sorted(self._items)) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; valid names: {valid}") from None
        LOOKED_UP.add(self._origins[name])
        return item

    def origin(self, name: str) -> str:
        """The module that registered ``name``."""
        self.get(name)
        return self._origins[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        if name not in self._items:
            self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._items)
