"""Synthetic event logs at scale: users, sessions, Zipf items, realistic gaps.

:func:`generate_events` draws an events log (the events contract:
``user_id, item_id, timestamp``) with the shape real play logs have:

* item popularity is Zipf-like: items belong to topics, topics and the items
  of a topic are Zipf-weighted;
* a session sticks to one topic (with probability ``topic_purity`` per event),
  so items of a topic co-occur and item2vec has something to learn;
* users have many sessions (user activity is Zipf-weighted too), so the whole
  history of a user is *not* a sensible sequence: sessionizing matters;
* within a session gaps are short (exponential, at most
  ``max_gap_minutes``); between two sessions of a user the pause is always
  longer than ``session_break_minutes``, so sessionizing with that threshold
  recovers the generated sessions exactly (a known answer);
* some plays repeat the previous item (``repeat_probability``), which the
  sessionizer's ``drop_repeats`` removes;
* with ``new_items``, part of the catalogue is released during the log: an
  item released on day ``d`` is never played before it (its plays go to
  an older item of its topic, its stand-in), as a daily retrain sees new
  releases arrive. :func:`item_metadata` gives every item's topic (its
  ``genre``) and release time, for vectors from metadata.

The log is ordered by time, as a real log is, with users interleaved. The
same config always gives the same frame and files.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recsys.data.synthetic import _zipf_weights

__all__ = ["EventsSynthConfig", "generate_events", "item_metadata", "write_events"]

_START = datetime(2024, 1, 1)
_SECONDS_PER_DAY = 86_400


class EventsSynthConfig(BaseModel):
    """Shape of a synthetic events log."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    n_events: int = Field(1_000_000, ge=1)
    """Number of events (rows) in the log."""

    n_users: int | None = Field(None, ge=1)
    """Number of users (default: one per 250 events, at least 1)."""

    n_items: int = Field(50_000, ge=1)
    """Size of the catalogue."""

    n_topics: int = Field(250, ge=1)
    """Topics (genres); items are dealt to topics round-robin by popularity,
    so each topic has popular and rare items. Must divide ``n_items``."""

    mean_session_length: float = Field(8.0, ge=1.0)
    """Mean events per session (geometric lengths, at least 1)."""

    topic_purity: float = Field(0.9, ge=0.0, le=1.0)
    """Probability that an event's item comes from the session's topic;
    otherwise the topic is drawn from the topic popularity."""

    repeat_probability: float = Field(0.05, ge=0.0, lt=1.0)
    """Probability that an event repeats the previous item of its session."""

    zipf_exponent: float = Field(1.0, ge=0.0)
    """Popularity of the r-th topic and of the r-th item of a topic is
    proportional to ``1 / r**zipf_exponent``."""

    user_zipf_exponent: float = Field(0.7, ge=0.0)
    """Activity of the r-th user is proportional to ``1 / r**user_zipf_exponent``."""

    mean_gap_seconds: float = Field(180.0, gt=0.0)
    """Mean gap between two events of a session (exponential, whole seconds)."""

    max_gap_minutes: float = Field(25.0, gt=0.0)
    """Longest gap within a session."""

    session_break_minutes: float = Field(30.0, gt=0.0)
    """Pauses between two sessions of a user are longer than this."""

    span_days: float = Field(90.0, gt=0.0)
    """A user's sessions start at uniform random times over this many days
    from 2024-01-01, then are pushed apart so that every pause between two
    sessions exceeds ``session_break_minutes``."""

    seed: int = Field(11, ge=0)
    """Seed of the random generator; the same config gives the same log."""

    new_items: float = Field(0.0, ge=0.0, lt=1.0)
    """Share of the items (any but the most popular of each topic) released
    during the log, at uniform random times over ``span_days``; the others
    exist from the start. A play drawn for an item before its release goes
    to its stand-in, the item of the same topic next above it in popularity
    that was out already, so the log keeps its shape and a new release takes
    over part of an older item's audience. 0 (the default) releases
    everything at the start and leaves the log exactly as without it."""

    @model_validator(mode="after")
    def _check(self) -> "EventsSynthConfig":
        if self.n_items % self.n_topics:
            raise ValueError(f"n_topics ({self.n_topics}) must divide n_items ({self.n_items})")
        if self.max_gap_minutes >= self.session_break_minutes:
            raise ValueError(
                f"max_gap_minutes ({self.max_gap_minutes}) must be below "
                f"session_break_minutes ({self.session_break_minutes})"
            )
        return self

    @property
    def users(self) -> int:
        """The number of users (``n_users`` or its default)."""
        return self.n_users or max(1, self.n_events // 250)


def _session_lengths(config: EventsSynthConfig, rng: np.random.Generator) -> np.ndarray:
    """Geometric session lengths (at least 1) summing to exactly ``n_events``."""
    p = 1.0 / config.mean_session_length
    drawn: list[np.ndarray] = []
    total = 0
    while total < config.n_events:
        batch = rng.geometric(p, size=int(config.n_events * p * 1.1) + 16)
        drawn.append(batch)
        total += int(batch.sum())
    lengths = np.concatenate(drawn)
    ends = np.cumsum(lengths)
    n_sessions = int(np.searchsorted(ends, config.n_events)) + 1
    lengths = lengths[:n_sessions].copy()
    lengths[-1] -= int(ends[n_sessions - 1]) - config.n_events
    return lengths.astype(np.int64)


def _segment_cumsum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at every index where ``starts`` is true."""
    total = np.cumsum(values)
    base = np.maximum.accumulate(np.where(starts, np.arange(values.size), 0))
    return total - total[base] + values[base]


def _items(
    config: EventsSynthConfig, rng: np.random.Generator, session_topic: np.ndarray, is_first: np.ndarray
) -> np.ndarray:
    """Item number of every event: topic of the session (mostly), Zipf rank in the topic, repeats."""
    n = session_topic.size
    per_topic = config.n_items // config.n_topics
    topic_weights = _zipf_weights(config.n_topics, config.zipf_exponent)
    stray = rng.random(n) >= config.topic_purity
    topic = session_topic.copy()
    topic[stray] = rng.choice(config.n_topics, size=int(stray.sum()), p=topic_weights)
    rank = rng.choice(per_topic, size=n, p=_zipf_weights(per_topic, config.zipf_exponent))
    item = rank * config.n_topics + topic
    repeat = (rng.random(n) < config.repeat_probability) & ~is_first
    source = np.maximum.accumulate(np.where(repeat, 0, np.arange(n)))
    return item[source]


def _times(
    config: EventsSynthConfig,
    rng: np.random.Generator,
    lengths: np.ndarray,
    session_user: np.ndarray,
    is_first: np.ndarray,
) -> np.ndarray:
    """Unix seconds of every event, sessions of a user one after another in time."""
    gaps = np.minimum(
        np.rint(rng.exponential(config.mean_gap_seconds, size=is_first.size)),
        np.floor(config.max_gap_minutes * 60),
    ).astype(np.int64)
    gaps[is_first] = 0
    offsets = _segment_cumsum(gaps, is_first)
    durations = offsets[np.cumsum(lengths) - 1]
    # each user's sessions at sorted uniform times, pushed apart by the previous
    # session's duration plus a pause longer than the session break
    draws = rng.uniform(0.0, config.span_days * _SECONDS_PER_DAY, size=lengths.size)
    order = np.lexsort((draws, session_user))
    user_sorted, draws_sorted = session_user[order], np.floor(draws[order]).astype(np.int64)
    first_of_user = np.r_[True, user_sorted[1:] != user_sorted[:-1]]
    pause = draws_sorted - np.r_[0, draws_sorted[:-1]] + int(config.session_break_minutes * 60) + 1
    step = np.where(first_of_user, draws_sorted, np.r_[0, durations[order][:-1]] + pause)
    starts = np.empty(lengths.size, dtype=np.int64)
    starts[order] = _segment_cumsum(step, first_of_user)
    return int(_START.timestamp()) + np.repeat(starts, lengths) + offsets


def _releases(config: EventsSynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """Release time (unix seconds) and stand-in (an item number) of every item number.

    Drawn from a stream of their own, so that the log's other draws do not
    change with ``new_items``.
    """
    rng = np.random.default_rng([config.seed, 1])
    per_topic = config.n_items // config.n_topics
    rank = np.arange(config.n_items) // config.n_topics  # item number = rank * n_topics + topic
    start = int(_START.timestamp())
    new = (rng.random(config.n_items) < config.new_items) & (rank > 0)
    release = start + np.where(new, np.floor(rng.uniform(0, config.span_days * _SECONDS_PER_DAY, config.n_items)), 0)
    old = ~new.reshape(per_topic, config.n_topics)
    stand_in_rank = np.maximum.accumulate(np.where(old, np.arange(per_topic)[:, None], 0), axis=0)
    stand_in = (stand_in_rank * config.n_topics + np.arange(config.n_topics)).ravel()
    return release.astype(np.int64), stand_in


def _draw(config: EventsSynthConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """User, item number and unix seconds of every event (in generation order), and each item number's label."""
    rng = np.random.default_rng(config.seed)
    lengths = _session_lengths(config, rng)
    n_sessions = lengths.size
    session_user = rng.choice(
        config.users, size=n_sessions, p=_zipf_weights(config.users, config.user_zipf_exponent)
    )
    session_topic = rng.choice(
        config.n_topics, size=n_sessions, p=_zipf_weights(config.n_topics, config.zipf_exponent)
    )
    is_first = np.zeros(config.n_events, dtype=bool)
    is_first[np.cumsum(lengths) - lengths] = True
    items = _items(config, rng, np.repeat(session_topic, lengths), is_first)
    labels = rng.permutation(config.n_items) + 1
    seconds = _times(config, rng, lengths, session_user, is_first)
    if config.new_items > 0:
        release, stand_in = _releases(config)
        early = seconds < release[items]
        items[early] = stand_in[items[early]]
    return np.repeat(session_user, lengths), items, seconds, labels


def item_metadata(config: EventsSynthConfig) -> pl.DataFrame:
    """Metadata of every item of the log's catalogue, in the metadata contract (strings).

    ``genre`` is the item's topic (``"topic 007"``): a session sticks to a
    topic, so it says where an item belongs, enough for vectors from
    metadata. ``released`` is when the item comes out (ISO 8601; the start
    of the log for items out from the beginning), which no feature reads.
    The ids are those of :func:`generate_events` (drawn with the log, so this
    draws it again: a second per million events).
    """
    _, _, _, labels = _draw(config)
    release, _ = _releases(config)
    number = np.arange(config.n_items)
    return pl.DataFrame({"item": labels, "topic": number % config.n_topics, "seconds": release}).select(
        pl.format("i{}", "item").alias("item_id"),
        pl.format("topic {}", pl.col("topic").cast(pl.String).str.zfill(3)).alias("genre"),
        (pl.col("seconds") * 1_000_000).cast(pl.Datetime("us")).dt.to_string("%Y-%m-%dT%H:%M:%S").alias("released"),
    ).sort("item_id")


def generate_events(config: EventsSynthConfig = EventsSynthConfig()) -> pl.DataFrame:
    """Generate a synthetic events log (see the module docstring for its shape).

    Parameters
    ----------
    config
        Size, shape and seed of the log.

    Returns
    -------
    polars.DataFrame
        The events contract (``user_id: str, item_id: str,
        timestamp: datetime[us]``), ordered by time (ties in generation
        order). Users are ``"u1"..``, items ``"i1"..`` (a seeded permutation,
        so an id says nothing about popularity). Every session of
        ``mean_session_length`` events on average is separated from the
        user's previous one by more than ``session_break_minutes``.
    """
    users, items, seconds, labels = _draw(config)
    order = np.argsort(seconds, kind="stable")
    return pl.DataFrame(
        {
            "user": users[order].astype(np.int32) + 1,
            "item": labels[items[order]].astype(np.int32),
            "seconds": seconds[order],
        }
    ).select(
        pl.format("u{}", "user").alias("user_id"),
        pl.format("i{}", "item").alias("item_id"),
        (pl.col("seconds") * 1_000_000).cast(pl.Datetime("us")).alias("timestamp"),
    )


def write_events(
    path: str | Path,
    config: EventsSynthConfig = EventsSynthConfig(),
    *,
    format: Literal["parquet", "csv"] = "parquet",
) -> Path:
    """Generate an events log and write it to ``path``.

    Parameters
    ----------
    path
        Destination file; its directory is created if missing. The file is
        written next to its final name and renamed into place.
    config
        Size, shape and seed of the log.
    format
        ``parquet`` (timestamps as ``datetime[us]``) or ``csv`` (header
        ``user_id,item_id,timestamp``, timestamps as unix seconds).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    events = generate_events(config)
    staging = path.with_name(f".{path.name}.tmp")
    try:
        if format == "parquet":
            events.write_parquet(staging)
        else:
            events.with_columns(pl.col("timestamp").dt.epoch("s")).write_csv(staging)
        staging.replace(path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return path
