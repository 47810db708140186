"""The export goldens' cases and how each is rendered (shared by the golden,
consumer and round-trip tests). Paths of a case's directory are spelled
``@CASE@`` in the goldens, so they do not depend on the checkout's place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from corral.config import load
from corral.render.export import Exported, Settings, export

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "export_golden"
CASE_DIR = "@CASE@"

#: The goldens' cases: the bundled examples and a config that uses every field.
CASES: dict[str, Path] = {
    "example": ROOT / "examples" / "corral.toml",
    "example-python": ROOT / "examples" / "corral.py",
    "processes": ROOT / "examples" / "processes.toml",
    "every-field": HERE / "export_cases" / "every_field.toml",
}


@dataclass(frozen=True)
class Variant:
    """A target and its flags, as one golden directory."""

    name: str
    target: str
    settings: dict[str, object]


VARIANTS: tuple[Variant, ...] = (
    Variant("compose", "compose", {}),
    Variant("compose-swarm", "compose", {"swarm": True}),
    Variant("kubernetes", "kubernetes", {"namespace": "export17"}),
    Variant("kubernetes-pvc", "kubernetes", {"pvc": True}),
    Variant("systemd", "systemd", {}),
    Variant("systemd-user", "systemd", {"user": True}),
    Variant("quadlet", "quadlet", {}),
)


def settings_for(case: Path, variant: Variant, **more: object) -> Settings:
    values: dict[str, object] = {
        "runtime_path": "/usr/bin/docker",
        "corral_path": "/usr/local/bin/corral",
        "config_path": str(case),
        **variant.settings,
        **more,
    }
    return Settings(**values)  # type: ignore[arg-type]


def render(case: Path, variant: Variant, **more: object) -> Exported:
    loaded = load(str(case))
    return export(loaded.config, variant.target, settings_for(case, variant, **more))  # type: ignore[arg-type]


def spelled(text: str, case: Path) -> str:
    """``text`` with the case's directory spelled ``@CASE@``."""
    return text.replace(str(case.parent), CASE_DIR)


def golden_files(case: Path, variant: Variant) -> dict[str, str]:
    """The files of a golden: the export's files and ``warnings.txt``."""
    exported = render(case, variant)
    files = {name: spelled(text, case) for name, text in exported.files.items()}
    files["warnings.txt"] = "".join(f"{spelled(str(w), case)}\n" for w in exported.warnings)
    return files


def golden_dir(case_name: str, variant: Variant) -> Path:
    return GOLDEN / case_name / variant.name


def update_requested() -> bool:
    return os.environ.get("CORRAL_UPDATE_GOLDEN", "") == "1"
