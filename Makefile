# Every target creates the virtualenv on first use, so a fresh clone needs only Python and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast lint proto bench demo clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The whole suite, slow end-to-end tests included.
test: $(STAMP)
	$(BIN)/python -m pytest -q

## Only the fast tests (skips those marked slow).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not slow'

lint: $(STAMP)
	$(BIN)/ruff check .

## Regenerate the committed protobuf stubs from proto/*.proto.
proto: $(STAMP)
	$(BIN)/python -m proto.generate

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

## The whole rhythm on this machine: synthetic federation, real processes, findings.
demo: $(STAMP)
	$(BIN)/fedaudit demo
