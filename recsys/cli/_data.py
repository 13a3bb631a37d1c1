"""`recsys data synth` and `recsys prepare`: the shipped synthetic data and sessionized sequences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from recsys.cli._base import (
    friendly_errors,
    main,
)


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
@friendly_errors
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
        from recsys.data.synthetic_events import (
            EventsSynthConfig,
            item_metadata,
            write_events,
        )

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
@friendly_errors
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
