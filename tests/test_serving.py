"""The REST API over real HTTP on 127.0.0.1: answers, errors, and reload under load."""

from __future__ import annotations

import contextlib
import inspect
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI

from recsys import Recommender, tracking, train
from recsys.config import Item2VecConfig
from recsys.data.synthetic import two_cluster_corpus
from recsys.item2vec import ItemVectors
from recsys.serving import create_app, serve


@contextlib.contextmanager
def running(app: FastAPI) -> Iterator[httpx.Client]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yield a client for it."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    assert host == "127.0.0.1"
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def vectors() -> ItemVectors:
    return train(two_cluster_corpus(), Item2VecConfig(vector_size=32, epochs=10, workers=1))


@pytest.fixture(scope="module")
def model_dir(vectors: ItemVectors, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vectors.save(tmp_path_factory.mktemp("serving") / "model")


@pytest.fixture(scope="module")
def client(model_dir: Path) -> Iterator[httpx.Client]:
    with running(create_app(str(model_dir))) as client:
        yield client


def test_similar(client: httpx.Client, vectors: ItemVectors) -> None:
    response = client.get("/similar/a1", params={"k": 5})
    assert response.status_code == 200
    body = response.json()
    expected = Recommender(vectors).recommend("a1", k=5)
    assert body["item_id"] == "a1" and body["fallback"] is False
    assert [r["item_id"] for r in body["recommendations"]] == list(expected.item_ids)
    assert [r["score"] for r in body["recommendations"]] == pytest.approx(expected.scores.tolist(), abs=1e-5)
    assert all(r["item_id"].startswith("a") and r["item_id"] != "a1" for r in body["recommendations"])
    assert len(client.get("/similar/b2").json()["recommendations"]) == 10


def test_unknown_item_is_404_naming_it(client: httpx.Client) -> None:
    response = client.get("/similar/no-such-item")
    assert response.status_code == 404
    assert "unknown item 'no-such-item'" in response.json()["detail"]
    popular = client.get("/similar/no-such-item", params={"k": 3, "on_unknown": "popular"})
    assert popular.status_code == 200 and popular.json()["fallback"] is True
    assert len(popular.json()["recommendations"]) == 3
    assert client.post("/similar", json={"item_ids": ["a1", "zz"]}).status_code == 404
    assert "'zz'" in client.post("/session", json={"items": ["zz"]}).json()["detail"]


@pytest.mark.parametrize("k", ["0", "-3", "1001", "100000000000000000000", "abc", "2.5", ""])
def test_bad_k_is_422_and_the_server_lives_on(client: httpx.Client, k: str) -> None:
    assert client.get("/similar/a1", params={"k": k}).status_code == 422
    assert client.post("/similar", json={"item_ids": ["a1"], "k": k}).status_code == 422
    assert client.post("/session", json={"items": ["a1"], "k": k}).status_code == 422
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/similar", {"item_ids": []}),
        ("/similar", {"item_ids": "a1"}),
        ("/similar", {"item_ids": ["a1"], "on_unknown": "maybe"}),
        ("/similar", {"item_ids": ["a1"], "colour": "red"}),
        ("/session", {"items": []}),
        ("/session", {"items": ["a1"], "recency_decay": 0}),
        ("/session", {"items": ["a1"], "recency_decay": 1.5}),
        ("/session", None),
    ],
)
def test_bad_bodies_are_422(client: httpx.Client, path: str, payload: object) -> None:
    response = client.post(path, json=payload) if payload is not None else client.post(
        path, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert client.get("/health").status_code == 200


def test_batch_and_session(client: httpx.Client, vectors: ItemVectors) -> None:
    recommender = Recommender(vectors)
    batch = client.post("/similar", json={"item_ids": ["a1", "b4"], "k": 3, "exclude": ["a2"]}).json()
    expected = recommender.recommend_many(["a1", "b4"], k=3, exclude=["a2"])
    assert [r["item_id"] for r in batch["results"]] == ["a1", "b4"]
    for result, ids in zip(batch["results"], expected.item_ids):
        assert [r["item_id"] for r in result["recommendations"]] == list(ids)
    session = client.post("/session", json={"items": ["a1", "a2", "a3"], "k": 4, "recency_decay": 0.5}).json()
    expected_session = recommender.for_session(["a1", "a2", "a3"], k=4, recency_decay=0.5)
    assert [r["item_id"] for r in session["recommendations"]] == list(expected_session.item_ids)
    assert not {"a1", "a2", "a3"} & {r["item_id"] for r in session["recommendations"]}
    only = client.post("/session", json={"items": ["a1"], "include_only": ["b1", "b2"], "k": 5}).json()
    assert sorted(r["item_id"] for r in only["recommendations"]) == ["b1", "b2"]


def test_health_and_openapi(client: httpx.Client, model_dir: Path) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model"] == str(model_dir)
    assert health["n_items"] == 40 and health["search_mode"] == "table"
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/similar/{item_id}", "/similar", "/session", "/health", "/reload"} <= set(paths)
    assert "404" in paths["/similar/{item_id}"]["get"]["responses"]


def test_binds_to_loopback_by_default() -> None:
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"


def test_failed_reload_keeps_serving(vectors: ItemVectors, tmp_path: Path) -> None:
    model = vectors.save(tmp_path / "model")
    with running(create_app(str(model))) as client:
        shutil.rmtree(model)
        response = client.post("/reload")
        assert response.status_code == 500 and "still serving the previous model" in response.json()["detail"]
        assert client.get("/similar/a1").status_code == 200
        assert client.get("/health").json()["reloads"] == 0


@pytest.fixture(scope="module")
def champion(vectors: ItemVectors, mlflow_store: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ItemVectors]:
    """Two registered versions of a model (plain item-vector artifacts); the alias points at the first."""
    rng = np.random.default_rng(5)
    second = ItemVectors(vectors.item_ids, rng.normal(size=vectors.vectors.shape).astype(np.float32),
                         vectors.counts, vectors.config)
    client = mlflow.MlflowClient()
    client.create_registered_model("serving-test")
    for version in (vectors, second):
        with mlflow.start_run(experiment_id=tracking.experiment_id("serving-test")) as run:
            mlflow.log_artifacts(str(version.save(tmp_path_factory.mktemp("version") / "model")), "model")
        client.create_model_version("serving-test", f"{run.info.artifact_uri}/model", run.info.run_id)
    client.set_registered_model_alias("serving-test", "champion", "1")
    return "models:/serving-test@champion", second


def test_reload_swaps_to_the_alias_without_losing_requests(
    champion: tuple[str, ItemVectors], vectors: ItemVectors
) -> None:
    uri, second = champion
    before = list(Recommender(vectors).recommend("a1", k=5).item_ids)
    after = list(Recommender(second).recommend("a1", k=5).item_ids)
    assert before != after
    answers: list[tuple[int, list[str] | None]] = []
    failures: list[str] = []
    stop = threading.Event()

    def hammer(base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as session:
            while not stop.is_set():
                try:
                    response = session.get("/similar/a1", params={"k": 5})
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                    continue
                ids = [r["item_id"] for r in response.json()["recommendations"]] if response.is_success else None
                answers.append((response.status_code, ids))

    with running(create_app(uri)) as client:
        clients = [threading.Thread(target=hammer, args=(str(client.base_url),)) for _ in range(4)]
        for thread in clients:
            thread.start()
        while len(answers) < 200:
            time.sleep(0.01)
        mlflow.MlflowClient().set_registered_model_alias("serving-test", "champion", "2")
        reloaded = client.post("/reload")
        served_before = len(answers)
        while len(answers) < served_before + 200:
            time.sleep(0.01)
        stop.set()
        for thread in clients:
            thread.join()
        assert reloaded.status_code == 200 and reloaded.json()["reloads"] == 1
        assert client.get("/health").json()["reloads"] == 1
    assert failures == [] and all(status == 200 for status, _ in answers)
    assert {tuple(ids) for _, ids in answers} <= {tuple(before), tuple(after)}
    assert answers[0][1] == before and answers[-1][1] == after


def test_relation_parameter(client: httpx.Client, vectors: ItemVectors) -> None:
    recommender = Recommender(vectors)
    for relation in ("next", "similar"):
        body = client.get("/similar/a1", params={"k": 5, "relation": relation}).json()
        expected = recommender.recommend("a1", k=5, relation=relation)
        assert [r["item_id"] for r in body["recommendations"]] == list(expected.item_ids)
        assert [r["score"] for r in body["recommendations"]] == pytest.approx(expected.scores.tolist(), abs=1e-4)
    batch = client.post("/similar", json={"item_ids": ["a1"], "k": 3, "relation": "next"}).json()
    assert [r["item_id"] for r in batch["results"][0]["recommendations"]] == list(
        recommender.recommend("a1", k=3, relation="next").item_ids
    )
    session = client.post("/session", json={"items": ["a1", "a2"], "k": 3, "relation": "next"}).json()
    assert [r["item_id"] for r in session["recommendations"]] == list(
        recommender.for_session(["a1", "a2"], k=3, relation="next").item_ids
    )
    assert client.get("/similar/a1", params={"relation": "bogus"}).status_code == 422
    assert client.post("/similar", json={"item_ids": ["a1"], "relation": "bogus"}).status_code == 422
    assert client.post("/session", json={"items": ["a1"], "relation": "bogus"}).status_code == 422
