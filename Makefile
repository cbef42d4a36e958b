# The two commands: `make run` (whole service with demo data) and `make test`.
# Both create .venv and install what they need; nothing else must be installed by hand.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install clean system-deps vendor

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
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
	$(PY) -m pytest $(PYTEST_ARGS)

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
