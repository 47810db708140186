"""Pictures drawn as SVG text: the dependency graph, a restart history. Pure.

The graph is laid out in layers: a service sits one layer right of the
deepest of its requirements, so every edge points left to right (from a
requirement to its dependent); within a layer, services keep their
dependency order. Nodes carry ``id="node-NAME"`` and a ``state-STATE`` class,
so the page recolours them live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

NODE_W, NODE_H = 150, 26
GAP_X, GAP_Y = 60, 10
PAD = 10


def layers(requirements: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each service's layer: 0 with no requirement, else 1 + its deepest one's.
    ``requirements`` is in dependency order (requirements first)."""
    layer: dict[str, int] = {}
    for name, required in requirements.items():
        depths = [layer[r] for r in required if r in layer]
        layer[name] = 1 + max(depths) if depths else 0
    return layer


def graph_svg(requirements: Mapping[str, Sequence[str]], states: Mapping[str, str]) -> str:
    """The dependency graph: one node per service, coloured by its state."""
    layer = layers(requirements)
    columns: dict[int, list[str]] = {}
    for name in requirements:
        columns.setdefault(layer[name], []).append(name)
    where: dict[str, tuple[int, int]] = {}
    for column, names in columns.items():
        for row, name in enumerate(names):
            where[name] = (PAD + column * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    width = PAD * 2 + max(len(columns), 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max((len(n) for n in columns.values()), default=1) * (NODE_H + GAP_Y)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="graph" class="graph" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="dependency graph">'
    ]
    for name, required in requirements.items():
        x, y = where[name]
        for other in required:
            if other in where:
                ox, oy = where[other]
                out.append(
                    f'<line class="edge" x1="{ox + NODE_W}" y1="{oy + NODE_H // 2}" '
                    f'x2="{x}" y2="{y + NODE_H // 2}"/>'
                )
    for name in requirements:
        x, y = where[name]
        state = escape(states.get(name, "stopped"))
        label = escape(name if len(name) <= 20 else name[:19] + "…")
        out.append(
            f'<a href="service/{escape(name)}"><g id="node-{escape(name)}" '
            f'class="node state-{state}" data-service="{escape(name)}">'
            f"<title>{escape(name)}: {state}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="5"/>'
            f'<text x="{x + 8}" y="{y + 17}">{label}</text></g></a>'
        )
    out.append("</svg>")
    return "".join(out)


def restart_chart(
    restarts: Sequence[float], exits: Sequence[float], now: float, minutes: int = 60
) -> str:
    """Bars of respawns per minute over the last ``minutes`` (wall-clock times),
    with a tick for each exit; the newest minute is at the right."""
    width, height, bottom = 8 * minutes + 2 * PAD, 90, 70
    bins = [0] * minutes
    for when in restarts:
        age = int((now - when) // 60)
        if 0 <= age < minutes:
            bins[minutes - 1 - age] += 1
    top = max([*bins, 1])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="restart-chart" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="restarts per minute over the last hour">',
        f'<line class="axis" x1="{PAD}" y1="{bottom}" x2="{width - PAD}" y2="{bottom}"/>',
    ]
    for i, count in enumerate(bins):
        if count:
            bar = max(2, round(55 * count / top))
            out.append(
                f'<rect class="bar" x="{PAD + 8 * i + 1}" y="{bottom - bar}" width="6" '
                f'height="{bar}"><title>{count} restart(s), {minutes - i} min ago</title></rect>'
            )
    for when in exits:
        ago = (now - when) / 60
        if 0 <= ago < minutes:
            x = PAD + 8 * (minutes - ago)
            out.append(
                f'<line class="exit" x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 6}"/>'
            )
    out.append(f'<text x="{PAD}" y="{height - 4}">-{minutes} min</text>')
    out.append(f'<text x="{width - PAD}" y="{height - 4}" text-anchor="end">now</text>')
    out.append(
        f'<text x="{PAD}" y="12">{sum(bins)} restart(s) in the last {minutes} min'
        f"{f', at most {top} a minute' if sum(bins) else ''}</text>"
    )
    out.append("</svg>")
    return "".join(out)
