"""What every command shares: the ``recsys`` group, one-line errors, the model options, tables and bars."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from recsys.errors import RecsysError

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(command: F) -> F:
    """Turn :class:`RecsysError` into a one-line message and exit status 2, and Ctrl-C
    into one line and exit status 130 (a run in progress is marked KILLED)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RecsysError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except KeyboardInterrupt as error:
            click.echo(str(error) or "interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="recsys")
@click.option("--verbose", is_flag=True, help="Also show MLflow's own logs, notices, warnings and download bars "
                                              "(the same as RECSYS_VERBOSE=1).")
def main(verbose: bool) -> None:
    """recsys: item2vec recommendations, trained and tracked with MLflow."""
    import os
    import warnings

    from recsys.quiet import VERBOSE_ENV, is_verbose

    leave_objects_to_the_os_at_exit()
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    if not is_verbose():
        quiet_libraries()


@functools.cache
def leave_objects_to_the_os_at_exit() -> None:
    """Skip the interpreter's last garbage collections when the command ends.

    At exit the interpreter collects every object the command made and every
    module it imported (mlflow, scikit-learn, gensim): 1.2-1.6 s of each
    ``recsys recommend`` here, 2.6 s after a 1M-event ``recsys train``.
    ``gc.freeze()`` in an exit hook moves them out of the collector's
    reach; the other exit hooks (MLflow's, ``weakref.finalize``) still run
    and stdout and stderr are still flushed. Only the finalizers of objects
    alive at exit or left in reference cycles are skipped, which Python does
    not promise to run anyway; the operating system takes back the memory.
    """
    import atexit
    import gc

    atexit.register(gc.freeze)


def quiet_libraries() -> None:
    """Keep MLflow's informational logs, warnings and download bars off the terminal."""
    import logging
    import os
    import warnings

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\..*")



def table(frame: Any) -> str:
    import polars as pl

    with pl.Config(tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True, fmt_str_lengths=40,
                   tbl_rows=100, tbl_formatting="ASCII_MARKDOWN", float_precision=4):
        return str(frame)


model_option = click.option("--model", "model_uri", default="models:/item2vec@champion", show_default=True,
                             help="Model directory, run id, runs:/ or models:/ URI.")
relation_option = click.option(
    "--relation", type=click.Choice(["similar", "next"]), default=None,
    help="similar: substitutes (cosine); next: what comes after or goes with it (dot product). "
         "Default: the model's relation.")
rank_option = click.option(
    "--rank", type=click.Choice(["ranker", "vectors"]), default=None,
    help="How 'next' is ordered: ranker (the fitted blend of the vectors with what followed the item in "
         "training) or vectors (plain nearest neighbours). Default: the model's.")


@contextlib.contextmanager
def progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, fed with (done, total) and closed on exit."""
    from tqdm import tqdm

    bars: list[Any] = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc=description, unit="items", file=sys.stderr))
        bars[0].update(done - bars[0].n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()
