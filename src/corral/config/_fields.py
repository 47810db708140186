"""Field helpers and sanitizers shared by every record.

A field is declared once, on its record, as ``name: Type = field(default, doc)``.
The type carries the sanitizer (an ``Annotated`` validator), so type, default,
doc and sanitizer sit on one line, as Guix's ``define-configuration`` does.

The seed's mixed lists are kept: ``environment``, ``host_environment``,
``ports`` and ``volumes`` take strings or pairs of strings (a 2-item TOML
array, a Python tuple); a pair is joined with ``=`` or ``:``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictFloat,
    StrictStr,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

ERROR_TYPE = "corral"

#: What a change to a field does to a running service (``plan``, ``reload``, the hash):
#: ``recreate`` — it shapes the container: part of its config hash, a new container;
#: ``restart`` — the service is stopped and started again to apply it;
#: ``in_place`` — applied to the running service, which keeps running (from its next
#: start for what only a start reads).
Change = Literal["recreate", "restart", "in_place"]
CHANGES: tuple[Change, ...] = get_args(Change)
#: The JSON Schema keywords a field's change behaviour and secrecy are kept under.
CHANGE_KEY = "x-change"
SECRET_KEY = "x-secret"


def field(
    default: Any = ...,
    doc: str = "",
    *,
    change: Change | None = None,
    secret: bool = False,
    **extra: Any,
) -> Any:
    """Declare a record field: its default, its documentation, what a change to it
    does (default: the record's ``default_change``) and whether its values are
    secrets (never shown, never in argv or a hash in clear), in one place."""
    if isinstance(default, list | dict):
        raise TypeError("use default_factory for mutable defaults")
    if change is not None and change not in CHANGES:
        raise TypeError(f"change must be one of {CHANGES}, not {change!r}")
    marks: dict[str, Any] = {}
    if change is not None:
        marks[CHANGE_KEY] = change
    if secret:
        marks[SECRET_KEY] = True
        extra.setdefault("repr", False)
    return Field(default, description=doc, json_schema_extra=marks or None, **extra)


@dataclass(frozen=True)
class Kind:
    """How the reference names a field's type, when its Python type says too little
    (``Annotated[int, …, Kind("size")]``)."""

    text: str


def fail(message: str) -> PydanticCustomError:
    """A validation error whose message is shown to the user as is."""
    return PydanticCustomError(ERROR_TYPE, message.replace("{", "{{").replace("}", "}}"))


def show(value: Any) -> str:
    """Show a found value the way the configuration file would spell it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value)
    if isinstance(value, tuple):
        value = list(value)
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(value: Any) -> str:
    """Name a value's kind without showing it (for secrets)."""
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"


def list_of(kind: str, secret: bool = False) -> Callable[[Any, ValidationInfo], Any]:
    def check(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, list | tuple):
            found = describe(value) if secret else show(value)
            raise fail(f"{info.field_name} must be a list of {kind}, but {found} was found")
        return value

    return check


def pair_member(delimiter: str, secret: bool = False) -> Callable[[Any, ValidationInfo], Any]:
    def sanitize(member: Any, info: ValidationInfo) -> Any:
        if isinstance(member, str):
            return member
        if (
            isinstance(member, list | tuple)
            and len(member) == 2
            and all(isinstance(m, str) for m in member)
        ):
            return f"{member[0]}{delimiter}{member[1]}"
        found = describe(member) if secret else show(member)
        raise fail(f"{info.field_name} members must be a string or a pair, but {found} was found")

    return sanitize


def _string_member(member: Any, info: ValidationInfo) -> Any:
    if not isinstance(member, str):
        raise fail(f"{info.field_name} members must be strings, but {show(member)} was found")
    return member


_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def _env_key(secret: bool) -> Callable[[str, ValidationInfo], str]:
    def check(member: str, info: ValidationInfo) -> str:
        key = member.split("=", 1)[0]
        if not _ENV_KEY.fullmatch(key):
            found = show(key) if secret else show(member)
            raise fail(
                f"{info.field_name} members must look like KEY=VALUE or KEY, but {found} was found"
            )
        return member

    return check


def _table_of_strings(value: Any, info: ValidationInfo) -> Any:
    name = info.field_name
    if not isinstance(value, dict):
        raise fail(f"{name} must be a table of strings, but {show(value)} was found")
    for key, member in value.items():
        if not isinstance(member, str):
            raise fail(f"{name}.{key} must be a string, but {show(member)} was found")
    return value


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def _name(value: str, info: ValidationInfo) -> str:
    if not _NAME.fullmatch(value):
        raise fail(
            f"{info.field_name} must start with a letter or digit and hold only letters, "
            f"digits, '_', '.' and '-', but {show(value)} was found"
        )
    return value


def _nonempty(value: str, info: ValidationInfo) -> str:
    if not value.strip():
        raise fail(f"{info.field_name} must not be empty")
    return value


def _nonnegative(value: float, info: ValidationInfo) -> float:
    if value < 0:
        raise fail(f"{info.field_name} must not be negative, but {show(value)} was found")
    return value


#: How editors see a mixed list: strings or 2-string arrays.
PAIR_LIST_SCHEMA = WithJsonSchema(
    {
        "type": "array",
        "items": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            ]
        },
    }
)
STRING_LIST_SCHEMA = WithJsonSchema({"type": "array", "items": {"type": "string"}})

#: A list of strings (command, requirement, extra_arguments…).
Strings = Annotated[
    tuple[Annotated[str, BeforeValidator(_string_member)], ...],
    BeforeValidator(list_of("strings")),
    STRING_LIST_SCHEMA,
]
#: The seed's mixed list: `K=V` strings and `[K, V]` pairs.
Environment = Annotated[
    tuple[
        Annotated[str, BeforeValidator(pair_member("=", False)), AfterValidator(_env_key(False))],
        ...,
    ],
    BeforeValidator(list_of("strings or pairs")),
    PAIR_LIST_SCHEMA,
]
#: As Environment, but its values are secrets: never shown in a message.
SecretEnvironment = Annotated[
    tuple[
        Annotated[str, BeforeValidator(pair_member("=", True)), AfterValidator(_env_key(True))],
        ...,
    ],
    BeforeValidator(list_of("strings or pairs", secret=True)),
    PAIR_LIST_SCHEMA,
]
#: The seed's mixed list joined with ':' (ports, volumes).
Mappings = Annotated[
    tuple[Annotated[str, BeforeValidator(pair_member(":", False))], ...],
    BeforeValidator(list_of("strings or pairs")),
    PAIR_LIST_SCHEMA,
]
#: A table of string labels.
Labels = Annotated[dict[str, str], BeforeValidator(_table_of_strings)]
#: A name usable for a service, container, network or volume.
Name = Annotated[StrictStr, AfterValidator(_name)]
NonEmpty = Annotated[StrictStr, AfterValidator(_nonempty)]
#: A duration in seconds.
Seconds = Annotated[StrictFloat, AfterValidator(_nonnegative)]
