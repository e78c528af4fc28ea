# The two commands: `make demo` runs the demo site, `make test` runs the whole test suite.
# Both set everything up themselves (virtual environment, install, migrations) from a fresh clone.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= all,test,docs,demo

.PHONY: demo test install frontend clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip uv

install: $(BIN)/python
	$(BIN)/python -m uv pip install -q --python $(BIN)/python -e ".[$(EXTRAS)]"

## Run the demo site on the embedded defaults (SQLite, in-memory channel layer, local kernels, task worker).
demo: install
	cd example_project && ../$(BIN)/python manage.py groundup_demo

## Run the whole suite: lint, import contract, migrations, docs, pytest on SQLite, PostgreSQL, each app alone
## and the newest Python/Django line, bringing up PostgreSQL, Redis, Docker and Chromium where it can.
test: install
	$(BIN)/python scripts/run_tests.py

## Rebuild the Jupyter block's JavaScript bundle (needs Node.js 18+ and npm; the built bundle is committed).
frontend:
	cd src/lms_cms_blocks/frontend && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) .venv-newest docs/_build test-artifacts
