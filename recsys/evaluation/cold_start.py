"""The cold-start protocol: how well items nobody has played are served from their metadata.

A random share of the training items (with metadata) is made cold: every
occurrence is removed from the training sequences. item2vec is trained on
what remains, the metadata mapper is fitted on its warm items, and the cold
items get vectors from their metadata. Next-item test cases are then split
into those whose **query** is cold, those whose **target** is cold, and the
rest (neither), and scored by:

* ``popular``: the most played items (a cold item is never played, so never
  recommended);
* ``metadata-knn``: cosine similarity of the mapper's own features. Items
  with equal cosines (many: the same artist, the same genre) come in
  catalogue order, which is by plays, so it is in effect "the most played
  items with metadata like it";
* ``coldstart-similar`` / ``coldstart-next``: item2vec trained without the
  cold items, the cold items' vectors from their metadata; a cold query's
  "next" ranked as the recommender ranks it (:class:`ColdQueriesRanked`);
* ``warm-similar`` / ``warm-next``: the upper bound, item2vec trained on all
  training sequences (the cold items included, as usual).

Further reference methods may be passed in (``references``): on the
synthetic data, the generator's own next-track probabilities
(:func:`recsys.data.synthetic.planted_next_counts`), the most any method
can reach on a case that shows only its query.

Every method has the same catalogue (every training item) and answers the
same cases. The ``neither`` column shows what the cold items cost the warm
ones (cold items take places in their top-10 lists).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recsys.coldstart import ColdStart, MapperReport, MetadataMapper
from recsys.coldstart.features import choose_roles, empty_rows
from recsys.coldstart.ranker import ColdNextScorer
from recsys.config import Item2VecConfig, PipelineConfig
from recsys.errors import DataError
from recsys.evaluation.baselines import PopularBaseline
from recsys.evaluation.cases import EvaluationCases, build_cases
from recsys.evaluation.methods import Item2VecMethod, Method
from recsys.evaluation.metrics import bootstrap_difference
from recsys.evaluation.protocol import MethodResult, evaluate_method
from recsys.item2vec import ItemVectors, train

__all__ = ["ColdQueriesRanked", "ColdStartReport", "MetadataKNN", "cold_items", "evaluate_cold_start", "SUBSETS"]

SUBSETS = ("cold query", "cold target", "neither")
"""The case subsets of the protocol, in table order."""


class MetadataKNN(Method):
    """Items whose metadata features are most similar (cosine); equal cosines in catalogue order (by plays)."""

    name = "metadata-knn"

    def __init__(self, item_ids: tuple[str, ...], features: sp.csr_matrix) -> None:
        self.item_ids_ = item_ids
        self._unit = normalize(features.tocsr().astype(np.float32))

    def fit(self, train_sequences: pl.DataFrame) -> "MetadataKNN":
        return self

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        return np.asarray((self._unit[query_rows] @ self._unit.T).todense(), dtype=np.float32)


class ColdQueriesRanked(Method):
    """item2vec "next" whose cold queries are ranked as :class:`~recsys.recommender.Recommender` ranks them.

    Warm queries keep the dot product of vectors; a cold query is ranked by
    its cold start's :class:`~recsys.coldstart.ranker.ColdNextScorer`
    (None: by the dot product too).
    """

    name = "coldstart-next"

    def __init__(self, method: Item2VecMethod, scorer: ColdNextScorer | None) -> None:
        self.method = method
        self.scorer = scorer
        self.item_ids_ = method.item_ids_

    def fit(self, train_sequences: pl.DataFrame) -> "ColdQueriesRanked":
        return self

    def score(self, query_rows: np.ndarray) -> np.ndarray:
        scores = self.method.score(query_rows)
        if self.scorer is not None:
            cold = self.scorer.cold[query_rows]
            if cold.any():
                scores[cold] = self.scorer.score(query_rows[cold])
        return scores


@dataclass(frozen=True)
class ColdStartReport:
    """The cold-start protocol on one dataset."""

    dataset: str
    n_items: int
    """Training items (the catalogue of every method)."""
    n_cold: int
    """Of them, made cold."""
    results: dict[str, list[MethodResult]]
    """Results by subset (:data:`SUBSETS`), methods in table order."""
    mapper: MapperReport
    """The mapper's fit on the warm items."""
    seconds: float
    n_resamples: int
    seed: int

    def metric(self, subset: str, method: str, name: str) -> float:
        """One metric (``hr_at_10``...) of one method on one subset."""
        return next(r for r in self.results[subset] if r.method == method).metrics[name]

    def kept(self, subset: str, relation: str, name: str = "hr_at_10") -> float:
        """The share of the warm model's ``name`` the cold-start model keeps on ``subset`` (NaN if the warm one is 0)."""
        warm = self.metric(subset, f"warm-{relation}", name)
        return self.metric(subset, f"coldstart-{relation}", name) / warm if warm else float("nan")

    def metrics(self, prefix: str = "cold_start/") -> dict[str, float]:
        """Flat metrics for MLflow: ``cold_start/cold_query.coldstart-next.hr_at_10``..."""
        flat = {f"{prefix}n_cold_items": float(self.n_cold)}
        for subset, results in self.results.items():
            key = subset.replace(" ", "_")
            for result in results:
                flat.update({f"{prefix}{key}.{result.method}.{m}": v for m, v in result.metrics.items()})
                flat[f"{prefix}{key}.n_cases"] = float(result.n_pairs)
        return flat

    def to_markdown(self, *, k: int = 10) -> str:
        """The protocol's table: HR@k and NDCG@k of every method on every subset, and what cold items keep."""
        first = {subset: results[0] for subset, results in self.results.items()}
        header = "| method | " + " | ".join(f"{s}: HR@{k} | {s}: NDCG@{k}" for s in self.results) + " |"
        lines = [
            f"**cold start** ({self.dataset}): {self.n_cold:,} of {self.n_items:,} training items made cold "
            f"(every occurrence removed from training), vectors from their metadata; next-item cases: "
            + ", ".join(f"{s} {first[s].n_pairs:,}" for s in self.results) + ".",
            f"Mapper (held-out warm items): {self.mapper.summary()}.",
            "",
            header,
            "|" + "---|" * (header.count("|") - 1),
        ]
        methods = [r.method for r in next(iter(self.results.values()))]
        for method in methods:
            cells = []
            for subset in self.results:
                m = next(r for r in self.results[subset] if r.method == method).metrics
                cells += [_cell(m, "hr", k), _cell(m, "ndcg", k)]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        kept = "; ".join(
            f"{relation}: " + ", ".join(f"{s} {self.kept(s, relation, f'hr_at_{k}'):.0%}" for s in SUBSETS[:2])
            for relation in ("next", "similar")
        )
        lines += ["", f"Share of the warm model's HR@{k} the cold items keep: {kept}.", "",
                  "Paired bootstrap, NDCG@{k} of coldstart-next minus each baseline: ".format(k=k)
                  + self._verdicts(k) + "."]
        return "\n".join(lines) + "\n"

    def _verdicts(self, k: int) -> str:
        """coldstart-next against popular and metadata-knn on the cold subsets, with 95% intervals."""
        parts = []
        for subset in SUBSETS[:2]:
            results = {r.method: r for r in self.results[subset]}
            for baseline in ("popular", "metadata-knn"):
                diff, low, high = bootstrap_difference(
                    results["coldstart-next"].ranks, results[baseline].ranks, k,
                    n_resamples=max(self.n_resamples, 1), seed=self.seed,
                )
                parts.append(f"{subset} vs {baseline} {diff:+.4f} [{low:+.4f}, {high:+.4f}]")
        return "; ".join(parts)


