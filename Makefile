# Two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist processes for `make test` (auto: one per core; 0: a single process).
TEST_WORKERS ?= auto

.PHONY: install run test lint format migrate seed bench-ingest bench-health bench-work clean-data stop-embedded

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m csplatform.runall

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install
	$(BIN)/python manage.py migrate

seed: install
	$(BIN)/python manage.py seed_demo

# The embedded PostgreSQL and Redis outlive `make run` so the next start is fast.
stop-embedded: install
	$(BIN)/python -m csplatform.runall stop-embedded

bench-ingest: migrate
	$(BIN)/python bench/ingest.py

bench-health: migrate
	$(BIN)/python bench/health.py

bench-work: migrate
	$(BIN)/python bench/work.py

clean-data: stop-embedded
	rm -rf var
