"""Item metadata -> a sparse feature matrix, with scikit-learn's vectorizers and encoders.

Each metadata column used has a role (:data:`recsys.config.MetadataRole`):

* ``text``: TF-IDF of its words (``TfidfVectorizer``, sublinear term frequency);
* ``tags``: TF-IDF of a list of tags separated by ``,``, ``|`` or ``;``
  (``"Rock, Pop"`` and ``"rock|pop"`` give the same two tags);
* ``categorical``: one-hot of the whole value (``OneHotEncoder``);
* ``year``: one-hot of the year found in the value and of its decade.

Every block is fitted on the warm items only, so a new item's words, tags
or categories that no warm item has are simply not features. With
sentence embeddings on, the text and tags columns of an item are also
embedded together (:mod:`recsys.coldstart.text`).

The fitted state is plain data (vocabularies, categories and IDF weights)
and is saved as JSON and ``.npz`` arrays, never pickled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import OneHotEncoder

from recsys.config import MetadataRole
from recsys.errors import ConfigError, DataError

__all__ = ["MetadataFeatures", "choose_roles", "empty_rows"]

_ROLES: tuple[str, ...] = get_args(MetadataRole)
_ROLE_BY_NAME: tuple[tuple[re.Pattern[str], MetadataRole], ...] = (
    (re.compile(r"date|year", re.IGNORECASE), "year"),
    (re.compile(r"^(tags?|genres|categories|keywords|labels|styles|moods)$", re.IGNORECASE), "tags"),
    (re.compile(r"^(artist|artist_name|album|album_name|genre|director|author|brand|category|label|"
                r"publisher|creator|composer|studio|channel|language|country)$", re.IGNORECASE), "categorical"),
    (re.compile(r"^(title|name|track_name|description|summary|text|subtitle)$", re.IGNORECASE), "text"),
)
"""Column name -> role for :func:`choose_roles`, first match wins."""
_TAG_SEPARATORS = r"\s*[,|;]\s*"
_YEAR = r"\b((?:1[0-9]|20)[0-9]{2})\b"
_TEXT_OPTIONS = {"sublinear_tf": True, "strip_accents": "unicode"}
_TAG_OPTIONS = {"token_pattern": r"[^|]+", "lowercase": False}


def choose_roles(columns: Sequence[str], configured: Mapping[str, MetadataRole] | None = None) -> dict[str, MetadataRole]:
    """The role of each metadata column that becomes features.

    Parameters
    ----------
    columns
        The metadata columns (``item_id`` is never a feature).
    configured
        Column -> role, as ``cold_start.columns`` sets it; None chooses by
        column name (see :class:`recsys.config.ColdStartConfig`).

    Raises
    ------
    ConfigError
        If a configured column is not in the metadata or a role is unknown.
    """
    available = [c for c in columns if c != "item_id"]
    if configured is not None:
        missing = [c for c in configured if c not in available]
        if missing:
            raise ConfigError(
                f"cold_start.columns names {missing}, which the metadata lacks; its columns are {available}"
            )
        bad = {c: r for c, r in configured.items() if r not in _ROLES}
        if bad:
            raise ConfigError(f"cold_start.columns: unknown role(s) {bad}; roles are {', '.join(_ROLES)}")
        return dict(configured)
    roles: dict[str, MetadataRole] = {}
    for column in available:
        for pattern, role in _ROLE_BY_NAME:
            if pattern.search(column):
                roles[column] = role
                break
    return roles


def _clean(frame: pl.DataFrame, column: str) -> pl.Expr:
    """The column as stripped text, empty strings as null (a missing column is all null)."""
    if column not in frame.columns:
        return pl.lit(None, dtype=pl.String).alias(column)
    return pl.col(column).cast(pl.String).str.strip_chars().replace("", None).alias(column)


def empty_rows(frame: pl.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Boolean mask of the rows whose every one of ``columns`` is missing or blank."""
    if not columns:
        return np.ones(frame.height, dtype=bool)
    cleaned = frame.select(*(_clean(frame, c) for c in columns))
    return cleaned.select(pl.all_horizontal(pl.all().is_null())).to_series().to_numpy()


