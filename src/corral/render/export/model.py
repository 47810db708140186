"""What every exporter shares: the field table's rows, the warnings, the
services an export walks, and the result. Pure: no I/O.

An exporter is a table and a few functions. The table (``Table``) has one row
per field of a record: what the target says for it (``Row.put`` fills the
target's document with the field's value), or why it cannot (``Row.reason``:
every set value of that field is a warning naming the service, the field and
the target, and a comment in the output). ``fill`` walks a service's set
fields through the table, so a field without a row is an error the tests
catch, never a field dropped silently; ``docs/exports.md`` is generated from
the same tables (``render.export.docs``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from corral.config import (
    Config,
    Declared,
    OciContainer,
    OciImage,
    Process,
    declared_services,
    dependency_order,
)
from corral.config._base import Record
from corral.config.services import image_reference
from corral.render.spec import OPTIONS_BY_NAME, ContainerSpec, container_spec

Target = Literal["compose", "kubernetes", "systemd", "quadlet"]
TARGETS: tuple[Target, ...] = ("compose", "kubernetes", "systemd", "quadlet")

Out = TypeVar("Out")


@dataclass(frozen=True)
class ExportWarning:
    """A value the target cannot say: which service, which field, which target, why."""

    target: str
    service: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"warning: {self.target}: {self.service}: {self.field}: {self.reason}"

    @property
    def comment(self) -> str:
        """The same, as the output's comment says it (without the target)."""
        return f"warning: {self.field}: {self.reason}"


@dataclass(frozen=True)
class Settings:
    """The export's options (the CLI's flags)."""

    #: ``compose --swarm``: a stack for ``docker stack deploy``.
    swarm: bool = False
    #: ``kubernetes --namespace``.
    namespace: str | None = None
    #: ``kubernetes --pvc``: named volumes and bind mounts as PersistentVolumeClaims.
    pvc: bool = False
    #: ``systemd --user``: user units (``systemctl --user``), ``default.target``.
    user: bool = False
    #: An image reference → the reference it was pushed or loaded under elsewhere
    #: (``corral image push NAME --to REF``): ``--image FROM=TO``.
    images: Mapping[str, str] = field(default_factory=dict)
    #: The engine CLI's path in ExecStart= lines (systemd, the daemon units).
    runtime_path: str | None = None
    #: corral's own path, for the unit of corral's daemon.
    corral_path: str = "/usr/local/bin/corral"
    #: The configuration file's path, for the unit of corral's daemon.
    config_path: str = "/etc/corral/corral.toml"


@dataclass
class Exported:
    """An export: its files (name → text, in a stable order) and its warnings."""

    target: str
    files: dict[str, str] = field(default_factory=dict)
    warnings: list[ExportWarning] = field(default_factory=list)


# -- the services an export walks ---------------------------------------------


@dataclass
class Index:
    """What every unit of one export may ask about the others, computed once."""

    units: dict[str, Unit] = field(default_factory=dict)
    containers: dict[str, OciContainer] = field(default_factory=dict)
    #: Container name → the containers that declare it as a requirement.
    dependents: dict[str, list[str]] = field(default_factory=dict)
    #: Containers with a health check.
    health: set[str] = field(default_factory=set)
    #: A renderer's own derived tables (computed on first use).
    memo: dict[str, Any] = field(default_factory=dict)


@dataclass
class Unit:
    """One service being exported: its declaration, its spec (containers), and
    the warnings found for it so far (``warn``), which the renderers also write
    as comments beside it."""

    target: str
    declared: Declared
    config: Config
    settings: Settings
    spec: ContainerSpec | None
    warnings: list[ExportWarning] = field(default_factory=list)
    #: The export's other services (set by ``units``).
    index: Index = field(default_factory=Index, repr=False)
    #: Comments that are no warning (how to get a corral-built image there).
    notes: list[str] = field(default_factory=list)
    #: The field whose row is being applied (``warn``'s default).
    current: str = ""

    @property
    def name(self) -> str:
        return self.declared.name

    @property
    def record(self) -> Record:
        return self.declared.record

    @property
    def container(self) -> OciContainer:
        record = self.declared.record
        assert isinstance(record, OciContainer)
        return record

    def warn(self, reason: str, field: str | None = None) -> None:
        self.warnings.append(ExportWarning(self.target, self.name, field or self.current, reason))

    def note(self, text: str) -> None:
        self.notes.append(text)

    @property
    def comments(self) -> list[str]:
        return [*self.notes, *(w.comment for w in self.warnings)]


