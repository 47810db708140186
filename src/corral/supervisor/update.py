"""``corral update``: move services to the newest digest of their tag, one at a
time, and keep them only where they hold.

For each container service with a string image (those named, or all), in
dependency order: the tag is resolved (``engine.registry``); where its digest
is the one the service runs, nothing happens. Otherwise the new digest is
pulled first (a failed pull leaves the service alone), then the service is
recreated on ``repository@digest`` (its dependents stopped first and started
again after, as the graph says) and watched: healthy, for one with a health
check; else still running, on the same container, ``update_settle`` seconds
later. When it is not, it is recreated on the declaration it ran before (its
image still present locally), marked ``rolled back`` with the reason in
``status``. The lock file is rewritten with the updates that held only. No
step leaves a service stopped that was running: the version rolled back to is
watched as the new one was, and when it fails too it stays under its respawn
policy (``_previous_failed_too``), which the table and ``status`` say.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from corral.config import Declared, OciContainer, declared_services, dependency_order
from corral.config.lockfile import Pin, lock_path, pin_container, read_lock, write_lock
from corral.config.reference import pinned
from corral.engine.credentials import Credentials
from corral.errors import CorralError

if TYPE_CHECKING:
    from corral.engine.client import Engine
    from corral.engine.images import EngineImages
    from corral.supervisor.supervisor import Supervisor

#: Seconds between looks at a recreated service while it settles.
POLL = 0.05


@dataclass(frozen=True)
class Outcome:
    """One row of the update's table."""

    service: str
    reference: str
    old: str | None
    new: str | None
    result: str

    def as_dict(self) -> dict[str, str | None]:
        return {"service": self.service, "reference": self.reference, "old": self.old,
                "new": self.new, "result": self.result}  # fmt: skip


def _current_digest(service: Declared) -> str | None:
    record = service.record
    assert isinstance(record, OciContainer) and isinstance(record.image, str)
    return record.image.split("@", 1)[1] if "@" in record.image else None


async def update(
    supervisor: Supervisor, config_path: str, names: list[str], dry_run: bool
) -> list[Outcome]:
    """Update ``names`` (every container with a string image when empty); the table."""
    from corral.config import load
    from corral.engine.images import EngineImages
    from corral.engine.pull import pull
    from corral.engine.registry import reference_of, resolve_all

    loaded = load(config_path, lock=False)
    config = loaded.config
    lock = read_lock(lock_path(config_path))
    declared = {
        s.name: s for s in declared_services(config)
        if isinstance(s.record, OciContainer) and isinstance(s.record.image, str)
    }  # fmt: skip
    for name in names:
        if name not in declared:
            raise CorralError(f"{name}: no container service with a registry image of that name")
    wanted = [s for s in dependency_order(list(declared.values())) if not names or s.name in names]
    engine = await supervisor.context.engines.get(config.runtime)
    credentials = Credentials(config.registries, config.runtime)
    store = EngineImages(engine, credentials)
    pins = dict(lock.pins) if lock is not None else {}
    # On docker, a tag the lock pins is pulled as it is (its services run digests,
    # so moving the local tag moves none of them): one step gives the digest (the
    # pull's `Digest:` line) and the image. Podman's RepoDigests may name digests
    # of its own conversions, so there, like for the others and a dry run, the
    # registry is asked first.
    pulled = sorted({
        str(s.record.image) for s in wanted if isinstance(s.record, OciContainer)
        and not dry_run and str(s.record.image) in pins and config.runtime == "docker"
    })  # fmt: skip
    asked = sorted({
        str(s.record.image) for s in wanted if isinstance(s.record, OciContainer)
    } - set(pulled))  # fmt: skip
    newest: dict[str, str | CorralError] = {}
    newest.update(await resolve_all(engine if config.runtime == "docker" else None, asked,
                                    credentials))  # fmt: skip
    for reference in pulled:
        try:
            newest[reference] = await _pull_tag(store, engine, reference, credentials)
        except CorralError as error:
            newest[reference] = error
    held: dict[str, str] = {}
    outcomes: list[Outcome] = []
    for service in wanted:
        record = service.record
        assert isinstance(record, OciContainer) and isinstance(record.image, str)
        reference = record.image
        running = supervisor.services.get(service.name)
        if running is None:
            why = "failed: not in the running configuration (reload first)"
            outcomes.append(Outcome(service.name, reference, None, None, why))
            continue
        new = newest[reference]
        old = _current_digest(running)
        if old is None:  # runs the tag: the digest its local image is known by
            image = str(getattr(running.record, "image", reference))
            named = await store.repo_digests_of(image) if await store.image_id(image) else []
            known = [
                d for n, _, d in (x.rpartition("@") for x in named) if _same_repository(n, image)
            ]
            old = known[0] if known else None
            if isinstance(new, str) and new in known:
                old = new
        if not isinstance(new, str):
            outcomes.append(Outcome(service.name, reference, old, None, f"failed: {new}"))
            continue
        if old == new:
            outcomes.append(Outcome(service.name, reference, old, new, "unchanged"))
            if reference not in pins or pins[reference].digest != new:
                held.setdefault(reference, new)
            continue
        if dry_run:
            outcomes.append(Outcome(service.name, reference, old, new, "would update"))
            continue
        target = pinned(reference, new)
        try:
            if await store.image_id(target) is None:
                auth = await credentials.header_for(reference_of(reference).domain)
                await pull(engine, target, auth=auth)
        except CorralError as error:
            outcomes.append(Outcome(service.name, reference, old, new, f"failed: {error}"))
            continue
        pins_now = {**pins, reference: Pin(reference, digest=new)}
        moved = _with_record(running, pin_container(record, pins_now))
        reason, waiting = await _recreate_and_watch(supervisor, moved, config.update_settle)
        if reason is None:
            held[reference] = new
            outcomes.append(Outcome(service.name, reference, old, new, "updated"))
            continue
        note = f"rolled back from {new[:19]}: {reason}"
        back, _ = await _recreate_and_watch(
            supervisor, running, config.update_settle, note=note, dependents=waiting, always=True
        )
        result = f"rolled back: {reason}"
        if back is not None:
            said = await _previous_failed_too(supervisor, running, back, old, config.update_settle)
            result += f"; {said}"
            _note(supervisor, service.name, f"{note}; {said}")
        outcomes.append(Outcome(service.name, reference, old, new, result))
        held.pop(reference, None)
    if held and not dry_run:
        for reference, digest in held.items():
            pins[reference] = Pin(reference, digest=digest)
        write_lock(lock_path(config_path), pins.values())
    return outcomes


