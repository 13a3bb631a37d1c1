"""`recsys prepare` with polars, and the sequences format `recsys train --format sequences` reads."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from recsys.cli import main
from recsys.config import DataConfig, SessionConfig, load_pipeline_config
from recsys.data import load_training_data
from recsys.data.engines import is_local_path, prepare_sequences
from recsys.data.readers import read_events, read_sequences
from recsys.data.sessions import sessionize
from recsys.data.synthetic_events import EventsSynthConfig, write_events
from recsys.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_events(tmp_path_factory.mktemp("events") / "events.csv", EventsSynthConfig(n_events=4_000),
                        format="csv")


def test_polars_engine_writes_the_sessionized_events(events_file: Path, tmp_path: Path) -> None:
    sessions = SessionConfig(gap_minutes=20, max_length=5)
    report = prepare_sequences(events_file, tmp_path / "out", data=DataConfig(path=events_file), sessions=sessions)
    expected = sessionize(read_events(events_file), gap_minutes=20, max_length=5)
    assert_frame_equal(read_sequences(tmp_path / "out"), expected)
    assert (report.engine, report.n_events, report.n_sequences) == ("polars", 4_000, expected.height)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["part-00000.parquet"]


def test_output_is_replaced_only_when_asked_and_never_half_written(events_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    data = DataConfig(path=events_file)
    with pytest.raises(ConfigError, match="already exists; pass --overwrite"):
        prepare_sequences(events_file, out, data=data)
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,timestamp\nu,a,1\nu,b,never\n", encoding="utf-8")
    with pytest.raises(DataError, match="bad.csv:3: column 'timestamp': unparseable timestamp"):
        prepare_sequences(bad, out, data=DataConfig(path=bad), overwrite=True)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("out")] == ["out"]
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"
    prepare_sequences(events_file, out, data=data, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["part-00000.parquet"]


def test_polars_engine_refuses_spark_settings_and_uris(events_file: Path, tmp_path: Path) -> None:
    data = DataConfig(path=events_file)
    with pytest.raises(ConfigError, match="--master and --conf are Spark settings"):
        prepare_sequences(events_file, tmp_path / "out", data=data, master="local[2]")
    with pytest.raises(ConfigError, match="use --engine spark for URIs"):
        prepare_sequences("s3a://bucket/events.parquet", tmp_path / "out", data=data)
    assert is_local_path("/data/x") and is_local_path("file:///data/x") and not is_local_path("hdfs://nn/x")


def test_sequences_reader_takes_spark_parts_in_name_order(tmp_path: Path) -> None:
    schema = {"sequence_id": pl.String, "items": pl.List(pl.String)}
    first = pl.DataFrame({"sequence_id": ["a:1", "a:2"], "items": [["1", "2"], ["3"]]}, schema=schema)
    second = pl.DataFrame({"sequence_id": ["b:1"], "items": [["2", "1", "4"]]}, schema=schema)
    second.write_parquet(tmp_path / "part-00001-x.snappy.parquet")
    first.write_parquet(tmp_path / "part-00000-x.snappy.parquet")
    (tmp_path / "_SUCCESS").touch()
    (tmp_path / ".part-00000-x.snappy.parquet.crc").write_bytes(b"crc")
    with pytest.warns(UserWarning, match="dropped 1 sequence"):
        sequences = read_sequences(tmp_path)
    assert sequences["sequence_id"].to_list() == ["a:1", "b:1"]


def test_sequences_reader_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no Parquet files in the directory"):
        read_sequences(tmp_path)
    pl.DataFrame({"sequence_id": ["a"], "items": [[1, 2]]}).write_parquet(tmp_path / "part-0.parquet")
    with pytest.raises(DataError, match=r"column 'items': column has type List\(Int64\), expected List\(String\)"):
        read_sequences(tmp_path)
    with pytest.raises(DataError, match="nowhere: file not found"):
        read_sequences(tmp_path / "nowhere")


def test_training_data_from_prepared_sequences(events_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(main, ["prepare", "--data", str(events_file), "--out", str(tmp_path / "seq")])
    assert done.exit_code == 0, done.output
    assert "(polars) in " in done.output and "next: recsys train --format sequences" in done.output
    config = load_pipeline_config(base={"data": {"path": str(tmp_path / "seq"), "format": "sequences"}})
    prepared = load_training_data(config)
    from_events = load_training_data(load_pipeline_config(
        base={"data": {"path": str(events_file), "format": "events", "cache_dir": str(tmp_path / "cache")}}))
    assert_frame_equal(prepared.train, from_events.train)
    assert_frame_equal(prepared.test, from_events.test)
    assert prepared.digest is not None and len(prepared.digest) == 16 and prepared.sources == ()
    with pytest.raises(ConfigError, match="split.method='time' needs timestamps, but data.format is 'sequences'"):
        load_training_data(config.model_copy(update={"split": config.split.model_copy(update={"method": "time"})}))


def test_prepare_command_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["prepare", "--out", str(tmp_path / "seq")])
    assert missing.exit_code == 2 and "error: pass --data EVENTS" in missing.output
    bad_conf = runner.invoke(main, ["prepare", "--engine", "spark", "--data", "x.csv", "--out", "o", "--conf", "oops"])
    assert bad_conf.exit_code == 2 and "--conf 'oops': expected KEY=VALUE" in bad_conf.output
    absent = runner.invoke(main, ["prepare", "--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "seq")])
    assert absent.exit_code == 2 and "none.csv: file not found" in absent.output
    assert not (tmp_path / "seq").exists()
