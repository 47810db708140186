"""The status page in a real headless Chromium, against a real daemon running a
container (docker and Podman) and processes; the browser goes through a
recording proxy, so the whole HTTP traffic of the session can be grepped."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import engines
import pytest
from conftest import PageCorral, make
from prometheus_client.parser import text_string_to_metric_families
from sv_helpers import labelled_ids, wait_for
from webhelp import Recorder, chromium

pytestmark = pytest.mark.engine

SECRET = "web-s3cr3t-9d2c41"


class Session:
    def __init__(
        self,
        corral: PageCorral,
        runtime: str,
        container: str,
        proxy: Recorder,
        driver: Any,
        artifacts: Path,
    ):
        self.corral = corral
        self.runtime = runtime
        self.container = container
        self.proxy = proxy
        self.driver = driver
        self.artifacts = artifacts
        self.names = ["web-db", container, "web-app"]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    def open(self, path: str = "/") -> None:
        self.driver.get(f"{self.base}{path}?token={self.corral.token}")
        wait_for(lambda: self.js("return document.readyState") == "complete", 15)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def row(self, name: str) -> dict[str, str]:
        return (
            self.js(
                "const r = document.getElementById('row-' + arguments[0]);"
                "if (!r) return null;"
                "return {state: r.dataset.state,"
                " restarts: r.querySelector('.restarts').textContent, text: r.textContent};",
                name,
            )
            or {}
        )

    def shot(self, what: str) -> Path:
        path = self.artifacts / f"web-{self.runtime}-{what}.png"
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path


def config(runtime: str, port: int, container: str, image: str) -> str:
    return f"""runtime = "{runtime}"

[http]
listen = "127.0.0.1:{port}"

[[process]]
name = "web-db"
command = ["/bin/sh", "-c", "echo db up; exec sleep 1000"]

[[container]]
provision = "{container}"
image = "{image}"
command = ["sh", "-c", "echo c up; exec sleep 1000"]
requirement = ["web-db"]
respawn = true
respawn_delay = 0.3
stop_timeout = 1
host_environment = [["WEB_SECRET", "{SECRET}"]]
extra_arguments = ["--env", "WEB_SECRET"]
health_cmd = "true"
health_interval = 0.5

