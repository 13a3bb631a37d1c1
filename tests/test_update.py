"""recsys update end to end: a chain of three linked updates, new items trained or served from metadata,
the alias decision, drift, the full-retrain comparison, both training paths, and bad input that registers nothing."""

from __future__ import annotations

import warnings
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from recsys import Recommender, update
from recsys.cli import main
from recsys.config import Item2VecConfig
from recsys.data.readers import read_playlists
from recsys.data.synthetic import write_playlists
from recsys.errors import ConfigError, DriftWarning
from recsys.item2vec import ItemVectors, train
from _updates import MIN_COUNT, MODEL, Chain
from tests.test_cli import _recsys


def _versions(name: str = MODEL) -> int:
    return len(mlflow.MlflowClient().search_model_versions(f"name='{name}'"))


def _genre(chain: Chain) -> dict[str, str]:
    return dict(zip(chain.metadata["item_id"].to_list(), chain.metadata["genre"].to_list()))


def test_a_chain_of_three_updates_is_linked_to_its_training(update_chain: Chain) -> None:
    client = mlflow.MlflowClient()
    training = client.get_run(update_chain.training_run_id)
    parents = [update_chain.training_run_id] + [u.run_id for u in update_chain.updates[:-1]]
    versions = [int(u.version) for u in update_chain.updates]
    assert versions == [versions[0], versions[0] + 1, versions[0] + 2]
    for depth, (result, parent) in enumerate(zip(update_chain.updates, parents), start=1):
        run = client.get_run(result.run_id)
        tags = run.data.tags
        assert tags["update.chain"] == str(depth) and tags["update.parent_run_id"] == parent
        assert tags["mlflow.parentRunId"] == parent  # nested: the UI shows the chain as a tree
        assert tags["update.base_run_id"] == update_chain.training_run_id
        assert tags["update.parent_version"] == str(versions[0] - 1 + depth - 1 if depth > 1 else 1)
        assert run.info.experiment_id == training.info.experiment_id and run.info.run_name == f"update-{depth}"
        note = tags["mlflow.note.content"]
        assert note.startswith(f"**Incremental update {depth}** of the full training")
        assert f"(#/experiments/{run.info.experiment_id}/runs/{update_chain.training_run_id})" in note
        assert f"(#/experiments/{run.info.experiment_id}/runs/{parent})" in note
        # the same params as the training, plus the update's own
        assert run.data.params["context"] == training.data.params["context"] == "symmetric"
        assert run.data.params["sessions.gap_minutes"] == training.data.params["sessions.gap_minutes"]
        assert run.data.params["update.min_count"] == str(MIN_COUNT)
        metrics = run.data.metrics
        assert metrics["hr_at_10"] == metrics["item2vec/hr_at_10"] == result.results[0].metrics["hr_at_10"]
        assert "previous/hr_at_10" in metrics and metrics["update/chain"] == depth
        assert 0 < metrics["update/drift.mean_cosine"] < 1 and 0 <= metrics["update/drift.top10_overlap"] <= 1
        assert metrics["update/n_new_sequences"] > 0 and metrics["update/n_replayed"] > 0  # walks on the evidence
        assert result.replay == "evidence" and run.data.tags["update.replay"] == "evidence"
        assert result.lineage.chain == depth
    first, last = update_chain.updates[0], update_chain.updates[-1]
    assert first.chain_drift == first.drift  # the first update's parent is the full training
    assert last.chain_drift is not None and last.chain_drift.top10_overlap <= first.drift.top10_overlap + 0.05
    # every version of the chain is a whole model: vectors, metadata, cold items, ranking stage
    loaded = Recommender.load(last.model_uri)
    assert loaded.item_ids == last.recommender.item_ids and loaded.ranking is not None
    assert loaded.cold_item_ids == last.recommender.cold_item_ids


