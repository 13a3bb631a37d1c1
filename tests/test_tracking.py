"""MLflow tracking: a real run in a SQLite store, the pyfunc model, the registry."""

from __future__ import annotations

import io
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from recsys.config import load_pipeline_config
from recsys.errors import ModelLoadError, UnknownItemError
from recsys.pipeline import TrainingResult, run_training
from recsys.progress import Progress
from recsys.recommender import Recommender


@pytest.fixture(scope="module")
def trained_with_bar(mlflow_store: str, synthetic_files: tuple[Path, Path]) -> tuple[TrainingResult, str]:
    """The run, and what its progress bar drew."""
    playlists, metadata = synthetic_files
    config = load_pipeline_config(
        base={"data": {"name": "tracking-test", "path": str(playlists), "metadata": str(metadata)}},
        overrides=["epochs=3", "vector_size=16", "window=3", "workers=1", "tracking.registered_model=tracking-test"],
    )
    bar = io.StringIO()
    return run_training(config, progress=Progress(file=bar)), bar.getvalue()


@pytest.fixture(scope="module")
def trained(trained_with_bar: tuple[TrainingResult, str]) -> TrainingResult:
    return trained_with_bar[0]


def test_the_progress_bar_only_moves_forward_through_the_stages(trained_with_bar: tuple[TrainingResult, str]) -> None:
    # small data raises the selection's budget above selection.budget: the bar plans for that once the
    # sample is drawn, so the selection's share is not taken back when the training starts
    frames = [f for f in trained_with_bar[1].replace("\n", "\r").split("\r") if "%|" in f]
    stages = [f.split(":")[0] for f in frames]
    shares = [int(f.split(":")[1].split("%")[0]) for f in frames]
    assert shares == sorted(shares) and shares[-1] == 100, list(zip(stages, shares))
    assert [s for i, s in enumerate(stages) if s not in stages[:i]] == ["select", "train", "rank", "prepare",
                                                                         "evaluate", "log"]


def test_run_has_params_metrics_and_dataset(trained: TrainingResult) -> None:
    run = mlflow.get_run(trained.run_id)
    params, metrics = run.data.params, run.data.metrics
    assert params["window"] == "3" and params["vector_size"] == "16"
    assert params["split.test_fraction"] == "0.1"
    for name in ("hr_at_10", "ndcg_at_10", "mrr_at_10", "coverage_at_10", "item2vec-next/hr_at_20",
                 "item2vec-similar/hr_at_10", "popular/hr_at_10", "cooccurrence/hr_at_10_ci_low",
                 "train_seconds", "data/n_train_sequences", "stages/train_seconds"):
        assert name in metrics, name
    assert metrics["hr_at_10"] == pytest.approx(trained.results[0].metrics["hr_at_10"])
    assert metrics[f"{trained.results[0].method}/hr_at_10"] == metrics["hr_at_10"]
    default = "item2vec-ranked" if trained.ranking.default("item") == "ranker" else "item2vec-next"
    assert trained.results[0].method == default  # the model's default ranking is the run's headline
    assert run.data.tags["dataset"] == "tracking-test"
    assert run.inputs.dataset_inputs[0].dataset.digest == run.data.tags["dataset.digest"]
    history = mlflow.MlflowClient().get_metric_history(trained.run_id, "training/loss")
    assert [m.step for m in history] == [1, 2, 3]
    assert [m.value for m in history] == pytest.approx([epoch.loss for epoch in trained.vectors.epochs])
    speeds = mlflow.MlflowClient().get_metric_history(trained.run_id, "training/words_per_second")
    assert [m.step for m in speeds] == [epoch.epoch for epoch in trained.vectors.epochs]
    assert [m.value for m in speeds] == pytest.approx([epoch.words_per_second for epoch in trained.vectors.epochs])
    experiment = mlflow.get_experiment(run.info.experiment_id)
    assert experiment.name == "tracking-test"
    assert "plots/loss.png" in [a.path for a in mlflow.MlflowClient().list_artifacts(trained.run_id, "plots")]


