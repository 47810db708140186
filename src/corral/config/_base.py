"""The base of every record: immutable, keyword-only, unknown keys refused."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, PrivateAttr

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

    _origin_line: int | None = PrivateAttr(default=None)

    def __init__(self, /, **data: Any) -> None:
        super().__init__(**data)
        self._origin_line = caller_line()

    @property
    def origin_line(self) -> int | None:
        """The line of a Python configuration file that built this record."""
        return self._origin_line
