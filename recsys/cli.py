"""The ``recsys`` command line: thin commands over the library.

Every expected failure (bad input, bad option, unknown item) prints one line
starting with ``error:`` to stderr and exits with status 2.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from recsys.errors import RecsysError

F = TypeVar("F", bound=Callable[..., Any])


def _friendly_errors(command: F) -> F:
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

    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    if not is_verbose():
        _quiet_libraries()


def _quiet_libraries() -> None:
    """Keep MLflow's informational logs, warnings and download bars off the terminal."""
    import logging
    import os
    import warnings

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\..*")


# --------------------------------------------------------------------- data
@main.group()
def data() -> None:
    """Generate or inspect data."""


@data.command("synth")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("data"), show_default=True,
              help="Directory for playlists.txt and metadata.csv (or events.<format>).")
@click.option("--playlists", "n_playlists", type=click.IntRange(min=10), default=None,
              help="Number of playlists (default: the generator's).")
@click.option("--events", "n_events", type=click.IntRange(min=1), default=None,
              help="Write an events log of this many events instead of playlists "
                   "(users with many sessions, Zipf item popularity).")
@click.option("--format", "events_format", type=click.Choice(["parquet", "csv"]), default="parquet",
              show_default=True, help="File format of the events log.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed.")
@click.option("--new-items", type=click.FloatRange(min=0, max=1, max_open=True), default=0.0, show_default=True,
              help="With --events: share of the items released during the log (never played before their "
                   "release); also writes their metadata (genre, release time) to metadata.csv.")
@_friendly_errors
def data_synth(
    out_dir: Path, n_playlists: int | None, n_events: int | None, events_format: str, seed: int | None,
    new_items: float,
) -> None:
    """Write the deterministic synthetic playlists with planted genres and artists,
    or with --events a synthetic events log to sessionize."""
    from recsys.data.synthetic import SynthConfig, write_synthetic
    from recsys.errors import ConfigError

    if n_events is not None:
        from recsys._atomic import staged_file
        from recsys.data.synthetic_events import EventsSynthConfig, item_metadata, write_events

        config = EventsSynthConfig(n_events=n_events, new_items=new_items,
                                   **({"seed": seed} if seed is not None else {}))
        path = write_events(out_dir / f"events.{events_format}", config, format=events_format)  # type: ignore[arg-type]
        click.echo(f"wrote {path} ({n_events:,} events of {config.users:,} users)")
        if new_items:
            with staged_file(out_dir / "metadata.csv") as staging:
                item_metadata(config).write_csv(staging)
            click.echo(f"wrote {out_dir / 'metadata.csv'} (genre and release time of {config.n_items:,} items)")
        return
    if new_items:
        raise ConfigError("--new-items needs --events: the playlists have no time to release items in")
    options = {k: v for k, v in {"n_playlists": n_playlists, "seed": seed}.items() if v is not None}
    playlists, metadata = write_synthetic(out_dir, SynthConfig(**options))
    click.echo(f"wrote {playlists} and {metadata}")


# ------------------------------------------------------------------ prepare
@main.command("prepare")
@click.option("--engine", type=click.Choice(["polars", "spark"]), default="polars", show_default=True,
              help="polars: one streaming query on this machine; spark: a Spark job (local mode or --master).")
@click.option("--data", "events", default=None,
              help="Events CSV/Parquet (Spark: also a directory or URI of Parquet parts). Default: the config's.")
