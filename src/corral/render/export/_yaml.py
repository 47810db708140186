"""YAML as the exports write it: PyYAML's safe dumper (libyaml's when PyYAML has
it, several times faster), keys in the order the renderers put them, block
style, no line folding."""

from __future__ import annotations

from typing import Any

import yaml

_BASE: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BASE):  # type: ignore[misc]
    """No anchors: the documents are trees, every node written where it is."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_DUMPER: Any = _Dumper


def dump(document: Any) -> str:
    text: str = yaml.dump(
        document, Dumper=_DUMPER, sort_keys=False, default_flow_style=False,
        allow_unicode=True, width=1 << 20,
    )  # fmt: skip
    return text