def _documents(frame: pl.DataFrame, column: str, role: MetadataRole) -> list[str]:
    """The column's values as documents for a vectorizer (tags normalised, missing as empty)."""
    values = _clean(frame, column)
    if role == "tags":
        values = values.str.to_lowercase().str.replace_all(_TAG_SEPARATORS, "|")
    return frame.select(values.fill_null("")).to_series().to_list()


def _categories(frame: pl.DataFrame, column: str, role: MetadataRole) -> np.ndarray:
    """``(n, 1)`` values of a categorical column, or ``(n, 2)`` year and decade; missing as None."""
    values = _clean(frame, column)
    if role == "categorical":
        return np.asarray(frame.select(values).to_series().to_list(), dtype=object)[:, None]
    year = values.str.extract(_YEAR)
    decade = year.str.slice(0, 3) + pl.lit("0s")
    return frame.select(year.alias("year"), decade.alias("decade")).to_numpy().astype(object)


@dataclass(eq=False)
class _Block:
    """The fitted encoder of one metadata column."""

    column: str
    role: MetadataRole
    encoder: TfidfVectorizer | OneHotEncoder

    @classmethod
    def fit(cls, frame: pl.DataFrame, column: str, role: MetadataRole, *, min_df: int) -> "_Block | None":
        """Fit the column's encoder on ``frame``; None when the column yields no feature."""
        if role in ("text", "tags"):
            options = _TEXT_OPTIONS if role == "text" else _TAG_OPTIONS
            vectorizer = TfidfVectorizer(min_df=min_df, dtype=np.float32, **options)
            try:
                vectorizer.fit(_documents(frame, column, role))
            except ValueError:  # no word reaches min_df
                return None
            return cls(column, role, vectorizer)
        values = _categories(frame, column, role)
        known = values[np.all(values != None, axis=1)]  # noqa: E711 (element-wise)
        if known.shape[0] == 0:
            return None
        encoder = OneHotEncoder(handle_unknown="ignore", dtype=np.float32).fit(known)
        return cls(column, role, encoder)

    def transform(self, frame: pl.DataFrame) -> sp.csr_matrix:
        if isinstance(self.encoder, TfidfVectorizer):
            return self.encoder.transform(_documents(frame, self.column, self.role)).tocsr()
        values = _categories(frame, self.column, self.role)
        values[values == None] = ""  # noqa: E711 (element-wise): not a category, so all zeros
        return self.encoder.transform(values).tocsr().astype(np.float32)

    @property
    def n_features(self) -> int:
        if isinstance(self.encoder, TfidfVectorizer):
            return len(self.encoder.vocabulary_)
        return sum(len(c) for c in self.encoder.categories_)

    def to_json(self) -> tuple[dict[str, Any], np.ndarray | None]:
        """The block as JSON, and its IDF weights (text and tags) as an array."""
        spec: dict[str, Any] = {"column": self.column, "role": self.role}
        if isinstance(self.encoder, TfidfVectorizer):
            vocabulary = self.encoder.vocabulary_
            spec["vocabulary"] = sorted(vocabulary, key=vocabulary.__getitem__)
            return spec, np.asarray(self.encoder.idf_, dtype=np.float64)
        spec["categories"] = [c.tolist() for c in self.encoder.categories_]
        return spec, None

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], idf: np.ndarray | None) -> "_Block":
        role: MetadataRole = spec["role"]
        if role in ("text", "tags"):
            options = _TEXT_OPTIONS if role == "text" else _TAG_OPTIONS
            vocabulary = {token: i for i, token in enumerate(spec["vocabulary"])}
            vectorizer = TfidfVectorizer(vocabulary=vocabulary, dtype=np.float32, **options)
            vectorizer.idf_ = idf
            return cls(spec["column"], role, vectorizer)
        categories = [np.asarray(c, dtype=object) for c in spec["categories"]]
        encoder = OneHotEncoder(categories=categories, handle_unknown="ignore", dtype=np.float32)
        encoder.fit(np.array([[c[0] for c in categories]], dtype=object))
        return cls(spec["column"], role, encoder)


