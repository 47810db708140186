"""The ``pull`` action for string images, with a readable error when no
registry answers (this machine has none)."""

from __future__ import annotations

from corral.engine.runner import Invocation, run_cli
from corral.errors import CommandError, CorralError

#: Fragments of the engines' errors that mean "no registry could be reached".
UNREACHABLE = (
    "dial tcp",
    "no such host",
    "connection refused",
    "i/o timeout",
    "network is unreachable",
    "temporary failure in name resolution",
    "tls handshake timeout",
    "pinging container registry",
    "no route to host",
)


class PullError(CorralError):
    """An image could not be pulled."""


def qualified_reference(reference: str) -> str:
    """``busybox`` → ``docker.io/library/busybox:latest`` (as Docker reads it)."""
    name, digest = reference, ""
    if "@" in name:
        name, digest = name.split("@", 1)
        digest = "@" + digest
    first, slash, _ = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if slash else f"docker.io/library/{name}"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and not digest:
        name += ":latest"
    return name + digest


def pull_error_message(runtime: str, reference: str, stderr: str, returncode: int) -> str:
    """A one-line message for a failed pull; secrets were redacted already.

    Docker reads a short name as ``docker.io/library/NAME``, so the message
    names that; Podman resolves short names through registries.conf (and
    with none configured refuses them), so its reference is shown as given."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    detail = lines[-1] if lines else f"exit status {returncode}"
    detail = detail.removeprefix("Error: ").removeprefix("Error response from daemon: ")
    what = qualified_reference(reference) if runtime == "docker" else reference
    if any(fragment in detail.lower() for fragment in UNREACHABLE):
        return f"pull {what}: no registry answered ({detail})"
    return f"pull {what}: {detail}"


async def pull(runtime: str, reference: str, invocation: Invocation | None = None) -> None:
    """``<runtime> pull REFERENCE`` through the runner; ``PullError`` on failure."""
    try:
        await run_cli([runtime, "pull", reference], invocation or Invocation(timeout=600))
    except CommandError as exc:
        raise PullError(pull_error_message(runtime, reference, exc.stderr, exc.returncode)) from exc
