"""Streaming preparation of events into sequences, cached on disk as Parquet.

:func:`prepare_events` turns an events file into a sequences Parquet file
with one streaming polars query (scan, parse, sort, sessionize, clean,
``sink_parquet``), so an events log far larger than memory can be prepared
(50 million events in about 6 GiB, see docs/scaling.md). The result is
cached by a key made of the input's content digest and every setting that
changes the sequences; a later run with the same input and settings reads
the Parquet file instead of preparing again.

The cache is a directory of ``sequences-<key>.parquet`` files (the
sequences contract), each with a ``.json`` sidecar that says what it was
made from. Deleting the directory is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from recsys.config import SessionConfig
from recsys.data.digest import file_digest
from recsys.data.readers import check_file
from recsys.data.sessions import sessionize_lazy
from recsys.progress import Progress
from recsys.resources import StageTimer

__all__ = ["PreparedSequences", "prepare_events", "cache_key", "default_cache_dir", "CACHE_ENV"]

CACHE_ENV = "RECSYS_CACHE_DIR"
"""Environment variable naming the cache directory."""

_FORMAT_VERSION = 1
"""Part of every cache key: bump it when the sequences a query makes change."""


@dataclass(frozen=True)
class PreparedSequences:
    """Sequences prepared from one events file, stored as Parquet."""

    path: Path
    """The sequences Parquet file (the sequences contract)."""
    source: Path
    """The events file they were made from."""
    key: str
    """Cache key: digest of the input's content digest and the settings."""
    input_digest: str
    """Content digest of the events file (SHA-256, 16 hex digits)."""
    n_events: int
    """Rows of the events file."""
    n_sequences: int
    """Sequences in :attr:`path`."""
    cache_hit: bool
    """Whether :attr:`path` was already there (nothing was prepared)."""

    def read(self) -> pl.DataFrame:
        """The sequences, in memory."""
        return pl.read_parquet(self.path)


def default_cache_dir() -> Path:
    """``$RECSYS_CACHE_DIR`` if set, else ``.recsys-cache`` in the working directory (beside ``mlruns``)."""
    return Path(os.environ.get(CACHE_ENV) or Path.cwd() / ".recsys-cache")


def cache_key(input_digest: str, settings: Mapping[str, Any]) -> str:
    """The cache key of an input (by content digest) prepared with ``settings``.

    Parameters
    ----------
    input_digest
        Content digest of the events file.
    settings
        Every option that changes the sequences (reader and session
        options), JSON-serialisable.

    Returns
    -------
    str
        16 hex digits.
    """
    payload = json.dumps(
        {"format": _FORMAT_VERSION, "input": input_digest, "settings": settings}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _write_atomic_json(path: Path, payload: dict[str, Any]) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    staging.replace(path)


def _cached(parquet: Path, sidecar: Path) -> dict[str, Any] | None:
    """The sidecar of a complete cache entry, or None."""
    if not (parquet.is_file() and sidecar.is_file()):
        return None
    try:
        return json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def prepare_events(
    path: str | Path,
    *,
    read: Callable[[Path], pl.LazyFrame],
    sessions: SessionConfig,
    settings: Mapping[str, Any],
    cache_dir: str | Path | None = None,
    stages: StageTimer | None = None,
    progress: Progress | None = None,
) -> PreparedSequences:
    """Sessionize an events file into a cached sequences Parquet file.

    On a cache miss: stage ``read`` hashes the file and runs ``read`` (the
    events reader, which checks the file once); stage ``sessionize``
    streams the sessionizing query into Parquet. On a hit only the hash is
    computed (stage ``read``).

    Parameters
    ----------
    path
        The events file.
    read
        Reads ``path`` into the events contract (a lazy frame), such as
        :func:`recsys.data.readers.read_events` with the file's options.
    sessions
        How events become sequences.
    settings
        The reader options ``read`` applies, for the cache key.
    cache_dir
        Cache directory (default: :func:`default_cache_dir`).
    stages
        Records the stages' time and memory.
    progress
        Draws the stages' progress bars.

    Returns
    -------
    PreparedSequences

    Raises
    ------
    DataError
        If ``read`` finds the file broken.
    """
    path = Path(path)
    check_file(path)
    stages = stages or StageTimer()
    progress = progress or Progress(quiet=True)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    with stages.stage("read"), progress.task("reading", total=path.stat().st_size, unit="B") as task:
        digest = file_digest(path, on_bytes=task.advance)
        key = cache_key(digest, {"reader": dict(settings), "sessions": sessions.model_dump(mode="json")})
        parquet = directory / f"sequences-{key}.parquet"
        sidecar = parquet.with_suffix(".json")
        found = _cached(parquet, sidecar)
        if found is None:
            events = read(path)
            n_events = int(events.select(pl.len()).collect().item())
    if found is not None:
        return PreparedSequences(
            parquet, path, key, digest, int(found["n_events"]), int(found["n_sequences"]), cache_hit=True
        )
    directory.mkdir(parents=True, exist_ok=True)
    staging = parquet.with_name(f".{parquet.name}.{os.getpid()}.tmp")
    query = sessionize_lazy(events, **sessions.model_dump())
    with stages.stage("sessionize"), progress.task("sessionizing", total=n_events, unit="event") as task:
        try:
            query.sink_parquet(staging)
            staging.replace(parquet)
        finally:
            staging.unlink(missing_ok=True)
        task.advance(n_events)
    n_sequences = int(pl.scan_parquet(parquet).select(pl.len()).collect().item())
    _write_atomic_json(
        sidecar,
        {
            "source": str(path.resolve()),
            "input_digest": digest,
            "settings": dict(settings),
            "sessions": sessions.model_dump(mode="json"),
            "n_events": n_events,
            "n_sequences": n_sequences,
        },
    )
    return PreparedSequences(parquet, path, key, digest, n_events, n_sequences, cache_hit=False)
