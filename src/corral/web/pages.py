"""The page's HTML, rendered on the server. Pure: data in, text out.

One function renders a service's table row; the page's first load and each
server-sent event use it, so a row looks the same either way. Every value
from the configuration or the engine is escaped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from corral.config.ports import PortSpecError, parse_port

STYLE = """
body{font:14px system-ui,sans-serif;margin:1em;color:#222}
table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
.state-running{color:#16733a}.state-starting,.state-stopping{color:#a66a00}
.state-stopped{color:#777}.failed{color:#b00020}
.graph .node rect{fill:#eee;stroke:#999}.graph .edge{stroke:#999}
.graph .state-running rect{fill:#c8f0d2;stroke:#16733a}
.graph .state-starting rect,.graph .state-stopping rect{fill:#ffe9b3;stroke:#a66a00}
.graph .state-stopped rect{fill:#eee;stroke:#999}
.graph .failed rect{fill:#f8c8cf;stroke:#b00020}
.graph text,.chart text{font:11px monospace;fill:#222}
.chart .bar{fill:#b00020}.chart .axis{stroke:#999}.chart .exit{stroke:#555}
.lazy{content-visibility:auto;contain-intrinsic-size:auto 600px}
pre{background:#f6f6f6;padding:6px;max-height:30em;overflow:auto}
button{font-size:11px}#message{color:#b00020}
"""

SCRIPT = """
'use strict';
const rows = document.getElementById('services');
const root = document.body.dataset.root;
const events = new EventSource(root + 'api/events?since=' + document.body.dataset.rendered);
events.addEventListener('service', (e) => {
  const d = JSON.parse(e.data);
  const row = document.getElementById('row-' + d.name);
  if (rows) {
    if (d.html === null) { if (row) row.remove(); }
    else if (row) { row.outerHTML = d.html; }
    else if (rows.dataset.all) { rows.insertAdjacentHTML('beforeend', d.html); }
  }
  const node = document.getElementById('node-' + d.name);
  if (node && d.state) {
    node.setAttribute('class', 'node state-' + d.state + (d.failed ? ' failed' : ''));
  }
  const detail = document.getElementById('detail');
  if (detail && detail.dataset.service === d.name && d.detail) {
    detail.textContent = d.detail;
  }
});
document.addEventListener('click', (e) => {
  const button = e.target.closest('button[data-op]');
  if (!button) return;
  const service = button.closest('tr').dataset.service;
  const where = root + 'api/services/' + encodeURIComponent(service) + '/' + button.dataset.op;
  const message = document.getElementById('message');
  message.textContent = button.dataset.op + ' ' + service + '…';
  fetch(where, {method: 'POST', credentials: 'same-origin'})
    .then((r) => r.json())
    .then((a) => { message.textContent = a.ok ? '' : a.error; });
});
const log = document.getElementById('log');
if (log) {
  const follow = new EventSource(log.dataset.source);
  follow.addEventListener('log', (e) => {
    const end = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent += JSON.parse(e.data);
    if (log.textContent.length > 200000) log.textContent = log.textContent.slice(-150000);
    if (end) log.scrollTop = log.scrollHeight;
  });
}
"""

COLUMNS = (
    "name", "kind", "state", "health", "enabled", "restarts", "since", "last exit",
    "reason", "image", "ports", "",
)  # fmt: skip


def _text(value: Any) -> str:
    return "-" if value is None else escape(str(value))


def _when(since: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(since)) if since else "-"


def failed(view: Mapping[str, Any]) -> bool:
    reason = view.get("reason")
    return view.get("state") == "stopped" and reason not in (None, "done")


def port_links(ports: Sequence[str], host: str) -> str:
    """Each published TCP host port as a link on ``host`` (or its own address)."""
    links = []
    for spec in ports:
        try:
            mapping = parse_port(spec)
        except PortSpecError:
            continue
        for number in mapping.host_ports():
            if mapping.protocol != "tcp":
                links.append(f"{number}/{escape(mapping.protocol)}")
                continue
            address = mapping.address if mapping.address not in ("", "0.0.0.0", "::") else host
            shown = f"[{address}]" if ":" in address else address
            url = escape(f"http://{shown}:{number}/")
            links.append(f'<a href="{url}">{number}</a>')
    return " ".join(links) or "-"


#: The row's buttons: which service they act on is the row's (``data-service``).
BUTTONS = "".join(f'<button data-op="{op}">{op}</button>' for op in ("start", "stop", "restart"))


def row(view: Mapping[str, Any], ports: Sequence[str], host: str) -> str:
    """A service's row of the table."""
    name = escape(str(view["name"]))
    state = escape(str(view["state"]))
    cells = [
        f'<td><a href="service/{name}">{name}</a></td>',
        f"<td>{_text(view.get('kind'))}</td>",
        f'<td class="state state-{state}">{state}</td>',
        f'<td class="health">{_text(view.get("health"))}</td>',
        f"<td>{'yes' if view.get('enabled') else 'no'}</td>",
        f'<td class="restarts">{_text(view.get("restarts"))}</td>',
        f"<td>{_when(view.get('since'))}</td>",
        f"<td>{_text(view.get('last_exit'))}</td>",
        f'<td class="reason{" failed" if failed(view) else ""}">{_text(view.get("reason"))}</td>',
        f"<td>{_text(view.get('image'))}</td>",
        f"<td>{port_links(ports, host)}</td>",
        f"<td>{BUTTONS}</td>",
    ]
    return f'<tr id="row-{name}" data-service="{name}" data-state="{state}">{"".join(cells)}</tr>'


def _page(title: str, root: str, body: str, rendered: float) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="{root}page.css"></head>'
        f'<body data-root="{root}" data-rendered="{rendered:.3f}">{body}'
        f'<script src="{root}page.js"></script></body></html>'
    )


def overview(rows: Sequence[str], graph: str, counts: Mapping[str, int], rendered: float) -> str:
    """The first page: the table of every service, then the dependency graph."""
    summary = ", ".join(f"{n} {escape(s)}" for s, n in sorted(counts.items()))
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = (
        f"<h1>corral</h1><p>{len(rows)} services: {summary}. "
        '<a href="metrics">metrics</a> · <a href="api/status">status JSON</a></p>'
        '<p id="message"></p>'
        f'<table><thead><tr>{head}</tr></thead><tbody id="services" data-all="1">'
        f"{''.join(rows)}</tbody></table>"
        f'<h2>Dependencies</h2><section class="lazy">{graph}</section>'
    )
    return _page("corral", "", body, rendered)


def service_page(
    view: Mapping[str, Any],
    row_html: str,
    declaration: Mapping[str, Any],
    chart: str,
    command: str,
    rendered: float,
) -> str:
    """One service: its row, live details, restart history, declaration and log."""
    name = escape(str(view["name"]))
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = (
        f'<p><a href="../">all services</a></p><h1>{name}</h1><p id="message"></p>'
        f'<table><thead><tr>{head}</tr></thead><tbody id="services">{row_html}</tbody></table>'
        f"<h2>Restarts in the last hour</h2>{chart}"
        f'<h2>Details</h2><pre id="detail" data-service="{name}">{detail_text(view)}</pre>'
        f'<h2>Command line</h2><pre id="command">{escape(command)}</pre>'
        f'<h2>Declaration</h2><pre id="declaration">'
        f"{escape(json.dumps(declaration, indent=2))}</pre>"
        f'<h2>Log</h2><pre id="log" data-source="../api/services/{name}/log"></pre>'
    )
    return _page(f"corral: {view['name']}", "../", body, rendered)


def detail_text(view: Mapping[str, Any]) -> str:
    return escape(json.dumps(dict(view), indent=2))
