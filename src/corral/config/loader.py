"""Loading a configuration file: TOML (``corral.toml``) or Python (``corral.py``).

Both produce the same ``Config`` and go through the same validation; both
report every problem as ``FILE:LINE: field.path: message``. A Python file
gets its own line numbers: from the traceback of a record that refused its
arguments, and from the records' remembered call lines for whole-config
problems, refined to the keyword or list member with ``ast``.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import runpy
import tomllib
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from corral.config._base import Record
from corral.config._origin import loading_file
from corral.config.hidden import hidden_problems
from corral.config.image import build_problems
from corral.config.locate import TomlLocator
from corral.config.lockfile import Lock, lock_path, locked, read_lock
from corral.config.paths import anchored
from corral.config.problems import problems_from
from corral.config.projected import projected
from corral.config.registry import registry_problems
from corral.config.top import Config
from corral.config.validate import toml_spelling, validate
from corral.errors import ConfigError, Path, Problem
from corral.paths import find_config as find_config

if TYPE_CHECKING:
    from corral.config.compose import Conversion


@dataclass(frozen=True)
class Loaded:
    """A valid configuration and the file it came from; ``locate`` turns problems
    found later (paths as Python spells them: ``containers[0]``) into an error
    naming the file and line of each, as loading does."""

    config: Config
    path: str
    #: the lock file read beside it (None: none, or not read)
    lock: Lock | None = field(default=None, compare=False)
    locate: Callable[[Sequence[Problem]], ConfigError] | None = field(
        default=None, compare=False, repr=False
    )

    def located(self, problems: Sequence[Problem]) -> ConfigError:
        if self.locate is None:
            return ConfigError([Problem(p.message, p.path, self.path) for p in problems])
        return self.locate(problems)


#: The names of a file corral reads as a compose file.
COMPOSE_SUFFIXES = (".yaml", ".yml")
#: The environment variable naming the project (``corral --project NAME``), so the
#: daemon a command starts, and every later load, prefix names the same way.
PROJECT_VARIABLE = "CORRAL_PROJECT"


def load(path: str, *, lock: bool = True, project: str | None = None) -> Loaded:
    """Load and validate ``path``; raise ``ConfigError`` with every problem found.
    With ``lock``, the lock file beside it (``corral.lock``) pins its images
    (``lockfile.locked``); ``corral lock`` reads the file as declared. A
    ``.yaml``/``.yml`` file is a compose file, converted in memory; ``project``
    (default ``$CORRAL_PROJECT``) prefixes names as Compose does."""
    project = project or os.environ.get(PROJECT_VARIABLE) or None
    if path.endswith(COMPOSE_SUFFIXES):
        loaded = load_compose([path], project=project)
    elif path.endswith(".py"):
        loaded = _load_python(path, project)
    else:
        loaded = _load_toml(path, project)
    if not lock:
        return loaded
    pins = read_lock(lock_path(path))
    if pins is None:
        return loaded
    return dataclasses.replace(loaded, config=locked(loaded.config, pins), lock=pins)


def _finish(loaded: Loaded, project: str | None = None) -> Loaded:
    """What every loaded file goes through after its records and paths: the
    checks of host files (password files), the top-level defaults applied, the
    project's prefix (``project`` over the file's own) applied to the names."""
    problems = list(registry_problems(loaded.config.registries))
    problems += build_problems(loaded.config.containers)
    if problems:
        raise loaded.located(problems)
    config = loaded.config
    if project:
        config = config.model_copy(update={"project": project})
    return dataclasses.replace(loaded, config=projected(with_defaults(config)))


def with_defaults(config: Config) -> Config:
    """``config`` with each container's unset ``pull`` taken from the top level."""
    if all(c.pull is not None for c in config.containers):
        return config
    containers = tuple(
        c if c.pull is not None else c.model_copy(update={"pull": config.pull})
        for c in config.containers
    )
    return config.model_copy(update={"containers": containers})


def load_compose(
    files: Sequence[str],
    *,
    env_files: Sequence[str] = (),
    profiles: Sequence[str] = (),
    project: str | None = None,
) -> Loaded:
    """Compose ``files`` (merged in order) converted in memory and validated as a
    TOML file is; every problem, of the compose files or of the converted
    records, located at the compose file's line (``compose.yaml:14:
    services.web.ports[0]: …``)."""
    from corral.config.compose import convert, read_project

    read = read_project(files, env_files=env_files, profiles=profiles)
    conversion = convert(read, project_name=project)
    data = conversion.data()

    def where(problems: Sequence[Problem]) -> ConfigError:
        return _in_compose(conversion, problems)

    config, locate = _validated(data, where)
    first = os.path.abspath(files[0])
    return _finish(Loaded(anchored(config, os.path.dirname(first)), files[0], locate=locate))


