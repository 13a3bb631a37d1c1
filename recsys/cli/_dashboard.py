"""`recsys ui` and `recsys compare`: the MLflow UI and the comparison of runs."""

from __future__ import annotations

from pathlib import Path

import click

from recsys.cli._base import (
    friendly_errors,
    main,
)


# ----------------------------------------------------------------------- ui
@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--experiment", default=None, help="Experiment to link to (default: the one of the latest run).")
@click.option("--open", "open_browser", is_flag=True, help="Open the experiment's runs in the web browser.")
@friendly_errors
def ui(port: int, host: str, experiment: str | None, open_browser: bool) -> None:
    """Start the MLflow UI on the project's store and print the address of an experiment's runs;
    Ctrl-C stops it (the whole process group)."""
    from recsys.dashboard import run_ui

    run_ui(host=host, port=port, experiment=experiment, open_browser=open_browser, echo=click.echo)


# ------------------------------------------------------------------ compare
@main.command()
@click.option("--experiment", default=None, help="Compare this experiment's runs (default: the latest run's).")
@click.option("--runs", "run_ids", multiple=True, metavar="ID[,ID...]",
              help="Compare these runs instead (repeatable, or comma-separated).")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Headline cut-off.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("comparison.html"),
              show_default=True, help="HTML file to write.")
@friendly_errors
def compare(experiment: str | None, run_ids: tuple[str, ...], k: int, out: Path) -> None:
    """Compare item2vec runs (single runs and sweep trials alike) by window, dimension and quality
    in one self-contained HTML page; logged as comparison.html of a run named comparison."""
    from recsys.errors import ConfigError
    from recsys.run_report import build_comparison, compared_runs, log_comparison

    ids = [i for value in run_ids for i in value.replace(",", " ").split()]
    if experiment is not None and ids:
        raise ConfigError("give --experiment or --runs, not both")
    runs = compared_runs(experiment=experiment, run_ids=ids, k=k)
    run_id, path = log_comparison(build_comparison(runs, k=k), out=out)
    click.echo(f"compared {len(runs)} runs; best {runs[0].name} (hr_at_{k} {runs[0].metrics[f'hr_at_{k}']:.4f})")
    click.echo(f"comparison run {run_id} (artifact comparison.html)")
    click.echo(f"wrote {path.resolve()}")
