"""The metadata-to-vector mapper: ridge regression from metadata features into both vector spaces.

:class:`MetadataMapper` is fitted on the warm items (those with trained
vectors and metadata). It predicts an item's input vector (the
``"similar"`` space, and the query side of ``"next"``) and its output vector
(the candidate side of ``"next"``) from :class:`~recsys.coldstart.features.MetadataFeatures`,
with one scikit-learn :class:`~sklearn.linear_model.Ridge` per space whose
strength is chosen on held-out warm items (every strength fitted along one
path, :func:`~recsys.coldstart._ridge.ridge_path`).

A ridge prediction is a conditional mean: pulled towards the average item,
it almost never outscores a trained output vector, so a cold item would
never be recommended for "next". The output predictions are therefore
calibrated: their deviation from the mean output vector is scaled so that
the held-out warm items, with predicted output vectors, take as many
top-10 places among the other items' "next" recommendations as they do
with their trained vectors ("a new item is recommended as often as a warm
item like it"). Input predictions are left as they are: for a query, the
conditional mean is the best guess, and scaling it changes nothing for
"next" and little for "similar".

The fit quality on the held-out items (R², neighbour recall, calibration)
is in :attr:`MetadataMapper.report_` and logged to the training run. The
fitted mapper is saved as JSON and ``.npy`` arrays, never pickled.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.preprocessing import normalize

from recsys.coldstart._ridge import RidgeSolution, ridge_path
from recsys.coldstart.features import MetadataFeatures, choose_roles, empty_rows
from recsys.coldstart.ranker import ColdQueryRanker, log_plays, transitions_from
from recsys.config import ColdStartConfig
from recsys.errors import DataError, ModelLoadError
from recsys.index import knn, normalize_rows
from recsys.item2vec import ItemVectors

__all__ = ["MetadataMapper", "MapperReport", "SpaceFit", "MIN_WARM_ITEMS"]

_FORMAT_VERSION = 1
MIN_WARM_ITEMS = 10
"""Fewest warm items with metadata a mapper is fitted on."""
_K = 10
"""Cut-off of the neighbour recall and of the calibration's top lists."""
_SAMPLE = 1000
"""Held-out items and queries sampled for neighbour recall and calibration."""
_MAX_SCALE = 8.0


@dataclass(frozen=True)
class SpaceFit:
    """How well one vector space is predicted, on the held-out warm items."""

    alpha: float
    """The ridge strength chosen."""
    r2: float
    """Coefficient of determination of the predicted vectors (variance weighted over dimensions)."""
    neighbour_recall: float
    """Input space: share of an item's top-10 "similar" neighbours (cosine) found with its
    predicted vector too. Output space: share of an item's top-10 "next" items (its
    input vector against the output vectors) found with its predicted input vector."""
    scale: float = 1.0
    """Factor applied to the predictions' deviation from the mean vector (calibration)."""
    top10_share: float | None = None
    """Output space: top-10 places the held-out items take with predicted output vectors,
    relative to those they take with their trained ones (1 = as often), after calibration."""


