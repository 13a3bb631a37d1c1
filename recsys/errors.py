"""Every error and warning ``recsys`` raises on purpose, in one place.

Each error carries a one-line message that names the problem, where it is
(file, line, column, value) and how to fix it. The CLI prints that line and
exits with status 2; Python callers can catch the classes below.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "RecsysError",
    "DataError",
    "ConfigError",
    "UnknownItemError",
    "ModelLoadError",
    "TrackingStoreError",
    "RunInterrupted",
    "RecsysWarning",
    "StoredStructureWarning",
    "TrainingDivergedError",
    "CollapseWarning",
    "DriftWarning",
    "first_line",
]


class RecsysError(Exception):
    """Base class of every error raised on purpose by ``recsys``."""


class DataError(RecsysError, ValueError):
    """Input data breaks its contract (missing file, bad line, bad column...).

    Parameters
    ----------
    problem
        What is wrong, in a few words.
    path
        The file the problem is in, if any.
    line
        1-based line number in ``path``, if known.
    column
        The column (or field) name, if the problem is in one column.
    value
        The offending value, if there is one.
    fix
        What the user should do about it.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
        value: object = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        self.value = value
        self.fix = fix
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path + (f":{self.line}" if self.line is not None else "") + ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        if self.column is not None:
            where += f"column {self.column!r}: "
        text = where + self.problem
        if self.value is not None:
            shown = repr(self.value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            text += f" (value {shown})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class ConfigError(RecsysError, ValueError):
    """A configuration value or option is invalid (unknown key, out of range...)."""


class UnknownItemError(RecsysError, KeyError):
    """An item id is not in the model's catalogue.

    Parameters
    ----------
    item_id
        The id that was asked for.
    hint
        Optional advice, for example how to fall back to popular items.
    """

    def __init__(self, item_id: object, hint: str | None = None) -> None:
        self.item_id = item_id
        self.hint = hint
        super().__init__(item_id)

    def __str__(self) -> str:
        text = f"unknown item {self.item_id!r}: it is not in the model's catalogue"
        if self.hint:
            text += f". {self.hint}"
        return text


class ModelLoadError(RecsysError):
    """A model could not be found or loaded from the given location, or one of
    its files does not match the digest recorded when it was saved."""


class TrackingStoreError(RecsysError):
    """The MLflow tracking or registry store cannot be used: it cannot be created
    or written, it is locked, or its server cannot be reached.

    Parameters
    ----------
    uri
        The tracking URI of the store (a password in it is shown as ``***``).
    problem
        What went wrong, in one line.
    fix
        What the user should do about it.
    """

    def __init__(self, uri: str, problem: str, fix: str) -> None:
        parts = urlsplit(uri)
        if parts.password is not None:
            uri = urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
        self.uri = uri
        self.problem = problem
        self.fix = fix
        super().__init__(f"tracking store {uri}: {problem}. Fix: {fix}")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a tracked MLflow run: the run was marked ``KILLED`` and
    nothing it logged was registered.

    A :class:`KeyboardInterrupt`, so code that stops on Ctrl-C still stops;
    the CLI prints its message and exits with status 130.

    Parameters
    ----------
    run_id
        The MLflow run that was interrupted.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"interrupted: MLflow run {run_id} marked KILLED, nothing registered")


class RecsysWarning(UserWarning):
    """Something the user should know that does not stop the work (for example a
    champion model whose MLflow run is gone)."""


class StoredStructureWarning(UserWarning):
    """A search structure stored beside a model was not used (it does not match the model) or not stored."""


class TrainingDivergedError(RecsysError):
    """Training produced vectors that are not finite numbers (the learning rate was too high)."""


class CollapseWarning(UserWarning):
    """A trained model recommends nearly the same few items to every query.

    Raised as a warning (training still finishes, and the run is tagged
    ``collapse``) by the collapse guard of :mod:`recsys.selection`.
    """


class DriftWarning(UserWarning):
    """A chain of incremental updates has moved a model's vectors far from its last full training
    (see :attr:`recsys.config.UpdateConfig.drift_warning`): a full retrain is due."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none.

    Libraries (polars, SQLAlchemy, MLflow) add multi-line hints and context;
    a one-line error message quotes only the first line.
    """
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