def test_new_items_get_trained_vectors_or_vectors_from_metadata(update_chain: Chain) -> None:
    genre = _genre(update_chain)
    first = update_chain.updates[0]
    played = set(read_playlists(update_chain.days[0])["items"].explode().to_list()) & set(update_chain.held_back)
    new = first.new_items
    previous = Recommender.load(f"runs:/{update_chain.training_run_id}/model")
    assert new.trained and new.cold, new  # both ways on the first day
    assert not any(item in previous for item in (*new.trained, *new.cold))
    assert not new.left_out  # every track has metadata
    recommender = first.recommender
    counts = dict(zip(recommender.item_ids, recommender.item_vectors.counts.tolist()))
    for item in new.trained:
        assert not recommender.is_cold(item) and counts[item] >= MIN_COUNT
    for item in new.cold:
        assert recommender.is_cold(item)
    # known answers: a new track's "similar" neighbours are mostly of its genre, whichever way it got its vector
    for items in (new.trained, new.cold):
        ids, _ = recommender.recommend_many(list(items), k=10, relation="similar")
        same = np.vectorize(genre.get)(ids) == np.array([genre[i] for i in items])[:, None]
        assert same.mean() >= 0.6, (items, same.mean())
    # the previous model did not know the held-back tracks; the update knows those its training part played
    assert not any(item in previous for item in played)
    assert np.mean([item in recommender for item in played]) >= 0.9
    # a later day keeps them: cold items of day 1 still there (cold or now trained) in day 3's model
    last = update_chain.updates[-1].recommender
    assert all(item in last for item in new.cold) and all(not last.is_cold(item) for item in new.trained)


def test_the_alias_moves_only_when_the_update_is_at_least_as_good(update_chain: Chain, tmp_path: Path) -> None:
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(MODEL, "staging", "1")  # the training's version: it never saw the held back
    aliases = tuple(client.get_model_version(MODEL, "1").aliases)
    days = update_chain.days
    # held out: day 3's playlists with the held-back artists, which only a model that learnt them can answer
    held = set(update_chain.held_back)
    with_new = read_playlists(days[2]).filter(pl.col("items").list.eval(pl.element().is_in(list(held))).list.sum() >= 3)
    test = tmp_path / "with-new.txt"
    write_playlists(with_new, test)
    better = update(f"models:/{MODEL}@staging", days[0], test_data=test)
    scores = {r.method: r.metrics["hr_at_10"] for r in better.results}
    assert scores["item2vec"] > scores["previous"] and better.promoted
    assert "staging" in aliases and set(better.aliases) == set(aliases)  # every alias the updated version held
    assert str(client.get_model_version_by_alias(MODEL, "staging").version) == better.version
    assert mlflow.get_run(better.run_id).data.tags["update.promoted"] == "true"

    # day 2 with every item swapped for a random other, trained at a high rate for long: noise, worse
    known = list(Recommender.load(better.model_uri).trained_vectors.item_ids)
    swap = dict(zip(known, np.random.default_rng(0).permutation(known).tolist()))
    noise = read_playlists(days[1]).with_columns(pl.col("items").list.eval(pl.element().replace(swap)))
    noisy_day = tmp_path / "noise.txt"
    write_playlists(noise, noisy_day)
    before = _versions()
    with pytest.warns(DriftWarning, match="retrain from scratch"):  # noise moves nearly every top-10 list
        worse = update(f"models:/{MODEL}@staging", noisy_day, test_data=test,
                       overrides=["update.alpha_scale=1.0", "update.epochs=50", "update.replay_fraction=0"])
    scores = {r.method: r.metrics["hr_at_10"] for r in worse.results}
    assert scores["item2vec"] < scores["previous"] and not worse.promoted and worse.aliases == ()
    assert _versions() == before + 1  # registered, without the alias
    assert str(client.get_model_version_by_alias(MODEL, "staging").version) == better.version
    assert mlflow.get_run(worse.run_id).data.tags["update.promoted"] == "false"


def test_drift_past_the_threshold_warns(update_chain: Chain) -> None:
    uri = update_chain.updates[0].model_uri
    with pytest.warns(DriftWarning, match="2 updates since the last full training .* retrain from scratch"):
        result = update(uri, update_chain.days[1], overrides=["update.drift_warning=1.0",
                                                               "tracking.registered_model=update-drift"])
    assert result.chain_drift is not None and result.chain_drift.top10_overlap < 1.0
    assert result.lineage.chain == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", DriftWarning)
        update(uri, update_chain.days[1], overrides=["update.drift_warning=0.0",
                                                     "tracking.registered_model=update-drift"])


