"""Automatic selection: a few candidate configurations trained and scored on a validation split.

The data-adaptive rules give a good starting point, but which context wins
(forward for strongly sequential data, symmetric for playlists and rating
histories) and how much training the data wants are best measured. The
training sequences are split once more (the test split never feeds the
choice); every candidate trains on a sample of the first part and answers
the next-item cases of the second under both relations, which share one
training. The sample is sized so that the candidates cost at most
``selection.budget`` times the final training (:func:`selection_parts`):
the same recipe on less data, whose winning options (context, relation,
learning-rate multiple, window) carry over to the final training on all
the data. The collapse guard removes degenerate candidates; the best
remaining one, by the selection score (by default the mean of HR@10 and
NDCG@10), is the configuration of the final training.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from recsys._beside import start_beside
from recsys.config import Item2VecConfig, Relation, SelectionConfig, SelectionMetric
from recsys.errors import TrainingDivergedError
from recsys.evaluation.baselines import PopularBaseline
from recsys.evaluation.cases import EvaluationCases, build_cases, train_validation_split
from recsys.evaluation.methods import Item2VecMethod
from recsys.evaluation.protocol import evaluate_method
from recsys.item2vec import ItemVectors, distance_weights, effective_workers, train, usable_cores
from recsys.selection._collapse import CollapseCheck, check_collapse
from recsys.selection._defaults import FORWARD_AMOUNT_FACTOR, MAX_ALPHA, resolve_defaults
from recsys.selection._stats import CorpusStats, corpus_stats

__all__ = [
    "FORWARD_PAIR_COST", "MIN_BUDGET", "Candidate", "Selection", "SelectionParts", "choose_config",
    "selection_parts", "selection_score", "training_cost", "validation_split",
]

MIN_VALIDATION_WORDS = 2_000
"""The validation part is raised (up to 30% of the sequences) until it holds this many items."""

WINDOW_STEPS = (2, 1)
"""Narrower forward windows the search tries, in order, while they help."""

MIN_SEQUENCES = 10
"""Fewer training sequences than this are too few to carve a validation split from:
the rules alone decide."""

MAX_VALIDATION_SEQUENCES = 5_000
"""The validation part holds at most this many sequences."""

MIN_BUDGET = 1.2e8
"""Pair updates the candidates may always cost, whatever ``selection.budget``: about 15 s of
gensim's symmetric training on two cores. On small data, where a multiple of a training of a
few seconds would leave too little data to choose on, the candidates keep the whole training
part and the search on the learning rate (it found the better rate on the sparse sessions,
the replayed albums and 2k short sessions of the robustness benchmark); large data gets its
multiple of the final training."""


AMOUNT_STEPS = (2.0, 0.5)
"""The learning-rate multipliers the search tries first on the winning context:
up, and if that does not help, down."""


@dataclass(frozen=True)
class Candidate:
    """One trained and validated candidate configuration."""

    name: str
    """``forward``, ``symmetric``, or a variant such as ``forward-x2``."""
    config: Item2VecConfig
    """Its configuration, every option set, ``relation`` the better of those tried."""
    metrics: dict[str, float]
    """Validation metrics of that relation at the headline cut-off."""
    scores: dict[str, float]
    """The selection score (:func:`selection_score`) of every relation tried."""
    train_seconds: float
    """Training time on the validation's training part."""
    collapse: CollapseCheck
    """The collapse guard's verdict."""
    cost: float = 0.0
    """Its training on the validation's training part, in trainings of the
    costlier context on all the training sequences (:func:`training_cost`)."""
    vectors: ItemVectors | None = field(default=None, compare=False, repr=False)
    """Its vectors, trained on the validation's training part: kept by the
    best candidate so far only (the ranking stage is fitted on them)."""

    @property
    def score(self) -> float:
        """The selection score of its relation."""
        return self.scores[self.config.relation or "next"]


