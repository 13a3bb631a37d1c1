"""One way into the data: a pipeline config in, training and test sequences out.

:func:`load_training_data` is how the pipeline, the sweep and the
evaluation read their data. Everything that depends on the input
lives behind it: the format (``data.format``), its reader and reader options,
the streaming and cached preparation of events, the split method
(``split.method``) and the pruning of rare items.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from recsys.config import DataConfig, PipelineConfig, SplitConfig
from recsys.data._schema import check_sequences
from recsys.data.datasets import read_metadata
from recsys.data.digest import files_digest
from recsys.data.prepare import PreparedSequences, prepare_events
from recsys.data.readers import (
    read_events,
    read_mpd,
    read_playlists,
    read_sequences,
    sequences_files,
)
from recsys.data.sessions import prune_rare_items, sessionize
from recsys.data.split import random_split, time_split
from recsys.errors import ConfigError
from recsys.progress import Progress
from recsys.resources import StageTimer

__all__ = ["PreparedData", "load_sequences", "load_training_data", "read_configured_events", "reader_settings"]


@dataclass(frozen=True)
class PreparedData:
    """Training and test sequences of one dataset, ready for training."""

    train: pl.DataFrame
    """Training sequences (rare items pruned)."""
    test: pl.DataFrame
    """Held-out test sequences."""
    metadata: pl.DataFrame | None
    """Item metadata, if the input has some."""
    counts: dict[str, int]
    """Events, sequences, train/test sequences and items, for logging."""
    digest: str | None = None
    """Content digest of ``data.path``, if preparation computed it."""
    sources: tuple[PreparedSequences, ...] = ()
    """The cached sequences files events were prepared into."""


@dataclass(frozen=True)
class _Input:
    """The sequences of one input file, and what reading it found besides."""

    sequences: pl.DataFrame
    metadata: pl.DataFrame | None = None
    prepared: PreparedSequences | None = None
    digest: str | None = None
    """Content digest of the input, when reading it computed one."""


def read_configured_events(data: DataConfig, path: Path | None = None) -> pl.LazyFrame:
    """Events of ``path`` (default ``data.path``) read with ``data``'s reader options (the events contract)."""
    return read_events(
        path or data.path,
        user_column=data.user_column,
        item_column=data.item_column,
        time_column=data.time_column,
        time_unit=data.time_unit,
        separator=data.separator,
        has_header=data.has_header,
        column_names=data.column_names,
    )


_NOT_READER_OPTIONS = frozenset(
    {"name", "path", "test_path", "metadata", "metadata_format", "metadata_id_column", "min_item_count", "cache_dir"}
)
"""DataConfig options that do not change the events a file is read into."""


def reader_settings(data: DataConfig) -> dict[str, object]:
    """The options that change the events read from a file (for cache keys and provenance)."""
    return data.model_dump(mode="json", exclude=set(_NOT_READER_OPTIONS))


def _read_input(
    path: Path, config: PipelineConfig, *, stages: StageTimer, progress: Progress | None
) -> _Input:
    """The sequences of one input file in ``data.format``.

    Events are sessionized by a streaming query into a cached Parquet file;
    sequences (Parquet written by ``recsys prepare``) are read as they are.
    """
    data = config.data
    if data.format == "events":
        prepared = prepare_events(
            path,
            read=lambda events_path: read_configured_events(data, events_path),
            sessions=config.sessions,
            settings=reader_settings(data),
            cache_dir=data.cache_dir,
            stages=stages,
            progress=progress,
        )
        with stages.stage("read"):
            sequences = check_sequences(prepared.read(), source=path)
            return _Input(sequences, prepared=prepared, digest=prepared.input_digest)
    with stages.stage("read"):
        if data.format == "playlists":
            return _Input(read_playlists(path, skip_lines=data.skip_lines))
        if data.format == "sequences":
            return _Input(read_sequences(path), digest=files_digest(sequences_files(path)))
        sequences, metadata = read_mpd(path)
        return _Input(sequences, metadata)