def test_logged_pyfunc_model_answers(trained: TrainingResult) -> None:
    model = mlflow.pyfunc.load_model(trained.model_uri)
    item = trained.vectors.item_ids[0]
    answer = model.predict(pd.DataFrame({"item_id": [item]}), params={"k": 5})
    assert list(answer.columns[:4]) == ["query_id", "rank", "item_id", "score"]
    assert answer["rank"].tolist() == [1, 2, 3, 4, 5]
    assert item not in answer["item_id"].tolist()
    assert {"title", "artist", "genre"} <= set(answer.columns)
    with pytest.raises(Exception, match="unknown item 'nope'"):
        model.predict(pd.DataFrame({"item_id": ["nope"]}))


def test_ranking_stage_is_logged_and_served(trained: TrainingResult) -> None:
    run = mlflow.get_run(trained.run_id)
    metrics, tags = run.data.metrics, run.data.tags
    for name in ("ranking/item.vector_weight", "ranking/item.share_weight", "ranking/session.after_earlier_weight",
                 "ranking/item.log_likelihood", "ranking/item.ranker_score", "ranking/session.vectors_score",
                 "ranking/item.evidence.after_weight", "ranking/evidence_mb", "stages/rank_seconds",
                 "item2vec-ranked/hr_at_10", "item2vec-evidence/ndcg_at_10", "item2vec-next/hr_at_10"):
        assert name in metrics, name
    assert tags["ranking.item"] in ("ranker", "vectors") and tags["ranking.session"] in ("ranker", "vectors")
    assert metrics["ranking/item.share_weight"] == pytest.approx(trained.ranking.blends["item"].by_signal["share"])
    artifacts = [a.path for a in mlflow.MlflowClient().list_artifacts(trained.run_id, "model/artifacts")]
    assert "model/artifacts/ranking" in artifacts
    served = Recommender.load(trained.model_uri)
    assert served.ranking is not None and served.ranking.digest == trained.ranking.digest
    item = trained.vectors.item_ids[0]
    model = mlflow.pyfunc.load_model(trained.model_uri)
    for rank in ("ranker", "vectors"):
        answer = model.predict(pd.DataFrame({"item_id": [item]}), params={"k": 5, "rank": rank})
        assert answer["item_id"].tolist() == served.recommend(item, k=5, rank=rank).item_ids.tolist()


def test_registered_model_loads_by_alias_run_id_and_uri(trained: TrainingResult) -> None:
    assert trained.promoted
    expected = Recommender(trained.vectors, ranking=trained.ranking).recommend(trained.vectors.item_ids[0], k=5)
    expected = expected.item_ids.tolist()
    for uri in ("models:/tracking-test@champion", trained.run_id, trained.model_uri):
        recommender = Recommender.load(uri)
        assert recommender.recommend(trained.vectors.item_ids[0], k=5)[0].tolist() == expected
        with pytest.raises(UnknownItemError):
            recommender.recommend("nope")


def test_unknown_model_locations_fail_clearly(mlflow_store: str, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such model directory"):
        Recommender.load(str(tmp_path / "missing"))
    with pytest.raises(ModelLoadError, match="nosuch"):
        Recommender.load("models:/nosuch@champion")
    with pytest.raises(ModelLoadError, match="no item vectors"):
        Recommender.load(str(tmp_path))


def test_selection_is_logged_as_nested_candidate_runs(trained: TrainingResult) -> None:
    run = mlflow.get_run(trained.run_id)
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    # the options left unset were filled in: the run shows what trained, not None
    assert params["epochs"] == "3" and params["context"] in ("forward", "symmetric")
    assert params["alpha"] != "None" and params["sample"] == "0.0" and params["selection.auto"] == "True"
    assert tags["selection.chosen"].startswith(params["context"])
    assert trained.vectors.config.context == params["context"]
    children = mlflow.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{trained.run_id}'", output_format="list"
    )
    names = {child.data.tags["candidate"] for child in children}
    assert {"forward", "symmetric"} <= names
    chosen = [child for child in children if child.data.tags["chosen"] == "true"]
    assert len(chosen) == 1 and chosen[0].data.tags["candidate"] == tags["selection.chosen"]
    for child in children:
        assert child.data.tags["selection_candidate"] == "true"
        assert "validation/ndcg_at_10" in child.data.metrics and child.data.params["epochs"] == "3"
        validation = child.data.metrics
        assert metrics[f"selection/{child.data.tags['candidate']}_score"] == pytest.approx(
            (validation["validation/hr_at_10"] + validation["validation/ndcg_at_10"]) / 2)
    assert tags["selection.metric"] == "hr+ndcg_at_10"
    assert {"corpus/pairs_per_item", "corpus/successor_share", "selection/seconds"} <= set(metrics)
    # what the candidates spent, against the budget they had, on which share of the training part
    assert 0 < metrics["selection/trainings"] <= metrics["selection/budget_trainings"]
    assert 0 < metrics["selection/sample_fraction"] <= 1
    assert tags["collapse"] == "false" and "selection.collapse" not in tags