@dataclass(frozen=True)
class Selection:
    """The configuration to train, and how it was chosen."""

    config: Item2VecConfig
    """Every option set."""
    stats: CorpusStats
    """Statistics of the training sequences the defaults were set from."""
    candidates: tuple[Candidate, ...] = ()
    """What was tried, in order (none without the automatic selection)."""
    chosen: Candidate | None = None
    """The winning candidate."""
    seconds: float = 0.0
    """Wall time of the selection."""
    spent: float = 0.0
    """What the candidates cost, in trainings of the costlier context on all
    the training sequences (at most :attr:`SelectionParts.budget`)."""
    note: str = ""
    """Why the selection was skipped, if it was."""
    parts: "SelectionParts | None" = field(default=None, compare=False, repr=False)
    """The validation split and the candidates' sample (None: too few sequences to split)."""

    @property
    def collapsed(self) -> bool:
        """Whether the chosen candidate failed the collapse guard (every candidate did)."""
        return self.chosen is not None and self.chosen.collapse.collapsed


def validation_split(
    train_sequences: pl.DataFrame, selection: SelectionConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Carve the validation part out of the training sequences.

    ``selection.validation_fraction`` of the sequences, raised (up to 30%)
    until it holds :data:`MIN_VALIDATION_WORDS` items, and at most
    :data:`MAX_VALIDATION_SEQUENCES` sequences.
    """
    n_words = int(train_sequences["items"].list.len().sum())
    fraction = max(selection.validation_fraction, min(0.3, MIN_VALIDATION_WORDS / max(n_words, 1)))
    fraction = min(fraction, MAX_VALIDATION_SEQUENCES / max(train_sequences.height, 1))
    return train_validation_split(train_sequences, validation_fraction=fraction, seed=selection.seed)


@dataclass(frozen=True, eq=False)
class SelectionParts:
    """The data the candidates train and are scored on, and what they may cost."""

    sample: pl.DataFrame
    """The candidates' training sequences: a seeded sample of :attr:`fit`."""
    fit: pl.DataFrame
    """The validation's training part: the training sequences but the validation ones."""
    validation: pl.DataFrame
    """The held-out validation sequences."""
    fraction: float
    """The share of the validation's training part in :attr:`sample`."""
    budget: float
    """What the candidates may cost, in final trainings (costlier context on all the sequences):
    ``selection.budget``, raised to :data:`MIN_BUDGET` pair updates on small data; 0 when
    ``selection.budget`` is 0 (the two contexts only, on a sample of :data:`MIN_BUDGET`)."""
    final_cost: float
    """The final training's estimated cost, in pair updates (:func:`training_cost`)."""

    @property
    def sample_words(self) -> int:
        """Items in the sample."""
        return int(self.sample["items"].list.len().sum())


def selection_parts(
    train_sequences: pl.DataFrame, configs: list[Item2VecConfig], stats: CorpusStats, selection: SelectionConfig
) -> SelectionParts:
    """Split off validation, and sample the rest so that the candidates fit the budget.

    The sample is sized so that the candidates ``configs`` (the contexts,
    whose choice matters most) cost at most ``selection.budget`` final
    trainings (at least :data:`MIN_BUDGET` pair updates), and holds at most
    ``selection.max_sample_items`` items; the search on the learning rate
    and the window runs on the same sample while the budget lasts (on small
    data, where :data:`MIN_BUDGET` leaves room for it).
    """
    fit, validation = validation_split(train_sequences, selection)
    fit_words = max(int(fit["items"].list.len().sum()), 1)
    final_cost = max(training_cost(c, stats.n_words) for c in configs)
    allowed = max(selection.budget * final_cost, MIN_BUDGET)
    planned = sum(training_cost(c, fit_words) for c in configs)
    fraction = min(1.0, allowed / planned, selection.max_sample_items / fit_words)
    sample = fit if fraction >= 1.0 else fit.sample(fraction=fraction, seed=selection.seed, shuffle=True).sort(
        "sequence_id")
    budget = allowed / final_cost if selection.budget > 0 else 0.0
    return SelectionParts(sample, fit, validation, min(fraction, 1.0), budget, final_cost)


def _candidates(config: Item2VecConfig, stats: CorpusStats) -> list[tuple[str, Item2VecConfig]]:
    contexts: list[Literal["symmetric", "forward"]] = [config.context] if config.context else ["forward", "symmetric"]
    return [(context, resolve_defaults(config.model_copy(update={"context": context}), stats)) for context in contexts]


def _with_alpha(
    config: Item2VecConfig, current: Candidate, factor: float, base_alpha: float
) -> tuple[str, Item2VecConfig]:
    """``current``'s configuration (the relation left to choose) at ``factor`` times its learning rate,
    named by its multiple of the rules' learning rate (``forward-x2``, ``symmetric-x0.5``)."""
    ceiling = MAX_ALPHA * (FORWARD_AMOUNT_FACTOR if current.config.context == "forward" else 1.0)
    alpha = min(current.config.alpha * factor, max(ceiling, current.config.alpha))
    name = f"{current.config.context}-x{alpha / base_alpha:g}"
    return name, current.config.model_copy(update={"relation": config.relation, "alpha": alpha})


class _Validator:
    """Scores trained vectors on the validation cases, under each relation."""

    def __init__(
        self, fit: pl.DataFrame, validation: pl.DataFrame, selection: SelectionConfig, k: int,
        relations: tuple[Relation, ...],
    ) -> None:
        self.cases: EvaluationCases = build_cases(validation, "next_item")
        self.relations = relations
        self.k = k
        self.selection = selection
        popular = evaluate_method(PopularBaseline().fit(fit), self.cases, ks=(k,))
        self.popular_hit_rate = popular.metrics[f"hr_at_{k}"]

    def score(self, name: str, config: Item2VecConfig, fit: pl.DataFrame) -> Candidate:
        started = time.perf_counter()
        try:
            vectors = train(fit, config)
        except TrainingDivergedError as error:
            return self._diverged(name, config, time.perf_counter() - started, str(error))
        seconds = time.perf_counter() - started
        relations = self.relations
        results = {
            relation: evaluate_method(
                Item2VecMethod.from_vectors(vectors, relation=relation), self.cases, ks=(self.k,),
                n_catalogue=len(vectors),
            )
            for relation in relations
        }
        checks = {
            relation: check_collapse(
                result.metrics, k=self.k, n_items=len(vectors), n_queries=len(self.cases) - result.n_unknown,
                popular_hit_rate=self.popular_hit_rate, min_coverage=self.selection.min_coverage,
                max_concentration=self.selection.max_concentration,
            )
            for relation, result in results.items()
        }
        scores = {r: selection_score(results[r].metrics, self.selection.metric, self.k) for r in relations}
        relation = max(relations, key=lambda r: (not checks[r].collapsed, scores[r]))
        return Candidate(
            name=name,
            config=vectors.config.model_copy(update={"relation": relation}),
            metrics=results[relation].metrics,
            scores=scores,
            train_seconds=seconds,
            collapse=checks[relation],
            vectors=vectors,
        )

    def _diverged(self, name: str, config: Item2VecConfig, seconds: float, reason: str) -> Candidate:
        """A candidate whose training diverged: no recommendations at all, flagged as collapsed."""
        metrics = {f"{m}_at_{self.k}": 0.0 for m in ("hr", "ndcg", "mrr", "precision", "recall", "coverage")}
        metrics[f"concentration_at_{self.k}"] = 1.0
        check = CollapseCheck(coverage=0.0, concentration=1.0, hit_rate=0.0,
                              popular_hit_rate=self.popular_hit_rate, reasons=(reason,))
        return Candidate(name=name, config=config.model_copy(update={"relation": config.relation or "next"}),
                         metrics=metrics, scores={r: 0.0 for r in self.relations}, train_seconds=seconds,
                         collapse=check)


FORWARD_PAIR_COST = 0.37
"""Time the forward kernel takes per trained pair, against gensim's per pair
(``python benchmarks/bench_directional.py``: 9.5x to 13.6x gensim's items per
second at window 5, where it trains 1.46 expected pairs per item and gensim
about 6)."""


def training_cost(config: Item2VecConfig, n_words: int) -> float:
    """The work of training ``config`` on ``n_words`` items, in gensim pair updates.

    Epochs times items times the pairs each item trains (gensim's shrunk
    symmetric window: ``window + 1`` on average; the forward context: the sum
    of its distance weights, at :data:`FORWARD_PAIR_COST`) times the
    ``negative + 1`` vectors each pair updates. The budget of the selection
    is counted in this work rather than in seconds, so that a busy machine
    does not change which candidates are tried.
    """
    if config.context == "forward":
        pairs = float(distance_weights(config.window).sum()) * FORWARD_PAIR_COST
    else:
        pairs = config.window + 1.0
    return float(config.epochs) * n_words * pairs * (config.negative + 1)


@dataclass
class _Trials:
    """Trains candidates and keeps them, within a budget of training work.

    ``cost`` gives a configuration's training on the validation's training
    part in trainings of the costlier context on all the training sequences.
    """

    run: Callable[[str, Item2VecConfig], Candidate]
    cost: Callable[[Item2VecConfig], float]
    candidates: list[Candidate]
    budget: float

    def affords(self, config: Item2VecConfig) -> bool:
        """Whether training ``config`` too keeps the candidates' cost within the budget."""
        return sum(c.cost for c in self.candidates) + self.cost(config) <= self.budget


def _search_alpha(config: Item2VecConfig, base: Candidate, trials: _Trials) -> None:
    """Line search on the winning context's learning rate (the training amount), within the budget.

    Doubles it while that helps; if doubling does not help at once, halves
    it instead, while that helps. Each step costs about one candidate training.
    """
    best = base
    for factor in AMOUNT_STEPS:
        current = best
        while True:
            name, candidate_config = _with_alpha(config, current, factor, base.config.alpha)
            if candidate_config.alpha == current.config.alpha or not trials.affords(candidate_config):
                break
            candidate = trials.run(name, candidate_config)
            if _best([best, candidate]) is not candidate:
                break
            best = current = candidate
        if best is not base:
            return


def _search_window(config: Item2VecConfig, base: Candidate, trials: _Trials) -> None:
    """Narrow the forward window (5, 2, 1) while that helps, within the budget.

    Where the next item is nearly certain (albums replayed in order), the
    items two or more steps on blur the ranking of the very next one:
    validation NDCG@10 on replayed albums 0.6974 with 5 steps, 0.7222 with
    2, 0.7296 with 1. A narrower window also trains faster.
    """
    current = base
    for window in WINDOW_STEPS:
        narrower = current.config.model_copy(update={"relation": config.relation, "window": window})
        if window >= current.config.window or not trials.affords(narrower):
            continue
        candidate = trials.run(f"{current.name}-w{window}", narrower)
        if _best([current, candidate]) is not candidate:
            return
        current = candidate


def _score_contexts(
    validator: _Validator, configs: list[tuple[str, Item2VecConfig]], fit: pl.DataFrame,
    on_scored: Callable[[Candidate, Item2VecConfig], Candidate],
) -> list[Candidate]:
    """Score the contexts' candidates (name, configuration) on ``fit``; they come back in ``configs``' order.

    Side by side where each trains on one thread and there is a core for
    each (a run pinned to one worker so that it repeats, as the demo is,
    would leave the other cores idle), else one after another; a candidate
    is the same either way. ``on_scored`` gets each once scored, the
    costliest first (:func:`training_cost`: gensim's symmetric training,
    whose cost is the best known, so that a progress bar's first estimate
    of the time left is a good one), and returns what is kept of it. In
    turn, each is handed over before the next trains; side by side, once
    all are scored: the last trains in this thread, the others beside it
    (:func:`~recsys._beside.start_beside`).
    """
    costliest_first = sorted(range(len(configs)), key=lambda i: -training_cost(configs[i][1], 1))
    alone = [effective_workers(candidate_config) == 1 for _name, candidate_config in configs]
    if len(configs) < 2 or not all(alone) or usable_cores() < len(configs):
        scored = {i: on_scored(validator.score(*configs[i], fit), configs[i][1]) for i in costliest_first}
    else:
        others = [start_beside(lambda named=named: validator.score(*named, fit), name=f"candidate-{named[0]}")
                  for named in configs[:-1]]
        last = validator.score(*configs[-1], fit)
        done = [*(wait() for wait in others), last]
        scored = {i: on_scored(done[i], configs[i][1]) for i in costliest_first}
    return [scored[i] for i in range(len(configs))]


def _best(candidates: list[Candidate]) -> Candidate:
    """The best candidate that did not collapse (the best of all if every one did)."""
    return max(candidates, key=lambda c: (not c.collapse.collapsed, c.score))


def selection_score(metrics: dict[str, float], metric: SelectionMetric, k: int) -> float:
    """The value candidates are ranked by: one metric at ``k``, or the mean of HR and NDCG (``hr+ndcg``)."""
    if metric == "hr+ndcg":
        return (metrics[f"hr_at_{k}"] + metrics[f"ndcg_at_{k}"]) / 2
    return metrics[f"{metric}_at_{k}"]


def choose_config(
    train_sequences: pl.DataFrame,
    config: Item2VecConfig,
    selection: SelectionConfig,
    *,
    k: int = 10,
    on_candidate: Callable[[Candidate], None] | None = None,
    on_plan: Callable[[float, float], None] | None = None,
) -> Selection:
    """Resolve the item2vec configuration for a training run.

    Without ``selection.auto``, the options left unset are filled by the
    data-adaptive rules (:func:`resolve_defaults`). With it, the forward and
    symmetric contexts (or the one set) are trained on a sample of a
    validation split's training part (:func:`selection_parts`) and scored
    under both relations (or the one set); the winning context is tried
    with its learning rate doubled and halved (and a forward winner with a
    narrower window) while the candidates' training work stays within the
    budget (``selection.budget`` final trainings, :func:`training_cost`);
    the best candidate that passes the collapse guard wins. Either way the
    result carries the split and the sample (:attr:`Selection.parts`), on
    which the ranking stage is fitted.

    Parameters
    ----------
    train_sequences
        The training sequences (the test split is never seen here).
    config
        The requested configuration; its set options are kept by every candidate.
    selection
        Switch, budget, validation split, metric and collapse thresholds.
    k
        The cut-off of the metric.
    on_candidate
        Called with every candidate once scored (progress output): the
        contexts' the costlier first, then the searches' in their order.
    on_plan
        Called once the split is made (before the first candidate trains)
        with the work the candidates may cost, in final trainings (the
        budget, or what the contexts cost where that is more, as on a budget
        of 0; 0 without the automatic selection), and the final training's
        estimated cost in pair updates (:func:`training_cost`): what a
        progress bar plans for.

    Returns
    -------
    Selection
    """
    started = time.perf_counter()
    stats = corpus_stats(train_sequences)
    base_configs = _candidates(config, stats)
    if train_sequences.height < MIN_SEQUENCES:
        return Selection(
            config=resolve_defaults(config, stats), stats=stats,
            note=f"too few sequences ({train_sequences.height}, under {MIN_SEQUENCES}) for a validation split",
        )
    if not selection.auto:
        resolved = resolve_defaults(config, stats)
        parts = selection_parts(train_sequences, [resolved], stats, selection)
        if on_plan is not None:
            on_plan(0.0, parts.final_cost)
        return Selection(config=resolved, stats=stats, note="automatic selection is off", parts=parts)
    parts = selection_parts(train_sequences, [c for _name, c in base_configs], stats, selection)
    relations: tuple[Relation, ...] = (config.relation,) if config.relation else ("next", "similar")
    validator = _Validator(parts.sample, parts.validation, selection, k, relations)
    candidates: list[Candidate] = []

    def cost(candidate_config: Item2VecConfig) -> float:
        return training_cost(candidate_config, parts.sample_words) / parts.final_cost

    def priced(candidate: Candidate, candidate_config: Item2VecConfig) -> Candidate:
        candidate = dataclasses.replace(candidate, cost=cost(candidate_config))
        if on_candidate is not None:
            on_candidate(candidate)
        return candidate

    def keep(candidate: Candidate) -> Candidate:
        candidates.append(candidate)
        best = _best(candidates)
        candidates[:] = [c if c is best or c.vectors is None else dataclasses.replace(c, vectors=None)
                         for c in candidates]
        return candidate

    def run(name: str, candidate_config: Item2VecConfig) -> Candidate:
        return keep(priced(validator.score(name, candidate_config, parts.sample), candidate_config))

    if on_plan is not None:
        on_plan(max(parts.budget, sum(cost(c) for _name, c in base_configs)), parts.final_cost)
    trials = _Trials(run, cost, candidates, budget=parts.budget)
    for candidate in _score_contexts(validator, base_configs, parts.sample, on_scored=priced):
        keep(candidate)
    if config.alpha is None:
        _search_alpha(config, _best(candidates), trials)
    best = _best(candidates)
    if best.config.context == "forward" and "window" not in config.model_fields_set:
        _search_window(config, best, trials)
    chosen = _best(candidates)
    return Selection(
        config=chosen.config,
        stats=stats,
        candidates=tuple(candidates),
        chosen=chosen,
        seconds=time.perf_counter() - started,
        spent=sum(c.cost for c in candidates),
        parts=parts,
    )