def _cell(metrics: dict[str, float], name: str, k: int) -> str:
    value = f"{metrics[f'{name}_at_{k}']:.4f}"
    low = metrics.get(f"{name}_at_{k}_ci_low")
    return value if low is None else f"{value} [{low:.4f}, {metrics[f'{name}_at_{k}_ci_high']:.4f}]"


def _subset(cases: EvaluationCases, mask: np.ndarray, name: str) -> EvaluationCases:
    index = np.flatnonzero(mask)
    return dataclasses.replace(
        cases, protocol=f"next_item/{name}", begin=cases.begin[index], end=cases.end[index],
        sequence_ids=cases.sequence_ids[index], positions=cases.positions[index],
    )


def cold_items(config: PipelineConfig, train_sequences: pl.DataFrame, metadata: pl.DataFrame) -> list[str]:
    """The items :func:`evaluate_cold_start` makes cold: a seeded random share of the training items with metadata.

    Parameters
    ----------
    config
        The pipeline configuration (``cold_start.evaluation_fraction``,
        ``cold_start.seed``, ``cold_start.columns``).
    train_sequences
        The training sequences.
    metadata
        The items' metadata.

    Returns
    -------
    list of str
        Sorted item ids.

    Raises
    ------
    DataError
        If too few training items have metadata.
    """
    items = train_sequences.select(pl.col("items").explode().unique().sort()).to_series()
    frame = pl.DataFrame({"item_id": items}).join(metadata, on="item_id", how="inner", maintain_order="left")
    roles = choose_roles(metadata.columns, config.cold_start.columns)
    candidates = frame.filter(~pl.Series(empty_rows(frame, list(roles))))["item_id"].to_list()
    n_cold = int(round(config.cold_start.evaluation_fraction * len(items)))
    if n_cold < 1 or len(candidates) < n_cold:
        raise DataError(
            f"the cold-start protocol needs {n_cold} training items with metadata, and {len(candidates)} have some",
            fix="check that the metadata ids match the training data, or set cold_start.evaluate = false",
        )
    rng = np.random.default_rng(config.cold_start.seed)
    return sorted(rng.choice(np.asarray(candidates, dtype=object), size=n_cold, replace=False).tolist())


