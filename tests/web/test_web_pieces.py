"""The pure pieces of the page: the change broadcast, the layout, the redaction,
the origin rule, the port links (fakes only for pure logic)."""

from __future__ import annotations

import asyncio

from corral.config import OciContainer
from corral.config.http import Http, http_problems
from corral.render.declaration import redacted
from corral.supervisor.changes import Changes, Transition
from corral.supervisor.state import State
from corral.web import pages, svg
from corral.web.auth import same_origin
from corral.web.http import Request


def test_changes_coalesce_names_and_keep_transitions() -> None:
    async def scenario() -> tuple[set[str], set[str], list[Transition], list[Transition]]:
        changes = Changes()
        heard: list[Transition] = []
        changes.listen(heard.append)
        with changes.subscribe() as subscription:
            stopped = State(status="stopped", since=100.0)
            starting = State(status="starting", since=101.0, restarts=1)
            running = State(status="running", since=103.5, restarts=1)
            changes.changed("a", stopped, starting)
            changes.changed("a", starting, running)
            changes.changed("b")  # a health change: no transition
            first = await subscription.next()
            changes.changed("c", stopped, starting)
            second = await subscription.next()
        changes.changed("d")  # nobody subscribed any more: nothing waits
        return first, second, heard, changes.history("a", 0)

    first, second, heard, history = asyncio.run(scenario())
    assert first == {"a", "b"} and second == {"c"}
    assert [(t.name, t.before, t.after, t.respawn) for t in heard] == [
        ("a", "stopped", "starting", True),
        ("a", "starting", "running", False),
        ("c", "stopped", "starting", True),
    ]
    assert heard[1].start_seconds == 2.5 and heard[0].start_seconds is None
    assert [t.after for t in history] == ["starting", "running"]


def test_history_keeps_the_last_hour_only() -> None:
    changes = Changes()
    for minute in range(0, 180, 10):
        changes.changed(
            "a",
            State(status="running", since=minute * 60.0),
            State(status="stopped", since=minute * 60.0 + 1),
        )
    kept = changes.history("a", 0)
    assert kept[0].when >= kept[-1].when - 3600 and len(kept) == 7
    changes.forget("a")
    assert changes.history("a", 0) == []


def test_layers_put_each_service_right_of_its_requirements() -> None:
    requirements = {"db": [], "cache": [], "api": ["db", "cache"], "web": ["api"], "job": ["db"]}
    assert svg.layers(requirements) == {"db": 0, "cache": 0, "api": 1, "web": 2, "job": 1}
    drawn = svg.graph_svg(requirements, {"db": "running", "api": "starting"})
    assert drawn.count('class="node ') == 5
    assert 'id="node-db" class="node state-running"' in drawn
    assert 'id="node-web" class="node state-stopped"' in drawn
    assert drawn.count('class="edge"') == 4


def test_restart_chart_bins_by_minute() -> None:
    now = 10_000.0
    chart = svg.restart_chart([now - 5, now - 30, now - 125, now - 4000], [now - 5], now)
    assert chart.count('class="bar"') == 2  # this minute (2) and two minutes ago (1)
    assert "3 restart(s) in the last 60 min, at most 2 a minute" in chart
    assert chart.count('class="exit"') == 1


def test_declaration_hides_secret_values_only() -> None:
    record = OciContainer(
        image="a", host_environment=("TOKEN=hunter2", "PLAIN"), environment=("MODE=prod",)
    )
    shown = redacted(record)
    # a member that is not KEY=VALUE is hidden whole (the safe side)
    assert shown["host_environment"] == ["TOKEN=***", "***"]
    assert shown["environment"] == ["MODE=prod"]
    assert "hunter2" not in repr(shown)


def test_same_origin_rule() -> None:
    own = {"http://127.0.0.1:9847"}

    def request(**headers: str) -> Request:
        return Request("POST", "/api/services/a/stop", headers)

    assert same_origin(request(origin="http://127.0.0.1:9847"), own)
    assert not same_origin(request(origin="http://evil.example"), own)
    assert not same_origin(request(origin="null", cookie="corral_token=x"), own)
    assert same_origin(request(referer="http://127.0.0.1:9847/service/a"), own)
    assert not same_origin(request(referer="http://127.0.0.1:9848/"), own)
    assert not same_origin(request(), own)  # a cookie alone: a browser, tricked
    assert same_origin(request(authorization="Bearer t"), own)  # a script


def test_port_links() -> None:
    links = pages.port_links(
        ["127.0.0.1:8080:80", "9000:90", "53:53/udp", "80", "[::1]:81:81"], "h"
    )
    assert '<a href="http://127.0.0.1:8080/">8080</a>' in links
    assert '<a href="http://h:9000/">9000</a>' in links
    assert "53/udp" in links and "http://[::1]:81/" in links


def test_http_rules() -> None:
    assert http_problems(Http()) == []
    assert http_problems(Http(listen="[::1]:9847")) == []
    assert [f for f, _ in http_problems(Http(listen="10.0.0.1:80"))] == ["listen"]
    assert [f for f, _ in http_problems(Http(listen="0.0.0.0:80", allow_remote=True))] == [
        "allow_remote"
    ]
    remote = Http(listen="0.0.0.0:80", allow_remote=True, tls_cert="c", tls_key="k")
    assert http_problems(remote) == []
