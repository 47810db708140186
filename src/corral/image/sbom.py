"""An SPDX-style list of what went into an image, written next to the archive.

Each file packed from the host is listed with its image path, host path and
the field it came from; when ``dpkg -S`` knows the host file, the Debian
package owning it is listed too (one ``dpkg -S`` per ~128 KiB of paths, as
each call reads the whole dpkg database). Files of a ``rootfs`` are not
looked up: the host's dpkg database does not describe them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from typing import Any

from corral.image.archive import Built, canonical_json, timestamp
from corral.image.content import Content

_ARGV_BUDGET = 128 * 1024


def parse_dpkg_search(output: str) -> dict[str, str]:
    """``dpkg -S`` lines (``pkg1, pkg2: /path``) → path → ``pkg1, pkg2``."""
    owners: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith(("diversion by", "local diversion")) or ": " not in line:
            continue
        packages, path = line.split(": ", 1)
        owners.setdefault(path.strip(), packages.strip())
    return owners


def _chunks(paths: Sequence[str]) -> Iterable[list[str]]:
    chunk: list[str] = []
    length = 0
    for path in paths:
        if chunk and length + len(path) + 1 > _ARGV_BUDGET:
            yield chunk
            chunk, length = [], 0
        chunk.append(path)
        length += len(path) + 1
    if chunk:
        yield chunk


def dpkg_owners(paths: Iterable[str]) -> dict[str, str]:
    """The Debian package owning each path dpkg knows, in few ``dpkg -S`` calls."""
    wanted = sorted(set(paths))
    if not wanted or shutil.which("dpkg") is None:
        return {}
    owners: dict[str, str] = {}
    for chunk in _chunks(wanted):
        # exit status 1 just means some paths are unknown; the rest are listed.
        result = subprocess.run(
            ["dpkg", "-S", "--", *chunk],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        owners.update(parse_dpkg_search(result.stdout))
    return owners


_MERGED = ("bin/", "sbin/", "lib/", "lib32/", "lib64/", "libx32/")


def spellings(path: str) -> list[str]:
    """``path``, its real path, and their merged-/usr twins (dpkg knows ``/bin/ls``,
    the host may call it ``/usr/bin/ls``)."""
    out: list[str] = []
    for p in (path, os.path.realpath(path)):
        out.append(p)
        if p.startswith("/usr/") and p[5:].startswith(_MERGED):
            out.append(p[4:])
        elif p[1:].startswith(_MERGED):
            out.append("/usr" + p)
    return list(dict.fromkeys(out))


def document(
    content: Content, built: Built, reference: str, mtime: int, owners: dict[str, str]
) -> dict[str, Any]:
    """The SPDX-style document (pure)."""
    files: list[dict[str, Any]] = []
    packages: dict[str, str] = {}
    relationships: list[dict[str, str]] = []
    for unit in content.units:
        for entry in unit.entries:
            if entry.kind != "file" or entry.source is None:
                continue
            spdx_id = f"SPDXRef-File-{len(files) + 1}"
            record: dict[str, Any] = {
                "SPDXID": spdx_id,
                "fileName": "/" + entry.path,
                "comment": f"{unit.field}: {entry.source} ({entry.size} bytes)",
            }
            owner = None
            if unit.kind != "rootfs":
                owner = next((owners[p] for p in spellings(entry.source) if p in owners), None)
            if owner is not None:
                package_id = packages.setdefault(owner, f"SPDXRef-Package-{len(packages) + 1}")
                relationships.append(
                    {
                        "spdxElementId": package_id,
                        "relationshipType": "CONTAINS",
                        "relatedSpdxElement": spdx_id,
                    }
                )
            files.append(record)
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": reference,
        "documentNamespace": f"urn:corral:image:{built.image_id}",
        "creationInfo": {"created": timestamp(mtime), "creators": ["Tool: corral"]},
        "packages": [
            {
                "SPDXID": spdx_id,
                "name": name,
                "downloadLocation": "NOASSERTION",
                "comment": "Debian package (dpkg -S)",
            }
            for name, spdx_id in packages.items()
        ],
        "files": files,
        "relationships": relationships,
    }


def write_sbom(content: Content, built: Built, reference: str, mtime: int) -> str:
    """Write ``<archive>.spdx.json``; return its path."""
    sources: list[str] = []
    for unit in content.units:
        if unit.kind == "rootfs":
            continue
        for entry in unit.entries:
            if entry.kind == "file" and entry.source is not None:
                sources += spellings(entry.source)
    doc = document(content, built, reference, mtime, dpkg_owners(sources))
    path = built.path + ".spdx.json"
    with open(path, "wb") as fh:
        fh.write(canonical_json(doc))
    return path