[[process]]
name = "web-app"
command = ["/bin/sh", "-c", "echo app up; exec sleep 1000"]
requirement = ["{container}"]
"""


@pytest.fixture(scope="module", params=["docker", "podman"])
def session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Session]:
    runtime = str(request.param)
    image = request.getfixturevalue(f"busybox_ref_{runtime}")
    tmp = tmp_path_factory.mktemp(f"web-{runtime}")
    corral = make(tmp)
    container = f"web-c-{uuid.uuid4().hex[:6]}"
    corral.write(config(runtime, corral.port, container, image))
    proxy = Recorder(corral.port)
    try:
        corral.run("up", timeout=120)
        corral.wait_page()
        proxy.start()
        with chromium() as driver:
            yield Session(
                corral, runtime, container, proxy, driver, tmp_path_factory.mktemp("artifacts")
            )
    finally:
        proxy.stop()
        if corral.answers():
            corral.run("down", check=False, timeout=120)
        corral.teardown()
        for leftover in labelled_ids(runtime, corral.state):
            subprocess.run([runtime, "rm", "-f", leftover], capture_output=True)


def test_page_lists_every_service_with_its_state(session: Session) -> None:
    session.open()
    status = session.corral.status_via_cli()
    for name in session.names:
        row = session.row(name)
        assert row["state"] == status[name]["state"] == "running", (name, row)
    assert session.js("return document.querySelectorAll('#services tr').length") == 3
    assert session.container in session.js("return document.body.textContent")
    health = session.js(
        "return document.querySelector('#row-' + arguments[0] + ' .health').textContent",
        session.container,
    )
    assert health == status[session.container]["health"] == "healthy"
    # /api/status is `corral status --json`'s JSON
    assert {s["name"]: s for s in session.corral.get("/api/status").json()} == status


def test_killed_container_turns_starting_then_running_without_reload(session: Session) -> None:
    session.open()
    name = session.container
    before = int(session.row(name)["restarts"])
    session.js(
        "window.__same_page = true; window.__seen = [];"
        "new MutationObserver(() => {"
        "  const r = document.getElementById('row-' + arguments[0]);"
        "  if (r && window.__seen[window.__seen.length - 1] !== r.dataset.state)"
        "    window.__seen.push(r.dataset.state);"
        "}).observe(document.getElementById('services'), {childList: true, subtree: true});",
        name,
    )
    subprocess.run([session.runtime, "kill", name], check=True, capture_output=True)
    wait_for(
        lambda: (
            session.row(name).get("state") == "running"
            and int(session.row(name)["restarts"]) == before + 1
        ),
        60,
        0.05,
    )
    seen = session.js("return window.__seen")
    assert "starting" in seen and seen[-1] == "running", seen
    assert seen.index("starting") < len(seen) - 1
    assert session.js("return window.__same_page") is True  # no reload happened
    assert session.corral.status()[name]["restarts"] == before + 1
    session.shot("after-kill")


def test_restart_button_restarts_the_service(session: Session) -> None:
    session.open()
    before = session.corral.status()["web-app"]
    session.driver.find_element("css selector", "#row-web-app button[data-op=restart]").click()
    wait_for(lambda: session.corral.status()["web-app"]["pid"] not in (None, before["pid"]), 30)
    after = session.corral.status_via_cli()["web-app"]
    assert after["state"] == "running" and after["since"] > before["since"]
    wait_for(lambda: session.row("web-app").get("state") == "running", 10)
    assert session.js("return document.getElementById('message').textContent") == ""


def test_graph_has_one_node_per_service_coloured_by_state(session: Session) -> None:
    session.open()
    nodes = session.js(
        "return [...document.querySelectorAll('svg#graph g.node')]"
        ".map(n => [n.dataset.service, n.getAttribute('class')])"
    )
    assert sorted(n for n, _ in nodes) == sorted(session.names)
    assert all("state-running" in c for _, c in nodes), nodes
    assert session.js("return document.querySelectorAll('svg#graph line.edge').length") == 2
    # the layers go left to right: requirement before dependent
    xs = session.js(
        "return Object.fromEntries([...document.querySelectorAll('svg#graph g.node')]"
        ".map(n => [n.dataset.service, n.getBoundingClientRect().x]))"
    )
    assert xs["web-db"] < xs[session.container] < xs["web-app"]
    assert session.shot("overview").stat().st_size > 1000


def test_service_page_chart_declaration_and_live_log(session: Session) -> None:
    name = session.container
    session.open(f"/service/{name}")
    bars = session.js("return document.querySelectorAll('svg#restart-chart rect.bar').length")
    assert bars >= 1  # the kill's respawn
    chart = session.js("return document.getElementById('restart-chart').textContent")
    assert "restart(s) in the last 60 min" in chart
    declaration = json.loads(
        session.js("return document.getElementById('declaration').textContent")
    )
    assert declaration["host_environment"] == ["WEB_SECRET=***"]
    assert declaration["extra_arguments"] == ["--env", "WEB_SECRET"]
    wait_for(lambda: "c up" in session.js("return document.getElementById('log').textContent"), 20)
    count = session.js("return document.getElementById('log').textContent").count("c up")
    session.corral.run("restart", name, timeout=60)
    wait_for(
        lambda: (
            session.js("return document.getElementById('log').textContent").count("c up") > count
        ),
        30,
    )
    # the other services' events touch nothing here: the one row stays alone
    assert session.js("return document.querySelectorAll('#services tr').length") == 1
    command = session.js("return document.getElementById('command').textContent")
    assert f"--name {name}" in command and "WEB_SECRET" in command
    detail = json.loads(session.js("return document.getElementById('detail').textContent"))
    assert detail["name"] == name and detail["container_id"]
    session.shot("service")


def test_metrics_agree_with_status_json(session: Session) -> None:
    status = session.corral.status_via_cli()
    text = session.corral.get("/metrics").body.decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value

    def value(metric: str, **labels: str) -> float | None:
        return samples.get(metric, {}).get(tuple(sorted(labels.items())))

    for name, view in status.items():
        key = {"service": name, "kind": view["kind"]}
        assert value("corral_service_up", **key) == (1.0 if view["state"] == "running" else 0.0)
        assert value("corral_service_restarts_total", **key) == view["restarts"]
        expected_exit = None if view["last_exit"] is None else float(view["last_exit"])
        assert value("corral_service_last_exit_code", **key) == expected_exit
        health = view.get("health") or "none"
        for status_name in ("healthy", "unhealthy", "starting", "none"):
            shown = value("corral_service_health", **key, status=status_name)
            assert shown == (1.0 if status_name == health else 0.0), (name, status_name)
        assert (value("corral_service_start_seconds_count", service=name) or 0) >= 1
    assert status[session.container]["restarts"] >= 1
    assert status[session.container]["health"] == "healthy"
    assert value("corral_engine_connected", runtime=session.runtime) == 1.0
    assert (value("process_resident_memory_bytes") or 0) > 1e6


def test_no_secret_in_any_page_event_or_answer(session: Session) -> None:
    """Every page, event stream and API answer of the session went through the
    proxy; the secret is in none of it."""
    for path in ["/", *(f"/service/{n}" for n in session.names), "/api/status", "/metrics"]:
        session.open(path)
    session.open(f"/service/{session.container}")
    session.corral.run("restart", session.container, timeout=60)  # events and log lines flow
    time.sleep(1.0)
    session.open("/graph.svg")
    traffic = bytes(session.proxy.traffic)
    assert b"event: service" in traffic and b"event: log" in traffic
    assert b"WEB_SECRET=***" in traffic and b"/metrics" in traffic
    assert b"corral_service_up" in traffic
    assert SECRET.encode() not in traffic
    # while the container really has it (the test would otherwise prove nothing)
    done = subprocess.run(
        [session.runtime, "exec", session.container, "sh", "-c", "echo $WEB_SECRET"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == SECRET
    assert engines  # the engine helpers are this suite's (busybox image)
