"""The dashboard: `recsys ui` serves the MLflow UI on loopback, prints the address of an experiment's
runs, and stops as a group; in headless Chromium the runs table, the run report and the sweep report render."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from conftest import require
from recsys.dashboard import landing_url, wait_until_up
from recsys.errors import RecsysError
from recsys.run_report import COMPARISON_ARTIFACT
from recsys.runs_view import view_address
from recsys.tuning import SweepResult

from _net import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEW = "workflowType=machine_learning"


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def _running_ui(mlflow_store: str, cwd: Path) -> Iterator[tuple[str, subprocess.Popen, list[str], queue.Queue[str]]]:
    """`recsys ui --experiment sweep-test` in a subprocess: its address, the process and the printed lines."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "recsys.cli", "ui", "--port", str(port), "--experiment", "sweep-test"],
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_store},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    printed: list[str] = []
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, timeout=180)
        while not any(line.startswith("runs of experiment") for line in printed):
            printed.append(lines.get(timeout=60))
        yield url, process, printed, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        # whatever happened above, leave no server behind
        subprocess.run(["pkill", "-f", f"mlflow.*--port {port} "], check=False)


@pytest.fixture(scope="module")
def ui(mlflow_store: str, sweep_result: SweepResult, tmp_path_factory: pytest.TempPathFactory):
    """One `recsys ui` shared by the module's tests (yields what :func:`_running_ui` does)."""
    with _running_ui(mlflow_store, tmp_path_factory.mktemp("ui")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Playwright; CI installs Chromium, so only a developer machine skips."""
    if CHROMIUM is None:
        require("headless Chromium is not installed (make test-browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context.new_page()
    context.close()


def _screenshot(page, name: str) -> None:
    """Keep a screenshot for the README when RECSYS_SCREENSHOT_DIR is set."""
    folder = os.environ.get("RECSYS_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name))


def _close_assistant(page) -> None:
    """Close the assistant panel MLflow opens on a first visit, so that screenshots show the page."""
    close = page.locator("button[data-component-id='mlflow.assistant.chat_panel.close']")
    if close.count() and close.first.is_visible():
        close.first.click()


def _experiment_id(name: str) -> str:
    return mlflow.MlflowClient().get_experiment_by_name(name).experiment_id


def _report_rows(page, url: str, run_id: str, table: str):
    """Open a run's report.html in MLflow's artifact viewer; its frame and the rows of its table ``table``."""
    page.goto(f"{url}/#/experiments/{_experiment_id('sweep-test')}/runs/{run_id}/artifacts/report.html?{VIEW}")
    report = page.frame_locator("iframe.mlflow-html-iframe")
    rows = report.locator(f"#{table} tbody tr")
    rows.first.wait_for(timeout=90_000)
    return report, rows


def test_ui_lists_sweep_runs_with_window_vector_size_and_metric(ui, sweep_result: SweepResult) -> None:
    url, *_ = ui
    experiments = _post(f"{url}/api/2.0/mlflow/experiments/search", {"max_results": 100})["experiments"]
    experiment = next(e for e in experiments if e["name"] == "sweep-test")
    runs = _post(f"{url}/api/2.0/mlflow/runs/search", {
        "experiment_ids": [experiment["experiment_id"]],
        "filter": f"tags.mlflow.parentRunId = '{sweep_result.parent_run_id}' and tags.sweep_trial = 'true'",
        "max_results": 1000,
    })["runs"]
    assert len(runs) == len(sweep_result.trials)
    for run in runs:
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        assert params["window"] in {"2", "5"} and params["vector_size"] in {"16", "32"}
        assert 0.0 <= metrics["hr_at_10"] <= 1.0


def test_ui_prints_the_experiments_runs_in_the_model_training_view(ui) -> None:
    url, _, printed, _ = ui
    experiment_id = _experiment_id("sweep-test")
    expected = f"{url}/#/experiments/{experiment_id}/runs?{VIEW}&viewStateShareKey=recsys-item2vec"
    assert view_address(url, experiment_id) == expected
    assert f"runs of experiment 'sweep-test': {expected}" in printed[-1]
    assert landing_url(url, experiment="sweep-test") == (expected, "sweep-test")
    models = [e.experiment_id for e in mlflow.search_experiments() if e.name != "comparisons"]
    latest = mlflow.search_runs(experiment_ids=models, order_by=["attributes.start_time DESC"],
                                max_results=1, output_format="list")[0]
    name = mlflow.get_experiment(latest.info.experiment_id).name
    assert landing_url(url) == (view_address(url, latest.info.experiment_id), name)
    with pytest.raises(RecsysError, match="no experiment named 'nope'.*sweep-test"):
        landing_url(url, experiment="nope")


@pytest.mark.browser
def test_printed_address_shows_the_runs_table_in_chromium(ui, page, sweep_result: SweepResult) -> None:
    _, _, printed, _ = ui
    address = printed[-1].rsplit(": ", 1)[1].strip()
    page.goto(address)
    parent = mlflow.get_run(sweep_result.parent_run_id)
    page.get_by_text(parent.info.run_name, exact=True).first.wait_for(timeout=90_000)
    text = page.locator("body").inner_text()
    assert "Welcome to MLflow" not in text
    assert "Model registry" in text and "AI Gateway" not in text  # the model-training view, not GenAI's
    assert "matching run" in text


def _close_assistant(page) -> None:
    """MLflow opens its assistant panel on a first visit; close it as a person would (× beside its title)."""
    buttons = page.get_by_role("button", name="Close", exact=True)
    boxes = [(box["x"], i) for i in range(buttons.count()) if (box := buttons.nth(i).bounding_box())]
    if boxes:
        buttons.nth(max(boxes)[1]).click()  # the right-most: the panel's, not the shared-view banner's


@pytest.mark.browser
def test_printed_link_shows_window_dimension_and_quality_of_every_run(ui, browser, sweep_result: SweepResult) -> None:
    """Without a click: the saved item2vec view's columns, every trial and the retrained run with their values."""
    _, _, printed, _ = ui
    context = browser.new_context(viewport={"width": 1920, "height": 1000})  # every column in view
    page = context.new_page()
    page.goto(printed[-1].rsplit(": ", 1)[1].strip())
    final = sweep_result.final.run_id
    page.locator(f'.ag-center-cols-container .ag-row[row-id="{final}"]').wait_for(timeout=90_000)
    _close_assistant(page)  # its panel takes a third of the width, and the grid renders only visible columns
    page.locator('.ag-header-cell[col-id="metrics.`train_seconds`"]').wait_for(timeout=30_000)
    columns = page.locator(".ag-header-cell").evaluate_all("cells => cells.map(c => c.getAttribute('col-id'))")
    for column in ("params.`window`", "params.`vector_size`", "params.`context`", "params.`epochs`",
                   "metrics.`hr_at_10`", "metrics.`ndcg_at_10`", "metrics.`baselines/best_hr_at_10`"):
        assert column in columns
    cells = page.locator(".ag-center-cols-container .ag-row").evaluate_all(
        "rows => rows.map(r => [Number(r.getAttribute('row-index')), r.getAttribute('row-id'), Object.fromEntries("
        "Array.from(r.querySelectorAll('.ag-cell')).map(c => [c.getAttribute('col-id'), c.innerText.trim()]))])")
    cells = [(run_id, row) for _, run_id, row in sorted(cells)]  # the grid's DOM order is not its row order
    shown = dict(cells)
    experiment = _experiment_id("sweep-test")
    runs = mlflow.search_runs(experiment_ids=[experiment], filter_string="tags.method = 'item2vec'",
                              output_format="list")
    runs = [r for r in runs if "hr_at_10" in r.data.metrics]
    assert final in {r.info.run_id for r in runs} and len(runs) > 2
    for run in runs:
        row = shown[run.info.run_id]
        assert row["params.`window`"] == run.data.params["window"]
        assert row["params.`vector_size`"] == run.data.params["vector_size"]
        assert float(row["metrics.`hr_at_10`"]) == pytest.approx(run.data.metrics["hr_at_10"], abs=6e-4)
    order = [r for r, _ in cells if r in {run.info.run_id for run in runs}]
    hr = {run.info.run_id: run.data.metrics["hr_at_10"] for run in runs}
    assert [hr[r] for r in order] == sorted(hr.values(), reverse=True)  # sorted by the headline, best first
    _screenshot(page, "ui-runs.png")
    context.close()


@pytest.mark.browser
def test_comparison_page_shows_every_run_and_its_plots(ui, page, sweep_result: SweepResult, mlflow_store: str,
                                                       tmp_path: Path) -> None:
    url, *_ = ui
    done = subprocess.run([sys.executable, "-m", "recsys.cli", "compare", "--experiment", "sweep-test",
                           "--out", str(tmp_path / "comparison.html")],
                          env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_store}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run_id = re.search(r"comparison run (\w+)", done.stdout).group(1)
    page.goto(f"{url}/#/experiments/{_experiment_id('comparisons')}/runs/{run_id}/artifacts/{COMPARISON_ARTIFACT}?{VIEW}")
    report = page.frame_locator("iframe.mlflow-html-iframe")
    rows = report.locator("#runs-table tbody tr")
    rows.first.wait_for(timeout=90_000)
    shown = set(rows.evaluate_all("rows => rows.map(r => r.dataset.runId)"))
    trials = mlflow.search_runs(experiment_ids=[_experiment_id("sweep-test")], output_format="list",
                                filter_string="tags.sweep_trial = 'true'")
    assert {t.info.run_id for t in trials} | {sweep_result.final.run_id} <= shown
    sizes = report.locator("img").evaluate_all("images => images.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(sizes) >= 2 and min(sizes) > 100  # every heatmap decoded
    assert sweep_result.final.run_id in report.locator("#best").inner_text()
    _screenshot(page, "comparison-in-mlflow.png")  # docs/img/comparison.png is the page itself


@pytest.mark.browser
def test_run_report_renders_in_the_artifact_viewer(ui, page, sweep_result: SweepResult) -> None:
    url, *_ = ui
    final = sweep_result.final
    report, rows = _report_rows(page, url, final.run_id, "quality-table")
    assert rows.count() == len(final.results)
    assert [rows.nth(i).get_attribute("data-method") for i in range(rows.count())] == [r.method for r in final.results]
    assert f"{final.results[0].metrics['hr_at_10']:.4f}" in rows.first.inner_text()
    images = report.locator("img")
    sizes = images.evaluate_all("images => images.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(sizes) >= 4 and min(sizes) > 100  # every plot decoded, none broken
    examples = report.locator("#examples")
    titles = examples.locator("table.recommendations td").all_inner_texts()
    known = set(final.data.metadata["title"].to_list())
    assert len(known.intersection(titles)) >= 10  # recommendations shown with their titles
    _screenshot(page, "run-report.png")


@pytest.mark.browser
def test_sweep_report_lists_its_trials_in_the_browser(ui, page, sweep_result: SweepResult) -> None:
    url, *_ = ui
    sweep = sweep_result
    report, rows = _report_rows(page, url, sweep.parent_run_id, "trials-table")
    assert rows.count() == len(sweep.trials)
    assert "Champion decision" in report.locator("#decision").inner_text()
    _screenshot(page, "sweep-report.png")


@pytest.mark.browser
def test_run_page_groups_metric_charts_in_named_sections(ui, page, sweep_result: SweepResult) -> None:
    url, *_ = ui
    final = sweep_result.final
    experiment_id = _experiment_id("sweep-test")
    page.goto(f"{url}/#/experiments/{experiment_id}/runs/{final.run_id}/model-metrics?{VIEW}")
    page.get_by_text("Model metrics", exact=True).first.wait_for(timeout=90_000)
    lines = page.locator("body").inner_text().splitlines()
    # each section header reads "<name>" then "(<number of charts>)"
    sections = {name: int(count[1:-1]) for name, count in zip(lines, lines[1:]) if re.fullmatch(r"\(\d+\)", count)}
    assert sections["Model metrics"] == 5  # the headline: hr, ndcg, mrr, coverage at 10 and train_seconds
    assert list(sections)[0] == "_headline" and sections["_headline"] == 5  # ... and its copy first
    for section in ("cooccurrence", "data", "item2vec-next", "item2vec-similar", "popular", "stages", "training"):
        assert sections[section] > 0, section
    _screenshot(page, "run-metric-sections.png")


def test_ctrl_c_stops_the_whole_process_group(mlflow_store: str, sweep_result: SweepResult, tmp_path: Path) -> None:
    """Its own `recsys ui`, so that stopping it leaves the shared one to the other tests, in any order."""
    with _running_ui(mlflow_store, tmp_path) as (url, process, printed, lines):
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        while True:  # the reader thread puts every line; the pipe closes with the process
            try:
                printed.append(lines.get(timeout=5))
            except queue.Empty:
                break
        output = "".join(printed)
        assert process.returncode == 0, output
        assert "at http://127.0.0.1:" in output and "stopping the MLflow UI" in output
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{url}/health", timeout=3)
        # the server ran in a group of its own; nothing of it is left
        port = url.rsplit(":", 1)[1]
        server_groups = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True)
        assert server_groups.stdout.strip() == ""


@pytest.mark.browser
def test_runs_table_shows_a_chain_of_updates_as_a_tree(ui, page, update_chain) -> None:
    url, *_ = ui
    training = mlflow.get_run(update_chain.training_run_id)
    page.goto(f"{url}/#/experiments/{training.info.experiment_id}/runs?{VIEW}")
    name = training.info.run_name
    page.get_by_text(name, exact=True).first.wait_for(timeout=90_000)
    _close_assistant(page)
    expander = "button[data-component-id*='runnamecellrenderer']"
    named = page.locator("[role='row']").filter(has=page.locator(expander))  # the run-name cells, one per run
    for parent, child in zip([name, "update-1", "update-2"], ["update-1", "update-2", "update-3"]):
        assert page.get_by_text(child, exact=True).count() == 0  # nested: hidden until its parent is expanded
        row = named.filter(has=page.get_by_text(parent, exact=True)).first
        row.locator(expander).first.click()  # expand its nested runs
        page.get_by_text(child, exact=True).first.wait_for(timeout=30_000)
    names = [row.inner_text().split("\n") for row in page.locator("[role='row']").all()]
    order = [next(i for i, text in enumerate(names) if label in text) for label in (name, "update-1", "update-2",
                                                                                     "update-3")]
    assert order == sorted(order)  # the training, then each update under the one before
    assert page.get_by_text("update-3", exact=True).count() >= 1
    versions = [f"v{u.version}" for u in update_chain.updates]
    text = page.locator("body").inner_text()
    assert all(version in text for version in versions)  # each update registered a version of its own
    _screenshot(page, "update-lineage.png")


@pytest.mark.browser
def test_an_update_run_links_to_its_parent_and_its_training(ui, page, update_chain) -> None:
    url, *_ = ui
    last, parent = update_chain.updates[-1], update_chain.updates[-2]
    experiment = mlflow.get_run(last.run_id).info.experiment_id
    page.goto(f"{url}/#/experiments/{experiment}/runs/{last.run_id}?{VIEW}")
    page.get_by_text("Incremental update 3", exact=False).first.wait_for(timeout=90_000)
    _close_assistant(page)
    text = page.locator("body").inner_text()
    assert "Parent run" in text and "update-2" in text  # MLflow's own link to the parent (mlflow.parentRunId)
    assert "update.chain" in text and "update.base" in text
    training = mlflow.get_run(update_chain.training_run_id).info.run_name
    description = page.locator("a", has_text=training).first
    assert description.get_attribute("href").endswith(f"/runs/{update_chain.training_run_id}")
    _screenshot(page, "update-run.png")
    link = page.get_by_role("link", name="update-2", exact=True).first  # the lineage, one step back
    assert link.get_attribute("href").endswith(f"/runs/{parent.run_id}")
    page.goto(f"{url}/{link.get_attribute('href')}")
    page.get_by_text("Incremental update 2", exact=False).first.wait_for(timeout=60_000)
    assert parent.run_id in page.locator("body").inner_text()
