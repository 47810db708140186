"""The base of every record: immutable, keyword-only, unknown keys refused."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, PrivateAttr

from corral.config._fields import CHANGE_KEY, SECRET_KEY, Change
from corral.config._origin import caller_line


class Record(BaseModel):
    """A declaration read from the configuration.

    Records are frozen; a record's fields carry their own type, default, doc
    and sanitizer (see ``corral.config._fields``). Unknown keys are errors.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, hide_input_in_errors=True
    )

    #: How the record is spelled in TOML, for the docs (``[[container]]``).
    toml_name: ClassVar[str] = ""
    #: What a change to a field does when the field does not say (see ``Change``).
    default_change: ClassVar[Change] = "restart"

    _origin_line: int | None = PrivateAttr(default=None)

    def __init__(self, /, **data: Any) -> None:
        super().__init__(**data)
        self._origin_line = caller_line()

    @classmethod
    def change_of(cls, name: str) -> Change:
        """What a change to field ``name`` does to a running service."""
        marks = cls.model_fields[name].json_schema_extra
        declared = marks.get(CHANGE_KEY) if isinstance(marks, dict) else None
        return declared if isinstance(declared, str) else cls.default_change  # type: ignore[return-value]

    @classmethod
    def fields_changing(cls, change: Change) -> frozenset[str]:
        """The fields whose change does ``change``."""
        return frozenset(n for n in cls.model_fields if cls.change_of(n) == change)

    @classmethod
    def is_secret(cls, name: str) -> bool:
        """Whether field ``name`` holds secrets (never shown, hashed only keyed)."""
        marks = cls.model_fields[name].json_schema_extra
        return isinstance(marks, dict) and bool(marks.get(SECRET_KEY))

    @property
    def origin_line(self) -> int | None:
        """The line of a Python configuration file that built this record."""
        return self._origin_line
