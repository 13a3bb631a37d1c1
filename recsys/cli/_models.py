"""`recsys recommend`, `serve`, `export-neighbours` and `add-items`: the commands over a trained model."""

from __future__ import annotations

import json
from pathlib import Path

import click

from recsys.cli._base import (
    friendly_errors,
    main,
    model_option,
    progress,
    rank_option,
    relation_option,
    table,
)


# ---------------------------------------------------------------- recommend
@main.command()
@click.argument("item_id")
@click.option("-k", "k", type=click.IntRange(min=1, max=10_000), default=10, show_default=True)
@model_option
@click.option("--on-unknown", type=click.Choice(["error", "popular"]), default="error", show_default=True,
              help="For an unknown ITEM_ID: fail, or show the most popular items.")
@relation_option
@rank_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
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
    click.echo(table(frame.select("rank", "item_id", pl.exclude("rank", "item_id", "score"), "score")))


# -------------------------------------------------------------------- serve
@main.command("serve")
@model_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--index", type=click.Choice(["auto", "exact", "hnsw"]), default="auto", show_default=True,
              help="auto: a neighbour table up to 100,000 items, an HNSW index beyond.")
@click.option("--admin-token", envvar="RECSYS_ADMIN_TOKEN", default=None, show_envvar=True,
              help="POST /reload then needs 'Authorization: Bearer <token>'. Required when --host is not loopback.")
@friendly_errors
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
    with progress("neighbour table") as on_progress:
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
@model_option
@click.option("-k", "--k", "k", type=click.IntRange(min=1, max=10_000), default=50, show_default=True,
              help="Neighbours per item.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Parquet file to write.")
@relation_option
@rank_option
@friendly_errors
def export_neighbours_command(model_uri: str, k: int, out: Path, relation: str | None, rank: str | None) -> None:
    """Write the exact top-k neighbours of every item to Parquet: item_id, rank, neighbour_id, score."""
    from recsys.recommender import Recommender

    recommender = Recommender.load(model_uri)
    with progress("exporting") as on_progress:
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
@friendly_errors
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
