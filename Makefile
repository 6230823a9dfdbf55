# Every target sets itself up: a fresh clone needs only `make serve` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install serve test test-cluster lint format migrations bench clean

install: $(STAMP)

# GraphiQL's files (and the browser tests' driver) come from npm, pinned by the lock files; so
# does the frontend app the browser test of a second origin runs (tests/frontend).
$(STAMP): pyproject.toml config/graphiql/package-lock.json tests/frontend/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	npm ci --prefix config/graphiql --no-audit --no-fund --loglevel=error
	npm ci --prefix tests/frontend --no-audit --no-fund --loglevel=error
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/shutter serve

# The whole suite, then its `topology` tests again on a 6-node Redis Cluster of their own.
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-cluster

test-cluster: $(STAMP)
	TEST_REDIS_TOPOLOGY=cluster $(BIN)/python -m pytest -m topology $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Writes a new migration under migrations/ from the model changes.
migrations: $(STAMP)
	$(BIN)/tortoise makemigrations

# Quick runs of the benchmarks (figures in the README come from the full runs).
bench: $(STAMP)
	$(BIN)/python bench/media.py --quick
	$(BIN)/python bench/feed.py --quick
	$(BIN)/python bench/realtime.py --quick
	$(BIN)/python bench/stories.py --quick
	$(BIN)/python bench/ranking.py --quick
	$(BIN)/python bench/cluster.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