def evaluate_cold_start(
    config: PipelineConfig,
    train_sequences: pl.DataFrame,
    test_sequences: pl.DataFrame,
    metadata: pl.DataFrame,
    *,
    warm_vectors: ItemVectors | None = None,
    references: Sequence[Method] = (),
    resolve: Callable[[Item2VecConfig, pl.DataFrame], Item2VecConfig] | None = None,
    say: Callable[[str], None] | None = None,
) -> ColdStartReport:
    """Run the cold-start protocol on one dataset's split.

    Parameters
    ----------
    config
        The pipeline configuration (``item2vec``, ``cold_start``, ``evaluation``).
    train_sequences, test_sequences
        Training and test sequences, as :func:`recsys.data.load.load_training_data` made them.
    metadata
        The items' metadata.
    warm_vectors
        item2vec already trained on all of ``train_sequences`` with ``config.item2vec``
        (the upper bound); trained here when not given.
    references
        Further methods, fitted here on ``train_sequences`` and scored on the
        same cases under their own names, after the others (a known answer,
        such as a generator's own probabilities).
    resolve
        Sets the options ``config.item2vec`` leaves unset for the sequences
        it is trained on (:func:`recsys.selection.resolved_config`, as
        ``recsys evaluate`` passes it); None trains ``config.item2vec`` as it
        is, every option set.
    say
        Called with a short description when a stage starts.

    Returns
    -------
    ColdStartReport

    Raises
    ------
    DataError
        If too few training items have metadata.
    """
    say = say or (lambda _message: None)
    started = time.perf_counter()
    mapper = MetadataMapper(config.cold_start)
    cold = cold_items(config, train_sequences, metadata)
    cold_train = train_sequences.with_columns(pl.col("items").list.filter(~pl.element().is_in(cold))).filter(
        pl.col("items").list.len() >= 2
    )
    say(f"training item2vec without {len(cold):,} cold items")
    configure = resolve or (lambda item2vec, _sequences: item2vec)
    vectors = train(cold_train, configure(config.item2vec, cold_train))
    say("fitting the metadata mapper on the warm items")
    mapper.fit(vectors, metadata, cold_train)
    cold_metadata = pl.DataFrame({"item_id": cold}).join(metadata, on="item_id", how="left", maintain_order="left")
    cold_start = ColdStart(mapper).add(cold_metadata, catalogue=set(vectors.item_ids))
    with_cold = cold_start.extend(vectors)
    if warm_vectors is None:
        say("training item2vec on all training items (the upper bound)")
        warm_vectors = train(train_sequences, configure(config.item2vec, train_sequences))

    catalogue = with_cold.item_ids
    catalogue_metadata = pl.DataFrame({"item_id": list(catalogue)}).join(
        metadata, on="item_id", how="left", maintain_order="left"
    )
    methods: list[tuple[str, Method]] = [
        ("popular", PopularBaseline.from_counts(with_cold.item_ids, with_cold.counts)),
        ("metadata-knn", MetadataKNN(catalogue, mapper.features(catalogue_metadata))),
    ]
    methods.append(("coldstart-similar", Item2VecMethod.from_vectors(with_cold, relation="similar")))
    methods.append(("coldstart-next", ColdQueriesRanked(
        Item2VecMethod.from_vectors(with_cold, relation="next"),
        cold_start.next_scorer(with_cold, catalogue_metadata),
    )))
    for relation in ("similar", "next"):
        methods.append((f"warm-{relation}", Item2VecMethod.from_vectors(warm_vectors, relation=relation)))
    methods += [(reference.name, reference.fit(train_sequences)) for reference in references]

    cases = build_cases(test_sequences, "next_item")
    cold_set = set(cold)
    is_cold = np.fromiter((item in cold_set for item in cases.item_ids), dtype=bool, count=len(cases.item_ids))
    query, target = is_cold[cases.begin], is_cold[cases.end]
    subsets = dict(zip(SUBSETS, (query, target, ~query & ~target)))
    evaluation = config.evaluation
    results: dict[str, list[MethodResult]] = {}
    for subset, mask in subsets.items():
        say(f"evaluating {int(mask.sum()):,} {subset} cases")
        subset_cases = _subset(cases, mask, subset.replace(" ", "_"))
        results[subset] = [
            dataclasses.replace(
                evaluate_method(method, subset_cases, ks=evaluation.ks, n_catalogue=len(catalogue),
                                batch_size=evaluation.batch_size, bootstrap_resamples=evaluation.bootstrap_resamples,
                                seed=evaluation.seed),
                method=name,
            )
            for name, method in methods
        ]
    return ColdStartReport(
        dataset=config.data.name, n_items=len(catalogue), n_cold=len(cold), results=results,
        mapper=mapper.report_, seconds=time.perf_counter() - started,
        n_resamples=evaluation.bootstrap_resamples, seed=evaluation.seed,
    )
