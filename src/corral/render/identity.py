"""How corral knows its own containers: its labels and the config hash. Pure.

A container corral creates carries ``corral.service`` (its service),
``corral.config-hash`` (the hash of what shaped it) and ``corral.instance``
(the state directory of the corral that owns it). A restarted daemon adopts a
running container whose three labels match; an edited declaration changes the
hash, and the container is recreated.

What enters the hash is declared on the fields themselves: every field whose
change is ``recreate`` (``Record.change_of``), with its value when it differs
from the default (a field added to corral later changes no existing hash).
Secret fields (host_environment) enter only as a keyed digest, and so do the
files read at start (env files, secret sources: ``inputs``), by content.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from corral.config import OciContainer
from corral.runtimes import Runtime

#: Label naming the corral service a container belongs to.
SERVICE_LABEL = "corral.service"
#: Label holding the hash of the declaration the container was created from.
HASH_LABEL = "corral.config-hash"
#: Label naming the corral instance (its state directory) that owns the container.
INSTANCE_LABEL = "corral.instance"

#: The fields that shape a container (a change recreates it), and of those the secret ones.
SHAPING = OciContainer.fields_changing("recreate")
SECRET = frozenset(name for name in SHAPING if OciContainer.is_secret(name))


def _secret_digest(field: str, values: tuple[str, ...], key: bytes) -> str:
    """A keyed digest that stands in for a secret field's values.

    The key is the host's own (``<state_dir>/hash.key``), so the label on a
    container cannot be used to guess a weak secret offline."""
    canonical = json.dumps(sorted(values), separators=(",", ":"))
    return hmac.new(f"corral {field}\0".encode() + key, canonical.encode(), "sha256").hexdigest()


def content_digest(name: str, content: bytes, key: bytes) -> str:
    """A keyed digest of a file read at start (``env_files[0]``, ``secrets[1]``)."""
    return hmac.new(f"corral input {name}\0".encode() + key, content, "sha256").hexdigest()


def hash_document(
    container: OciContainer,
    runtime: Runtime,
    image_id: str | None = None,
    key: bytes = b"",
    inputs: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """The canonical document ``config_hash`` digests (secrets, and the content
    of files read at start, only as keyed digests)."""
    declared = container.model_dump(
        mode="json", include=set(SHAPING - SECRET), exclude_defaults=True
    )
    document: dict[str, Any] = {"runtime": runtime, "container": declared, "image_id": image_id}
    for name in sorted(SECRET):
        document[name] = _secret_digest(name, getattr(container, name), key)
    if inputs:
        document["inputs"] = {n: content_digest(n, c, key) for n, c in sorted(inputs.items())}
    return document


def config_hash(
    container: OciContainer,
    runtime: Runtime,
    image_id: str | None = None,
    key: bytes = b"",
    inputs: Mapping[str, bytes] | None = None,
) -> str:
    """sha256 (hex) of everything that shapes the container: a changed field,
    image ID (when given), host_environment secret or content of a file read at
    start (``inputs``) means recreate."""
    document = hash_document(container, runtime, image_id, key, inputs)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def corral_labels(name: str, hash_: str, instance: str = "") -> dict[str, str]:
    """corral's labels on a container: its service, its declaration's hash, and
    (when given) the corral instance that owns it — its state directory — so
    two corral daemons on one host never take each other's containers."""
    labels = {SERVICE_LABEL: name, HASH_LABEL: hash_}
    if instance:
        labels[INSTANCE_LABEL] = instance
    return labels
