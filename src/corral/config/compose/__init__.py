"""Compose files as corral configurations (issue 18).

``project`` reads compose files as the Compose Specification says (several
files merged in order, ``.env``, interpolation, ``extends``, profiles, YAML
anchors and merge keys, ``x-`` extensions), keeping the file and line of every
value; ``convert`` turns the merged model into the data a corral TOML file
holds, with a note for each key it cannot carry; ``writer`` writes that as
TOML with the notes as comments. The loader uses the first two for
``corral -c compose.yaml``; ``corral import compose`` uses all three. A
top-level ``x-corral`` mapping holds corral's own top-level keys
(``x-corral: {runtime: podman}``); Compose ignores it.
"""

from corral.config.compose.convert import Conversion, Skipped, convert
from corral.config.compose.project import ComposeProject, read_project

__all__ = ["ComposeProject", "Conversion", "Skipped", "convert", "read_project"]
