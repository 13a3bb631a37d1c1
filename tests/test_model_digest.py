"""A saved model carries its digest: truncated, edited, added or removed files fail to load in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys import ModelLoadError, Recommender, train
from recsys.config import Item2VecConfig
from recsys.data.synthetic import two_cluster_corpus
from recsys.item2vec import ItemVectors
from recsys.manifest import MANIFEST


@pytest.fixture(scope="module")
def vectors() -> ItemVectors:
    return train(two_cluster_corpus(n_sequences=60), Item2VecConfig(vector_size=8, epochs=2, workers=1))


def test_digest_is_stable_across_save_and_load_and_changes_with_the_content(vectors: ItemVectors, tmp_path: Path) -> None:
    path = vectors.save(tmp_path / "model")
    loaded = ItemVectors.load(path)
    assert loaded.digest == vectors.digest and len(vectors.digest) == 64
    assert json.loads((path / MANIFEST).read_text())["digest"] == vectors.digest
    nudged = vectors.vectors.copy()
    nudged[0, 0] = np.nextafter(nudged[0, 0], np.float32(np.inf))
    changed = [
        ItemVectors(vectors.item_ids, nudged, vectors.counts, vectors.config, vectors.context_vectors),
        ItemVectors(vectors.item_ids, vectors.vectors, vectors.counts + 1, vectors.config, vectors.context_vectors),
        ItemVectors(vectors.item_ids, vectors.vectors, vectors.counts, vectors.config),  # no output vectors
        ItemVectors(vectors.item_ids, vectors.vectors, vectors.counts,
                    vectors.config.model_copy(update={"relation": "similar"}), vectors.context_vectors),
        ItemVectors(vectors.item_ids[::-1], vectors.vectors, vectors.counts, vectors.config, vectors.context_vectors),
    ]
    digests = {vectors.digest, *(other.digest for other in changed)}
    assert len(digests) == len(changed) + 1


@pytest.mark.parametrize("name", ["items.parquet", "vectors.npy", "context_vectors.npy", "config.json"])
@pytest.mark.parametrize("damage", ["truncate", "edit", "remove"])
def test_a_damaged_file_fails_in_one_line_naming_it(vectors: ItemVectors, tmp_path: Path, name: str, damage: str) -> None:
    path = vectors.save(tmp_path / "model")
    file = path / name
    data = file.read_bytes()
    if damage == "truncate":
        file.write_bytes(data[: len(data) // 2])
    elif damage == "edit":  # same size, one byte flipped near the end (the data, not a header)
        file.write_bytes(data[:-3] + bytes([data[-3] ^ 0x01]) + data[-2:])
    else:
        file.unlink()
    with pytest.raises(ModelLoadError) as caught:
        ItemVectors.load(path)
    message = str(caught.value)
    assert str(file) in message and "\n" not in message
    assert ("missing" if damage == "remove" else "does not match the SHA-256") in message


def test_a_file_added_after_saving_or_a_broken_manifest_is_refused(vectors: ItemVectors, tmp_path: Path) -> None:
    without_output = ItemVectors(vectors.item_ids, vectors.vectors, vectors.counts, vectors.config)
    path = without_output.save(tmp_path / "model")
    np.save(path / "context_vectors.npy", vectors.context_vectors)  # would change every "next" answer
    with pytest.raises(ModelLoadError, match="context_vectors.npy: not listed in manifest.json"):
        ItemVectors.load(path)
    (path / "context_vectors.npy").unlink()
    (path / MANIFEST).write_text('{"files": {"../escape": {"sha256": "0", "bytes": 1}}}')
    with pytest.raises(ModelLoadError, match="unreadable model manifest"):
        ItemVectors.load(path)


def test_a_model_saved_before_manifests_still_loads(vectors: ItemVectors, tmp_path: Path) -> None:
    path = vectors.save(tmp_path / "model")
    (path / MANIFEST).unlink()
    loaded = ItemVectors.load(path)
    assert loaded.digest == vectors.digest
    np.testing.assert_array_equal(loaded.vectors, vectors.vectors)
    (path / "vectors.npy").write_bytes((path / "vectors.npy").read_bytes()[:100])  # still one line
    with pytest.raises(ModelLoadError, match="corrupt item-vectors directory"):
        ItemVectors.load(path)


def test_truncated_metadata_is_a_model_load_error(vectors: ItemVectors, tmp_path: Path) -> None:
    path = vectors.save(tmp_path / "model")
    metadata = tmp_path / "metadata.parquet"
    pl.DataFrame({"item_id": list(vectors.item_ids), "title": ["t"] * len(vectors)}).write_parquet(metadata)
    assert Recommender.from_directory(path, metadata_path=metadata).metadata is not None
    metadata.write_bytes(metadata.read_bytes()[:50])
    with pytest.raises(ModelLoadError, match="metadata.parquet: unreadable item metadata"):
        Recommender.from_directory(path, metadata_path=metadata)


def test_the_cli_says_which_file_is_damaged(vectors: ItemVectors, tmp_path: Path) -> None:
    path = vectors.save(tmp_path / "model")
    with (path / "vectors.npy").open("r+b") as handle:
        handle.truncate(200)
    result = subprocess.run(
        [sys.executable, "-m", "recsys.cli", "recommend", "a1", "--model", str(path)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path / 'vectors.npy'}: does not match the SHA-256 in manifest.json (truncated or edited since "
        "it was saved); restore it or save the model again"
    ]
