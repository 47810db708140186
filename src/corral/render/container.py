"""A container spec rendered for the engine: the CLI's words, or the Engine API's
create document. Both read the spec alone, through ``spec.RUN_OPTIONS``. Pure.

The seed's line (``seed_argv``) is ``run --rm`` in the foreground; corral
instead creates and starts the container (``create_argv`` / ``create_document``)
so that a graceful stop leaves the exit code readable and one engine
connection, not one CLI per container, watches it. host_environment values
never enter either rendering: they go to the CLI process's environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from corral.render.spec import QUERY, ContainerSpec, attachment_words, endpoint_config


def option_words(spec: ContainerSpec) -> list[str]:
    """The options of ``run``/``create``, in table order, then extra_arguments."""
    words: list[str] = []
    for option, value in spec.options:
        words += option.words(option.flag, value)
    return [*words, *spec.extra_arguments]


def create_argv(spec: ContainerSpec, engine_options: Sequence[str] = ()) -> list[str]:
    """``<runtime> [ENGINE OPTIONS] create --name N OPTIONS… IMAGE COMMAND…``: what
    corral runs on the CLI path, and the equivalent line of its API call."""
    return [
        spec.runtime, *engine_options, "create", "--name", spec.name,
        *option_words(spec), spec.image, *spec.command,
    ]  # fmt: skip


def seed_argv(spec: ContainerSpec) -> list[str]:
    """``<runtime> run --rm --name N OPTIONS… IMAGE COMMAND…``, as the seed runs it
    (render ``spec`` without corral's labels for the seed's exact line)."""
    return [
        spec.runtime, "run", "--rm", "--name", spec.name,
        *option_words(spec), spec.image, *spec.command,
    ]  # fmt: skip


def create_document(spec: ContainerSpec) -> dict[str, Any] | None:
    """The Engine API's create document for ``spec`` (``POST /containers/create``),
    or None when only the CLI can say it (``spec.cli_only``)."""
    if spec.cli_only is not None:
        return None
    document: dict[str, Any] = {"Image": spec.image, "Labels": {}, "Env": []}
    if spec.command or spec.value("entrypoint") is not None:
        # the CLI's --entrypoint also clears the image's CMD
        document["Cmd"] = list(spec.command)
    for option, value in spec.options:
        for key, entry in option.document(value).items():
            if key.startswith(QUERY):
                continue
            section, _, leaf = key.rpartition(".")
            target = document.setdefault(section, {}) if section else document
            # two options may fill one key (ports and expose: ExposedPorts;
            # security_opt and no_new_privileges: SecurityOpt), in table order
            if key == "Env" and target.get(leaf):
                entry = _env_under(target[leaf], entry)
                target[leaf] = entry
                continue
            target[leaf] = _merged(target.get(leaf), entry)
    return document


def _merged(known: Any, entry: Any) -> Any:
    """``entry`` added to what an earlier option put under the same key: tables
    merged key by key (deeply), lists joined; anything else replaced."""
    if isinstance(known, dict) and isinstance(entry, dict):
        merged = dict(known)
        for key, value in entry.items():
            merged[key] = _merged(merged.get(key), value)
        return merged
    if isinstance(known, list) and isinstance(entry, list):
        return [*known, *entry]
    return entry


def create_query(spec: ContainerSpec) -> dict[str, str]:
    """The query of ``POST /containers/create``: the name, and the options the
    API takes there rather than in the document (``platform``)."""
    query = {"name": spec.name}
    for option, value in spec.options:
        for key, entry in option.document(value).items():
            if key.startswith(QUERY):
                query[key.removeprefix(QUERY)] = entry
    return query


def _env_under(first: list[str], later: list[str]) -> list[str]:
    """``Env`` from two rows: a key the first row (``environment``) sets wins over
    the later (``env_files``), as the CLI's ``--env`` wins over ``--env-file``."""
    taken = {entry.split("=", 1)[0] for entry in first}
    return [e for e in later if e.split("=", 1)[0] not in taken] + first


def connect_argvs(spec: ContainerSpec, engine_options: Sequence[str] = ()) -> list[list[str]]:
    """``<runtime> network connect [--alias A] [--ip X] NETWORK NAME`` for each
    network joined after create (``spec.connects``): what corral does, before
    the start, through the API (``connect_documents``)."""
    return [
        [spec.runtime, *engine_options, "network", "connect", *attachment_words(attachment),
         attachment.name, spec.name]
        for attachment in spec.connects
    ]  # fmt: skip


def connect_documents(spec: ContainerSpec, container: str) -> list[tuple[str, dict[str, Any]]]:
    """(network, body of ``POST /networks/{network}/connect``) for each network
    ``container`` joins after create."""
    return [
        (attachment.name, {"Container": container, "EndpointConfig": endpoint_config(attachment)})
        for attachment in spec.connects
    ]
