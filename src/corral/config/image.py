"""``OciImage``: an image corral loads from an archive or builds itself."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from corral.config._base import Record
from corral.config._fields import (
    PAIR_LIST_SCHEMA,
    Environment,
    Labels,
    NonEmpty,
    Strings,
    fail,
    field,
    show,
)
from corral.errors import Problem

MAX_LAYERS_LIMIT = 125


def escapes_root(path: str) -> bool:
    """Whether image path ``path`` climbs above the image root (``../x``, ``/a/../..``)."""
    depth = 0
    for part in path.split("/"):
        depth += -1 if part == ".." else 0 if part in ("", ".") else 1
        if depth < 0:
            return True
    return False


def _pairs(name: str, *, single_ok: bool) -> Callable[[Any], Any]:
    """A list of ``SRC:DEST`` strings or ``(SRC, DEST)`` pairs, kept as pairs.

    With ``single_ok`` a bare ``PATH`` means the same path on both sides.
    """

    def sanitize(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise fail(f"{name} must be a list of strings or pairs, but {show(value)} was found")
        out: list[tuple[str, str]] = []
        for member in value:
            if isinstance(member, str):
                if ":" in member:
                    src, dest = member.split(":", 1)
                    out.append((src, dest))
                elif single_ok:
                    out.append((member, member))
                else:
                    raise fail(
                        f"{name} members must look like LINK:TARGET, but {show(member)} was found"
                    )
            elif (
                isinstance(member, list | tuple)
                and len(member) == 2
                and all(isinstance(m, str) for m in member)
            ):
                out.append((member[0], member[1]))
            else:
                raise fail(
                    f"{name} members must be a string or a pair, but {show(member)} was found"
                )
        for src, dest in out:
            if not src or not dest:
                raise fail(
                    f"{name} members must name both sides, but {show([src, dest])} was found"
                )
        return tuple(out)

    return sanitize


def _in_image(side: int) -> Callable[[tuple[str, str]], tuple[str, str]]:
    """A pair whose member ``side`` is a path in the image that stays inside it."""

    def check(pair: tuple[str, str]) -> tuple[str, str]:
        if escapes_root(pair[side]):
            raise fail(f"the image path {show(pair[side])} escapes the image root")
        return pair

    return check


#: ``(host, image)`` pairs, and ``(link, target)`` ones: the image path is checked.
_ToImage = Annotated[tuple[str, str], AfterValidator(_in_image(1))]
_Link = Annotated[tuple[str, str], AfterValidator(_in_image(0))]

PathPairs = Annotated[
    tuple[_ToImage, ...], BeforeValidator(_pairs("files", single_ok=True)), PAIR_LIST_SCHEMA
]
ProgramPairs = Annotated[
    tuple[_ToImage, ...],
    BeforeValidator(_pairs("programs", single_ok=True)),
    PAIR_LIST_SCHEMA,
]
SymlinkPairs = Annotated[
    tuple[_Link, ...],
    BeforeValidator(_pairs("symlinks", single_ok=False)),
    PAIR_LIST_SCHEMA,
]


def _context(value: str) -> str:
    if not value.strip():
        raise fail("context must name a directory: the build context")
    return value


def _dockerfile(value: str) -> str:
    if not value.strip():
        raise fail('dockerfile must name a file, like "Dockerfile"')
    if value.startswith("/") or escapes_root(value):
        raise fail(f"dockerfile is a path inside the build context, but {show(value)} leaves it")
    return value


class DockerBuild(Record):
    """A Dockerfile build (Compose's `build:`): the context directory is sent to the
    engine's build API as a tar, `.dockerignore` honoured, and the result tagged
    `repository:tag`. It is skipped when the context's content, the Dockerfile and
    the args are unchanged since the last build. A `FROM` naming another image
    record's `repository:tag` builds or loads that record first."""

    toml_name = "container.image.build"

    context: Annotated[StrictStr, AfterValidator(_context)] = field(
        doc="The build context: a directory, relative to the configuration file."
    )
    dockerfile: Annotated[StrictStr, AfterValidator(_dockerfile)] = field(
        "Dockerfile", doc="The Dockerfile, a path inside the context."
    )
    args: Labels = field(
        default_factory=dict,
        doc="Build arguments (`ARG` values): a table of strings (`--build-arg`).",
    )
    target: StrictStr | None = field(
        None, doc="The build stage to stop at, by its `FROM … AS NAME` (`--target`)."
    )
    labels: Labels = field(default_factory=dict, doc="Labels set on the built image (`--label`).")
    pull: StrictBool = field(
        False, doc="Pull newer versions of the `FROM` images before building (`--pull`)."
    )


if TYPE_CHECKING:
    from corral.config.container import OciContainer


def build_problems(containers: Sequence[OciContainer]) -> Iterator[Problem]:
    """A Dockerfile build whose context is not a directory, or whose Dockerfile is
    not a file in it (host paths: checked once they are absolute)."""
    for i, container in enumerate(containers):
        image = container.image
        if not isinstance(image, OciImage) or image.build is None:
            continue
        build = image.build
        where = ("containers", i, "image", "build")
        if not os.path.isdir(build.context):
            what = "does not exist" if not os.path.exists(build.context) else "is not a directory"
            yield Problem(f"the build context {build.context} {what}", (*where, "context"))
            continue
        dockerfile = os.path.join(build.context, build.dockerfile)
        if not os.path.isfile(dockerfile):
            yield Problem(
                f"the Dockerfile {dockerfile} does not exist (dockerfile is a path in the context)",
                (*where, "dockerfile"),
            )


#: The image fields of corral's own builder, which a Dockerfile build excludes.
BUILDER_FIELDS = (
    "tarball", "files", "programs", "rootfs", "symlinks", "env", "entrypoint", "cmd",
    "workdir", "user", "labels", "exposed_ports", "max_layers", "system", "target", "grafts",
)  # fmt: skip


class OciImage(Record):
    """An image corral provides itself: loaded from ``tarball``, or built from
    host files and programs by corral's reproducible image builder, then loaded
    into the engine and tagged ``repository:tag`` (the seed's ``oci-image``)."""

    toml_name = "container.image"

    repository: NonEmpty = field(
        doc="The image's name, like `localhost/team/web`; the loaded image is tagged "
        "`repository:tag`."
    )
    tag: NonEmpty = field("latest", doc="The image tag.")
    tarball: StrictStr | None = field(
        None,
        doc="An existing image archive (docker-archive or OCI layout) loaded as is. "
        "Excludes the build fields.",
    )
    files: PathPairs = field(
        (),
        doc="Host files or directories copied into the image: `SRC:DEST`, `[SRC, DEST]`, or "
        "`PATH` for the same path on both sides. Directories are copied recursively.",
    )
    programs: ProgramPairs = field(
        (),
        doc="Host executables packed with their shared-library closure (ELF interpreter, "
        "DT_NEEDED, RPATH/RUNPATH, $ORIGIN, ld.so.conf): `PATH` or `[SRC, DEST]`.",
    )
    rootfs: StrictStr | None = field(
        None, doc="A directory used as the image's base, e.g. made by debootstrap."
    )
    symlinks: SymlinkPairs = field(
        (),
        doc="Symbolic links made in the image: `LINK:TARGET` or `[LINK, TARGET]`, as the "
        "seed's `#:symlinks`.",
    )
    env: Environment = field((), doc="The image config's environment (`K=V` or pairs).")
    entrypoint: Strings = field((), doc="The image config's entrypoint (argv).")
    cmd: Strings = field((), doc="The image config's default command (argv).")
    workdir: StrictStr | None = field(None, doc="The image config's working directory.")
    user: StrictStr | None = field(None, doc="The image config's user.")
    labels: Labels = field(default_factory=dict, doc="The image config's labels.")
    exposed_ports: Strings = field((), doc="Ports the image config declares, like `80/tcp`.")
    max_layers: StrictInt = field(
        100,
        doc=f"Most layers the image may have (1 to {MAX_LAYERS_LIMIT}); the most shared "
        "content gets its own layers first, the rest is merged.",
    )
    system: StrictStr | None = field(
        None,
        doc="The system to build for, like `x86_64-linux`; sets the config's architecture and "
        "os. Packing a host binary of another machine type is an error.",
    )
    target: StrictStr | None = field(
        None, doc="A cross-build triple, like `aarch64-linux-gnu` (the seed's `target`)."
    )
    grafts: StrictBool = field(
        False, doc="Kept for the seed's `grafts?`; it has no effect outside Guix."
    )
    build: DockerBuild | None = field(
        None,
        doc="A Dockerfile build: `{ context, dockerfile, args, target, labels, pull }` (see "
        "DockerBuild). Excludes tarball and the builder's fields (files, programs, rootfs, "
        "symlinks and the image config ones): the Dockerfile says those.",
    )

    @model_validator(mode="after")
    def _value(self) -> OciImage:
        if self.build is not None:
            clash = [name for name in BUILDER_FIELDS if name in self.model_fields_set]
            if clash:
                raise fail(
                    f"build (a Dockerfile build) excludes {', '.join(clash)}: the Dockerfile "
                    "says what the image holds"
                )
            return self
        built = bool(self.files or self.programs or self.rootfs or self.symlinks)
        if self.tarball is not None and built:
            raise fail(
                "tarball excludes files, programs, rootfs and symlinks: give one or the other"
            )
        if self.tarball is None and not (self.files or self.programs or self.rootfs):
            raise fail(
                "an image needs a tarball, a Dockerfile build, or something to build from: "
                "files, programs or rootfs"
            )
        if not 1 <= self.max_layers <= MAX_LAYERS_LIMIT:
            raise fail(
                f"max_layers must be between 1 and {MAX_LAYERS_LIMIT}, "
                f"but {self.max_layers} was found"
            )
        return self

    @property
    def reference(self) -> str:
        """``repository:tag``, the name the engine knows the image by."""
        return f"{self.repository}:{self.tag}"

    @property
    def is_build(self) -> bool:
        """Whether corral's own builder makes this image (from files, programs, rootfs)."""
        return self.tarball is None and self.build is None

    @property
    def is_dockerfile(self) -> bool:
        """Whether the engine builds this image from a Dockerfile."""
        return self.build is not None
