"""Stripe's form encoding with bracket notation, decoded into nested values.

`metadata[order_id]=O-1` → `{"metadata": {"order_id": "O-1"}}`; `expand[0]=a&expand[1]=b` (the SDKs) and
`expand[]=a&expand[]=b` (curl users) → `{"expand": ["a", "b"]}`. Values stay strings: the request models
convert them, as Stripe does.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class FormError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def _path(key: str) -> list[str]:
    match = _KEY.match(key)
    if match is None:
        raise FormError(key, f"Invalid parameter name: {key}")
    return [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]


def _listify(value: Any) -> Any:
    """Dicts whose keys are all indices (or appended with `[]`) become lists, in index order."""
    if not isinstance(value, dict):
        return value
    items = {key: _listify(item) for key, item in value.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def decode(text: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        *parents, leaf = _path(key)
        node = result
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise FormError(key, f"Invalid parameter: {key} mixes a value and a hash")
            node = child
        if leaf == "":
            leaf = str(len(node))  # `[]`: append
        if isinstance(node.get(leaf), dict):
            raise FormError(key, f"Invalid parameter: {key} mixes a value and a hash")
        node[leaf] = value
    return {key: _listify(value) for key, value in result.items()}
