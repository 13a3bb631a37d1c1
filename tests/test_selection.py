"""Choosing item2vec's configuration: corpus statistics, data-adaptive defaults, the collapse guard, the selection."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import polars as pl
import pytest

from recsys import train
from recsys.config import Item2VecConfig, RankingConfig, SelectionConfig
from recsys.data.synthetic import SynthConfig, generate_playlists
from recsys.data.synthetic_replay import ReplayConfig, generate_replays
from recsys.item2vec import ADAPTIVE_OPTIONS
from recsys.selection import (
    Candidate,
    CorpusStats,
    check_collapse,
    choose_config,
    corpus_stats,
    fit_ranking_stage,
    resolve_defaults,
    selection_parts,
    validation_split,
)
from recsys.selection._defaults import BASE_ALPHA, FORWARD_AMOUNT_FACTOR, MAX_ALPHA
from recsys.selection import _ranking, _select
from recsys.selection._select import FORWARD_PAIR_COST, MIN_BUDGET, _best, training_cost


def _frame(rows: list[list[str]]) -> pl.DataFrame:
    return pl.DataFrame({"sequence_id": [f"s{i}" for i in range(len(rows))], "items": rows})


def _stats(**overrides: float) -> CorpusStats:
    base = dict(n_sequences=1000, n_words=20_000, n_items=1000, mean_length=5.0, occurrences_per_item=20.0,
                pairs_per_item=100.0, singleton_share=0.1, successor_share=0.2)
    return CorpusStats(**{**base, **overrides})  # type: ignore[arg-type]


# ------------------------------------------------------------------ statistics
def test_corpus_stats_count_what_they_say() -> None:
    stats = corpus_stats(_frame([["a", "b", "c"], ["a", "b"], ["b", "a", "a", "d"]]))
    assert (stats.n_sequences, stats.n_words, stats.n_items) == (3, 9, 4)
    assert stats.mean_length == 3.0 and stats.occurrences_per_item == 9 / 4
    assert stats.singleton_share == 0.5  # c and d
    # transitions (a->a is a repeat, not a transition): a->b twice, a->d once; b->c, b->a once each.
    # Items with two or more: a (top 2 of 3) and b (top 1 of 2): (2 + 1) / (3 + 2)
    assert stats.successor_share == pytest.approx(3 / 5)
    # window-5 pairs, weighted 1, .8, .6 ... by distance: lengths 3, 2, 4
    pairs = sum(2 * max(n - d, 0) * (6 - d) / 5 for n in (3, 2, 4) for d in range(1, 6))
    assert stats.pairs_per_item == pytest.approx(pairs / 4)


def test_replayed_albums_are_sequential_and_playlists_are_not() -> None:
    replays = corpus_stats(generate_replays(ReplayConfig(n_listeners=3))[0])
    playlists = corpus_stats(generate_playlists(SynthConfig(n_playlists=300))[0])
    assert replays.successor_share > 0.6 > 0.3 > playlists.successor_share


# --------------------------------------------------------------------- defaults
def test_dense_corpora_keep_word2vecs_defaults() -> None:
    config = resolve_defaults(Item2VecConfig(), _stats(pairs_per_item=400.0))
    assert (config.context, config.epochs, config.alpha, config.sample, config.relation) == (
        "symmetric", 20, BASE_ALPHA, 0.0, "next")


def test_sparse_corpora_train_longer_and_faster() -> None:
    sparse = resolve_defaults(Item2VecConfig(), _stats(n_words=5_000, pairs_per_item=10.0))
    assert sparse.epochs == 100
    assert sparse.alpha == pytest.approx(5.0 / 100)
    big_sparse = resolve_defaults(Item2VecConfig(), _stats(n_words=2_000_000, pairs_per_item=10.0))
    assert big_sparse.epochs == 20 and big_sparse.alpha == MAX_ALPHA  # epochs cost too much there: a higher rate
    assert big_sparse.sample == 1e-3


def test_long_sequences_keep_word2vecs_amount_however_sparse() -> None:
    config = resolve_defaults(Item2VecConfig(), _stats(n_words=5_000, pairs_per_item=10.0, mean_length=150.0))
    assert (config.epochs, config.alpha) == (20, BASE_ALPHA)


def test_sequential_corpora_get_the_forward_context_at_a_higher_rate() -> None:
    config = resolve_defaults(Item2VecConfig(), _stats(successor_share=0.8, pairs_per_item=400.0))
    assert config.context == "forward" and config.alpha == pytest.approx(FORWARD_AMOUNT_FACTOR * BASE_ALPHA)


def test_options_the_user_set_are_kept() -> None:
    asked = Item2VecConfig(context="symmetric", epochs=7, alpha=0.3, sample=1e-4, relation="similar")
    assert resolve_defaults(asked, _stats(successor_share=0.9, pairs_per_item=5.0)) == asked
    only_epochs = resolve_defaults(Item2VecConfig(epochs=200), _stats(pairs_per_item=10.0))
    assert only_epochs.epochs == 200 and only_epochs.alpha == BASE_ALPHA  # 5 / 200 is below the base rate


def test_training_fills_unset_options_and_saves_them() -> None:
    sequences = generate_replays(ReplayConfig(n_listeners=2, sessions_per_listener=20))[0]
    vectors = train(sequences, Item2VecConfig(vector_size=8, workers=1))
    assert all(getattr(vectors.config, name) is not None for name in ADAPTIVE_OPTIONS)
    assert vectors.config == resolve_defaults(Item2VecConfig(vector_size=8, workers=1), corpus_stats(sequences))


# ---------------------------------------------------------------- collapse guard
def test_the_same_list_for_everyone_is_a_collapse() -> None:
    metrics = {"hr_at_10": 0.06, "coverage_at_10": 10 / 5000, "concentration_at_10": 1.0}
    check = check_collapse(metrics, k=10, n_items=5000, n_queries=400, popular_hit_rate=0.05)
    assert check.collapsed and len(check.reasons) == 2
    assert "fill 100%" in check.reasons[1]


def test_losing_to_popularity_is_a_collapse() -> None:
    metrics = {"hr_at_10": 0.02, "coverage_at_10": 0.4, "concentration_at_10": 0.1}
    check = check_collapse(metrics, k=10, n_items=1000, n_queries=400, popular_hit_rate=0.06)
    assert check.collapsed and check.reasons == ("HR@10 0.0200 is below the most-popular ranking's 0.0600",)


def test_a_healthy_model_passes_and_coverage_counts_what_the_lists_can_hold() -> None:
    # 20 queries x 10 slots can show at most 200 of 100,000 items: showing 150 of them is not a collapse
    metrics = {"hr_at_10": 0.3, "coverage_at_10": 150 / 100_000, "concentration_at_10": 0.12}
    check = check_collapse(metrics, k=10, n_items=100_000, n_queries=20, popular_hit_rate=0.05)
    assert not check.collapsed and check.coverage == pytest.approx(0.75)


def _candidate(name: str, ndcg: float, collapsed: bool) -> Candidate:
    check = check_collapse({"hr_at_10": 0.2, "coverage_at_10": 0.5, "concentration_at_10": 0.9 if collapsed else 0.1},
                           k=10, n_items=100, n_queries=100, popular_hit_rate=0.0)
    return Candidate(name=name, config=Item2VecConfig(relation="next"), metrics={"ndcg_at_10": ndcg},
                     scores={"next": ndcg}, train_seconds=1.0, collapse=check)


def test_a_collapsed_candidate_is_never_chosen_over_a_healthy_one() -> None:
    assert _best([_candidate("a", 0.30, True), _candidate("b", 0.10, False)]).name == "b"
    assert _best([_candidate("a", 0.30, True), _candidate("b", 0.10, True)]).name == "a"


# --------------------------------------------------------------------- selection
@pytest.fixture(scope="module")
def replays() -> pl.DataFrame:
    return generate_replays(ReplayConfig(n_listeners=6, sessions_per_listener=50, n_albums=80, seed=4))[0]


def test_selection_picks_the_forward_context_for_replayed_albums(replays: pl.DataFrame) -> None:
    seen: list[Candidate] = []
    plans: list[tuple[float, float, int]] = []
    selection = choose_config(replays, Item2VecConfig(vector_size=16, workers=1), SelectionConfig(),
                              on_candidate=seen.append, on_plan=lambda work, cost: plans.append((work, cost, len(seen))))
    assert [c.name for c in seen[:2]] == ["symmetric", "forward"]  # reported the costlier first
    assert selection.candidates == (seen[1], seen[0], *seen[2:]) and selection.chosen in seen  # kept in order
    assert selection.config.context == "forward" and selection.config == selection.chosen.config
    assert all(set(c.scores) == {"next", "similar"} for c in seen)
    best = max((c for c in seen if not c.collapse.collapsed),
               key=lambda c: (c.metrics["hr_at_10"] + c.metrics["ndcg_at_10"]) / 2)
    assert selection.chosen is best
    # the searches on the learning rate and the window name each step (forward-x0.5, forward-x0.5-w2)
    assert all(c.name.startswith("forward") for c in seen if c.name != "symmetric")
    windows = [c.config.window for c in seen]
    assert windows[0] == 5 and all(w in (5, 2, 1) for w in windows)
    # the replayed albums are small: the budget is the floor of pair updates, not 0.1 of a training
    assert selection.parts is not None
    assert SelectionConfig().budget == 0.1
    assert selection.parts.budget == pytest.approx(max(0.1, MIN_BUDGET / selection.parts.final_cost))
    assert selection.parts.budget > 0.1
    assert selection.seconds > 0 and 0 < selection.spent <= selection.parts.budget
    assert selection.spent == pytest.approx(sum(c.cost for c in seen))
    # a progress bar learns the work planned once, before the first candidate: the budget it may spend
    assert plans == [(pytest.approx(selection.parts.budget), selection.parts.final_cost, 0)]


def test_set_options_limit_the_candidates(replays: pl.DataFrame) -> None:
    config = Item2VecConfig(vector_size=16, workers=1, context="symmetric", alpha=0.05, relation="next")
    selection = choose_config(replays, config, SelectionConfig())
    assert [c.name for c in selection.candidates] == ["symmetric"]  # nothing left to choose but the relation
    assert set(selection.candidates[0].scores) == {"next"}
    assert selection.config.alpha == 0.05


def test_no_budget_tries_only_the_two_contexts(replays: pl.DataFrame) -> None:
    plans: list[float] = []
    selection = choose_config(replays, Item2VecConfig(vector_size=16, workers=1), SelectionConfig(budget=0.0),
                              on_plan=lambda work, _cost: plans.append(work))
    assert [c.name for c in selection.candidates] == ["forward", "symmetric"]
    assert selection.parts is not None and selection.parts.budget == 0.0
    assert plans == [pytest.approx(selection.spent)]  # no budget: the plan is the two contexts' cost


def test_pinned_to_one_worker_the_contexts_train_side_by_side_and_are_the_same(
    replays: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans: dict[str, tuple[float, float]] = {}
    real_train = _select.train

    def timed(fit: pl.DataFrame, config: Item2VecConfig) -> object:
        started = time.perf_counter()
        vectors = real_train(fit, config)
        spans.setdefault(str(config.context), (started, time.perf_counter()))
        return vectors

    monkeypatch.setattr(_select, "train", timed)
    monkeypatch.setattr(_select, "usable_cores", lambda: 2)
    config, no_search = Item2VecConfig(vector_size=16, workers=1), SelectionConfig(budget=0.0)
    reported: list[str] = []
    side_by_side = choose_config(replays, config, no_search, on_candidate=lambda c: reported.append(c.name))
    assert reported == ["symmetric", "forward"]  # the costlier first, whose cost a progress bar knows best
    (forward_start, forward_end), (symmetric_start, symmetric_end) = spans["forward"], spans["symmetric"]
    assert max(forward_start, symmetric_start) < min(forward_end, symmetric_end)  # both were training at once
    spans.clear()
    monkeypatch.setattr(_select, "usable_cores", lambda: 1)  # one core: one after the other
    finished: dict[str, float] = {}
    in_turn = choose_config(replays, config, no_search,
                            on_candidate=lambda candidate: finished.setdefault(candidate.name, time.perf_counter()))
    # the costlier (gensim's symmetric training) first, and reported before the next starts: a progress
    # bar's first estimate of the time left comes from the best-known cost
    assert spans["symmetric"][1] <= finished["symmetric"] <= spans["forward"][0]
    assert [c.name for c in side_by_side.candidates] == [c.name for c in in_turn.candidates] == ["forward", "symmetric"]
    assert [c.scores for c in side_by_side.candidates] == [c.scores for c in in_turn.candidates]
    assert side_by_side.chosen is not None and in_turn.chosen is not None
    assert side_by_side.chosen.vectors is not None and in_turn.chosen.vectors is not None
    np.testing.assert_array_equal(side_by_side.chosen.vectors.vectors, in_turn.chosen.vectors.vectors)


def test_a_failing_candidate_beside_another_fails_the_selection(
    replays: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_train = _select.train

    def broken_forward(fit: pl.DataFrame, config: Item2VecConfig) -> object:
        if config.context == "forward":  # trained in the side thread
            raise MemoryError("no room for the forward candidate")
        return real_train(fit, config)

    monkeypatch.setattr(_select, "train", broken_forward)
    monkeypatch.setattr(_select, "usable_cores", lambda: 2)
    with pytest.raises(MemoryError, match="forward candidate"):
        choose_config(replays, Item2VecConfig(vector_size=16, workers=1), SelectionConfig(budget=0.0))


def test_the_budget_counts_training_work_so_choices_repeat(replays: pl.DataFrame) -> None:
    config = Item2VecConfig(vector_size=16, workers=1)
    first = choose_config(replays, config, SelectionConfig(budget=1.5))
    again = choose_config(replays, config, SelectionConfig(budget=1.5))
    assert [c.name for c in first.candidates] == [c.name for c in again.candidates]
    assert first.config == again.config and first.spent <= 1.5


def test_the_candidates_sample_fits_the_budget_and_the_item_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    sequences = generate_playlists(SynthConfig(n_playlists=600))[0]
    stats = corpus_stats(sequences)
    configs = [resolve_defaults(Item2VecConfig(context=c), stats) for c in ("forward", "symmetric")]
    whole = selection_parts(sequences, configs, stats, SelectionConfig())
    assert whole.fraction == 1.0 and whole.budget > 0.1  # small data: the floor keeps it all
    monkeypatch.setattr(_select, "MIN_BUDGET", 0.0)
    for selection in (SelectionConfig(budget=0.25), SelectionConfig(max_sample_items=2_000)):
        parts = selection_parts(sequences, configs, stats, selection)
        fit, validation = validation_split(sequences, selection)
        assert 0 < parts.fraction < 1 and parts.validation.equals(validation) and parts.fit.equals(fit)
        assert set(parts.sample["sequence_id"]) <= set(fit["sequence_id"])
        assert parts.sample["sequence_id"].is_sorted()
        spent = sum(training_cost(c, parts.sample_words) for c in configs) / parts.final_cost
        assert spent <= selection.budget * 1.1  # a sample of sequences, not of items: about the budget
        assert parts.sample_words <= selection.max_sample_items * 1.1
    assert selection_parts(sequences, configs, stats, SelectionConfig(budget=0.0)).budget == 0.0


def test_the_ranking_stage_counts_its_evidence_on_the_whole_training_part(monkeypatch: pytest.MonkeyPatch) -> None:
    sequences = generate_playlists(SynthConfig(n_playlists=600))[0]
    monkeypatch.setattr(_select, "MIN_BUDGET", 0.0)
    selection_config = SelectionConfig(budget=0.25)
    selection = choose_config(sequences, Item2VecConfig(epochs=2, vector_size=16, workers=1), selection_config)
    parts = selection.parts
    assert parts is not None and parts.sample.height < parts.fit.height
    seen: dict[str, pl.DataFrame] = {}
    fit_ranking = _ranking.fit_ranking

    def spy(vectors, fit, validation, config, **options):  # type: ignore[no-untyped-def]
        seen["fit"] = fit
        return fit_ranking(vectors, fit, validation, config, **options)

    monkeypatch.setattr(_ranking, "fit_ranking", spy)
    fitted = fit_ranking_stage(sequences, selection, RankingConfig(max_cases=200), selection_config)
    assert seen["fit"].equals(parts.fit)  # the vectors are the sample's; the evidence is all of the part's
    assert set(fitted.defaults) == {"item", "session"}


def test_training_cost_follows_epochs_items_and_pairs() -> None:
    symmetric = Item2VecConfig(context="symmetric", epochs=20, window=5, negative=10)
    assert training_cost(symmetric, 1000) == pytest.approx(20 * 1000 * 6 * 11)
    assert training_cost(symmetric.model_copy(update={"epochs": 40}), 1000) == 2 * training_cost(symmetric, 1000)
    forward = symmetric.model_copy(update={"context": "forward"})
    assert training_cost(forward, 1000) == pytest.approx(
        20 * 1000 * (1 + 1 / 4 + 1 / 9 + 1 / 16 + 1 / 25) * FORWARD_PAIR_COST * 11)


def test_without_auto_the_rules_decide_and_nothing_trains(replays: pl.DataFrame) -> None:
    plans: list[tuple[float, float]] = []
    selection = choose_config(replays, Item2VecConfig(), SelectionConfig(auto=False),
                              on_plan=lambda work, cost: plans.append((work, cost)))
    assert selection.candidates == () and selection.chosen is None
    assert selection.parts is not None and plans == [(0.0, selection.parts.final_cost)]  # nothing to train first
    assert selection.config == resolve_defaults(Item2VecConfig(), corpus_stats(replays))
    assert selection.config.context == "forward"  # replays are strongly sequential
    assert "off" in selection.note


def test_too_little_data_for_a_validation_split_falls_back_to_the_rules() -> None:
    selection = choose_config(_frame([["a", "b"]]), Item2VecConfig(), SelectionConfig())
    assert selection.chosen is None and "too few sequences" in selection.note


def test_validation_split_grows_on_small_data_and_is_capped_on_large() -> None:
    small = _frame([[f"i{j}", f"i{j + 1}"] for j in range(100)])
    fit, validation = validation_split(small, SelectionConfig(validation_fraction=0.1))
    assert validation.height == 30 and fit.height == 70  # 10% would hold 20 items: raised to 30%
    large = _frame([["a", "b"]] * 100_000)
    _fit, validation = validation_split(large, SelectionConfig())
    assert validation.height == 5000
    assert dataclasses.is_dataclass(corpus_stats(small))
    assert np.isclose(corpus_stats(small).occurrences_per_item, 200 / 101)