def _test_fraction(sequences: pl.DataFrame, split: SplitConfig) -> float:
    """``split.test_fraction``, lowered so that at most ``split.max_test_sequences`` are held out."""
    if split.max_test_sequences is None:
        return split.test_fraction
    return min(split.test_fraction, split.max_test_sequences / max(sequences["sequence_id"].n_unique(), 1))


def _split_by_time(config: PipelineConfig, stages: StageTimer) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Train and test sequences of events cut at one instant, and the number of events."""
    if config.data.format != "events":
        raise ConfigError(
            f"split.method='time' needs timestamps, but data.format is {config.data.format!r}; "
            "use split.method='random' or events input"
        )
    with stages.stage("read"):
        events = read_configured_events(config.data).collect()
    options = config.sessions.model_dump()  # gap_minutes, drop_repeats, max_length: sessionize's options
    with stages.stage("sessionize"):
        train_events, test_events = time_split(events, test_fraction=config.split.test_fraction)
        return sessionize(train_events, **options), sessionize(test_events, **options), events.height


def load_training_data(
    config: PipelineConfig, *, stages: StageTimer | None = None, progress: Progress | None = None
) -> PreparedData:
    """Read the configured input, build sequences and split them into train and test.

    Parameters
    ----------
    config
        The pipeline configuration: ``data`` (where and in which format),
        ``sessions`` (how events become sequences) and ``split``.
    stages
        Records the time and memory of stages ``read``, ``sessionize``
        (events) and ``split``.
    progress
        Draws their progress bars.

    Returns
    -------
    PreparedData

    Raises
    ------
    DataError
        If the input breaks its contract.
    ConfigError
        If the split method does not fit the input format.
    """
    data, split = config.data, config.split
    stages = stages if stages is not None else StageTimer()
    metadata = read_metadata(data.metadata, format=data.metadata_format, id_column=data.metadata_id_column) if data.metadata else None
    counts: dict[str, int] = {}
    inputs: list[_Input] = []
    if split.method == "time":
        train_seqs, test_seqs, counts["events"] = _split_by_time(config, stages)
    else:
        inputs.append(_read_input(data.path, config, stages=stages, progress=progress))
        if split.method == "file":
            assert data.test_path is not None  # PipelineConfig checks it
            inputs.append(_read_input(data.test_path, config, stages=stages, progress=progress))
            train_seqs, test_seqs = inputs[0].sequences, inputs[1].sequences
        else:
            with stages.stage("split"):
                sequences = inputs[0].sequences
                fraction = _test_fraction(sequences, split)
                train_seqs, test_seqs = random_split(sequences, test_fraction=fraction, seed=split.seed)
        metadata = metadata if metadata is not None else inputs[0].metadata
    sequences_count = train_seqs.height + test_seqs.height
    with stages.stage("split"):
        train_seqs = check_sequences(
            prune_rare_items(train_seqs, min_item_count=data.min_item_count), source=data.path
        )
    sources = tuple(read.prepared for read in inputs if read.prepared is not None)
    if sources:
        counts["events"] = sum(source.n_events for source in sources)
    counts.update(
        sequences=sequences_count,
        train_sequences=train_seqs.height,
        test_sequences=test_seqs.height,
        items=train_seqs.select(pl.col("items").explode().n_unique()).item(),
    )
    counts.setdefault("events", int(train_seqs["items"].list.len().sum() + test_seqs["items"].list.len().sum()))
    digest = inputs[0].digest if inputs else None
    return PreparedData(
        train=train_seqs, test=test_seqs, metadata=metadata, counts=counts, digest=digest, sources=sources
    )


def load_sequences(
    config: PipelineConfig, path: Path, *, stages: StageTimer | None = None, progress: Progress | None = None
) -> pl.DataFrame:
    """Every sequence of one input file, read as ``config`` reads ``data.path``, without a split.

    The old sequences an incremental update replays or retrains on
    (:attr:`recsys.config.UpdateConfig.old_data`) are read this way, in the
    format and with the reader and session options of the new data.

    Raises
    ------
    DataError
        If the input breaks its contract.
    """
    stages = stages if stages is not None else StageTimer()
    return check_sequences(_read_input(path, config, stages=stages, progress=progress).sequences, source=path)