async def _previous_failed_too(
    supervisor: Supervisor, service: Declared, why: str, digest: str | None, settle: float
) -> str:
    """The version rolled back to failed too (``why``): it is never left stopped.
    A ``respawn`` service stays with its owner's respawn policy (it is retried
    with backoff, up to its ``respawn_limit``); another is started again by the
    same policy here — the same delays and limit — until it holds or the limit
    is reached. What happened, for the table and ``status``."""
    from corral.supervisor.respawn import History, decide, started

    policy = supervisor.owner(service.name).policy
    on = f"on {digest[:19]}" if digest else "on the previous image"
    limit = f"respawn_limit {policy.limit_starts} starts in {policy.limit_seconds:g} s"
    if service.respawn:
        return f"the previous version failed too ({why}): respawning {on} ({limit})"
    clock = supervisor.context.clock
    history = started(History(), policy, clock.monotonic())
    tries = 1
    last = why
    while True:
        decision = decide(history, policy, clock.monotonic())
        if not decision.respawn:
            return f"the previous version failed too, {tries} starts ({last}): stopped, {limit}"
        await clock.sleep(decision.delay)
        history = started(decision.history, policy, clock.monotonic())
        tries += 1
        try:
            await supervisor.start(service.name)
        except CorralError as error:
            last = str(error)
            continue
        failed = await _settles(supervisor, service.name, settle)
        if failed is None:
            return f"the previous version failed at first ({why}), runs {on} after {tries} starts"
        last = failed
        await supervisor.stop(service.name)


def _note(supervisor: Supervisor, name: str, note: str) -> None:
    from corral.supervisor.container import ContainerRunner

    runner = supervisor.owner(name).runner
    if isinstance(runner, ContainerRunner):
        runner.update_note = note
        supervisor.changes.changed(name)


async def _pull_tag(
    store: EngineImages, engine: Engine, reference: str, credentials: Credentials
) -> str:
    """Pull ``reference``'s tag; the manifest digest it names now (the engine's
    ``Digest:`` line, else the digest the image is now known by in its repository)."""
    from corral.engine.pull import pull
    from corral.engine.registry import RegistryError, reference_of

    said: list[str] = []

    def listen(event: dict[str, Any]) -> None:
        status = str(event.get("status") or "")
        if status.startswith("Digest: "):
            said.append(status.removeprefix("Digest: ").strip())

    auth = await credentials.header_for(reference_of(reference).domain)
    await pull(engine, reference, auth=auth, progress=listen)
    if said:
        return said[-1]
    for known in await store.repo_digests_of(reference):
        name, _, digest = known.rpartition("@")
        if _same_repository(name, reference):
            return digest
    raise RegistryError(f"{reference}: pulled, but {engine.runtime} says no digest for it")


def _same_repository(name: str, reference: str) -> bool:
    """Whether a RepoDigests ``name`` is ``reference``'s repository (Hub's short
    names and long ones alike)."""
    from corral.config.reference import ReferenceError, parse_reference, repository_of

    try:
        return (
            parse_reference(name).repository == parse_reference(repository_of(reference)).repository
        )
    except ReferenceError:
        return False


def _with_record(service: Declared, record: OciContainer) -> Declared:
    import dataclasses

    return dataclasses.replace(service, record=record)


async def _recreate_and_watch(
    supervisor: Supervisor,
    service: Declared,
    settle: float,
    *,
    note: str | None = None,
    dependents: list[str] | None = None,
    always: bool = False,
) -> tuple[str | None, list[str]]:
    """Recreate ``service``: (None when it holds, else why not; the dependents
    left stopped for the rollback to start). With ``always``, the dependents
    start again whatever happens."""
    reason: str | None = None

    async def watched() -> bool:
        nonlocal reason
        try:
            await supervisor.start(service.name)
        except CorralError as error:
            reason = str(error)
        else:
            reason = await _settles(supervisor, service.name, settle)
        return always or reason is None

    waiting = await supervisor.replace(service, watched, note=note, dependents=dependents)
    return reason, waiting


async def _settles(supervisor: Supervisor, name: str, settle: float) -> str | None:
    """None when ``name`` keeps running on the same container for ``settle``
    seconds (or is healthy, having a health check); else what happened."""
    owner = supervisor.owner(name)
    record = owner.service.record
    if isinstance(record, OciContainer) and record.health_cmd is not None:
        return None  # started means healthy: the start waits for it
    first = owner.handle.id if owner.handle is not None else None
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        handle = owner.handle
        if owner.state.status != "running" or handle is None or handle.id != first:
            view = owner.view()
            exit_ = view.get("last_exit")
            return f"exited within {settle:g}s" + (f" (exit {exit_})" if exit_ is not None else "")
        await asyncio.sleep(POLL)
    return None