@dataclass(frozen=True)
class Row(Generic[Out]):
    """How one field of a record reaches a target.

    ``put(out, value, unit)`` says a set value in the target's document ``out``
    (it may ``unit.warn`` about a part it cannot say); with ``put`` None the
    field cannot be said: a set value is a warning, ``reason`` says why. ``says``
    is the documentation's words for what it becomes; ``with_field`` marks a
    field said by another field's row (health_interval with health_cmd);
    ``since`` the target's version that first knows the key (Quadlet)."""

    field: str
    says: str
    put: Callable[[Out, Any, Unit], None] | None = None
    reason: str = ""
    since: str = ""
    with_field: str = ""
    #: How the value is read (default: the spec's parsed option, else the record's
    #: field, None when it holds its default).
    read: Callable[[Unit], Any] | None = None


@dataclass(frozen=True)
class Table(Generic[Out]):
    """A target's rows for one record type, in the order the output says them."""

    target: str
    record: type[Record]
    rows: tuple[Row[Out], ...]
    #: What the record as a whole becomes, for the documentation.
    title: str = ""

    def row(self, name: str) -> Row[Out]:
        for row in self.rows:
            if row.field == name:
                return row
        raise KeyError(f"{self.target}: no row for {self.record.__name__}.{name}")

    def missing(self) -> list[str]:
        """Fields of the record with no row (a test keeps this empty)."""
        names = {row.field for row in self.rows}
        return [n for n in self.record.model_fields if n not in names]


_DEFAULTS: dict[type[Record], dict[str, Any]] = {}


def default_of(record: Record, name: str) -> Any:
    """Field ``name``'s default on ``record``'s type (read once per type)."""
    kind = type(record)
    defaults = _DEFAULTS.get(kind)
    if defaults is None:
        defaults = _DEFAULTS[kind] = {
            n: info.get_default(call_default_factory=True) for n, info in kind.model_fields.items()
        }
    return defaults[name]


def set_value(unit: Unit, name: str) -> Any:
    """Field ``name``'s value for the table: a run option's parsed value from the
    spec, else the record's value; None when unset (the record's default)."""
    if unit.spec is not None and name in OPTIONS_BY_NAME:
        return unit.spec.value(name)
    value = getattr(unit.record, name)
    return None if value == default_of(unit.record, name) else value


_MISSING: dict[int, list[str]] = {}


def fill(table: Table[Out], out: Out, unit: Unit) -> Out:
    """Every set field of ``unit`` said in ``out`` through ``table``, in row order;
    a field the target cannot say is a warning."""
    for row in table.rows:
        unit.current = row.field
        value = row.read(unit) if row.read is not None else set_value(unit, row.field)
        if value is None:
            continue
        if row.put is not None:
            row.put(out, value, unit)
        elif not row.with_field:
            unit.warn(row.reason)
    unit.current = ""
    missing = _MISSING.get(id(table))
    if missing is None:
        missing = _MISSING[id(table)] = table.missing()
    if missing:
        raise KeyError(f"{table.target}: no row for {table.record.__name__}: {missing}")
    return out


def units(config: Config, target: str, settings: Settings) -> list[Unit]:
    """Every declared service in dependency order, with its container spec (the
    seed's: no corral labels)."""
    out: list[Unit] = []
    index = Index()
    for declared in dependency_order(declared_services(config)):
        spec = None
        record = declared.record
        if isinstance(record, OciContainer):
            spec = container_spec(record, declared.name, config.runtime)
            index.containers[declared.name] = record
            if record.health_cmd is not None:
                index.health.add(declared.name)
            for required in record.requirement:
                index.dependents.setdefault(required, []).append(declared.name)
        unit = Unit(target, declared, config, settings, spec, index=index)
        index.units[declared.name] = unit
        out.append(unit)
    return out


def image_of(unit: Unit) -> str:
    """The image reference a target names: the engine's reference, or the one
    ``--image FROM=TO`` says it was pushed or loaded under (FROM a reference or
    the service's name)."""
    reference = image_reference(unit.container.image)
    images = unit.settings.images
    return images.get(unit.name) or images.get(reference) or reference