class MetadataFeatures:
    """Metadata columns -> one sparse float32 feature matrix (rows as the frame's items).

    Parameters
    ----------
    roles
        Column -> role of the columns to use (:func:`choose_roles`).
    min_df
        Words and tags must occur in at least this many fitted items.
    sentence_embeddings
        Also embed the text and tags columns with the sentence model
        (:class:`recsys.coldstart.text.SentenceEncoder`).

    Attributes
    ----------
    blocks_
        The fitted encoders, one per column that yielded features.
    n_features_
        Width of the feature matrix.
    """

    def __init__(
        self, roles: Mapping[str, MetadataRole], *, min_df: int = 2, sentence_embeddings: bool = False
    ) -> None:
        self.roles = dict(roles)
        self.min_df = min_df
        self.sentence_embeddings = sentence_embeddings

    @property
    def text_columns(self) -> list[str]:
        """The columns a sentence model embeds: text and tags."""
        return [c for c, r in self.roles.items() if r in ("text", "tags")]

    def fit(self, frame: pl.DataFrame) -> "MetadataFeatures":
        """Fit every column's encoder on ``frame`` (the warm items' metadata).

        Raises
        ------
        DataError
            If no column yields a feature.
        ConfigError
            If sentence embeddings are asked for without the ``text`` extra.
        """
        blocks = [_Block.fit(frame, column, role, min_df=self.min_df) for column, role in self.roles.items()]
        self.blocks_ = [b for b in blocks if b is not None]
        self._encoder = None
        if self.sentence_embeddings:
            from recsys.coldstart.text import SentenceEncoder

            self._encoder = SentenceEncoder.load()
        if not self.blocks_ and self._encoder is None:
            raise DataError(
                f"no metadata feature: the columns {list(self.roles) or '(none)'} give no word, tag or category "
                f"shared by {self.min_df} items",
                fix="set cold_start.columns to the metadata columns to use, or lower cold_start.min_df",
            )
        self.n_features_ = sum(b.n_features for b in self.blocks_) + (self._encoder.dimension if self._encoder else 0)
        return self

    @property
    def n_block_features(self) -> int:
        """Width of the vectorizers' and encoders' features: the first columns, before any sentence embedding."""
        return sum(b.n_features for b in self.blocks_)

    def transform(self, frame: pl.DataFrame, *, embeddings: bool = True) -> sp.csr_matrix:
        """The features of every row of ``frame``, shape ``(frame.height, n_features_)``.

        ``embeddings=False`` leaves the sentence embeddings out (the first
        :attr:`n_block_features` columns only, without running the sentence model).
        """
        parts = [block.transform(frame) for block in self.blocks_]
        if self._encoder is not None and embeddings:
            texts = self._sentences(frame)
            parts.append(sp.csr_matrix(self._encoder.encode(texts)))
        if not parts:
            return sp.csr_matrix((frame.height, 0), dtype=np.float32)
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def _sentences(self, frame: pl.DataFrame) -> list[str]:
        """The text and tags columns of each row joined into one sentence for the sentence model."""
        columns = self.text_columns
        if not columns:
            return [""] * frame.height
        joined = pl.concat_str([_clean(frame, c) for c in columns], separator=". ", ignore_nulls=True)
        return frame.select(joined.fill_null("")).to_series().to_list()

    # ------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Write ``features.json`` (roles, vocabularies, categories) and ``features_idf.npz``."""
        specs, weights = [], {}
        for i, block in enumerate(self.blocks_):
            spec, idf = block.to_json()
            specs.append(spec)
            if idf is not None:
                weights[f"idf_{i}"] = idf
        payload = {
            "roles": self.roles,
            "min_df": self.min_df,
            "sentence_embeddings": self.sentence_embeddings,
            "blocks": specs,
        }
        (directory / "features.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        np.savez(directory / "features_idf.npz", **weights)

    @classmethod
    def load(cls, directory: Path) -> "MetadataFeatures":
        """Read what :meth:`save` wrote (no pickle)."""
        payload = json.loads((directory / "features.json").read_text(encoding="utf-8"))
        features = cls(payload["roles"], min_df=payload["min_df"], sentence_embeddings=payload["sentence_embeddings"])
        with np.load(directory / "features_idf.npz", allow_pickle=False) as weights:
            features.blocks_ = [
                _Block.from_json(spec, weights[f"idf_{i}"] if f"idf_{i}" in weights else None)
                for i, spec in enumerate(payload["blocks"])
            ]
        features._encoder = None
        if features.sentence_embeddings:
            from recsys.coldstart.text import SentenceEncoder

            features._encoder = SentenceEncoder.load()
        features.n_features_ = sum(b.n_features for b in features.blocks_) + (
            features._encoder.dimension if features._encoder else 0
        )
        return features
