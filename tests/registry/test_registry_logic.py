"""The registry pieces that need no engine: references, the lock file's round
trip, where credentials are found (files, a real credential-helper program),
the header they leave in, and the pull policy's decisions on a store."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
from pathlib import Path

import pytest

from corral.config.lockfile import Pin, read_lock, render_lock, write_lock
from corral.config.reference import ReferenceError, parse_reference, pinned
from corral.config.registry import Registry
from corral.engine.credentials import CredentialError, Credentials
from corral.engine.images import present_reference
from corral.errors import ImageError

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "digest"),
    [
        ("busybox", "docker.io", "library/busybox", None, None),
        ("team/app:1.2", "docker.io", "team/app", "1.2", None),
        ("127.0.0.1:24000/reg-app:1", "127.0.0.1:24000", "reg-app", "1", None),
        ("localhost/web", "localhost", "web", None, None),
        (f"r.example/a/b:1@{DIGEST}", "r.example", "a/b", "1", DIGEST),
    ],
)
def test_references(text: str, domain: str, path: str, tag: str | None, digest: str | None) -> None:
    reference = parse_reference(text)
    assert (reference.domain, reference.path, reference.tag, reference.digest) == (
        domain, path, tag, digest,
    )  # fmt: skip


@pytest.mark.parametrize("text", ["Team/App", "app:", "a b", "app@sha256:12", ":1", "/app"])
def test_malformed_references(text: str) -> None:
    with pytest.raises(ReferenceError, match="is not a valid image reference"):
        parse_reference(text)


def test_pinned_keeps_the_repository_drops_the_tag() -> None:
    assert pinned("registry:5000/team/app:1.2", DIGEST) == f"registry:5000/team/app@{DIGEST}"
    assert pinned("busybox", DIGEST) == f"busybox@{DIGEST}"


def test_lock_round_trip_is_sorted_and_stable(tmp_path: Path) -> None:
    when = dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=dt.UTC)
    pins = [
        Pin("r.example/b:1", digest=DIGEST, resolved=when),
        Pin("localhost/built:1", image_id="sha256:" + "cd" * 32, resolved=when),
        Pin("r.example/a:1", digest=DIGEST, resolved=when),
    ]
    path = tmp_path / "corral.lock"
    write_lock(str(path), pins)
    text = path.read_text()
    assert (
        text.index('"localhost/built:1"')
        < text.index('"r.example/a:1"')
        < text.index('"r.example/b:1"')
    )
    assert "resolved = 2026-12-01 12:00:00+00:00" in text  # a TOML offset date-time
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    lock = read_lock(str(path))
    assert lock is not None and set(lock.pins) == {p.reference for p in pins}
    assert lock.pins["r.example/a:1"].digest == DIGEST
    assert render_lock(lock.pins.values()) == text
    assert not list(tmp_path.glob(".corral.lock.*"))  # no temporary file left


def _credentials(tmp_path: Path, registries: tuple[Registry, ...] = ()) -> Credentials:
    return Credentials(registries, "docker", environ={
        "HOME": str(tmp_path / "home"), "DOCKER_CONFIG": str(tmp_path / "docker"),
        "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"),
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
    })  # fmt: skip


def test_a_record_wins_and_its_header_is_base64url_json(tmp_path: Path) -> None:
    secret = tmp_path / "pass"
    secret.write_text("pa$$word\n")
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps(
        {"auths": {"r.example": {"auth": base64.b64encode(b"other:x").decode()}}}
    ))  # fmt: skip
    record = Registry(host="r.example", username="me", password_file=str(secret))
    found = asyncio.run(_credentials(tmp_path, (record,)).for_host("r.example"))
    assert found is not None and (found.username, found.password) == ("me", "pa$$word")
    assert "pa$$word" not in repr(found)
    document = json.loads(base64.urlsafe_b64decode(found.header()))
    assert document == {"username": "me", "password": "pa$$word", "serveraddress": "r.example"}


def test_config_json_auths_then_podman_auth_json(tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps(
        {"auths": {"https://r.example": {"auth": base64.b64encode(b"u1:p1").decode()}}}
    ))  # fmt: skip
    (tmp_path / "auth.json").write_text(json.dumps(
        {"auths": {"q.example": {"auth": base64.b64encode(b"u2:p2").decode()}}}
    ))  # fmt: skip
    credentials = _credentials(tmp_path)
    first = asyncio.run(credentials.for_host("r.example"))
    second = asyncio.run(credentials.for_host("q.example"))
    assert first is not None and (first.username, first.password) == ("u1", "p1")
    assert second is not None and (second.username, second.password) == ("u2", "p2")
    assert asyncio.run(credentials.for_host("nowhere.example")) is None


def test_a_credential_helper_program_is_asked_with_the_host_on_stdin(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-reg"
    helper.write_text(
        '#!/bin/sh\n[ "$1" = get ] || exit 2\nread host\n'
        'printf \'{"ServerURL":"%s","Username":"helped","Secret":"from-helper"}\' "$host"\n'
    )
    helper.chmod(0o755)
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(
        json.dumps({"credHelpers": {"h.example": "reg"}})
    )
    old = os.environ["PATH"]
    os.environ["PATH"] = f"{bin_dir}:{old}"
    try:
        found = asyncio.run(_credentials(tmp_path).for_host("h.example"))
    finally:
        os.environ["PATH"] = old
    assert found is not None and (found.username, found.password) == ("helped", "from-helper")


def test_an_unreadable_password_file_names_the_file_not_a_value(tmp_path: Path) -> None:
    record = Registry(host="r.example", username="me", password_file=str(tmp_path / "missing"))
    with pytest.raises(CredentialError, match=r"registry r\.example: cannot read .*missing"):
        asyncio.run(_credentials(tmp_path, (record,)).for_host("r.example"))


class _Store:
    """An ImageStore for the policy's decisions alone (the real engines are in
    test_registry_e2e.py)."""

    runtime = "docker"

    def __init__(self, local: str | None, remote: str = DIGEST, fail: bool = False) -> None:
        self.local, self.remote, self.fail = local, remote, fail
        self.pulls = 0
        self.asked = 0

    async def image_id(self, reference: str) -> str | None:
        return self.local

    async def pull(self, reference: str) -> None:
        self.pulls += 1
        if self.fail:
            raise ImageError("pull r.example/a:1: no registry answered")
        self.local = "sha256:" + "ef" * 32

    async def repo_digests(self, reference: str) -> list[str]:
        return [DIGEST]

    async def registry_digest(self, reference: str) -> str:
        self.asked += 1
        return self.remote


LOCAL = "sha256:" + "01" * 32


@pytest.mark.parametrize(
    ("policy", "local", "remote", "pulls", "asked"),
    [
        ("missing", LOCAL, DIGEST, 0, 0),
        ("missing", None, DIGEST, 1, 0),
        ("always", LOCAL, DIGEST, 1, 0),
        ("newer", LOCAL, DIGEST, 0, 1),
        ("newer", LOCAL, "sha256:" + "99" * 32, 1, 1),
        ("newer", None, DIGEST, 1, 0),
        ("never", LOCAL, DIGEST, 0, 0),
    ],
)
def test_pull_policy_decisions(
    policy: str, local: str | None, remote: str, pulls: int, asked: int
) -> None:
    store = _Store(local, remote)
    asyncio.run(present_reference(store, "r.example/a:1", policy))  # type: ignore[arg-type]
    assert (store.pulls, store.asked) == (pulls, asked)


def test_a_failed_pull_keeps_a_local_image_with_a_note_and_fails_without_one() -> None:
    notes: list[str] = []
    kept = asyncio.run(
        present_reference(_Store(LOCAL, fail=True), "r.example/a:1", "always", notes)
    )
    assert kept == LOCAL and notes and "kept the local image" in notes[0]
    with pytest.raises(ImageError, match="no registry answered"):
        asyncio.run(present_reference(_Store(None, fail=True), "r.example/a:1", "always"))
    with pytest.raises(ImageError, match='pull = "never" forbids'):
        asyncio.run(present_reference(_Store(None), "r.example/a:1", "never"))


def test_progress_one_line_per_image_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from corral.cli.progress import TransferProgress

    with TransferProgress("pushed", "r.example/a:1", terminal=False) as progress:
        for layer in ("aaa", "bbb", "aaa"):
            progress(
                {"id": layer, "status": "Pushing", "progressDetail": {"current": 1, "total": 2}}
            )
        progress({"status": "1: digest: sha256:x size: 1"})
    progress.summary(DIGEST)
    assert capsys.readouterr().out == f"pushed r.example/a:1: 2 layers, {DIGEST}\n"


def test_progress_bars_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from corral.cli.progress import TransferProgress

    with TransferProgress("pulled", "r.example/a:1", terminal=True) as progress:
        progress(
            {"id": "aaa", "status": "Downloading", "progressDetail": {"current": 5, "total": 10}}
        )
        assert progress._bars is not None and len(progress._bars.tasks) == 1
        assert progress._bars.tasks[0].completed == 5 and progress._bars.tasks[0].total == 10
