"""Shared fixtures: one MLflow SQLite store per test session, the synthetic data, a PostgreSQL server;
and how `make test` shares the tests out between pytest-xdist workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import polars as pl
import pytest

from recsys.config import load_pipeline_config
from recsys.data.synthetic import SynthConfig, generate_playlists, write_synthetic
from recsys.tuning import SweepConfig, SweepResult, run_sweep

from _postgres import PostgresServer, postgres_bin, start_postgres
from _updates import Chain, make_chain

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SWEEP_SPACE = {"window": [2, 5], "vector_size": [16, 32], "ns_exponent": [-0.5, 0.75]}

# How `make test` (pytest -n 2 --dist loadgroup) shares the tests out. Each xdist worker is a test session
# of its own, with its own session fixtures (MLflow store, sweep, PostgreSQL server, Spark), so the tests of
# a module go to one worker together and its module fixtures are built once; modules sharing an expensive
# session fixture go together too. The units start longest first, so that no worker is left with a long tail.
SHARED_GROUPS = {"test_tuning": "sweep", "test_run_report": "sweep", "test_dashboard": "sweep"}
"""Modules that use the session's ``sweep_result`` (about 30 s): one worker builds it."""
SPREAD = {"test_cli", "test_interrupts"}
"""Modules whose tests are independent subprocess runs sharing nothing costly: each test is a unit."""
SLOW_FIRST = ("test_soak", "sweep", "test_postgres", "test_spark",
              "tests/test_cli.py::test_train_on_default_data_end_to_end", "test_add_items",
              "tests/test_interrupts.py::test_two_trainings_at_once_on_a_new_store_both_finish_and_the_champion_is_the_better",
              "tests/test_interrupts.py::test_kill_9_during_training_leaves_a_store_the_next_training_uses",
              "test_tracking", "test_store", "test_cold_start_eval", "test_report", "test_quiet",
              "test_selection", "tests/test_interrupts.py::test_ctrl_c_marks_the_run_killed_registers_nothing_and_exits_130")
"""The longest units, longest first (measured with ``--durations``); the others follow in collection order."""


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to under ``--dist loadgroup``: its module, its group, or itself."""
    if nodeid.rfind("@") > nodeid.rfind("]"):  # an explicit @pytest.mark.xdist_group
        return nodeid.rsplit("@", 1)[1]
    module = Path(nodeid.split("::", 1)[0]).stem
    if module in SPREAD:
        return nodeid
    return SHARED_GROUPS.get(module, module)


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's: pytest without xdist runs serially
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadgroup`` with the units of :func:`work_unit`, the longest first."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def schedule(self) -> None:
            """xdist's LoadScopeScheduling.schedule, with the work queue in the order of SLOW_FIRST."""
            assert self.collection_is_completed
            if self.collection is not None:  # the initial distribution is done: reschedule
                for node in self.nodes:
                    self._reschedule(node)
                return
            if not self._check_nodes_have_same_collection():
                self.log("**Different tests collected, aborting run**")
                return
            self.collection = list(next(iter(self.registered_collections.values())))
            if not self.collection:
                return
            units: dict[str, dict[str, bool]] = {}
            for nodeid in self.collection:
                units.setdefault(work_unit(nodeid), {})[nodeid] = False
            first = {unit: n for n, unit in enumerate(SLOW_FIRST)}
            for unit in sorted(units, key=lambda unit: first.get(unit, len(first))):  # stable: the rest in order
                self.workqueue[unit] = units[unit]
            for _ in range(max(0, len(self.nodes) - len(self.workqueue))):  # more workers than work
                self.assigned_work.popitem()[0].shutdown()
            for node in self.nodes:
                self._assign_work_unit(node)
            for node in self.nodes:
                self._reschedule(node)
            if not self.workqueue:
                for node in self.nodes:
                    node.shutdown()

    return Scheduling(config, log)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run that collected no test fails (exit 1) with a line saying so, never pytest's exit 5: a filter or
    path that selects nothing is a mistake, and CI must not read it as anything else."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("error: no tests were collected: check the paths and -k/-m filters", red=True)


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite MLflow store shared by the whole test session (creating one costs ~2 s)."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    (root / "mlruns").mkdir()
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    yield uri
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous


def require(reason: str) -> None:
    """A part a test needs is missing: skip on a developer machine, fail in CI (``RECSYS_CI=1``), where
    ``.ci/run`` installs every part, so that nothing is skipped there unnoticed."""
    if os.environ.get("RECSYS_CI"):
        pytest.fail(f"{reason}; CI must install it (.ci/run)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test session's own, on a free loopback port, stopped and removed after."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        require("PostgreSQL (initdb, pg_ctl) is not installed")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require("psycopg is not installed (extra recsys[postgres])")
    server = start_postgres(bin_dir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def synthetic() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The default synthetic playlists and their metadata (in memory)."""
    return generate_playlists(SynthConfig())


@pytest.fixture(scope="session")
def synthetic_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The default synthetic playlists and metadata written to files."""
    return write_synthetic(tmp_path_factory.mktemp("synthetic"), SynthConfig())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public datasets in ../shared/data; skips when they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sweep_result(mlflow_store: str, synthetic_files: tuple[Path, Path]) -> SweepResult:
    """A real sweep (4 configurations, successive halving) on the synthetic data."""
    playlists, metadata = synthetic_files
    pipeline = load_pipeline_config(
        base={"data": {"name": "sweep-test", "path": str(playlists), "metadata": str(metadata)}},
        overrides=["epochs=4", "tracking.registered_model=sweep-test"],
    )
    sweep = SweepConfig(trials=4, budget_minutes=5, space=SWEEP_SPACE, sample_fraction=0.5, parallel=2, seed=3)
    return run_sweep(pipeline, sweep)


@pytest.fixture(scope="session")
def update_chain(mlflow_store: str, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """A model trained on synthetic playlists without two artists, then updated three days in a row."""
    return make_chain(tmp_path_factory.mktemp("update-chain"))
