"""Writing a routing configuration document back to TOML (``omniroute router export``),
and saying what one version changes of another (:func:`changes`).

The document is the plain dict :func:`omniroute.routing.config.parse_config`
reads, so ``parse_config(tomllib.loads(to_toml(doc)))`` gives the same
configuration. Only what such documents hold is supported: tables, arrays of
tables, strings, numbers, booleans and arrays of those.
"""

from __future__ import annotations

import json
import re
from typing import Any

BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if BARE.match(name) else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()
                               if v is not None) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(path: list[str], table: dict[str, Any], lines: list[str], array: bool = False) -> None:
    if path:
        name = ".".join(_key(p) for p in path)
        lines.append(f"\n[[{name}]]" if array else f"\n[{name}]")
    children: list[tuple[str, Any]] = []
    for key, value in table.items():
        if value is None:
            continue
        if (isinstance(value, dict) and not array) or _is_table_array(value):
            children.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in children:
        if isinstance(value, dict):
            _table([*path, key], value, lines)
        else:
            for entry in value:
                _table([*path, key], entry, lines, array=True)


def to_toml(document: dict[str, Any]) -> str:
    """``document`` as TOML text."""
    lines: list[str] = []
    _table([], document, lines)
    return "\n".join(lines).lstrip("\n") + "\n"


NAMED = ("pools", "agents")
"""Sections that are tables of named entries: changes are told per name."""


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What ``after`` changes of ``before``, in words: pools and agents added, removed or
    changed by name; any other section (routing rules, bot) as a whole. Empty when equal."""
    told: list[str] = []
    for section in NAMED:
        old, new = before.get(section) or {}, after.get(section) or {}
        for verb, names in (("added", sorted(set(new) - set(old))),
                            ("removed", sorted(set(old) - set(new))),
                            ("changed", sorted(n for n in set(old) & set(new)
                                               if old[n] != new[n]))):
            if names:
                told.append(f"{section} {verb}: {', '.join(names)}")
    for section in sorted((set(before) | set(after)) - set(NAMED)):
        if before.get(section) != after.get(section):
            told.append(f"{section} changed")
    return told
