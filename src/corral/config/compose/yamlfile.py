"""YAML with line numbers: PyYAML's node graph turned into plain values and a
map from each value's path to the line it starts on.

PyYAML (already a dependency of the test tools, C-accelerated, the reference
YAML 1.1 loader Compose files are written for) gives every node a start mark;
building the values from the nodes ourselves keeps those marks, resolves
aliases (the same node object) and applies merge keys (``<<: *base`` or a list
of them: the mapping's own keys win, earlier merged mappings over later ones).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from corral.errors import ConfigError, Path, Problem

Lines = dict[Path, tuple[str, int]]

_MERGE = "tag:yaml.org,2002:merge"


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: Lines = {}
        self._constructor = SafeConstructor()
        self._problems: list[Problem] = []

    def value(self, node: yaml.Node, path: Path, at: yaml.Node | None = None) -> Any:
        """The value of ``node``; its path's line is that of ``at`` (its key), else its own."""
        self.lines.setdefault(path, (self.file, (at or node).start_mark.line + 1))
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            merged: list[yaml.MappingNode] = []
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    merged.extend(self._merge_sources(value_node, path))
                    continue
                key = self._constructor.construct_object(key_node)
                if not isinstance(key, str | int | float | bool):
                    self._fail(key_node, path, "a mapping key must be a scalar")
                    continue
                name = str(key).lower() if isinstance(key, bool) else str(key)
                if name in out:
                    self._fail(key_node, (*path, name), f"the key {name!r} appears twice")
                out[name] = self.value(value_node, (*path, name), key_node)
            for source in merged:
                for key_node, value_node in source.value:
                    name = str(self._constructor.construct_object(key_node))
                    if name not in out:
                        out[name] = self.value(value_node, (*path, name), key_node)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.value(member, (*path, i)) for i, member in enumerate(node.value)]
        return self._constructor.construct_object(node)

    def _merge_sources(self, node: yaml.Node, path: Path) -> list[yaml.MappingNode]:
        if isinstance(node, yaml.MappingNode):
            return [node]
        if isinstance(node, yaml.SequenceNode) and all(
            isinstance(m, yaml.MappingNode) for m in node.value
        ):
            return list(node.value)
        self._fail(node, path, "a merge key (<<) takes a mapping or a list of mappings")
        return []

    def _fail(self, node: yaml.Node, path: Path, message: str) -> None:
        self._problems.append(Problem(message, path, self.file, node.start_mark.line + 1))

    def finish(self) -> None:
        if self._problems:
            raise ConfigError(self._problems)


def read_yaml(text: str, file: str) -> tuple[Any, Lines]:
    """The document in ``text`` as plain values, and the line of each path."""
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = error.problem or str(error)
        raise ConfigError([Problem(f"invalid YAML: {problem}", (), file, line)]) from None
    except yaml.YAMLError as error:
        raise ConfigError([Problem(f"invalid YAML: {error}", (), file)]) from None
    if node is None:
        return {}, {}
    builder = _Builder(file)
    value = builder.value(node, ())
    builder.finish()
    return value, builder.lines
