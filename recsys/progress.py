"""Progress bars for the pipeline's stages, on stderr, silent when quiet.

The pipeline asks for a task (``reading``, ``sessionizing``, ``training``,
``evaluating``) and advances it; :class:`Progress` draws it with tqdm. Some
steps run inside polars as one query and cannot report progress while they
run: their bar keeps its elapsed time ticking and completes when the query
returns, showing the throughput.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from tqdm import tqdm

__all__ = ["Progress", "Task"]

_TICK_SECONDS = 0.5
_PERCENT_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"


class Task:
    """One progress bar: advance it, and say what it is doing now."""

    def __init__(self, bar: tqdm) -> None:
        self._bar = bar

    def advance(self, steps: float = 1, *, note: str | None = None) -> None:
        """Count ``steps`` more units done, never past the total (an estimated total's rounding does
        not overfill the bar); ``note`` replaces the text after the bar."""
        if note is not None:
            self._bar.set_postfix_str(note, refresh=False)
        if self._bar.total is not None:
            steps = min(steps, self._bar.total - self._bar.n)
        self._bar.update(steps)

    def stage(self, label: str, *, note: str = "") -> None:
        """Say which stage the bar is in now (its label) and what it is doing (the text after it)."""
        self._bar.set_description_str(label, refresh=False)
        self._bar.set_postfix_str(note)

    def replan(self, total: float) -> None:
        """Change the units the task will count (a better estimate of the work left)."""
        self._bar.total = max(total, self._bar.n)
        self._bar.refresh()


class Progress:
    """Progress bars for pipeline stages.

    Parameters
    ----------
    quiet
        Draw nothing.
    file
        Where the bars go (default: stderr).
    """

    def __init__(self, *, quiet: bool = False, file: IO[str] | None = None) -> None:
        self.quiet = quiet
        self._file = file

    @contextmanager
    def task(
        self, description: str, *, total: float | None = None, unit: str = "it", percent: bool = False
    ) -> Iterator[Task]:
        """A progress bar for the ``with`` block; the block advances the :class:`Task` it gets.

        Parameters
        ----------
        description
            Shown before the bar (``reading``, ``training``...).
        total
            Units the task will count (None: unknown).
        unit
            What is counted (``event``, ``epoch``...); counts from 10,000 on are scaled (10.0M).
        percent
            Show the share done and the time left instead of the counts (for
            work measured in estimates rather than in things a person counts).
        """
        file = self._file or sys.stderr
        bar = tqdm(
            total=total,
            desc=description,
            unit=unit,
            unit_scale=total is None or total >= 10_000,
            disable=self.quiet,
            file=file,
            dynamic_ncols=True,
            bar_format=_PERCENT_FORMAT if percent else None,
            # estimated work comes in uneven steps (two candidates finish at once): the time left
            # follows the average rate since the start, not the last steps'
            smoothing=0 if percent else 0.3,
        )
        done = threading.Event()
        ticker = threading.Thread(target=_tick, args=(bar, done), daemon=True)
        if not self.quiet and file.isatty():  # a log file gets no redraws
            ticker.start()
        try:
            yield Task(bar)
        finally:
            done.set()
            if ticker.is_alive():
                ticker.join()
            bar.close()


def _tick(bar: tqdm, done: threading.Event) -> None:
    """Redraw ``bar`` every half second until ``done``, so its elapsed time moves during long steps."""
    while not done.wait(_TICK_SECONDS):
        bar.refresh()
