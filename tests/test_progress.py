"""The progress bar over a whole run: its stage in the label, the share done, replanning the work left."""

from __future__ import annotations

import io
import warnings

from recsys.progress import Progress


def test_one_bar_names_its_stage_and_shows_the_share_done() -> None:
    out = io.StringIO()
    with Progress(file=out).task("select", total=10, percent=True) as task:
        task.advance(2, note="candidate forward")
        task.stage("train", note="epoch 1/5")
        task.advance(3)
        task.replan(20)  # more work than planned: the share done falls, never below what is done
        task.stage("log")
    frames = out.getvalue().replace("\n", "\r").split("\r")
    assert frames[1].startswith("select:   0%")
    assert any(f.startswith("train:  20%") and "epoch 1/5" in f for f in frames)  # 2 of 10 when it changed stage
    assert any(f.startswith("train:  25%") for f in frames)  # 5 of the 20 replanned
    assert frames[-2].startswith("log:  25%") and "epoch" not in frames[-2]


def test_the_bar_never_counts_past_its_total() -> None:
    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm warns when it has to clamp a share above 100%
        with Progress(file=out).task("log", total=1.0, percent=True) as task:
            for share in (0.4, 0.35, 0.25 + 1e-12):  # estimates whose rounding adds up past the total
                task.advance(share)
    assert out.getvalue().replace("\n", "\r").split("\r")[-2].startswith("log: 100%")


def test_a_quiet_bar_writes_nothing() -> None:
    out = io.StringIO()
    with Progress(quiet=True, file=out).task("train", total=4, percent=True) as task:
        task.advance(4)
        task.stage("log")
    assert out.getvalue() == ""
