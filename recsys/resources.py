"""Wall time, CPU time and peak memory of the pipeline's stages.

:class:`StageTimer` records, for every stage of a run (``read``,
``sessionize``, ``split``, ``train``, ``evaluate``, ``log``), its wall time,
its CPU time and the peak resident memory of the process while it ran. The
records become MLflow metrics (``stage.<name>.seconds``,
``stage.<name>.cpu_seconds``, ``stage.<name>.peak_rss_mb``) and the one-line
summary the command line prints at the end.

What "peak" means: on Linux the kernel's high-water mark of the resident set
(``VmHWM``) is reset at the start of each stage (``/proc/self/clear_refs``),
so a stage's peak is the largest resident memory of the whole process during
that stage, including what earlier stages still hold. Where the reset is not
allowed, the high-water mark only grows, and a stage's peak is the process's
peak so far (:attr:`StageRecord.reset` is then false). Both count native
memory (polars, numpy, gensim), unlike :mod:`tracemalloc`, which sees only
Python's allocator and slows the program down.
"""

from __future__ import annotations

import re
import resource
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["STAGES", "StageRecord", "StageTimer", "peak_rss_mb", "reset_peak_rss"]

STAGES: tuple[str, ...] = ("read", "sessionize", "split", "train", "evaluate", "log")
"""The pipeline's stages, in the order they run."""

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_HIGH_WATER = re.compile(r"^VmHWM:\s+(\d+)\s+kB", re.MULTILINE)


def reset_peak_rss() -> bool:
    """Reset the process's resident-memory high-water mark; return whether it worked (Linux only)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float:
    """The process's resident-memory high-water mark in MiB (since start or the last reset)."""
    try:
        match = _HIGH_WATER.search(_STATUS.read_text())
    except OSError:
        match = None
    if match:
        return int(match.group(1)) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


@dataclass(frozen=True)
class StageRecord:
    """Wall time and peak memory of one stage."""

    name: str
    """Stage name (``read``, ``sessionize``, ``train``...)."""
    seconds: float
    """Wall time."""
    cpu_seconds: float
    """CPU time of the process (all threads, user and system): unlike wall
    time, it barely changes when other programs compete for the cores."""
    peak_rss_mb: float
    """Peak resident memory of the process during the stage, MiB."""
    reset: bool
    """Whether the high-water mark was reset at the start of the stage (else
    ``peak_rss_mb`` is the process's peak so far)."""


class StageTimer:
    """Record the wall time and peak memory of named stages.

    Examples
    --------
    >>> timer = StageTimer()
    >>> with timer.stage("train"):
    ...     pass
    >>> sorted(timer.metrics())
    ['stages/train_cpu_seconds', 'stages/train_peak_rss_mb', 'stages/train_seconds']
    """

    def __init__(self) -> None:
        self.records: list[StageRecord] = []

    @classmethod
    def from_records(cls, records: Iterable[StageRecord]) -> "StageTimer":
        """A timer holding ``records`` (such as a finished run's), for its metrics and summary."""
        timer = cls()
        timer.records = list(records)
        return timer

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as stage ``name`` (recorded even if it raises)."""
        reset = reset_peak_rss()
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            self.records.append(StageRecord(name, seconds, cpu, peak_rss_mb(), reset))

    def totals(self) -> dict[str, StageRecord]:
        """One record per stage name, in pipeline order (:data:`STAGES`, then others as
        first seen): seconds summed, peaks maxed."""
        merged: dict[str, StageRecord] = {}
        for record in self.records:
            seen = merged.get(record.name)
            if seen is not None:
                record = StageRecord(
                    record.name,
                    seen.seconds + record.seconds,
                    seen.cpu_seconds + record.cpu_seconds,
                    max(seen.peak_rss_mb, record.peak_rss_mb),
                    seen.reset and record.reset,
                )
            merged[record.name] = record
        rank = {name: i for i, name in enumerate(STAGES)}
        return dict(sorted(merged.items(), key=lambda item: rank.get(item[0], len(rank))))

    def metrics(self) -> dict[str, float]:
        """``stages/<name>_seconds``, ``_cpu_seconds`` and ``_peak_rss_mb`` of every stage, for MLflow
        (the ``stages/`` prefix makes them one chart section in the MLflow UI)."""
        metrics: dict[str, float] = {}
        for name, record in self.totals().items():
            metrics[f"stages/{name}_seconds"] = record.seconds
            metrics[f"stages/{name}_cpu_seconds"] = record.cpu_seconds
            metrics[f"stages/{name}_peak_rss_mb"] = record.peak_rss_mb
        return metrics

    def summary(self) -> str:
        """One line: every stage's time and the total, such as ``read 1.2 s, train 30.4 s; total 31.6 s``."""
        totals = self.totals().values()
        parts = ", ".join(f"{r.name} {r.seconds:.1f} s" for r in totals)
        peak = max((r.peak_rss_mb for r in totals), default=0.0)
        return f"{parts}; total {sum(r.seconds for r in totals):.1f} s, peak memory {peak:,.0f} MiB"