def corral_built(unit: Unit) -> OciImage | None:
    image = unit.container.image
    return image if isinstance(image, OciImage) else None


def is_container(declared: Declared) -> bool:
    return declared.kind == "container"


def is_process(declared: Declared) -> bool:
    return isinstance(declared.record, Process)


def host_environment_read(container: OciContainer) -> tuple[list[str], list[int]]:
    """The host_environment names the container reads (an ``environment`` entry
    without a value, or ``--env NAME`` / ``-e NAME`` in extra_arguments), and the
    members of extra_arguments that said so (consumed by the export)."""
    names: list[str] = []
    consumed: list[int] = []
    for entry in container.environment:
        if "=" not in entry:
            names.append(entry)
    words = list(container.extra_arguments)
    i = 0
    while i < len(words):
        word = words[i]
        flag, eq, inline = word.partition("=")
        if flag in ("--env", "-e"):
            value = inline if eq else (words[i + 1] if i + 1 < len(words) else "")
            if "=" not in value and value:
                names.append(value)
                consumed += [i] if eq else [i, i + 1]
                i += 1 if eq else 2
                continue
        i += 1
    return list(dict.fromkeys(names)), consumed


def hidden_names(container: OciContainer) -> list[str]:
    """host_environment's names (never its values)."""
    return [entry.split("=", 1)[0] for entry in container.host_environment]


def extra_warnings(unit: Unit, target: str) -> None:
    """extra_arguments a target cannot say (all but ``--env NAME``): one warning."""
    _, consumed = host_environment_read(unit.container)
    rest = [w for i, w in enumerate(unit.container.extra_arguments) if i not in consumed]
    if rest:
        unit.warn(f"free-form CLI flags {' '.join(rest)!r} have no {target} equivalent")


def _config_unit(config: Config, target: str, settings: Settings) -> Unit:
    declared = Declared(
        name="(configuration)", kind="container", record=config, path=(), requirement=(),
        declared_requirement=(), auto_start=True, respawn=False, one_shot=False,
    )  # fmt: skip
    return Unit(target, declared, config, settings, None)


def _said(out: object, value: Any, unit: Unit) -> None:
    """Said where the services are written (each target's own table)."""


#: The top level of a configuration, the same for every target.
CONFIG_TABLE: Table[object] = Table(
    "every target",
    Config,
    (
        Row(
            "runtime",
            "the engine CLI of the run lines (systemd); Compose, Kubernetes and "
            "Quadlet name their own engine",
            _said,
        ),
        Row("pull", "each container's pull policy", _said),
        Row("containers", "the services", _said),
        Row("processes", "units (systemd); a warning elsewhere", _said),
        Row("networks", "top-level networks, `.network` files, units", _said),
        Row("volumes", "top-level volumes, `.volume` files, claims, units", _said),
        Row("docker", "a unit (systemd); a warning elsewhere", _said),
        Row("containerd", "a unit (systemd); a warning elsewhere", _said),
        Row("podman", "a unit (systemd); a warning elsewhere", _said),
        Row("state_dir", "a warning", reason="corral's own state: the target keeps its own"),
        Row("http", "a warning", reason="corral's status page and metrics: not the target's"),
        Row(
            "registries",
            "a warning",
            reason="logins are each host's: `docker login` / "
            "`podman login` / an imagePullSecret there (no password is exported)",
        ),
        Row("singularity", "a warning", reason="Singularity's activation has no equivalent"),
        Row("update_settle", "a warning", reason="`corral update`'s own setting"),
        Row("project", "already in the names (`PROJECT-NAME-1`, `PROJECT_NAME`)", _said),
    ),
    title="the export as a whole",
)


def config_warnings(config: Config, target: str, settings: Settings) -> list[ExportWarning]:
    """The warnings of the configuration's top level (``CONFIG_TABLE``)."""
    unit = _config_unit(config, target, settings)
    fill(CONFIG_TABLE, object(), unit)
    return unit.warnings


def each_unit(all_units: Iterable[Unit], kind: type[Record]) -> list[Unit]:
    return [u for u in all_units if isinstance(u.record, kind)]
