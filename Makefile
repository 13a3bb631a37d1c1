# The two README commands: `make demo` (train on the shipped data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all test-browser sweep ui install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,spark,postgres]'
	touch $(STAMP)

install: $(STAMP)

data/playlists.txt data/metadata.csv: | $(STAMP)
	$(BIN)/recsys data synth --out data

demo: $(STAMP) data/playlists.txt data/metadata.csv
	PYTHONHASHSEED=0 $(BIN)/recsys train --config pipelines/configs/default.toml --examples 3

test: $(STAMP)
	PYTHONHASHSEED=0 $(BIN)/python -m pytest -q

test-all: $(STAMP)
	PYTHONHASHSEED=0 $(BIN)/python -m pytest -q -m "slow or realdata or not slow"

test-browser: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	PYTHONHASHSEED=0 $(BIN)/python -m pytest -q -m browser tests/test_dashboard.py

sweep: $(STAMP) data/playlists.txt data/metadata.csv
	PYTHONHASHSEED=0 $(BIN)/recsys sweep --config pipelines/configs/sweep.toml

ui: $(STAMP)
	$(BIN)/recsys ui

clean:
	rm -rf $(VENV) .pytest_cache