@dataclass(frozen=True)
class MapperReport:
    """The fit of a :class:`MetadataMapper`."""

    n_items: int
    """Warm items the mapper is fitted on."""
    n_validation: int
    """Of them, held out to choose the strength and measure the fit."""
    n_features: int
    input: SpaceFit
    output: SpaceFit | None
    seconds: float
    query: ColdQueryRanker | None = None
    """How "next" is ranked for a cold query (None without output vectors or sequences)."""

    def metrics(self, prefix: str = "cold_start/") -> dict[str, float]:
        """Flat metrics for MLflow: ``cold_start/input.r2``, ``cold_start/output.neighbour_recall_at_10``..."""
        metrics = {
            f"{prefix}n_items": float(self.n_items),
            f"{prefix}n_validation": float(self.n_validation),
            f"{prefix}n_features": float(self.n_features),
            f"{prefix}fit_seconds": self.seconds,
        }
        if self.query is not None:
            metrics[f"{prefix}query.n_pairs"] = float(self.query.n_pairs)
            if self.query.n_pairs:  # else the plain dot product: nothing was fitted
                metrics.update({
                    f"{prefix}query.vector_weight": self.query.vector,
                    f"{prefix}query.metadata_weight": self.query.metadata,
                    f"{prefix}query.popularity_weight": self.query.popularity,
                    f"{prefix}query.log_likelihood": self.query.log_likelihood,
                    f"{prefix}query.log_likelihood_vector_only": self.query.log_likelihood_vector_only,
                })
        for name, fit in (("input", self.input), ("output", self.output)):
            if fit is None:
                continue
            for key, value in asdict(fit).items():
                if value is not None:
                    key = f"neighbour_recall_at_{_K}" if key == "neighbour_recall" else key
                    metrics[f"{prefix}{name}.{key}"] = float(value)
        return metrics

    def summary(self) -> str:
        """One line for people."""
        text = (f"{self.n_items:,} warm items, {self.n_features:,} features; held-out R² input "
                f"{self.input.r2:.3f}, similar-neighbour recall@{_K} {self.input.neighbour_recall:.3f}")
        if self.output is not None:
            text += (f"; R² output {self.output.r2:.3f}, next recall@{_K} {self.output.neighbour_recall:.3f}, "
                     f"output scale {self.output.scale:.2f}")
        if self.query is not None and self.query.n_pairs:
            text += (f"; cold queries rank \"next\" by vector {self.query.vector:.3g}, metadata "
                     f"{self.query.metadata:.3g}, popularity {self.query.popularity:.3g} "
                     f"(fitted on {self.query.n_pairs:,} pairs)")
        return text