def test_without_auto_nothing_is_tried(mlflow_store: str, synthetic_files: tuple[Path, Path]) -> None:
    playlists, _metadata = synthetic_files
    config = load_pipeline_config(
        base={"data": {"name": "tracking-test", "path": str(playlists)}, "selection": {"auto": False}},
        overrides=["vector_size=8", "workers=1", "tracking.log_model=false"],
    )
    result = run_training(config)
    run = mlflow.get_run(result.run_id)
    assert run.data.tags["selection.chosen"] == "rules (automatic selection is off)"
    assert run.data.params["context"] == "symmetric"  # playlists are not strongly sequential
    assert run.data.params["epochs"] == str(result.vectors.config.epochs)
    children = mlflow.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'",
                                  output_format="list")
    assert children == []


def test_pinned_to_one_worker_the_ranking_stage_is_fitted_beside_the_training(
    synthetic_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from recsys import pipeline
    from recsys.data.synthetic import SynthConfig, generate_playlists
    from recsys.selection import choose_config, fit_ranking_stage

    config = load_pipeline_config(base={"data": {"name": "beside", "path": str(synthetic_files[0])}},
                                  overrides=["vector_size=8", "epochs=2", "workers=1"])
    sequences = generate_playlists(SynthConfig(n_playlists=400))[0]
    selection = choose_config(sequences, config.item2vec, config.selection)
    config = config.model_copy(update={"item2vec": selection.config})
    threads: list[str] = []

    def fit(*args: object, **options: object) -> object:
        threads.append(threading.current_thread().name)
        return fit_ranking_stage(*args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "fit_ranking_stage", fit)
    monkeypatch.setattr(pipeline, "usable_cores", lambda: 2)
    wait = pipeline._fit_ranking_beside(config, sequences, selection)
    assert wait is not None
    beside = wait()
    assert threads == ["ranking-stage"]  # not this thread: beside whatever this one does meanwhile
    after = fit_ranking_stage(sequences, selection, config.ranking, config.selection, k=config.evaluation.headline_k)
    assert beside.blends == after.blends and beside.defaults == after.defaults  # the same fit either way

    # where the training takes every core, or there is one, or there is no stage: fitted after it
    several = config.model_copy(update={"item2vec": config.item2vec.model_copy(update={"workers": 2})})
    assert pipeline._fit_ranking_beside(several, sequences, selection) is None
    no_stage = config.model_copy(update={"ranking": config.ranking.model_copy(update={"enabled": False})})
    assert pipeline._fit_ranking_beside(no_stage, sequences, selection) is None
    monkeypatch.setattr(pipeline, "usable_cores", lambda: 1)
    assert pipeline._fit_ranking_beside(config, sequences, selection) is None

    def broken(*args: object, **options: object) -> object:
        raise MemoryError("no room for the ranking stage")

    monkeypatch.setattr(pipeline, "fit_ranking_stage", broken)
    monkeypatch.setattr(pipeline, "usable_cores", lambda: 2)
    failing = pipeline._fit_ranking_beside(config, sequences, selection)
    assert failing is not None
    with pytest.raises(MemoryError, match="ranking stage"):  # raised where the run waits for it
        failing()
