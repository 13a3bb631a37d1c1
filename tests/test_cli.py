"""The command line, end to end, as a user runs it (a real subprocess, a real MLflow store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import mlflow
import polars as pl
import pytest
from _net import free_port, wait_for_health

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _recsys(*args: str, cwd: Path, store: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, "-m", "recsys.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _in_process(*args: str, cwd: Path, store: str | None = None) -> subprocess.CompletedProcess[str]:
    """`recsys ARGS` run in the test process (click's CliRunner), for the commands that the tests also run for
    real: the same command, exit status and streams, without an interpreter's start-up. An exception that
    escapes the command is printed to stderr with its traceback, as a real process would print it."""
    import traceback
    from unittest import mock

    from click.testing import CliRunner

    from recsys.cli import main

    previous = Path.cwd()
    with mock.patch.dict(os.environ, {"PYTHONHASHSEED": "0", **({"MLFLOW_TRACKING_URI": store} if store else {})}):
        os.chdir(cwd)
        try:
            result = CliRunner().invoke(main, list(args))
        finally:
            os.chdir(previous)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, stderr)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


def test_train_on_default_data_end_to_end(workdir: Path, mlflow_store: str) -> None:
    synth = _recsys("data", "synth", "--out", str(workdir / "data"), cwd=workdir, store=mlflow_store)
    assert synth.returncode == 0, synth.stderr
    config = workdir / "default.toml"
    config.write_text(
        (PROJECT_ROOT / "pipelines" / "configs" / "default.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    result = _recsys("train", "--config", str(config), "--set", "epochs=4", "--examples", "2", cwd=workdir,
                     store=mlflow_store)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("run_id=") and len(lines[-1]) == len("run_id=") + 32
    assert any(line.startswith("item2vec") for line in lines)
    assert any(line.startswith("cooccurrence") for line in lines)
    assert "top-5 neighbours of" in result.stdout
    assert "training" in result.stderr  # the progress bar
    run_id = lines[-1].removeprefix("run_id=")

    answer = _recsys("recommend", lines and "1", "--model", run_id, "-k", "3", "--json", cwd=workdir,
                     store=mlflow_store)
    assert answer.returncode == 0, answer.stderr
    payload = json.loads(answer.stdout)
    assert [r["rank"] for r in payload["recommendations"]] == [1, 2, 3]
    assert all(r["item_id"] != "1" and r["genre"] for r in payload["recommendations"])


def test_train_with_data_flag_and_set(workdir: Path, mlflow_store: str, tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    rows = ["user,item,ts"]
    for user in range(40):
        for step in range(6):
            rows.append(f"u{user},{(user % 2) * 10 + (user + step) % 5},{1_700_000_000 + user * 100_000 + step * 60}")
    events.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = tmp_path / "events.toml"
    config.write_text('[data]\nuser_column = "user"\nitem_column = "item"\ntime_column = "ts"\n'
                      "[tracking]\nregistered_model = \"cli-events\"\n", encoding="utf-8")
    result = _recsys("train", "--config", str(config), "--data", str(events), "--format", "events",
                     "--set", "window=2", "--set", "vector_size=8", "--set", "epochs=2", "--quiet",
                     cwd=workdir, store=mlflow_store)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("run_id=")
    assert "training" not in result.stderr and "reading" not in result.stderr


def test_train_guesses_an_events_log_from_its_name(workdir: Path, mlflow_store: str, tmp_path: Path) -> None:
    events = tmp_path / "clicks.parquet"
    pl.DataFrame({
        "user_id": [f"u{user}" for user in range(40) for _step in range(6)],
        "item_id": [f"i{(user % 2) * 10 + (user + step) % 5}" for user in range(40) for step in range(6)],
        "timestamp": [datetime(2024, 1, 1 + user % 20, 8, step) for user in range(40) for step in range(6)],
    }).write_parquet(events)
    result = _recsys("train", "--data", str(events), "--no-auto", "--set", "vector_size=8", "--set", "epochs=2",
                     "--set", "tracking.registered_model=cli-guessed", "--quiet", cwd=workdir, store=mlflow_store)
    assert result.returncode == 0, result.stderr
    run = mlflow.get_run(result.stdout.strip().splitlines()[-1].removeprefix("run_id="))
    assert run.data.params["data.format"] == "events" and run.data.params["data.name"] == "clicks"


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ["--data", "missing.txt"], "missing.txt: file not found"),
        (b"PAR1\x15\x04", ["--data", "clicks.txt"], "clicks.txt: a Parquet file where text was expected"),
        (b"", ["--data", "empty.txt"], "empty"),
        (b"1 2\n3\n", ["--data", "short.txt", "--set", "split.test_fraction=0.5"], "only 1 sequence"),
        (b"1 2 3\n4 \xff 5\n", ["--data", "bad.txt"], "bad.txt:2"),
        (b"1 2 3\n", ["--data", "x.txt", "--set", "windw=3"], "unknown item2vec option 'windw'"),
        (b"1 2 3\n", ["--data", "x.txt", "--set", "vector_size=-1"], "item2vec.vector_size"),
        (b"user_id,item_id\nu,i\n", ["--data", "e.csv", "--format", "events"], "'timestamp'"),
        (b"user_id,item_id,timestamp\nu,i,yesterday\n", ["--data", "t.csv", "--format", "events"], "yesterday"),
    ],
)
@pytest.mark.filterwarnings("ignore:short.txt. dropped 1 line:UserWarning")  # said on stderr, as a warning line
def test_bad_input_is_one_line_and_exit_2(
    content: bytes | None, args: list[str], message: str, tmp_path: Path, mlflow_store: str
) -> None:
    if content is not None:
        (tmp_path / args[1]).write_bytes(content)
    result = _in_process("train", *args, "--quiet", cwd=tmp_path, store=mlflow_store)
    assert result.returncode == 2, result.stderr
    error_lines = result.stderr.strip().splitlines()
    assert error_lines[-1].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    assert message in error_lines[-1]


def test_recommend_unknown_item_exit_2(workdir: Path, mlflow_store: str, tmp_path: Path) -> None:
    from recsys import train
    from recsys.config import Item2VecConfig
    from recsys.data.synthetic import two_cluster_corpus

    train(two_cluster_corpus(n_sequences=40), Item2VecConfig(epochs=1, vector_size=8)).save(tmp_path / "m")
    result = _in_process("recommend", "zzz", "--model", str(tmp_path / "m"), cwd=tmp_path, store=mlflow_store)
    assert result.returncode == 2
    assert "unknown item 'zzz'" in result.stderr
    result = _in_process("recommend", "a1", "--model", str(tmp_path / "m"), "-k", "0", cwd=tmp_path, store=mlflow_store)
    assert result.returncode == 2


def _small_model(directory: Path) -> Path:
    from recsys import train
    from recsys.config import Item2VecConfig
    from recsys.data.synthetic import two_cluster_corpus

    return train(two_cluster_corpus(n_sequences=40), Item2VecConfig(epochs=1, vector_size=8)).save(directory / "m")


def test_export_neighbours_and_popular_fallback(mlflow_store: str, tmp_path: Path) -> None:
    import polars as pl

    model = str(_small_model(tmp_path))
    result = _in_process("export-neighbours", "--model", model, "--k", "3", "--out", "n.parquet", cwd=tmp_path,
                     store=mlflow_store)
    assert result.returncode == 0, result.stderr
    assert "the top 3 neighbours of 40 items" in result.stdout and "exporting" in result.stderr
    frame = pl.read_parquet(tmp_path / "n.parquet")
    assert frame.columns == ["item_id", "rank", "neighbour_id", "score"] and frame.height == 120
    bad = _in_process("export-neighbours", "--model", model, "--k", "0", "--out", "x.parquet", cwd=tmp_path,
                  store=mlflow_store)
    assert bad.returncode == 2 and not (tmp_path / "x.parquet").exists()
    fallback = _in_process("recommend", "zzz", "--model", model, "--on-unknown", "popular", "--json", cwd=tmp_path,
                       store=mlflow_store)
    assert fallback.returncode == 0, fallback.stderr
    assert json.loads(fallback.stdout)["fallback"] is True


def test_serve_binds_loopback_and_reloads_on_sighup(mlflow_store: str, tmp_path: Path) -> None:
    import signal
    import socket

    import httpx

    model = str(_small_model(tmp_path))
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}
    server = subprocess.Popen([sys.executable, "-m", "recsys.cli", "serve", "--model", model, "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for(condition: str, check: Callable[[dict], bool]) -> dict:
        return wait_for_health(f"http://127.0.0.1:{port}/health", server, check=check, what=condition)

    try:
        assert wait_for("came up", lambda state: True)["reloads"] == 0
        server.send_signal(signal.SIGHUP)
        wait_for("reloaded", lambda state: state["reloads"] == 1)
        assert httpx.get(f"http://127.0.0.1:{port}/similar/a1?k=2").json()["recommendations"]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:  # this host's address on its network
                udp.connect(("10.254.254.254", 9))  # a UDP "connect" sends nothing
                outside = udp.getsockname()[0]
        except OSError:  # no route: nothing but loopback to try
            outside = "127.0.0.1"
        if not outside.startswith("127."):
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{outside}:{port}/health", timeout=2)
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=30)
    assert f"on http://127.0.0.1:{port}" in stderr and "Traceback" not in stderr


def test_unknown_relation_is_exit_2(mlflow_store: str, tmp_path: Path) -> None:
    model = str(_small_model(tmp_path))
    result = _in_process("recommend", "a1", "--model", model, "--relation", "bogus", cwd=tmp_path, store=mlflow_store)
    assert result.returncode == 2 and "'bogus' is not one of 'similar', 'next'" in result.stderr
    following = _in_process("recommend", "a1", "--model", model, "--relation", "next", "--json", cwd=tmp_path,
                        store=mlflow_store)
    assert following.returncode == 0, following.stderr
    assert "a1" not in {r["item_id"] for r in json.loads(following.stdout)["recommendations"]}


def test_the_command_leaves_its_objects_to_the_os_at_exit() -> None:
    # a reference cycle with a finalizer, dropped just before the interpreter exits: only the interpreter's
    # final garbage collection would run the finalizer, and after a command that collection is skipped
    script = """
from recsys.cli import main
class Cycle:
    def __del__(self):
        print("collected", flush=True)
if {command}:
    try:
        main(["data", "--help"])
    except SystemExit:
        pass
cycle = Cycle(); cycle.me = cycle; del cycle
"""
    runs = {command: subprocess.run([sys.executable, "-c", script.format(command=command)], capture_output=True,
                                    text=True, timeout=120) for command in (False, True)}
    assert runs[False].returncode == 0 and runs[False].stdout == "collected\n"  # what the skipped collection does
    assert runs[True].returncode == 0 and "collected" not in runs[True].stdout
    assert "synth" in runs[True].stdout  # the command's own output is flushed all the same
