"""A model directory's manifest: the SHA-256 of every file, written last, checked on load.

``manifest.json`` lists each file of a saved model with its size and
SHA-256. It is written after all the files it lists, so a directory with a
manifest was saved completely; :func:`verify_manifest` recomputes the
hashes, and a file that was truncated, edited, removed, or added beside the
listed ones fails with a one-line :class:`~recsys.errors.ModelLoadError`
naming it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from recsys.errors import ModelLoadError

__all__ = ["MANIFEST", "file_sha256", "write_manifest", "verify_manifest"]

MANIFEST = "manifest.json"
"""File name of the manifest inside a model directory."""
_VERSION = 1
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path, files: Iterable[str], **extra: Any) -> Path:
    """Write ``manifest.json`` for ``files`` (names inside ``directory``), after them.

    ``extra`` fields (such as the model's digest) are stored beside the file list.
    """
    entries = {
        name: {"sha256": file_sha256(directory / name), "bytes": (directory / name).stat().st_size}
        for name in sorted(files)
    }
    payload = {"manifest_version": _VERSION, **extra, "files": entries}
    path = directory / MANIFEST
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def verify_manifest(directory: Path, *, guarded: Iterable[str]) -> dict[str, Any] | None:
    """Check every file listed in ``directory``'s manifest against its size and SHA-256.

    Parameters
    ----------
    directory
        A model directory.
    guarded
        Names of the files a model of this kind may hold: each one present
        must be listed (a file added after saving is refused).

    Returns
    -------
    dict or None
        The manifest, or None when the directory has none (a model saved
        before manifests existed: nothing to verify).

    Raises
    ------
    ModelLoadError
        Naming the first file that is missing, unlisted, truncated or edited,
        or the manifest itself when it cannot be read.
    """
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files: dict[str, dict[str, Any]] = manifest["files"]
        expected = {name: (str(entry["sha256"]), int(entry["bytes"])) for name, entry in files.items()}
        if any(Path(name).name != name for name in expected):
            raise ValueError("file names must not contain a path")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelLoadError(f"{path}: unreadable model manifest ({error}); save the model again") from None
    for name in guarded:
        if (directory / name).exists() and name not in expected:
            raise ModelLoadError(f"{directory / name}: not listed in {MANIFEST} (added after the model was saved); "
                                 "remove it or save the model again")
    for name, (sha256, size) in expected.items():
        file = directory / name
        if not file.is_file():
            raise ModelLoadError(f"{file}: missing (listed in {MANIFEST}); restore it or save the model again")
        if file.stat().st_size != size or file_sha256(file) != sha256:
            raise ModelLoadError(f"{file}: does not match the SHA-256 in {MANIFEST} (truncated or edited "
                                 "since it was saved); restore it or save the model again")
    return manifest
