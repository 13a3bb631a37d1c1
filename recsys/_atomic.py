"""Directories and files written beside their final place and renamed into it: never half-written."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["staged_directory", "staged_file"]


@contextmanager
def staged_directory(target: Path, *, hidden: bool = True, create: bool = True) -> Iterator[Path]:
    """Yield a fresh directory beside ``target``; when the block succeeds it replaces ``target``.

    The old ``target`` (if any) is moved aside, the staging directory renamed
    into its place, then the old one removed, so readers see either the old
    or the new directory whole. If the block fails, the staging directory is
    removed and ``target`` is left as it was.

    Parameters
    ----------
    target
        The directory to write.
    hidden
        Name the staging directory ``.<name>.<pid>.tmp`` (True) or
        ``<name>.partial-<pid>`` (False, for tools such as Spark that skip
        names starting with a dot).
    create
        Create the staging directory (False: the block creates it, as
        writers that refuse an existing output directory do).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    staging = target.with_name(f".{target.name}.{pid}.tmp" if hidden else f"{target.name}.partial-{pid}")
    shutil.rmtree(staging, ignore_errors=True)
    if create:
        staging.mkdir()
    try:
        yield staging
        if target.exists():
            old = target.with_name(f".{target.name}.{pid}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def staged_file(target: Path) -> Iterator[Path]:
    """Yield a path beside ``target`` to write; when the block succeeds it replaces ``target``.

    If the block fails, the staged file is removed and ``target`` is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield staging
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