def test_cli_update_compared_with_a_full_retrain(update_chain: Chain, mlflow_store: str) -> None:
    workdir = update_chain.workdir
    result = _recsys("update", "--model", f"runs:/{update_chain.training_run_id}/model", "--data", "day1.txt",
                     "--old-data", "train.txt", "--compare-full", "--set", "tracking.registered_model=update-cli",
                     "--quiet", cwd=workdir, store=mlflow_store)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("run_id=")
    assert any(line.startswith("full retrain") for line in lines) and any(line.startswith("update ") for line in lines)
    assert any(line.startswith("model: runs:/") and "registered as update-cli version 1" in line for line in lines)
    run = mlflow.get_run(lines[-1].removeprefix("run_id="))
    metrics = run.data.metrics
    assert "full-retrain/hr_at_10" in metrics and metrics["update/full_retrain_seconds"] > 0
    assert run.data.tags["update.replay"] == "data"  # old sequences given: replayed from them
    assert metrics["update/n_replayed"] == round(0.5 * metrics["update/n_new_sequences"])


@pytest.mark.parametrize("context", ["forward", "symmetric"])
def test_a_model_directory_is_updated_by_either_training_path(update_chain: Chain, tmp_path: Path,
                                                              context: str) -> None:
    base = read_playlists(update_chain.workdir / "train.txt")
    config = Item2VecConfig(context=context, epochs=5, alpha=0.025 if context == "symmetric" else 0.1, sample=0,
                            vector_size=16, workers=1)
    train(base, config).save(tmp_path / "model")
    result = update(str(tmp_path / "model"), update_chain.days[0],
                    overrides=[f"tracking.registered_model=update-dir-{context}"])
    assert result.vectors.config == config and result.lineage.chain == 1 and result.lineage.parent_run_id is None
    assert result.new_items.trained and not result.new_items.cold  # no metadata: every new item trained
    assert result.replay == "none"  # no ranking stage to walk, no old data
    assert result.version == "1" and result.aliases == ()
    known = ItemVectors.load(tmp_path / "model").vocabulary
    assert set(update_chain.held_back) & set(result.new_items.trained)
    assert not any(item in known for item in result.new_items.trained)
    assert result.vectors.item_ids[: len(known)] == known.ids  # the model's rows first, the new items after


def _fails(*args: str) -> str:
    """``recsys update ARGS``: exit status 2 and one line, which is returned."""
    outcome = CliRunner().invoke(main, ["update", "--quiet", *args])
    assert outcome.exit_code == 2, outcome.output
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_bad_input_exits_2_and_registers_nothing(update_chain: Chain, tmp_path: Path) -> None:
    champion = f"models:/{MODEL}@champion"
    before, runs = _versions(), len(mlflow.search_runs(search_all_experiments=True))
    strangers = tmp_path / "strangers.txt"
    strangers.write_text("x1 x2 x3\nx2 x3 x4\nx3 x4 x5\nx4 x5 x6\n", encoding="utf-8")
    assert "none of the 6 items of the new data is in the model's catalogue" in _fails(
        "--model", champion, "--data", str(strangers))
    vectors = Recommender.load(champion).trained_vectors
    ItemVectors(vectors.item_ids, vectors.vectors, vectors.counts, vectors.config).save(tmp_path / "no-outputs")
    day = str(update_chain.days[0])
    assert "has no output vectors" in _fails("--model", str(tmp_path / "no-outputs"), "--data", day)
    assert "models:/nope@champion: cannot load model" in _fails("--model", "models:/nope@champion", "--data", day)
    assert "unknown option 'nope'" in _fails("--model", champion, "--data", day, "--set", "update.nope=1")
    assert "keeps the model's item2vec configuration" in _fails("--model", champion, "--data", day,
                                                                 "--set", "window=3")
    assert "give it (--old-data OLD)" in _fails("--model", champion, "--data", day, "--compare-full")
    assert _versions() == before and len(mlflow.search_runs(search_all_experiments=True)) == runs
    with pytest.raises(ConfigError, match="alpha_scale"):
        update(champion, day, overrides=["update.alpha_scale=0"])
