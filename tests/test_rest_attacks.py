"""The REST API under attack: fuzzed from its own OpenAPI description, oversized and malformed
bodies, unauthenticated reloads, exposure beyond loopback. Real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_serving import running

from recsys import train
from recsys.config import Item2VecConfig
from recsys.data.synthetic import two_cluster_corpus
from recsys.errors import ConfigError
from recsys.guard import MAX_BODY_BYTES, check_exposure, is_loopback
from recsys.serving import MAX_BATCH, MAX_ID_LENGTH, MAX_RESULTS, create_app, serve

TOKEN = "a-long-random-admin-token-for-tests"
FUZZ_EXAMPLES = 40
"""Examples per operation and phase; the whole run generates several hundred requests."""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    vectors = train(two_cluster_corpus(n_sequences=100), Item2VecConfig(vector_size=8, epochs=3, workers=1))
    return vectors.save(tmp_path_factory.mktemp("attacks") / "model")


@pytest.fixture(scope="module")
def client(model_dir: Path) -> Iterator[httpx.Client]:
    with running(create_app(str(model_dir), admin_token=TOKEN)) as client:
        yield client


def test_fuzzing_from_the_openapi_description_finds_no_server_error_and_no_undocumented_status(
    client: httpx.Client, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(  # 413 (body too large) is how this API rejects oversized valid-looking input
        "[checks.negative_data_rejection]\nexpected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422]\n"
    )
    checks = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
              "response_schema_conformance,negative_data_rejection,ignored_auth,unsupported_method,"
              "missing_required_header")
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
         f"{client.base_url}/openapi.json", "--checks", checks, "--max-examples", str(FUZZ_EXAMPLES),
         "--seed", "13", "--generation-database", "none", "--no-color", "--workers", "1",
         "-H", f"Authorization: Bearer {TOKEN}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    generated = int(re.search(r"(\d+) generated", result.stdout).group(1))  # type: ignore[union-attr]
    assert generated > 300, summary
    assert client.get("/health").json()["reloads"] > 0  # the fuzzer reloaded the model too


def test_reload_needs_the_admin_token(client: httpx.Client) -> None:
    before = client.get("/health").json()["reloads"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = client.post("/reload", headers=headers)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert "admin token" in refused.json()["detail"]
    accepted = client.post("/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert accepted.status_code == 200 and accepted.json()["reloads"] == before + 1


def test_the_openapi_description_lists_every_status(client: httpx.Client, model_dir: Path) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths["/similar/{item_id}"]["get"]["responses"]) == {"200", "404", "422"}
    for path in ("/similar", "/session"):
        assert set(paths[path]["post"]["responses"]) == {"200", "404", "413", "422"}
    assert set(paths["/reload"]["post"]["responses"]) == {"200", "401", "413", "500"}
    assert paths["/reload"]["post"]["security"] == [{"HTTPBearer": []}]
    assert set(paths["/health"]["get"]["responses"]) == {"200"}
    with running(create_app(str(model_dir))) as open_client:  # loopback without a token: reload is open
        reload = open_client.get("/openapi.json").json()["paths"]["/reload"]["post"]
        assert "401" not in reload["responses"] and "security" not in reload
        assert open_client.post("/reload").status_code == 200


def test_bodies_over_the_limit_are_413_and_the_server_lives_on(client: httpx.Client) -> None:
    big = json.dumps({"item_ids": ["a1"], "exclude": ["x" * 100] * (MAX_BODY_BYTES // 100)}).encode()
    announced = client.post("/similar", content=big, headers={"content-type": "application/json"})
    assert announced.status_code == 413 and "1,048,576 bytes" in announced.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 65536):
            yield big[start:start + 65536]

    streamed = client.post("/session", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and streamed.headers["content-type"] == "application/json"
    assert client.post("/reload", content=big, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 413
    assert client.get("/similar/a1").status_code == 200


@pytest.mark.parametrize("body", [b"\xff\xfeK", b'{"item_ids": ["a1"', b"[]", b'"a1"', b"null"])
def test_malformed_bodies_are_422(client: httpx.Client, body: bytes) -> None:
    for path in ("/similar", "/session"):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert isinstance(response.json()["detail"], list)


def test_requests_are_bounded(client: httpx.Client) -> None:
    too_many = client.post("/similar", json={"item_ids": ["a1"] * (MAX_BATCH + 1), "k": 1})
    assert too_many.status_code == 422
    per_k = MAX_RESULTS // 1000
    assert client.post("/similar", json={"item_ids": ["a1"] * per_k, "k": 1000}).status_code == 200
    over = client.post("/similar", json={"item_ids": ["a1"] * (per_k + 1), "k": 1000})
    assert over.status_code == 422
    assert over.json()["detail"][0]["msg"] == (
        f"{per_k + 1} items x k=1000 asks for more than {MAX_RESULTS:,} recommendations; split the request or lower k"
    )
    long_id = "x" * (MAX_ID_LENGTH + 1)
    assert client.get(f"/similar/{long_id}").status_code == 422
    assert client.post("/session", json={"items": [long_id]}).status_code == 422
    assert client.post("/session", json={"items": ["a1"], "exclude": ["b"] * (MAX_BATCH + 1)}).status_code == 422
    assert client.get("/health").status_code == 200


def test_only_loopback_may_go_without_a_token(model_dir: Path) -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host)
        check_exposure(host, None)
    for host in ("0.0.0.0", "::", "192.168.1.20", "example.org"):
        assert not is_loopback(host)
        with pytest.raises(ConfigError, match="--admin-token"):
            check_exposure(host, None)
        check_exposure(host, TOKEN)
    with pytest.raises(ConfigError, match=r"--host 0\.0\.0\.0 .*RECSYS_ADMIN_TOKEN"):
        serve(create_app(str(model_dir)), host="0.0.0.0", port=1)  # refused before it binds
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_ADMIN_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "recsys.cli", "serve", "--model", str(model_dir),
                             "--host", "0.0.0.0"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: --host 0.0.0.0")
