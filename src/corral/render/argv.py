"""A declarative argv builder (after python-on-whales' ``Command``): ``None``
omits an option, so a command line reads as the list of its options."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class Argv(list[str]):
    def option(self, flag: str, value: str | None) -> Argv:
        """``flag value``, or nothing when ``value`` is None."""
        if value is not None:
            self += [flag, value]
        return self

    def joined(self, flag: str, value: str | None) -> Argv:
        """``flag=value``, or nothing when ``value`` is None."""
        if value is not None:
            self.append(f"{flag}={value}")
        return self

    def flag(self, flag: str, on: bool) -> Argv:
        if on:
            self.append(flag)
        return self

    def each(self, flag: str, values: Iterable[str]) -> Argv:
        """``flag v`` for each value."""
        for value in values:
            self += [flag, value]
        return self

    def labels(self, flag: str, labels: Mapping[str, str]) -> Argv:
        return self.each(flag, (f"{k}={v}" for k, v in labels.items()))
