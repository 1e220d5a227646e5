# SP4N Engine: local workflow.
#   make venv   create .venv and install what `make run` needs: the project and its `run` extra (the
#               local mail catcher), no test tools (once per pyproject change)
#   make test-venv  the same plus the test extras (pytest, Playwright, moto, ...): `make test` does it
#   make assets the portal's browser libraries from npm (package-lock.json): Leaflet, its clustering,
#               axe-core for the accessibility tests; served by the app from node_modules/
#   make run    Temporal dev server + worker + API + a local mail catcher on 127.0.0.1 (Ctrl-C stops
#               them all); ports via SP4N_API_PORT, SP4N_TEMPORAL_PORT, SP4N_TEMPORAL_UI_PORT,
#               WORKER_METRICS_PORT, SP4N_MAIL_PORT (scripts/run_all.py)
#   make test   the test suite, in PYTEST_WORKERS processes (pytest-xdist; 2 by default, 0 runs it in
#               one); extra pytest arguments via PYTEST_ARGS="..."
#               (PYTEST_ALLOW_EMPTY=1 also accepts pytest's "no tests collected", exit status 5)

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2
PYTEST_ALLOW_EMPTY ?=

# Recipes see the venv's console scripts (temporal, temporal-test-server) without activation.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

ASSETS_STAMP := node_modules/.installed

.PHONY: venv test-venv assets run test

venv: $(STAMP)
test-venv: $(TEST_STAMP)

# The stamps make re-runs instant; editing pyproject.toml triggers a reinstall. Running needs only
# the project (and its `run` extra); the test tools come with the first `make test`.
$(STAMP): pyproject.toml
	@test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --disable-pip-version-check -e '.[run]'
	@touch $@

$(TEST_STAMP): pyproject.toml
	@test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --disable-pip-version-check -e '.[run,test]'
	@touch $(STAMP) $@

# `npm ci` installs exactly the locked versions; editing package-lock.json triggers a reinstall.
assets: $(ASSETS_STAMP)

$(ASSETS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

run: venv assets
	$(VENV_PY) scripts/run_all.py

test: test-venv assets
	$(VENV_PY) -m pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)$(if $(PYTEST_ALLOW_EMPTY), || test $$? -eq 5)
