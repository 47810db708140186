"""``/metrics`` in the Prometheus text format, by prometheus-client.

Read at scrape time from the supervisor (nothing is copied between scrapes):
per service ``corral_service_up``, ``corral_service_restarts_total``,
``corral_service_last_exit_code`` (absent until it first exits) and
``corral_service_health`` (one series per status, 1 for the current one);
``corral_engine_connected{runtime}`` (1 while the daemon's events stream
from that engine — what supervision hears exits by — is connected).
``corral_service_start_seconds`` is a histogram fed by the change
broadcast: from a start's request (or a respawn) to running — which, with a
health check, is healthy. The daemon's own ``process_*`` metrics come from
prometheus-client's process collector.
Each page has its own registry (nothing global).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from corral.supervisor.changes import Transition

if TYPE_CHECKING:
    from corral.supervisor.supervisor import Supervisor

HEALTH = ("healthy", "unhealthy", "starting", "none")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Start durations' buckets, in seconds (a process: milliseconds; a container
#: with a health check: tens of seconds).
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class _Services(Collector):
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        labels = ["service", "kind"]
        up = GaugeMetricFamily(
            "corral_service_up", "1 when the service runs, else 0.", labels=labels
        )
        restarts = CounterMetricFamily(
            "corral_service_restarts", "Respawns since the daemon started.", labels=labels
        )
        last = GaugeMetricFamily(
            "corral_service_last_exit_code", "The last exit status.", labels=labels
        )
        health = GaugeMetricFamily(
            "corral_service_health",
            "1 for the health status the service has now (none: no check, or not running).",
            labels=[*labels, "status"],
        )
        for view in self.supervisor.status():
            key = [str(view["name"]), str(view["kind"])]
            up.add_metric(key, 1.0 if view["state"] == "running" else 0.0)
            restarts.add_metric(key, float(view["restarts"]))
            if view["last_exit"] is not None:
                last.add_metric(key, float(view["last_exit"]))
            now = view.get("health") or "none"
            for status in HEALTH:
                health.add_metric([*key, status], 1.0 if status == now else 0.0)
        engines = GaugeMetricFamily(
            "corral_engine_connected",
            "1 while the daemon's events stream from the engine is connected.",
            labels=["runtime"],
        )
        connected = {
            engine.runtime
            for engine in self.supervisor.context.engines.connected()
            if engine.events.live
        }
        for runtime in sorted({self.supervisor.config.runtime, *connected}):
            engines.add_metric([runtime], 1.0 if runtime in connected else 0.0)
        yield from (up, restarts, last, health, engines)


class Metrics:
    def __init__(self, supervisor: Supervisor) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_Services(supervisor))
        ProcessCollector(registry=self.registry)
        self.start_seconds = Histogram(
            "corral_service_start_seconds",
            "Seconds from a start request (or respawn) to running (healthy, with a check).",
            ["service"],
            registry=self.registry,
            buckets=BUCKETS,
        )
        supervisor.changes.listen(self._transition)

    def _transition(self, transition: Transition) -> None:
        if transition.start_seconds is not None:
            self.start_seconds.labels(transition.name).observe(transition.start_seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)
