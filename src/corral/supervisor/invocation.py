"""What corral runs for a container, exactly: its labels, with the config hash
of the image it is made from and this host's key.

The container runner computes the labels of each container it creates here,
and ``corral command-line`` / ``corral show`` (through ``exact_labels``) print
the same, so the command line shown is the one that runs.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from corral.config import Config, Declared, OciContainer
from corral.paths import hash_key_path
from corral.render.identity import config_hash, corral_labels
from corral.runtimes import Runtime

if TYPE_CHECKING:
    pass


@functools.cache
def hash_key(state_dir: str) -> bytes:
    """This host's key for config hashes (created 0600 on first use; read once)."""
    path = hash_key_path(state_dir)
    key = read_hash_key(state_dir)
    if key is not None:
        return key
    os.makedirs(state_dir, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(key)
    return key


def read_hash_key(state_dir: str) -> bytes | None:
    """The key, when it exists and can be read (None otherwise)."""
    try:
        with open(hash_key_path(state_dir), "rb") as stream:
            return stream.read() or None
    except OSError:
        return None


def labels_for(
    container: OciContainer,
    name: str,
    runtime: Runtime,
    image_id: str | None,
    state_dir: str,
    key: bytes | None = None,
    inputs: Inputs | None = None,
) -> dict[str, str]:
    """corral's labels on service ``name``'s container made from ``image_id``
    (and the files read at start, ``inputs``)."""
    key = hash_key(state_dir) if key is None else key
    contents = inputs.contents if inputs is not None else None
    return corral_labels(name, config_hash(container, runtime, image_id, key, contents), state_dir)


@dataclass(frozen=True)
class Inputs:
    """What a container's start reads from the host: its env files' pairs, its
    secrets' values (None for a command's, until ``with_commands``), and the
    content of each (for the config hash, as keyed digests only)."""

    env_pairs: tuple[tuple[str, str], ...] = ()
    secrets: tuple[bytes | None, ...] = ()
    contents: dict[str, bytes] = field(default_factory=dict)

    @property
    def secret_values(self) -> list[bytes]:
        assert all(v is not None for v in self.secrets), "a secret command was not run"
        return [v for v in self.secrets if v is not None]

    async def with_commands(self, container: OciContainer) -> Inputs:
        """These inputs with each secret command's output (run now)."""
        from corral.engine.runner import Invocation, run_cli
        from corral.errors import CommandError, CorralError

        values = list(self.secrets)
        contents = dict(self.contents)
        for i, secret in enumerate(container.secrets):
            if secret.command:
                try:
                    done = await run_cli(secret.command, Invocation(timeout=60))
                except CommandError as error:  # its output may be the secret: not shown
                    raise CorralError(
                        f"secrets[{i}]: the command {secret.command[0]} failed "
                        f"(exit {error.returncode}); its output is not shown"
                    ) from None
                values[i] = done.stdout.encode()
                contents[f"secrets[{i}]"] = values[i] or b""
        return Inputs(self.env_pairs, tuple(values), contents)


def read_inputs(container: OciContainer) -> Inputs:
    """Read ``container``'s env files and secret source files (``CorralError``
    naming the file and line, never a value, when one cannot be read)."""
    from corral.config.envfile import EnvFileError, read_env_file
    from corral.errors import CorralError

    pairs: list[tuple[str, str]] = []
    contents: dict[str, bytes] = {}
    for i, path in enumerate(container.env_files):
        try:
            env_file = read_env_file(path)
        except OSError as error:
            raise CorralError(f"env file {path}: cannot read it: {error.strerror}") from None
        except EnvFileError as error:
            raise CorralError(f"env file {path}: {error}") from None
        pairs += env_file.pairs
        contents[f"env_files[{i}]"] = env_file.content
    secrets: list[bytes | None] = []
    for i, secret in enumerate(container.secrets):
        if secret.source is None:
            secrets.append(None)
            continue
        try:
            with open(secret.source, "rb") as stream:
                secrets.append(stream.read())
        except OSError as error:
            raise CorralError(
                f"secrets[{i}]: cannot read {secret.source}: {error.strerror}"
            ) from None
        contents[f"secrets[{i}]"] = secrets[-1] or b""
    return Inputs(tuple(pairs), tuple(secrets), contents)


@dataclass(frozen=True)
class Exact:
    """The labels each container of a configuration is created with, and what
    kept any of them from being exact."""

    labels: dict[str, dict[str, str]]
    notes: tuple[str, ...]


async def exact_labels(
    config: Config,
    services: Sequence[Declared],
    state_dir: str,
) -> Exact:
    """The labels corral would create each container of ``services`` with: the
    engine asked for each reference's image ID (it is not started for this: an
    engine that does not answer leaves those hashes without an image ID)."""
    from corral.engine.client import connect as open_engine
    from corral.engine.endpoint import endpoint_for
    from corral.engine.images import known_id
    from corral.errors import CorralError

    containers = [s for s in services if isinstance(s.record, OciContainer)]
    notes: list[str] = []
    key: bytes | None = None
    if containers:
        try:
            key = hash_key(state_dir)  # what a daemon there would create first, too
        except OSError as error:
            notes.append(
                f"no hash key in {state_dir} ({error.strerror}): the config hashes shown "
                "are not the ones a daemon there will use"
            )
    engine = None
    if any(
        isinstance(s.record, OciContainer) and isinstance(s.record.image, str) for s in containers
    ):
        endpoint = endpoint_for(config, config.runtime, state_dir)
        try:
            engine = await open_engine(endpoint, start_service=False)
        except CorralError as error:
            notes.append(f"image IDs unknown ({error}): hashes computed without them")
    labels: dict[str, dict[str, str]] = {}
    try:
        for service in containers:
            record = service.record
            assert isinstance(record, OciContainer)
            found = await known_id(engine, record.image, state_dir)
            if found is None and isinstance(record.image, str) and engine is not None:
                notes.append(
                    f"{service.name}: {record.image} is not present on {engine.endpoint}: "
                    "its hash will include the ID of the image pulled at start"
                )
            try:
                inputs = read_inputs(record)
            except CorralError as error:
                notes.append(f"{service.name}: {error}: its hash is computed without it")
                inputs = None
            if any(secret.command for secret in record.secrets):
                notes.append(
                    f"{service.name}: a secret's command runs only at start: the hash shown "
                    "is computed without its output"
                )
            labels[service.name] = labels_for(
                record, service.name, config.runtime, found, state_dir, key or b"", inputs
            )
    finally:
        if engine is not None:
            await engine.close()
    return Exact(labels, tuple(notes))