@click.option("--out", required=True, help="Directory (Spark: or URI) to write the sequences Parquet to.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Pipeline TOML: its [data] reader options and [sessions] apply.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override an option: sessions.gap_minutes=60, data.user_column=user ...")
@click.option("--master", default=None, help="Spark master (default: spark-submit's, else local[*]).")
@click.option("--conf", "spark_conf", multiple=True, metavar="KEY=VALUE",
              help="A Spark setting, e.g. spark.driver.memory=8g (repeatable).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@_friendly_errors
def prepare_command(events: str | None, out: str, engine: str, config_path: Path | None,
                    overrides: tuple[str, ...], master: str | None, spark_conf: tuple[str, ...],
                    overwrite: bool) -> None:
    """Sessionize an events log into sequences Parquet, for `recsys train --format sequences`."""
    from recsys.config import load_pipeline_config
    from recsys.data.engines import prepare_sequences
    from recsys.errors import ConfigError

    base: dict[str, dict[str, Any]] = {"data": {"format": "events"}}
    if events is not None:
        base["data"]["path"] = events
    elif config_path is None:
        raise ConfigError("pass --data EVENTS (or a --config whose [data] names them)")
    config = load_pipeline_config(config_path, overrides=list(overrides), base=base)
    settings: dict[str, str] = {}
    for option in spark_conf:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--conf {option!r}: expected KEY=VALUE, for example --conf spark.driver.memory=8g")
        settings[key.strip()] = value
    report = prepare_sequences(events or str(config.data.path), out, data=config.data, sessions=config.sessions,
                               engine=engine, master=master, spark_conf=settings, overwrite=overwrite)  # type: ignore[arg-type]
    where = f"spark, {report.master}" if report.master else report.engine
    click.echo(f"wrote {report.path}: {report.n_sequences:,} sequences from {report.n_events:,} events "
               f"({where}) in {report.seconds:.1f} s")
    click.echo(f"next: recsys train --format sequences --data {report.path}")


# -------------------------------------------------------------------- train
def _print_results(result: Any) -> None:
    from recsys.evaluation.protocol import MethodResult
    from recsys.tracking import HEADLINE_FAMILIES

    results: list[MethodResult] = result.results
    ks = sorted({int(k) for n in results[0].metrics if n.startswith("hr_at_") and (k := n[len("hr_at_"):]).isdigit()})
    k = 10 if 10 in ks else ks[0]
    names = [f"{family}_at_{k}" for family in HEADLINE_FAMILIES] + [f"hr_at_{other}" for other in ks if other != k]
    width = max(len(r.method) for r in results)
    click.echo("")
    click.echo(f"{'method':<{width}}  " + "  ".join(f"{n:>14}" for n in names))
    for r in results:
        click.echo(f"{r.method:<{width}}  " + "  ".join(f"{r.metrics.get(n, float('nan')):>14.4f}" for n in names))
    first = results[0]
    click.echo(
        f"{first.n_pairs:,} test pairs, {first.n_unknown:,} with an item unknown to item2vec "
        f"(counted as misses); training took {result.train_seconds:.1f} s"
    )


def _example_items(result: Any, count: int) -> list[str]:
    """Popular items from different genres (or simply the most popular items)."""
    vectors = result.vectors
    metadata = result.data.metadata
    if metadata is not None and "genre" in metadata.columns:
        genre_of = dict(zip(metadata["item_id"].to_list(), metadata["genre"].to_list()))
        chosen: list[str] = []
        seen: set[str] = set()
        for item in vectors.item_ids:
            genre = genre_of.get(item)
            if genre is not None and genre not in seen:
                seen.add(genre)
                chosen.append(item)
            if len(chosen) == count:
                return chosen
    return list(vectors.item_ids[:count])


def _print_examples(result: Any, count: int) -> None:
    from recsys.recommender import Recommender

    recommender = Recommender(result.vectors, result.data.metadata, ranking=result.ranking)
    for item in _example_items(result, count):
        label = item
        if recommender.metadata is not None:
            row = recommender.metadata.filter(recommender.metadata["item_id"] == item)
            if row.height:
                label += "  " + " | ".join(str(v) for v in row.row(0)[1:])
        relation = recommender.item_vectors.default_relation
        ranked = " ranked by the blend of vectors and evidence" if recommender.ranks_by_default() else ""
        click.echo(f"\ntop-5 neighbours of {label} (relation {relation!r}{ranked})")
        click.echo(_table(recommender.recommend_frame(item, k=5)))


def _table(frame: Any) -> str:
    import polars as pl

    with pl.Config(tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True, fmt_str_lengths=40,
                   tbl_rows=100, tbl_formatting="ASCII_MARKDOWN", float_precision=4):
        return str(frame)


@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Pipeline TOML (default: pipelines/configs/default.toml when --data is not given).")
@click.option("--data", "data_path", type=click.Path(path_type=Path), default=None, help="Input file.")
@click.option("--format", "data_format", type=click.Choice(["playlists", "events", "mpd", "sequences"]),
              default=None, help="Input format (default: from --data's name: Parquet with an items column "
                                 "sequences (what `recsys prepare` wrote), other Parquet and CSV events, JSON mpd, "
                                 "else playlists).")
@click.option("--metadata", "metadata_path", type=click.Path(path_type=Path), default=None,
              help="Item metadata (song_hash.txt layout or CSV).")
@click.option("--name", default=None, help="Dataset name (names the MLflow experiment).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override an option: window=10, vector_size=64, split.test_fraction=0.2 ...")
@click.option("--examples", type=click.IntRange(min=0), default=0, show_default=True,
              help="Print the top-5 neighbours of this many example items.")
@click.option("--no-auto", "no_auto", is_flag=True,
              help="Train exactly the configuration given (unset options from the data-adaptive rules), "
                   "without choosing among candidates on a validation split (selection.auto = false).")
@click.option("--quiet", is_flag=True, help="No progress output.")
@_friendly_errors
def train(
    config_path: Path | None,
    data_path: Path | None,
    data_format: str | None,
    metadata_path: Path | None,
    name: str | None,
    overrides: tuple[str, ...],
    examples: int,
    no_auto: bool,
    quiet: bool,
) -> None:
    """Train item2vec, evaluate it against baselines and log the run to MLflow.

    Unless --no-auto, item2vec's configuration is first chosen among a few
    candidates on a validation split carved from the training data.

    The last line printed is run_id=<MLflow run id>.
    """
    from recsys.config import load_pipeline_config
    from recsys.data.readers import guess_format
    from recsys.pipeline import default_config_path, run_training
    from recsys.progress import Progress
    from recsys.resources import StageTimer

    base: dict[str, dict[str, Any]] = {"data": {}}
    for key, value in (("path", data_path), ("format", data_format), ("metadata", metadata_path), ("name", name)):
        if value is not None:
            base["data"][key] = str(value) if isinstance(value, Path) else value
    if data_path is not None and config_path is None:
        base["data"].setdefault("format", guess_format(data_path))
        if name is None:
            base["data"]["name"] = data_path.stem
    if no_auto:
        base["selection"] = {"auto": False}
    if config_path is None and data_path is None:
        config_path = default_config_path()
    config = load_pipeline_config(config_path, overrides=list(overrides), base=base)

    def on_stage(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    result = run_training(config, on_stage=on_stage, progress=Progress(quiet=quiet))
    _print_results(result)
    if examples:
        _print_examples(result, examples)
    if result.model_uri:
        registered = config.tracking.registered_model
        note = ""
        if registered:
            note = f" (registered as {registered}" + (", alias champion" if result.promoted else "") + ")"
        click.echo(f"\nmodel: {result.model_uri}{note}")
    click.echo(f"stages: {StageTimer.from_records(result.stages).summary()}")
    click.echo(f"run_id={result.run_id}")


# ---------------------------------------------------------------- recommend
_model_option = click.option("--model", "model_uri", default="models:/item2vec@champion", show_default=True,
                             help="Model directory, run id, runs:/ or models:/ URI.")
_relation_option = click.option(
    "--relation", type=click.Choice(["similar", "next"]), default=None,
    help="similar: substitutes (cosine); next: what comes after or goes with it (dot product). "
         "Default: the model's relation.")
_rank_option = click.option(
    "--rank", type=click.Choice(["ranker", "vectors"]), default=None,
    help="How 'next' is ordered: ranker (the fitted blend of the vectors with what followed the item in "
         "training) or vectors (plain nearest neighbours). Default: the model's.")


@contextlib.contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
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


@main.command()
@click.argument("item_id")
@click.option("-k", "k", type=click.IntRange(min=1, max=10_000), default=10, show_default=True)
@_model_option
@click.option("--on-unknown", type=click.Choice(["error", "popular"]), default="error", show_default=True,
              help="For an unknown ITEM_ID: fail, or show the most popular items.")
@_relation_option
@_rank_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_friendly_errors
def recommend(item_id: str, k: int, model_uri: str, on_unknown: str, relation: str | None, rank: str | None,
              as_json: bool) -> None:
    """Print the top-k items for ITEM_ID: similar to it, or coming after it (--relation)."""
    import polars as pl

    from recsys.recommender import Recommender

    recommender = Recommender.load(model_uri)
    result = recommender.recommend(item_id, k=k, on_unknown=on_unknown, relation=relation,  # type: ignore[arg-type]
                                   rank=rank)  # type: ignore[arg-type]
    frame = recommender.to_frame(result)
    if as_json:
        payload = {"item_id": item_id, "fallback": result.fallback, "recommendations": frame.to_dicts()}
        click.echo(json.dumps(payload, default=str))
        return
    if result.fallback:
        click.echo(f"{item_id!r} is not in the catalogue: the most popular items instead", err=True)
    elif recommender.is_cold(item_id):
        click.echo(f"{item_id!r} is a new item: its vector came from its metadata", err=True)
    click.echo(_table(frame.select("rank", "item_id", pl.exclude("rank", "item_id", "score"), "score")))


# -------------------------------------------------------------------- serve
@main.command("serve")
@_model_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--index", type=click.Choice(["auto", "exact", "hnsw"]), default="auto", show_default=True,
              help="auto: a neighbour table up to 100,000 items, an HNSW index beyond.")
@click.option("--admin-token", envvar="RECSYS_ADMIN_TOKEN", default=None, show_envvar=True,
              help="POST /reload then needs 'Authorization: Bearer <token>'. Required when --host is not loopback.")
@_friendly_errors
def serve_command(model_uri: str, host: str, port: int, index: str, admin_token: str | None) -> None:
    """Serve recommendations as JSON over HTTP (OpenAPI description at /docs).

    POST /reload or SIGHUP loads the model now behind --model and swaps it in.
    """
    import os

    from recsys.guard import check_exposure
    from recsys.recommender import Recommender
    from recsys.serving import create_app, serve

    admin_token = admin_token or None
    check_exposure(host, admin_token)  # before the model is loaded
    with _progress("neighbour table") as on_progress:
        recommender = Recommender.load(model_uri, index=index).prepare(on_progress=on_progress)  # type: ignore[arg-type]
    for preparation in recommender.preparations.values():
        click.echo(preparation.summary(), err=True)
    for relation, report in recommender.ann_reports.items():
        click.echo(f"{relation}: {report.summary()}", err=True)
    reload_how = "POST /reload" + (" (with the admin token)" if admin_token else "")
    click.echo(f"serving {model_uri} ({len(recommender):,} items, {recommender.search_mode} search) "
               f"on http://{host}:{port} (OpenAPI: /docs); {reload_how} or kill -HUP {os.getpid()} reloads",
               err=True)
    app = create_app(model_uri, index=index, recommender=recommender, admin_token=admin_token)  # type: ignore[arg-type]
    serve(app, host=host, port=port)


# -------------------------------------------------------- export-neighbours
@main.command("export-neighbours")
@_model_option
@click.option("-k", "--k", "k", type=click.IntRange(min=1, max=10_000), default=50, show_default=True,
              help="Neighbours per item.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Parquet file to write.")
@_relation_option
@_rank_option
@_friendly_errors
def export_neighbours_command(model_uri: str, k: int, out: Path, relation: str | None, rank: str | None) -> None:
    """Write the exact top-k neighbours of every item to Parquet: item_id, rank, neighbour_id, score."""
    from recsys.recommender import Recommender

    recommender = Recommender.load(model_uri)
    with _progress("exporting") as on_progress:
        report = recommender.export_neighbours(out, k=k, relation=relation, rank=rank,  # type: ignore[arg-type]
                                               on_progress=on_progress)
    click.echo(f"wrote {report.path}: the top {report.k} neighbours of {report.n_items:,} items "
               f"({report.n_items * report.k:,} rows) in {report.seconds:.1f} s")


# ---------------------------------------------------------------- add-items
@main.command("add-items")
@click.option("--model", "model_uri", default="models:/item2vec@champion", show_default=True,
              help="The model to add to: directory, run id, runs:/ or models:/ URI.")
@click.option("--metadata", "metadata_path", type=click.Path(path_type=Path), required=True,
              help="Metadata of the new items (CSV with an item_id column, or song_hash/yes/movielens layouts).")
@click.option("--metadata-format", type=click.Choice(["auto", "song_hash", "csv", "yes", "movielens"]),
              default="auto", show_default=True)
@click.option("--metadata-id-column", default="item_id", show_default=True, help="The id column of a CSV.")
@click.option("--registered-model", default=None,
              help="Register under this name (default: the model's registered name, else item2vec).")
@click.option("--alias", "aliases", multiple=True,
              help="Give the new version this alias too (it always takes over the aliases of the model it extends).")
@_friendly_errors
def add_items_command(model_uri: str, metadata_path: Path, metadata_format: str, metadata_id_column: str,
                      registered_model: str | None, aliases: tuple[str, ...]) -> None:
    """Give new items vectors from their metadata and register the result as a new model version.

    The items can then be queried and recommended (flagged cold); the run is
    linked to the model's training run. The last line printed is run_id=<MLflow run id>.
    """
    from recsys.add_items import add_items

    result = add_items(model_uri, metadata_path, metadata_format=metadata_format,  # type: ignore[arg-type]
                       id_column=metadata_id_column, registered_model=registered_model, aliases=aliases)
    shown = ", ".join(result.added[:5]) + (f" and {len(result.added) - 5} more" if len(result.added) > 5 else "")
    click.echo(f"added {len(result.added)} item(s) with vectors from their metadata: {shown} "
               f"({result.n_cold} cold items in the model)")
    note = f" (registered as {result.registered_model} version {result.version}"
    note += (", alias " + ", ".join(result.aliases) if result.aliases else "") + ")"
    click.echo(f"model: {result.model_uri}{note}")
    if result.base_run_id:
        click.echo(f"based on run {result.base_run_id}")
    click.echo(f"run_id={result.run_id}")


# ------------------------------------------------------------------- update
@main.command("update")
@click.option("--model", "model_uri", default="models:/item2vec@champion", show_default=True,
              help="The model to update: models:/ URI, run id, runs:/ URI or directory.")
@click.option("--data", "data_path", type=click.Path(path_type=Path), required=True,
              help="The new data (read like the model's training data unless --format or --set say otherwise).")
@click.option("--format", "data_format", type=click.Choice(["playlists", "events", "mpd", "sequences"]),
              default=None, help="Format of the new data (default: the model's training data's).")
@click.option("--metadata", "metadata_path", type=click.Path(path_type=Path), help="Metadata of the new items.")
@click.option("--test-data", "test_path", type=click.Path(path_type=Path),
              help="Held-out sequences in a file of their own (default: the model's split of --data).")
@click.option("--old-data", "old_path", type=click.Path(path_type=Path),
              help="Old sequences, read like --data: replayed with the new ones (update.old_data).")
@click.option("--compare-full", is_flag=True, help="Also retrain from scratch on --old-data and the new data.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="An option: update.replay_fraction=0.5, update.alpha_scale=0.25, split.test_fraction=0.2 ...")
@click.option("--quiet", is_flag=True, help="No progress output.")
@_friendly_errors
def update_command(model_uri: str, data_path: Path, data_format: str | None, metadata_path: Path | None,
                   test_path: Path | None, old_path: Path | None, compare_full: bool, overrides: tuple[str, ...],
                   quiet: bool) -> None:
    """Continue a model's training on new data and register it as a new version, which takes the model's
    aliases (champion) only if it is at least as good on the same held-out cases. The last line printed is
    run_id=<MLflow run id>."""
    from recsys.config import UpdateConfig
    from recsys.progress import Progress
    from recsys.updating import update

    config = UpdateConfig(compare_full=compare_full, **({"old_data": old_path} if old_path else {}))
    result = update(model_uri, data_path, config=config, data_format=data_format, metadata=metadata_path,
                    test_data=test_path, overrides=overrides, progress=Progress(quiet=quiet),
                    on_stage=None if quiet else lambda message: click.echo(message, err=True))
    for line in result.summary():
        click.echo(line)
    click.echo(f"run_id={result.run_id}")


# -------------------------------------------------------------------- sweep
@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              default=Path("pipelines/configs/sweep.toml"), show_default=True, help="Sweep TOML.")
@click.option("--budget-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Wall-time budget for the trials (overrides the config).")
@click.option("--trials", type=click.IntRange(min=1), default=None, help="Configurations to try (overrides the config).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a pipeline option.")
@click.option("--write-config", type=click.Path(path_type=Path), default=None,
              help="Write the best item2vec options as a pipeline TOML here.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@_friendly_errors
def sweep(config_path: Path, budget_minutes: float | None, trials: int | None,
          overrides: tuple[str, ...], write_config: Path | None, quiet: bool) -> None:
    """Tune item2vec on a validation split, then retrain, test and register the best.

    The last line printed is run_id=<MLflow run id of the sweep's parent run>.
    """
    from recsys.tuning import load_sweep_config, run_sweep, write_tuned_config

    pipeline, sweep_config = load_sweep_config(config_path, overrides=list(overrides))
    updates = {k: v for k, v in {"budget_minutes": budget_minutes, "trials": trials}.items() if v is not None}
    sweep_config = sweep_config.model_copy(update=updates)
    metric = sweep_config.metric

    def on_trial(trial: Any) -> None:
        if not quiet:
            click.echo(f"  trial {trial.trial:3d} rung {trial.rung}: {metric}={trial.metrics[metric]:.4f} "
                       f"window={trial.config.window} vector_size={trial.config.vector_size} "
                       f"ns_exponent={trial.config.ns_exponent} relation={trial.config.relation} epochs={trial.config.epochs} "
                       f"({trial.seconds:.1f} s)", err=True)

    def on_stage(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    result = run_sweep(pipeline, sweep_config, on_trial=on_trial, on_stage=on_stage)
    best = result.best
    click.echo(f"{len(result.trials)} trials in {result.seconds:.0f} s; best: window={best.window} "
               f"vector_size={best.vector_size} ns_exponent={best.ns_exponent} negative={best.negative} "
               f"sample={best.sample} whole_sequence={best.whole_sequence} relation={best.relation} "
               f"epochs={best.epochs} (validation {metric}={result.best_validation:.4f})")
    _print_results(result.final)
    final = result.final
    new_value = final.results[0].metrics.get(metric, float("nan"))
    if final.champion_value is None:
        click.echo(f"champion: none comparable on this test split; this model ({metric}={new_value:.4f}) "
                   + ("is now the champion" if final.promoted else "was not registered"))
    else:
        verdict = "takes the alias champion" if final.promoted else "keeps the old champion"
        click.echo(f"champion: {metric}={final.champion_value:.4f}, this model {new_value:.4f}: {verdict}")
    click.echo(f"best run: {final.run_id}")
    if write_config is not None:
        click.echo(f"tuned config: {write_tuned_config(write_config, sweep_config=config_path, result=result, metric=metric)}")
    click.echo(f"run_id={result.parent_run_id}")


# ----------------------------------------------------------------------- ui
@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--experiment", default=None, help="Experiment to link to (default: the one of the latest run).")
@click.option("--open", "open_browser", is_flag=True, help="Open the experiment's runs in the web browser.")
@_friendly_errors
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
@_friendly_errors
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


# ----------------------------------------------------------------- evaluate
@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True,
              help="Pipeline TOML, e.g. pipelines/configs/yes.toml.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override an option: evaluation.baselines=['popular','sr'], epochs=5 ...")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None,
              help="Also write the Markdown table to this file.")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Cut-off shown in the table.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@_friendly_errors
def evaluate(config_path: Path, overrides: tuple[str, ...], out_path: Path | None, k: int, quiet: bool) -> None:
    """Evaluate item2vec and every baseline on the same cases; print a Markdown table.

    Each method is logged as an MLflow run (tag method) in the dataset's experiment.
    """
    from recsys.config import load_pipeline_config
    from recsys.errors import ConfigError
    from recsys.evaluate import run_evaluation

    config = load_pipeline_config(config_path, overrides=list(overrides))
    if k not in config.evaluation.ks:
        raise ConfigError(f"-k {k} is not one of evaluation.ks {list(config.evaluation.ks)}")
    report = run_evaluation(config, on_stage=None if quiet else lambda message: click.echo(message, err=True))
    table = report.to_markdown(k=k)
    if out_path is not None:
        out_path.write_text(table, encoding="utf-8")
    click.echo(table)
    click.echo(f"evaluation_report={report.report_id}")


if __name__ == "__main__":
    main()
