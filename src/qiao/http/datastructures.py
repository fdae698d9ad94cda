"""Multi-valued mappings for headers, query strings and forms.

``Headers`` is case-insensitive and keeps every value of a repeated field; ``MultiDict`` keeps every
value of a repeated key. Indexing returns the first value, ``getlist`` returns them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar, overload

__all__ = ["Headers", "MultiDict"]

_T = TypeVar("_T")
_V = TypeVar("_V")

# SECURITY: a CR or LF inside a header value would let a caller inject headers or split the
# response; NUL is refused by every strict parser.


class MultiDict(Mapping[str, _V]):
    """An immutable mapping from a key to one or more values, in arrival order.

    ``d[key]`` and ``d.get(key)`` give the first value; ``d.getlist(key)`` gives all of them.
    """

    __slots__ = ("_dict", "_items")

    def __init__(self, items: Iterable[tuple[str, _V]] | Mapping[str, _V] = ()) -> None:
        if isinstance(items, MultiDict):
            items = items.multi_items()
        elif isinstance(items, Mapping):
            items = list(items.items())
        self._items: list[tuple[str, _V]] = list(items)
        first: dict[str, _V] = {}
        for key, value in self._items:
            first.setdefault(key, value)
        self._dict = first

    def __getitem__(self, key: str) -> _V:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def getlist(self, key: str) -> list[_V]:
        """Every value of ``key``, in arrival order (empty if absent)."""
        return [v for k, v in self._items if k == key]

    def _grouped(self) -> dict[str, list[_V]]:
        grouped: dict[str, list[_V]] = {}
        for key, value in self._items:
            grouped.setdefault(key, []).append(value)
        return grouped

    def multi_items(self) -> list[tuple[str, _V]]:
        """Every ``(key, value)`` pair, repeated keys included."""
        return list(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return self._grouped() == other._grouped()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


class Headers:
    """HTTP header fields: case-insensitive, multi-valued, order kept.

    Names are stored lower-cased (as HTTP/2 sends them). Request headers are read-only by
    convention; response headers are changed with ``h[name] = value`` (replaces), ``add`` (appends)
    and ``del h[name]``. Setting a value that contains CR, LF or NUL raises ``ValueError``.
    """

    __slots__ = ("_list",)

    def __init__(self, raw: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        if isinstance(raw, Headers):
            raw = raw.items()
        if raw is None:
            self._list: list[tuple[str, str]] = []
        elif isinstance(raw, Mapping):
            self._list = [(_name(k), _value(v)) for k, v in raw.items()]
        else:
            self._list = [(_name(k), _value(v)) for k, v in raw]

    @classmethod
    def _trusted(cls, pairs: list[tuple[str, str]]) -> Headers:
        """Wrap already lower-cased pairs without validating them again (adapters use this)."""
        headers = cls.__new__(cls)
        headers._list = pairs
        return headers

    # -- reading ------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> str:
        key = name.lower()
        for k, v in self._list:
            if k == key:
                return v
        raise KeyError(name)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: _T) -> str | _T: ...
    def get(self, name: str, default: object = None) -> object:
        """The first value of ``name``, or ``default``."""
        key = name.lower()
        for k, v in self._list:
            if k == key:
                return v
        return default

    def getlist(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        key = name.lower()
        return [v for k, v in self._list if k == key]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(k == key for k, _ in self._list)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for k, _ in self._list:
            if k not in seen:
                seen.add(k)
                yield k

    def __len__(self) -> int:
        return len(self._list)

    def keys(self) -> list[str]:
        """The distinct field names, lower-cased."""
        return list(self)

    def items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair, repeated fields included."""
        return list(self._list)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted(self._list) == sorted(other._list)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._list!r})"

    # -- changing -----------------------------------------------------------------------------
    def __setitem__(self, name: str, value: str) -> None:
        key = _name(name)
        self._list = [(k, v) for k, v in self._list if k != key]
        self._list.append((key, _value(value)))

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        self._list = [(k, v) for k, v in self._list if k != key]

    def add(self, name: str, value: str) -> None:
        """Append a field, keeping earlier ones of the same name (``Set-Cookie``, ``Vary``...)."""
        self._list.append((_name(name), _value(value)))

    def setdefault(self, name: str, value: str) -> str:
        """Set ``name`` unless it is present; return its (first) value."""
        current = self.get(name)
        if current is None:
            self.add(name, value)
            return value
        return current

    def update(self, other: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        """Replace each named field with the given value(s)."""
        if isinstance(other, Headers):
            pairs = other.items()
        else:
            pairs = list(other.items()) if isinstance(other, Mapping) else list(other)
        for key in {_name(k) for k, _ in pairs}:
            del self[key]
        for k, v in pairs:
            self.add(k, v)

    def add_vary(self, *fields: str) -> None:
        """Add field names to ``Vary`` without repeating one already there (several ``Vary``
        lines are merged into one)."""
        current: list[str] = []
        for line in self.getlist("vary"):
            for f in line.split(","):
                f = f.strip().lower()
                if f and f not in current:
                    current.append(f)
        for field in fields:
            if field.lower() not in current:
                current.append(field.lower())
        self["vary"] = ", ".join(current)


def _name(name: str) -> str:
    # PERF: four ``in`` tests are ten times cheaper than a ``translate`` round trip.
    if not name or "\r" in name or "\n" in name or "\0" in name or ":" in name or " " in name:
        raise ValueError(f"Invalid header name {name!r}.")
    return name.lower()


def _value(value: str) -> str:
    value = str(value)
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(
            f"Header value {value!r} contains CR, LF or NUL; strip them before setting the header."
        )
    if not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"Header value {value!r} is not latin-1, which is all HTTP/1.1 can carry; "
                "percent-encode it (urllib.parse.quote) or use RFC 8187 encoding."
            ) from None
    return value
