"""Content digests of input files: what the cache and the MLflow dataset entry are keyed by."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["file_digest", "files_digest"]

_BLOCK = 1 << 20


def file_digest(path: Path, *, on_bytes: Callable[[int], None] | None = None) -> str:
    """SHA-256 of a file's bytes (or of a directory's files in name order), first 16 hex digits.

    Parameters
    ----------
    path
        A file, or a directory whose files (recursively) are hashed in name order.
    on_bytes
        Called with the size of every block read (for a progress bar).
    """
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return files_digest(files, on_bytes=on_bytes)


def files_digest(files: Iterable[Path], *, on_bytes: Callable[[int], None] | None = None) -> str:
    """SHA-256 of the bytes of ``files`` one after the other, first 16 hex digits (see :func:`file_digest`)."""
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(_BLOCK), b""):
                digest.update(block)
                if on_bytes is not None:
                    on_bytes(len(block))
    return digest.hexdigest()[:16]
