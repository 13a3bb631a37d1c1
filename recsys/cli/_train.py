"""`recsys train`, `recsys update`, `recsys sweep` and `recsys evaluate`: the commands that train and measure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from recsys.cli._base import (
    friendly_errors,
    main,
    table,
)


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
        click.echo(table(recommender.recommend_frame(item, k=5)))


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
@friendly_errors
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
@friendly_errors
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
@friendly_errors
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
@friendly_errors
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
    markdown = report.to_markdown(k=k)
    if out_path is not None:
        out_path.write_text(markdown, encoding="utf-8")
    click.echo(markdown)
    click.echo(f"evaluation_report={report.report_id}")