def _validated(
    data: dict[str, Any], where: Callable[[Sequence[Problem]], ConfigError]
) -> tuple[Config, Callable[[Sequence[Problem]], ConfigError]]:
    """``data`` as a valid Config, every problem raised through ``where``; and the
    locator of later problems (given as record paths) that the Loaded keeps."""
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        raise where([*problems_from(error, Config), *hidden_problems(data, error)]) from None
    problems = validate(config, toml_spelling)
    if problems:
        raise where(problems)

    def locate(problems: Sequence[Problem]) -> ConfigError:
        return where([Problem(p.message, toml_spelling(p.path)) for p in problems])

    return config, locate


def _in_compose(conversion: Conversion, problems: Sequence[Problem]) -> ConfigError:
    """``problems`` of converted records (TOML paths) at the compose lines that made them."""
    located: list[Problem] = []
    for p in problems:
        origin = conversion.origin(p.path)
        file, line = conversion.project.where(origin)
        located.append(Problem(p.message, origin or p.path, file, line))
    return _sorted_error(located)


def locate_converted(conversion: Conversion, error: ConfigError) -> ConfigError:
    """An error of the TOML written from ``conversion``, located in the compose files."""
    return _in_compose(conversion, error.problems)


def load_text(text: str, path: str = "corral.toml", project: str | None = None) -> Loaded:
    """Validate TOML ``text`` as if read from ``path``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([_toml_syntax(path, error, text)]) from None
    locator = TomlLocator(text)

    def where(problems: Sequence[Problem]) -> ConfigError:
        return _sorted_error(
            [Problem(p.message, p.path, path, locator.line_of(p.path)) for p in problems]
        )

    config, locate = _validated(data, where)
    return _finish(
        Loaded(anchored(config, os.path.dirname(os.path.abspath(path))), path, locate=locate),
        project,
    )


def locate(loaded: Loaded, problems: Sequence[Problem]) -> list[Problem]:
    """``problems`` found after loading (paths as Python spells them:
    ``containers[0]…``) located in ``loaded``'s file as ``load`` locates its own:
    the warnings of ``corral check``. A file that cannot be read again gives no line."""
    if loaded.path.endswith(COMPOSE_SUFFIXES):
        return list(loaded.located(problems).problems)
    try:
        with open(loaded.path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError):
        return [Problem(p.message, p.path, loaded.path) for p in problems]
    if loaded.path.endswith(".py"):
        try:
            tree = ast.parse(text, loaded.path)
        except SyntaxError:
            return [Problem(p.message, p.path, loaded.path) for p in problems]
        return [
            Problem(p.message, p.path, loaded.path, _python_line(tree, loaded.config, p.path))
            for p in problems
        ]
    locator = TomlLocator(text)
    spelt = [toml_spelling(p.path) for p in problems]
    return [
        Problem(p.message, path, loaded.path, locator.line_of(path))
        for p, path in zip(problems, spelt, strict=True)
    ]


def _load_toml(path: str, project: str | None = None) -> Loaded:
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
    except OSError as error:
        raise ConfigError(
            [Problem(f"cannot read the configuration: {error.strerror}", file=path)]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ConfigError([Problem("the file is not UTF-8 text", file=path, line=line)]) from None
    return load_text(text, path, project)


def _sorted_error(problems: Sequence[Problem]) -> ConfigError:
    """Problems in file order (those without a line last), as a person reads them."""
    return ConfigError(sorted(problems, key=lambda p: p.line if p.line else 1 << 30))


def _toml_syntax(path: str, error: tomllib.TOMLDecodeError, text: str) -> Problem:
    message = str(error)
    found = re.search(r"\(at line (\d+), column \d+\)", message)
    line = int(found.group(1)) if found else text.count("\n") + 1
    message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    return Problem(f"invalid TOML: {message[:1].lower()}{message[1:]}", file=path, line=line)


# -- Python ----------------------------------------------------------------


def _load_python(path: str, project: str | None = None) -> Loaded:
    absolute = os.path.abspath(path)
    try:
        with open(absolute, encoding="utf-8") as stream:
            source = stream.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([Problem(f"cannot read the configuration: {error}", file=path)]) from None
    try:
        tree = ast.parse(source, absolute)
    except SyntaxError as error:
        raise ConfigError(
            [Problem(f"invalid Python: {error.msg}", file=path, line=error.lineno)]
        ) from None
    token = loading_file.set(absolute)
    try:
        namespace = runpy.run_path(absolute, run_name="corral_config")
    except ValidationError as error:
        line = _innermost_line(error, absolute)
        call = _call_at(tree, line)
        model = _model_named(error.title)
        problems = problems_from(error, model) if model else []
        prefix = _path_to(tree, call)
        raise _sorted_error(
            [
                Problem(p.message, (*prefix, *p.path), path, _refine(call, p.path) or line)
                for p in problems
            ]
        ) from None
    except Exception as error:  # the user's own code failed: say where, no traceback
        line = _innermost_line(error, absolute)
        raise ConfigError(
            [Problem(f"{type(error).__name__}: {error}", file=path, line=line)]
        ) from None
    finally:
        loading_file.reset(token)
    config = namespace.get("config")
    if not isinstance(config, Config):
        found = "nothing" if config is None else f"a {type(config).__name__}"
        raise ConfigError(
            [
                Problem(
                    "a Python configuration must set `config = Config(...)`, "
                    f"but {found} was found",
                    file=path,
                )
            ]
        )
    problems = validate(config)
    if problems:
        raise _sorted_error(
            [Problem(p.message, p.path, path, _python_line(tree, config, p.path)) for p in problems]
        )

    def locate(found: Sequence[Problem]) -> ConfigError:
        return _sorted_error(
            [Problem(p.message, p.path, path, _python_line(tree, config, p.path)) for p in found]
        )

    return _finish(
        Loaded(anchored(config, os.path.dirname(absolute)), path, locate=locate), project
    )


def _innermost_line(error: BaseException, filename: str) -> int | None:
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def _model_named(title: str) -> type[Record] | None:
    import corral.config as records

    model = getattr(records, title, None)
    return model if isinstance(model, type) and issubclass(model, Record) else None


def _call_at(tree: ast.AST, line: int | None) -> ast.Call | None:
    """The innermost call that starts on ``line``."""
    if line is None:
        return None
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.lineno == line]
    return max(calls, key=lambda n: n.col_offset, default=None) if calls else None


def _path_to(tree: ast.AST, target: ast.AST | None) -> Path:
    """The field path of ``target`` inside the ``Config(...)`` call of the file, if it is there."""
    if target is None:
        return ()

    def search(node: ast.AST, path: Path) -> Path | None:
        if node is target:
            return path
        children: list[tuple[str | int, ast.AST]] = []
        if isinstance(node, ast.Call):
            children = [(k.arg, k.value) for k in node.keywords if k.arg]
        elif isinstance(node, ast.List | ast.Tuple):
            children = list(enumerate(node.elts))
        elif isinstance(node, ast.Dict):
            children = [
                (k.value, v)
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
        for part, child in children:
            found = search(child, (*path, part))
            if found is not None:
                return found
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Config":
            found = search(node, ())
            if found is not None:
                return found
    return ()


def _step(node: ast.AST | None, part: str | int) -> ast.AST | None:
    """The AST node of one step of a field path below ``node``."""
    if isinstance(part, int):
        if isinstance(node, ast.List | ast.Tuple) and part < len(node.elts):
            return node.elts[part]
        return None
    if isinstance(node, ast.Call):
        return next((k.value for k in node.keywords if k.arg == part), None)
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == part:
                return value
    return None


def _refine(node: ast.AST | None, path: Path) -> int | None:
    """The line of the deepest node of ``path`` reachable from ``node``."""
    line = getattr(node, "lineno", None)
    for part in path:
        node = _step(node, part)
        if node is None:
            break
        line = getattr(node, "lineno", line)
    return line


def _python_line(tree: ast.AST, config: Config, path: Path) -> int | None:
    """Walk ``path`` through the records and the AST together.

    Where the AST cannot follow (a list built by a comprehension, a record
    bound to a variable), the record's remembered call line takes over."""
    obj: Any = config
    node: ast.AST | None = _call_at(tree, config.origin_line)
    line: int | None = config.origin_line
    for part in path:
        obj = _child(obj, part)
        node = _step(node, part)
        if (
            isinstance(obj, Record)
            and obj.origin_line is not None
            and (node is None or getattr(node, "lineno", None) != obj.origin_line)
        ):
            node = _call_at(tree, obj.origin_line)
        if node is not None:
            line = getattr(node, "lineno", line)
        elif isinstance(obj, Record) and obj.origin_line is not None:
            line = obj.origin_line
    return line


def _child(obj: Any, part: str | int) -> Any:
    try:
        return obj[part] if isinstance(part, int) else getattr(obj, part)
    except (IndexError, AttributeError, TypeError):
        return None
