# The two README commands: `make demo` (train on the shipped data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-browser sweep ui install install-text clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,spark,postgres]'
	# numba's cache of the forward kernel, so that the first training does not compile it (1.5-5 s)
	$(BIN)/python -c 'from recsys.item2vec import compile_kernels; compile_kernels()'
	touch $(STAMP)

install: $(STAMP)

# The text extra (sentence embeddings for cold start): a CPU build of torch first, so pip never takes a CUDA one.
install-text: $(STAMP)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,text]'

data/playlists.txt data/metadata.csv: | $(STAMP)
	$(BIN)/recsys data synth --out data

demo: $(STAMP) data/playlists.txt data/metadata.csv
	PYTHONHASHSEED=0 $(BIN)/recsys train --config pipelines/configs/default.toml --examples 3

# two pytest-xdist workers (tests/conftest.py keeps the tests that share an expensive fixture on one
# worker and starts the longest first); the slowest 30 tests are printed at the end
test: $(STAMP)
	$(BIN)/lint-imports   # the layer contract in pyproject.toml: imports point down, no cycles
	PYTHONHASHSEED=0 $(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=30

test-browser: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)
	PYTHONHASHSEED=0 $(BIN)/python -m pytest -q tests/test_dashboard.py

sweep: $(STAMP) data/playlists.txt data/metadata.csv
	PYTHONHASHSEED=0 $(BIN)/recsys sweep --config pipelines/configs/sweep.toml

ui: $(STAMP)
	$(BIN)/recsys ui

clean:
	rm -rf $(VENV) .pytest_cache
