"""Neighbour search: exact search, the neighbour table and the export against brute force; HNSW recall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import recsys.index
from recsys.index import ExactIndex, build_hnsw, normalize_rows, recall_at_k
from recsys.neighbours import NeighbourTable, export_neighbours


def _brute_force(vectors: np.ndarray, queries: np.ndarray, k: int, banned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference: every score, banned pairs removed, a full stable sort."""
    scores = normalize_rows(queries) @ normalize_rows(vectors).T
    scores[banned] = -np.inf
    rows = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return rows, np.take_along_axis(scores, rows, axis=1)


def _clustered(n_items: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(n_items // 100, 2), dim))
    return (centres[rng.integers(0, len(centres), n_items)] + 0.5 * rng.normal(size=(n_items, dim))).astype(np.float32)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(500, 16)).astype(np.float32)


def test_exact_search_equals_brute_force(vectors: np.ndarray) -> None:
    index = ExactIndex(vectors)
    queries = np.arange(0, 500, 7)
    mask = np.random.default_rng(0).random(500) > 0.3
    banned = np.zeros((len(queries), 500), dtype=bool)
    banned[np.arange(len(queries)), queries] = True
    banned[:, ~mask] = True
    rows, scores = index.search(vectors[queries], 10, exclude_rows=queries, mask=mask)
    expected_rows, expected_scores = _brute_force(vectors, vectors[queries], 10, banned)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)
    assert not np.isin(rows, np.flatnonzero(~mask)).any()
    assert not (rows == queries[:, None]).any()


def test_large_unmasked_batches_equal_brute_force(vectors: np.ndarray) -> None:
    index = ExactIndex(vectors)
    queries = np.arange(0, 500, 3)  # enough queries for faiss's kernel
    rows, scores = index.search(vectors[queries], 10, exclude_rows=queries)
    expected_rows, expected_scores = _brute_force(vectors, vectors[queries], 10, np.arange(500) == queries[:, None])
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-6)
    every, every_scores = index.search(vectors[:40], 600, exclude_rows=np.arange(40))
    assert every.shape == (40, 500) and (every[:, -1] == -1).all() and np.isneginf(every_scores[:, -1]).all()
    assert not (every == np.arange(40)[:, None]).any() and (np.sort(every[:, :-1], axis=1) >= 0).all()


def test_exact_search_in_blocks_equals_one_block(vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    index = ExactIndex(vectors)
    whole = index.search(vectors, 5, exclude_rows=np.arange(500))
    monkeypatch.setattr(recsys.index, "_BLOCK_BYTES", 4 * 500 * 7)  # 7 queries per block
    blocked = index.search(vectors, 5, exclude_rows=np.arange(500))
    np.testing.assert_array_equal(whole[0], blocked[0])
    np.testing.assert_allclose(whole[1], blocked[1], atol=1e-6)  # BLAS rounds differently per block shape


def test_exact_search_pads_when_few_items_are_eligible(vectors: np.ndarray) -> None:
    mask = np.zeros(500, dtype=bool)
    mask[[3, 4, 5]] = True
    rows, scores = ExactIndex(vectors).search(vectors[[3]], 5, exclude_rows=np.array([3]), mask=mask)
    assert sorted(rows[0, :2]) == [4, 5] and (rows[0, 2:] == -1).all() and np.isneginf(scores[0, 2:]).all()


def test_index_vectors_are_unit_and_read_only(vectors: np.ndarray) -> None:
    index = ExactIndex(vectors)
    np.testing.assert_allclose(np.linalg.norm(index.vectors, axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError):
        index.vectors[0, 0] = 1.0


def test_neighbour_table_equals_brute_force(vectors: np.ndarray) -> None:
    unit = normalize_rows(vectors)
    table = NeighbourTable.build(unit, 20)
    expected_rows, expected_scores = _brute_force(vectors, vectors, 20, np.eye(500, dtype=bool))
    np.testing.assert_array_equal(table.rows, expected_rows)
    np.testing.assert_allclose(table.scores, expected_scores, atol=1e-6)
    rows, scores = table.lookup(np.array([7, 9]), 3)
    np.testing.assert_array_equal(rows, expected_rows[[7, 9], :3])


def test_neighbour_table_never_holds_the_item_itself_even_among_duplicates() -> None:
    unit = normalize_rows(np.repeat(np.eye(3, dtype=np.float32), 4, axis=0))  # 12 items, 3 groups of 4 equal vectors
    table = NeighbourTable.build(unit, 50)
    assert table.depth == 11
    assert not (table.rows == np.arange(12)[:, None]).any()
    for row in range(12):
        assert set(table.rows[row, :3]) == set(range(row // 4 * 4, row // 4 * 4 + 4)) - {row}


def test_export_neighbours_writes_the_table(vectors: np.ndarray, tmp_path: Path) -> None:
    unit = normalize_rows(vectors)
    ids = [f"item{i}" for i in range(500)]
    seen: list[tuple[int, int]] = []
    report = export_neighbours(unit, ids, tmp_path / "out" / "n.parquet", k=5, on_progress=lambda *a: seen.append(a))
    frame = pl.read_parquet(report.path)
    assert frame.columns == ["item_id", "rank", "neighbour_id", "score"]
    assert frame.height == 500 * 5 and report.k == 5 and seen[-1] == (500, 500)
    table = NeighbourTable.build(unit, 5)
    assert frame["neighbour_id"].to_list() == [ids[r] for r in table.rows.ravel()]
    assert frame.filter(pl.col("item_id") == "item3")["rank"].to_list() == [1, 2, 3, 4, 5]
    assert (frame["item_id"] != frame["neighbour_id"]).all()
    assert [p.name for p in report.path.parent.iterdir()] == ["n.parquet"]


def test_recall_at_k_counts_shared_items() -> None:
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at_k(np.array([[4, 3, 9, 9], [5, 6, 7, 8]]), truth) == pytest.approx(6 / 8)
    assert recall_at_k(np.full((2, 4), -1), truth) == 0.0


@pytest.fixture(scope="module")
def hnsw() -> tuple[ExactIndex, recsys.index.HNSWIndex, recsys.index.AnnReport]:
    exact = ExactIndex(_clustered(4000, 32))
    index, report = build_hnsw(exact, sample_size=500)
    return exact, index, report


def test_hnsw_recall_meets_the_bar_on_clustered_vectors(hnsw) -> None:
    exact, index, report = hnsw
    assert report.recall_at_10 >= 0.98 and report.sample_size == 500 and report.n_items == 4000
    assert index.ef_search == report.ef_search
    # measured independently, on other items, against brute force
    queries = np.arange(1, 4000, 13)
    truth, _ = _brute_force(exact.vectors, exact.vectors[queries], 10, np.arange(4000) == queries[:, None])
    found, _ = index.search(exact.vectors[queries], 10, exclude_rows=queries)
    assert recall_at_k(found, truth) >= 0.98
    assert "recall@10=" in report.summary()


def test_hnsw_respects_exclusions_and_masks(hnsw) -> None:
    exact, index, _ = hnsw
    queries = np.arange(0, 4000, 101)
    few_banned = np.ones(4000, dtype=bool)
    few_banned[::50] = False
    many_banned = np.random.default_rng(1).random(4000) > 0.5
    for mask in (few_banned, many_banned):
        rows, scores = index.search(exact.vectors[queries], 10, exclude_rows=queries, mask=mask)
        assert rows.shape == (len(queries), 10) and (rows >= 0).all()
        assert mask[rows].all() and not (rows == queries[:, None]).any()
        assert (np.diff(scores, axis=1) <= 1e-6).all()
