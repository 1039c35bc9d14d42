# Two commands a new user needs: `make run` and `make test`. Everything else is installed on
# demand: the virtualenv from requirements-dev.txt and Azurite from package-lock.json, each
# only when its inputs changed (stamp files).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.requirements.stamp
NPM_STAMP := node_modules/.package-lock.stamp
# The real Functions Python worker (azure-functions-runtime) runs on Python 3.13, in a venv of
# its own: tests/devhost/test_devhost_worker.py indexes the app with it. A python3.13 on PATH
# or under pyenv is used; without one that test fails saying so.
# (pyenv's shim answers `command -v` without running, hence the version check.)
WORKER_PYTHON ?= $(shell for candidate in python3.13 \
	$${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13; do \
	$$candidate -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && \
	{ command -v $$candidate; break; }; done)
WORKER_VENV := .venv-worker
WORKER_STAMP := $(WORKER_VENV)/.requirements.stamp
# checkov pins its own dependencies: it gets a venv of its own, for the tests only.
IAC_VENV := .venv-iac
IAC_STAMP := $(IAC_VENV)/.requirements.stamp

SUB ?= dev-user
ROLE ?= user

.PHONY: help install worker-venv run test lint typecheck bench soak token clean package package-deps constraints

help:
	@echo "make run    start Azurite, PostgreSQL, moto S3, Varnish (CDN on :6081) and serve the API on http://127.0.0.1:8089"
	@echo "            (REDIS=1: also redis-server, for limits shared through REDIS_URL)"
	@echo "make test   run the whole test suite (it starts its own stack on free ports) and list"
	@echo "            its slowest tests"
	@echo "make lint   ruff, mypy and the import contracts (lint-imports)"
	@echo "make bench  run the benchmarks (BENCH=media: only the media engines; BENCH=scale: listings of 1M files)"
	@echo "make soak   mixed load on a private stack, then check nothing was lost"
	@echo "            (CLIENTS=100 DURATION=300, seconds)"
	@echo "make token SUB=<id> ROLE=user|premium|admin   print a development JWT"
	@echo "make clean  delete the local stack's data (.local/)"
	@echo "make package  build dist/function-app.zip for Azure (Linux x64 wheels) and smoke-test it"
	@echo "make constraints  pin the virtualenv's versions in constraints.txt (after make test)"

install: $(PIP_STAMP) $(NPM_STAMP)

# Debian's python3 may lack ensurepip (package python3-venv): fall back to a venv without
# pip and install pip into it with the system's pip, else say what is missing.
$(PY):
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3.11 or python3 on PATH)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "$(PYTHON) is older than Python 3.11" >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		rm -rf $(VENV) && $(PYTHON) -m venv --without-pip $(VENV) && \
		$(PYTHON) -m pip --python $(PY) install --quiet pip; } || { \
		echo "cannot create $(VENV): install python3-venv (Debian: apt-get install python3-venv)" >&2; \
		rm -rf $(VENV); exit 1; }

# constraints.txt pins the versions the suite passed with; requirements*.txt name minimums.
$(PIP_STAMP): requirements.txt requirements-dev.txt constraints.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

worker-venv: $(WORKER_STAMP)

$(WORKER_STAMP): requirements.txt requirements-worker.txt
	@if [ -z "$(WORKER_PYTHON)" ]; then \
		echo "no Python 3.13 found (python3.13 on PATH or under pyenv): the worker-parity" \
			"test will fail; set WORKER_PYTHON=/path/to/python3.13" >&2; \
	else \
		{ [ -x $(WORKER_VENV)/bin/python ] || $(WORKER_PYTHON) -m venv $(WORKER_VENV); } && \
		$(WORKER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
			-r requirements-worker.txt && touch $@; \
	fi

# npm ci recreates node_modules from the lock file, so the stamp is written after it.
$(NPM_STAMP): package-lock.json package.json
	@command -v npm >/dev/null || { echo "Node.js 20 and npm are required for Azurite" >&2; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

$(IAC_STAMP): requirements-iac.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required" >&2; exit 1; }
	@rm -rf $(IAC_VENV)
	@$(PYTHON) -m venv $(IAC_VENV) 2>/dev/null || { rm -rf $(IAC_VENV) && \
		$(PYTHON) -m venv --without-pip $(IAC_VENV) && \
		$(PYTHON) -m pip --python $(IAC_VENV)/bin/python install --quiet pip; }
	$(IAC_VENV)/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-iac.txt
	@touch $@

# Varnish (the local CDN) is installed when missing, as root; otherwise the script says how
# and the stack starts without it. REDIS=1 also starts redis-server (limits shared through
# REDIS_URL); without it the app keeps its limits in-process, as in Azure without REDIS_URL.
run: install
	bash scripts/install-test-tools.sh varnish
	$(PY) -m devhost stack $(if $(REDIS),--redis)

# The browser and nginx-parity tests need Debian's chromium and nginx (installed once, as root).
# Types first: a type error fails in seconds, not after the integration tests.
# (tests/test_architecture.py checks the import contracts and file lengths in pytest.)
test: install typecheck $(IAC_STAMP) worker-venv
	bash scripts/install-test-tools.sh
	$(PY) -m pytest --durations=25 --durations-min=2

lint: install typecheck
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: install
	$(PY) -m mypy

# BENCH=media (or upload, resumable, stream, scale) runs only those parts.
bench: install
	bash scripts/install-bench-tools.sh
	$(PY) -m bench $(BENCH)

# 100 clients for 5 minutes by default; exits non-zero on any 5xx or lost/corrupted file.
CLIENTS ?= 100
DURATION ?= 300
soak: install
	$(PY) -m bench soak --clients $(CLIENTS) --seconds $(DURATION)

token: install
	@$(PY) -m devhost token --sub "$(SUB)" --role "$(ROLE)"

# The deployment package: Linux x64 wheels into .python_packages (what azd's prepackage hook
# runs), then the zip of what .funcignore lets through, its size, and a smoke test that imports
# function_app from the unpacked zip in a clean Python 3.11.
package-deps: install
	$(PY) infra/package/build.py deps

package: install
	$(PY) infra/package/build.py all

clean:
	rm -rf .local

# Pin what is installed in .venv (after `make test` passed with it). To move to newer
# versions: .venv/bin/pip install -U -r requirements-dev.txt, make test, make constraints.
constraints: install
	@{ echo "# Versions tested together, pinned from .venv by \`make constraints\` (pip freeze)."; \
	   echo "# make install and the deployment package install with -c constraints.txt:"; \
	   echo "#   pip install -r requirements.txt -c constraints.txt"; \
	   $(PY) -m pip freeze --exclude-editable --disable-pip-version-check; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt
	@touch $(PIP_STAMP)
	@echo "constraints.txt: $$(grep -vc '^#' constraints.txt) pins"
