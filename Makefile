# SP4N Engine: local workflow.
#   make venv   create .venv and install the project with its test extras (once per pyproject change)
#   make assets the portal's browser libraries from npm (package-lock.json): Leaflet, its clustering,
#               axe-core for the accessibility tests; served by the app from node_modules/
#   make run    Temporal dev server + worker + API on 127.0.0.1 (Ctrl-C stops all three)
#   make test   the test suite; extra pytest arguments via PYTEST_ARGS="..."
#               (PYTEST_ALLOW_EMPTY=1 also accepts pytest's "no tests collected", exit status 5)

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
PYTEST_ALLOW_EMPTY ?=

# Recipes see the venv's console scripts (temporal, temporal-test-server) without activation.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

ASSETS_STAMP := node_modules/.installed

.PHONY: venv assets run test

venv: $(STAMP)

# The stamp makes re-runs instant; editing pyproject.toml triggers a reinstall.
$(STAMP): pyproject.toml
	@test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --disable-pip-version-check -e '.[test]'
	@touch $@

# `npm ci` installs exactly the locked versions; editing package-lock.json triggers a reinstall.
assets: $(ASSETS_STAMP)

$(ASSETS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

run: venv assets
	$(VENV_PY) scripts/run_all.py

test: venv assets
	$(VENV_PY) -m pytest $(PYTEST_ARGS)$(if $(PYTEST_ALLOW_EMPTY), || test $$? -eq 5)
