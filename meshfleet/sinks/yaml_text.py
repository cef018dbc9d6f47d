"""Plan bodies as YAML text: PyYAML's bytes, written fast.

Why: the renderer, the GitOps hand-off and `render --stdout` must write the same bytes for the same
object; this is the one place that turns a body into text.
"""

from __future__ import annotations

import marshal
import re
from typing import Any

import yaml

try:
    _Base: type[yaml.SafeDumper] | type[yaml.CSafeDumper] = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeDumper


class _NoAliases:
    """Never an anchor and alias: a plan shares equal parts between bodies (an exporter's endpoint
    entry), and a manifest says each value where it is."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper: type[Any] = type("_Dumper", (_NoAliases, _Base), {})


def dump_yaml(obj: Any) -> str:
    """YAML text with keys in the order the plan built them (the plan is already canonical)."""
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 16, allow_unicode=True)


class _Unusual(Exception):
    """A value the block writer leaves to PyYAML (multi-line or very long text, nested lists...)."""


# Strings PyYAML writes plain: a letter or `/` first, then letters, digits and `_./-`; and none of
# the words YAML 1.1 reads as booleans or null.
_PLAIN = re.compile(r"[A-Za-z/][A-Za-z0-9_./-]*\Z")
_RESOLVED_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null", "y", "n"})
_LONGEST_SCALAR = 512
_CACHE_LIMIT = 64 << 20
"""Bytes of whole documents (key and text) the writer remembers before it starts afresh."""


def _scalar_key(value: Any) -> tuple[type, Any]:
    """The cache key of a non-string scalar: its type and value, and for floats their exact bits,
    since `0.0 == -0.0` (and they hash alike) but PyYAML writes them differently."""
    if type(value) is float:
        return float, value.hex()
    return type(value), value


class BlockWriter:
    """Writes plan bodies as the same bytes as `dump_yaml`, many times faster.

    Why: rendering 100k objects spent most of its time in PyYAML's Python representer, resolving
    the same few thousand scalars again and again. Plan bodies hold only mappings with string keys,
    lists, strings, numbers and booleans, in block style. The writer lays out that structure itself
    and asks PyYAML once for the text of each distinct key and scalar (so quoting is PyYAML's own),
    and hands anything unusual back to `dump_yaml`. The same document often recurs (a service's
    predicted import is the same in every importing cluster), so whole documents are remembered
    too, keyed by their `marshal` bytes: equal bytes load as the same value with the same types
    (`1`, `'1'`, `True`, `1.0`, `0.0` and `-0.0` all differ; floats bit for bit), and anything but
    plain data is refused. Equal documents built differently may get different bytes: only a miss.
    A property test holds the writer to `dump_yaml` byte for byte.
    """

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._scalars: dict[tuple[type, Any], str] = {}
        self._keys: dict[str, str] = {}
        self._heads: dict[str, dict[str, str]] = {}
        self._documents: dict[bytes, str] = {}
        self._remembered = 0

    def dump(self, obj: Any) -> str:
        if type(obj) is not dict or not obj:
            return dump_yaml(obj)
        key: bytes | None
        try:
            key = marshal.dumps(obj)
        except ValueError:  # not plain data (a subclass, an object): not remembered
            key = None
        else:
            text = self._documents.get(key)
            if text is not None:
                return text
        out: list[str] = []
        try:
            self._mapping(obj, "", out)
        except _Unusual:
            return dump_yaml(obj)
        text = "".join(out)
        if key is not None:
            self._remembered += len(text) + len(key)
            if self._remembered > _CACHE_LIMIT:
                self._documents.clear()
                self._remembered = len(text) + len(key)
            self._documents[key] = text
        return text

    def _string(self, value: str) -> str:
        text = self._strings.get(value)
        if text is None:
            # PyYAML writes a plain-looking string as it is (the property test holds this)
            plain = _PLAIN.match(value) and value.lower() not in _RESOLVED_WORDS
            text = value if plain else self._dumped(value)
            self._strings[value] = text
        return text

    def _scalar(self, value: Any) -> str:
        if type(value) is str:
            return self._string(value)
        if type(value) is int:
            return str(value)
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise _Unusual
        key = _scalar_key(value)
        text = self._scalars.get(key)
        if text is None:
            text = self._scalars[key] = self._dumped(value)
        return text

    @staticmethod
    def _dumped(value: Any) -> str:
        if isinstance(value, str) and len(value) > _LONGEST_SCALAR:
            raise _Unusual
        dumped = dump_yaml({"k": value})
        if not dumped.startswith("k: ") or dumped.count("\n") != 1:
            raise _Unusual
        return dumped[3:-1]

    def _key(self, key: Any) -> str:
        if type(key) is not str:
            raise _Unusual
        text = self._keys.get(key)
        if text is None:
            dumped = dump_yaml({key: 0})
            if not dumped.endswith(": 0\n") or dumped.count("\n") != 1 or dumped.startswith("?"):
                raise _Unusual
            text = dumped[:-4]
            self._keys[key] = text
        return text

    def _mapping(self, obj: dict[Any, Any], indent: str, out: list[str], first: str | None = None) -> None:
        """A block mapping at `indent`; `first` replaces the indent of its first line (`- ` items).

        The hot loop of a render: each key's `indent + key + ":"` is looked up once per indent,
        strings and integers take the short paths, everything else the general one.
        """
        heads = self._heads.get(indent)
        if heads is None:
            heads = self._heads[indent] = {}
        strings = self._strings
        append = out.append
        head: str | None  # None only between the cache lookup and its miss (a bare annotation: no cost)
        for k, v in obj.items():
            if first is not None:
                head = first + self._key(k) + ":"
                first = None
            else:
                head = heads.get(k)
                if head is None:
                    head = heads[k] = indent + self._key(k) + ":"
            tv = type(v)
            if tv is str:
                text = strings.get(v)
                append(f"{head} {text if text is not None else self._string(v)}\n")
            elif tv is dict:
                if v:
                    append(head + "\n")
                    self._mapping(v, indent + "  ", out)
                else:
                    append(head + " {}\n")
            elif tv is list:
                if v:
                    append(head + "\n")
                    self._sequence(v, indent, out)
                else:
                    append(head + " []\n")
            elif tv is int:
                append(f"{head} {v}\n")
            elif isinstance(v, (dict, list)):
                raise _Unusual  # a subclass: PyYAML's safe dumper decides what it makes of it
            else:
                append(f"{head} {self._scalar(v)}\n")

    def _sequence(self, items: list[Any], indent: str, out: list[str]) -> None:
        """A block sequence at `indent` (PyYAML does not indent a sequence inside a mapping)."""
        inner = indent + "  "
        dash = indent + "- "
        strings = self._strings
        append = out.append
        for item in items:
            ti = type(item)
            if ti is dict:
                if item:
                    self._mapping(item, inner, out, first=dash)
                else:
                    append(dash + "{}\n")
            elif ti is str:
                text = strings.get(item)
                append(f"{dash}{text if text is not None else self._string(item)}\n")
            elif ti is list or isinstance(item, (dict, list)):
                raise _Unusual
            else:
                append(f"{dash}{self._scalar(item)}\n")