def _top(queries: np.ndarray, candidates: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """Rows of the top-:data:`_K` candidates of each query (``exclude[i]`` never), by inner product."""
    k = min(_K, candidates.shape[0] - 1)
    rows, _scores = knn(np.ascontiguousarray(queries, dtype=np.float32),
                        np.ascontiguousarray(candidates, dtype=np.float32), k, exclude_rows=exclude)
    return rows


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of ``truth`` found in the same row of ``found``."""
    hits = [np.intersect1d(a, b).size for a, b in zip(found, truth)]
    return float(np.mean(hits) / truth.shape[1]) if len(hits) else float("nan")


def _ridge_from(alpha: float, coef: np.ndarray, intercept: np.ndarray) -> Ridge:
    """A fitted :class:`Ridge` from its saved coefficients."""
    model = Ridge(alpha=alpha)
    model.coef_ = coef
    model.intercept_ = intercept
    model.n_features_in_ = coef.shape[1]
    return model


class MetadataMapper:
    """Predict input and output vectors of items from their metadata.

    Parameters
    ----------
    config
        Feature and regression options (:class:`~recsys.config.ColdStartConfig`).

    Attributes
    ----------
    features_
        The fitted :class:`~recsys.coldstart.features.MetadataFeatures`.
    metadata_columns_
        Every column of the metadata it was fitted on (new items may only have these).
    input_, output_
        The fitted ridge models (``output_`` None for vectors without output vectors).
    report_
        :class:`MapperReport` of the fit.
    """

    def __init__(self, config: ColdStartConfig | None = None) -> None:
        self.config = config or ColdStartConfig()

    # ---------------------------------------------------------------- fitting
    def fit(
        self, vectors: ItemVectors, metadata: pl.DataFrame, sequences: pl.DataFrame | None = None
    ) -> "MetadataMapper":
        """Fit on the items of ``vectors`` that have metadata.

        Parameters
        ----------
        vectors
            Trained vectors (input vectors, and output vectors if any).
        metadata
            The metadata contract frame (``item_id`` and string columns).
        sequences
            The training sequences ``vectors`` were trained on. With them
            (and output vectors), the weights that rank "next" for a cold
            query (:class:`~recsys.coldstart.ranker.ColdQueryRanker`) are
            fitted on what followed the held-out warm items; without them a
            cold query ranks by the dot product alone.

        Returns
        -------
        MetadataMapper
            ``self``.

        Raises
        ------
        DataError
            If fewer than :data:`MIN_WARM_ITEMS` warm items have metadata, or
            no column gives a feature.
        """
        started = time.perf_counter()
        config = self.config
        roles = choose_roles(metadata.columns, config.columns)
        warm = (
            pl.DataFrame({"item_id": list(vectors.item_ids), "_row": np.arange(len(vectors))})
            .join(metadata, on="item_id", how="inner", maintain_order="left")
        )
        warm = warm.filter(~pl.Series(empty_rows(warm, list(roles))))
        if warm.height < MIN_WARM_ITEMS:
            raise DataError(
                f"only {warm.height} trained items have metadata in the columns {list(roles)}; "
                f"the metadata mapper needs at least {MIN_WARM_ITEMS}",
                fix="check that the metadata ids match the training data, or set cold_start.enabled = false",
            )
        self.metadata_columns_ = [c for c in metadata.columns if c != "item_id"]
        self.features_ = MetadataFeatures(
            roles, min_df=config.min_df, sentence_embeddings=config.sentence_embeddings
        ).fit(warm)
        features = self.features_.transform(warm)
        rows = warm["_row"].to_numpy()
        inputs = vectors.vectors[rows]
        outputs = None if vectors.context_vectors is None else vectors.context_vectors[rows]

        rng = np.random.default_rng(config.seed)
        order = rng.permutation(warm.height)
        n_validation = max(1, int(round(config.validation_fraction * warm.height)))
        held, kept = np.sort(order[:n_validation]), np.sort(order[n_validation:])

        self.input_, input_fit, predicted_inputs = self._fit_space(features, inputs, held, kept)
        input_fit = SpaceFit(
            alpha=input_fit[0], r2=input_fit[1],
            neighbour_recall=self._similar_recall(vectors, rows, held, predicted_inputs, rng),
        )
        output_fit = None
        self.output_, self.output_mean_, self.output_scale_ = None, None, 1.0
        self.query_ranker_: ColdQueryRanker | None = None
        if outputs is not None:
            self.output_, (alpha, r2), predicted_outputs = self._fit_space(features, outputs, held, kept)
            self.output_mean_ = outputs[kept].mean(axis=0).astype(np.float32)
            scale, share = self._calibrate(vectors, rows, held, kept, predicted_outputs, rng)
            self.output_scale_ = scale
            output_fit = SpaceFit(
                alpha=alpha, r2=r2, scale=scale, top10_share=share,
                neighbour_recall=self._next_recall(vectors, rows, held, predicted_inputs, rng),
            )
            if sequences is not None:
                self.query_ranker_ = self._fit_query_ranker(vectors, sequences, features, rows, held, predicted_inputs)
        self.report_ = MapperReport(
            n_items=warm.height, n_validation=n_validation, n_features=self.features_.n_features_,
            input=input_fit, output=output_fit, seconds=time.perf_counter() - started, query=self.query_ranker_,
        )
        return self

    def _fit_query_ranker(
        self, vectors: ItemVectors, sequences: pl.DataFrame, features: sp.csr_matrix, rows: np.ndarray,
        held: np.ndarray, predicted_inputs: np.ndarray,
    ) -> ColdQueryRanker:
        """Weights for a cold query's "next", fitted on what followed the held-out items (their inputs predicted).

        ``features`` are the warm items' (at catalogue ``rows``); ``predicted_inputs`` those of ``held``.
        """
        assert vectors.context_vectors is not None
        held_rows = rows[held]
        pairs = transitions_from(sequences, vectors.item_ids, starting_at=held_rows)
        position = np.full(len(vectors), -1, dtype=np.int64)
        position[held_rows] = np.arange(held_rows.size)
        placement = sp.csr_matrix(
            (np.ones(rows.size, dtype=np.float32), (rows, np.arange(rows.size))), shape=(len(vectors), rows.size)
        )
        return ColdQueryRanker.fit(
            predicted_inputs[position[pairs[:, 0]]], pairs, vectors.context_vectors,
            normalize((placement @ features[:, : self.features_.n_block_features]).tocsr()),
            log_plays(vectors.counts), seed=self.config.seed,
        )

    def unit_features(self, item_ids: tuple[str, ...] | list[str], metadata: pl.DataFrame | None) -> sp.csr_matrix:
        """Unit-norm features of ``item_ids`` in that order, a zero row for an item without metadata.

        Only the vectorizers' and encoders' features: sentence embeddings,
        if the mapper has them, are left out, so that ranking a new item's
        "next" never runs the sentence model over the whole catalogue.

        Parameters
        ----------
        item_ids
            The items (a catalogue, in row order).
        metadata
            Metadata of (some of) the items; None gives every item a zero row.
        """
        if metadata is None:
            return sp.csr_matrix((len(item_ids), self.features_.n_block_features), dtype=np.float32)
        frame = pl.DataFrame({"item_id": list(item_ids)}, schema={"item_id": pl.String}).join(
            metadata.select("item_id", *self.features_.roles).unique("item_id", keep="first", maintain_order=True),
            on="item_id", how="left", maintain_order="left",
        )
        return normalize(self.features_.transform(frame, embeddings=False).tocsr().astype(np.float32))

    def _fit_space(
        self, features: sp.csr_matrix, targets: np.ndarray, held: np.ndarray, kept: np.ndarray
    ) -> tuple[Ridge, tuple[float, float], np.ndarray]:
        """Choose the strength on the held-out items, refit on all; (model, (alpha, R²), held-out predictions).

        The strengths are one path (:func:`~recsys.coldstart._ridge.ridge_path`), and the refit on all the
        warm items starts from the chosen strength's fit on the kept ones.
        """
        best: tuple[RidgeSolution, float, np.ndarray] | None = None
        held_features = features[held]
        for solution in ridge_path(features[kept], targets[kept], self.config.alphas):
            predicted = solution.predict(held_features).astype(np.float32)
            score = float(r2_score(targets[held], predicted, multioutput="variance_weighted")) if held.size > 1 else 0.0
            if best is None or score > best[1]:
                best = (solution, score, predicted)
        assert best is not None
        chosen, score, predicted = best
        final = ridge_path(features, targets, [chosen.alpha], start=chosen.coef)[0]
        # float32, as saved: the mapper in memory predicts exactly as the one loaded back
        model = _ridge_from(final.alpha, final.coef.astype(np.float32), final.intercept.astype(np.float32))
        return model, (chosen.alpha, score), predicted

    @staticmethod
    def _sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.sort(rng.choice(n, size=min(n, _SAMPLE), replace=False))

    def _similar_recall(
        self, vectors: ItemVectors, rows: np.ndarray, held: np.ndarray, predicted: np.ndarray,
        rng: np.random.Generator,
    ) -> float:
        """Top-10 cosine neighbours among all trained items: predicted input vector against trained."""
        pick = self._sample(rng, held.size)
        items = rows[held[pick]]
        unit = normalize_rows(vectors.vectors)
        truth = _top(unit[items], unit, items)
        return _recall(_top(normalize_rows(predicted[pick]), unit, items), truth)

    def _next_recall(
        self, vectors: ItemVectors, rows: np.ndarray, held: np.ndarray, predicted: np.ndarray,
        rng: np.random.Generator,
    ) -> float:
        """Top-10 "next" items among all trained items: predicted input vector against trained."""
        assert vectors.context_vectors is not None
        pick = self._sample(rng, held.size)
        items = rows[held[pick]]
        truth = _top(vectors.vectors[items], vectors.context_vectors, items)
        return _recall(_top(predicted[pick], vectors.context_vectors, items), truth)

    def _calibrate(
        self, vectors: ItemVectors, rows: np.ndarray, held: np.ndarray, kept: np.ndarray,
        predicted: np.ndarray, rng: np.random.Generator,
    ) -> tuple[float, float]:
        """The output scale at which held-out items take as many top-10 "next" places as with trained vectors.

        Queries are a sample of the other warm items; the share of their
        top-10 places taken by held-out items grows with the scale, so it is
        found by bisection between 1 (the ridge prediction) and
        :data:`_MAX_SCALE`. Returns the scale and the share reached relative
        to the trained vectors' share.
        """
        assert vectors.context_vectors is not None and self.output_mean_ is not None
        queries = rows[kept[self._sample(rng, kept.size)]]
        held_rows = rows[held]
        candidates = vectors.context_vectors.copy()
        query_vectors = vectors.vectors[queries]

        def share(matrix: np.ndarray) -> float:
            return float(np.isin(_top(query_vectors, matrix, queries), held_rows).mean())

        target = share(candidates)
        if not self.config.calibrate_output or target == 0:
            candidates[held_rows] = predicted
            return 1.0, share(candidates) / target if target else float("nan")
        deviation = predicted - self.output_mean_

        def share_at(scale: float) -> float:
            candidates[held_rows] = self.output_mean_ + scale * deviation
            return share(candidates)

        low, high = 1.0, _MAX_SCALE
        at_low = share_at(low)
        if at_low >= target:
            return low, at_low / target
        at_high = share_at(high)
        if at_high <= target:
            return high, at_high / target
        for _ in range(12):
            middle = (low + high) / 2
            low, high = (middle, high) if share_at(middle) < target else (low, middle)
        scale = (low + high) / 2
        return scale, share_at(scale) / target

    # ------------------------------------------------------------- predicting
    def predict(self, metadata: pl.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Input and output vectors (None without an output model) of every row of ``metadata``, float32."""
        features = self.features_.transform(metadata)
        inputs = self.input_.predict(features).astype(np.float32)
        if self.output_ is None or self.output_mean_ is None:
            return inputs, None
        outputs = self.output_mean_ + self.output_scale_ * (self.output_.predict(features) - self.output_mean_)
        return inputs, outputs.astype(np.float32)

    def features(self, metadata: pl.DataFrame) -> sp.csr_matrix:
        """The features of every row of ``metadata`` (for the metadata-only baseline)."""
        return self.features_.transform(metadata)

    # ------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Write the mapper into ``directory`` (which must exist): JSON and ``.npy`` files, no pickle."""
        self.features_.save(directory)
        spaces: dict[str, Any] = {"input": self.input_.alpha}
        np.save(directory / "input_coef.npy", self.input_.coef_.astype(np.float32))
        np.save(directory / "input_intercept.npy", np.asarray(self.input_.intercept_, dtype=np.float32))
        if self.output_ is not None and self.output_mean_ is not None:
            spaces["output"] = self.output_.alpha
            np.save(directory / "output_coef.npy", self.output_.coef_.astype(np.float32))
            np.save(directory / "output_intercept.npy", np.asarray(self.output_.intercept_, dtype=np.float32))
            np.save(directory / "output_mean.npy", self.output_mean_)
        report = asdict(self.report_)
        payload = {
            "format_version": _FORMAT_VERSION,
            "config": self.config.model_dump(mode="json"),
            "metadata_columns": self.metadata_columns_,
            "alphas": spaces,
            "output_scale": self.output_scale_,
            "query_ranker": None if self.query_ranker_ is None else self.query_ranker_.to_json(),
            "report": report,
        }
        (directory / "mapper.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "MetadataMapper":
        """Read a mapper written by :meth:`save`.

        Raises
        ------
        ModelLoadError
            If a file is missing or inconsistent.
        """
        try:
            payload = json.loads((directory / "mapper.json").read_text(encoding="utf-8"))
            mapper = cls(ColdStartConfig.model_validate(payload["config"]))
            mapper.metadata_columns_ = list(payload["metadata_columns"])
            mapper.features_ = MetadataFeatures.load(directory)
            alphas = payload["alphas"]
            mapper.input_ = _ridge_from(
                alphas["input"], np.load(directory / "input_coef.npy"), np.load(directory / "input_intercept.npy")
            )
            mapper.output_, mapper.output_mean_ = None, None
            if "output" in alphas:
                mapper.output_ = _ridge_from(
                    alphas["output"], np.load(directory / "output_coef.npy"),
                    np.load(directory / "output_intercept.npy"),
                )
                mapper.output_mean_ = np.load(directory / "output_mean.npy")
            mapper.output_scale_ = float(payload["output_scale"])
            ranker = payload.get("query_ranker")  # absent from mappers saved before it existed
            mapper.query_ranker_ = None if ranker is None else ColdQueryRanker.from_json(ranker)
            report = payload["report"]
            mapper.report_ = MapperReport(
                **{**report, "input": SpaceFit(**report["input"]),
                   "output": SpaceFit(**report["output"]) if report["output"] else None,
                   "query": mapper.query_ranker_}
            )
        except FileNotFoundError as error:
            raise ModelLoadError(
                f"{directory}: incomplete metadata mapper ({Path(error.filename).name} is missing); retrain the model"
            ) from None
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
            raise ModelLoadError(f"{directory}: corrupt metadata mapper: {error}") from None
        if mapper.features_.n_features_ != mapper.input_.coef_.shape[1]:
            raise ModelLoadError(f"{directory}: corrupt metadata mapper: features and coefficients disagree")
        return mapper
