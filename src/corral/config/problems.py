"""Turn pydantic's validation errors into corral's Problems.

Pydantic reports a location tuple and an error type; corral says, in the
configuration's own words, which field is wrong and what was found there,
with a "did you mean" for a misspelt key. Secret fields never show values.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from corral.config._base import Record
from corral.config._fields import ERROR_TYPE, describe, show
from corral.errors import Path, Problem


def problems_from(error: ValidationError, root: type[BaseModel]) -> list[Problem]:
    """Problems for every error in ``error``, raised while validating ``root``."""
    out: list[Problem] = []
    for item in error.errors(include_url=False):
        path = _clean(item["loc"])
        out.append(Problem(_message(item, path, root), path))
    return out


def _clean(loc: Iterable[int | str]) -> Path:
    """Drop pydantic's union branch tags (``@table``, ``function-after[…]``) from a location."""
    return tuple(p for p in loc if not (isinstance(p, str) and (p.startswith("@") or "[" in p)))


def _message(item: Any, path: Path, root: type[BaseModel]) -> str:
    kind: str = item["type"]
    secret = _secret(root, path)
    found_value = item.get("input")
    found = describe(found_value) if secret else show(found_value)
    ctx = item.get("ctx") or {}
    if kind == ERROR_TYPE:
        return str(item["msg"])
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        return f"unknown key {show(key)}{_suggest(key, _model_at(root, path[:-1]))}"
    if kind == "missing":
        return "required key is missing"
    simple = {
        "string_type": "a string",
        "bool_type": "true or false",
        "int_type": "an integer",
        "int_parsing": "an integer",
        "int_from_float": "an integer",
        "float_type": "a number",
        "float_parsing": "a number",
        "model_type": "a table",
        "model_attributes_type": "a table",
        "dict_type": "a table",
        "tuple_type": "a list",
        "list_type": "a list",
    }
    if kind in simple:
        return f"must be {simple[kind]}, but {found} was found"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '?')}, but {found} was found"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        word, key = bounds[kind]
        return f"must be {word} {ctx.get(key)}, but {found} was found"
    message = str(item["msg"])
    return f"{message[:1].lower()}{message[1:]}, but {found} was found"


def _secret(root: type[BaseModel], path: Path) -> bool:
    """Whether ``path`` runs through a field declared secret: its value is never shown."""
    for i, part in enumerate(path):
        if isinstance(part, int):
            continue
        model = _model_at(root, path[:i])
        record = model if isinstance(model, type) and issubclass(model, Record) else None
        if record is not None and part in record.model_fields and record.is_secret(part):
            return True
    return False


def _suggest(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    names = [n for n, f in model.model_fields.items()] + [
        f.alias for f in model.model_fields.values() if f.alias
    ]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return f" (did you mean {show(close[0])}?)" if close else ""


def _model_at(root: type[BaseModel], path: Path) -> type[BaseModel] | None:
    """The record class found at ``path`` below ``root``, if any."""
    current: type[BaseModel] | None = root
    for part in path:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) or next(
            (f for f in current.model_fields.values() if f.alias == part), None
        )
        if info is None:
            return None
        current = _find_model(info.annotation)
    return current


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return None
    for arg in typing.get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None
