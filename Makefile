# SAC: the README's commands.
#   make demo   one process, SQLite, nothing else to install    -> http://127.0.0.1:8000/
#   make test   PostgreSQL + Redis + Chromium, then the whole pytest suite
#   make up     the full stack on this machine (PostgreSQL, Redis, gunicorn, Celery worker + beat)
# Run `make help` for the rest.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PYTEST_ARGS ?=

# Stamps named after pyproject.toml's content: the install reruns only when it changes.
PYPROJECT_HASH := $(shell sha256sum pyproject.toml 2>/dev/null | cut -c1-16)
STAMP := $(VENV)/.installed-base-$(PYPROJECT_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(PYPROJECT_HASH)

# The project's packages import from the checkout whatever the install mode.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help demo test up lint bench clean install install-dev services

help: ## Show the targets
	@echo "SAC make targets:"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'
	@echo "Variables: PYTHON=$(PYTHON) (must be >= 3.11), PYTEST_ARGS='...' for make test"

# ------------------------------------------------------------------ install

$(VPY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "SAC needs Python >= 3.11; '$(PYTHON)' is $$($(PYTHON) --version 2>&1). Use make PYTHON=python3.11 ..." >&2; exit 1; }
	@echo "==> creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv --clear $(VENV) || { \
	  echo "==> '$(PYTHON) -m venv' failed: Debian/Ubuntu's Python needs the python3-venv package"; \
	  command -v apt-get >/dev/null || exit 1; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  apt="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q -y"; \
	  echo "==> apt-get install python3-venv"; \
	  $$apt install python3-venv || { $$apt update && $$apt install python3-venv; }; \
	  $(PYTHON) -m venv --clear $(VENV); \
	}

$(STAMP): | $(VPY)
	@echo "==> installing SAC into $(VENV) (pyproject.toml $(PYPROJECT_HASH))"
	$(VPY) -m pip install -q -e .
	@rm -f $(VENV)/.installed-base-*
	@touch $@

$(DEV_STAMP): | $(VPY)
	@echo "==> installing SAC with dev extras into $(VENV) (pyproject.toml $(PYPROJECT_HASH))"
	$(VPY) -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-base-* $(VENV)/.installed-dev-*
	@touch $@ $(STAMP)

install: $(STAMP) ## Create .venv and install SAC (skipped while pyproject.toml is unchanged)

install-dev: $(DEV_STAMP) ## Same, with the dev extras (pytest, playwright, ruff)

services: ## Make sure PostgreSQL, Redis and Chromium are installed and running
	bash scripts/ensure_services.sh

# ------------------------------------------------------------------ run

demo: export DJANGO_SETTINGS_MODULE := sac.settings.dev
demo: $(STAMP) ## Run the self-contained demo (SQLite, in-process Celery, simulator) on 127.0.0.1:8000
	@mkdir -p var
	$(VPY) manage.py migrate --noinput
	$(VPY) manage.py seed_demo
	@echo "==> SAC demo on http://127.0.0.1:8000/ (Ctrl-C to stop)"
	exec $(VPY) manage.py demo

up: $(STAMP) ## Run the full stack here: PostgreSQL, Redis, gunicorn, Celery worker and beat, simulator
	exec bash scripts/up.sh

# ------------------------------------------------------------------ checks

test: export DJANGO_SETTINGS_MODULE := sac.settings.test
test: $(DEV_STAMP) ## Run the test suite (PostgreSQL, Redis, headless Chromium); extra args: PYTEST_ARGS='-k foo'
	bash scripts/ensure_services.sh
	$(VPY) -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP) ## ruff check .
	$(VENV)/bin/ruff check .

bench: export DJANGO_SETTINGS_MODULE := sac.settings.test
bench: $(DEV_STAMP) ## Run every bench/*.py under sac.settings.test
	bash scripts/ensure_services.sh --no-chromium
	@shopt -s nullglob; benches=(bench/*.py); \
	if [ $${#benches[@]} -eq 0 ]; then echo "no bench/*.py to run"; exit 0; fi; \
	for b in "$${benches[@]}"; do \
	  echo "==> $$b"; \
	  $(VPY) "$$b"; \
	done

clean: ## Remove var/, .local/, collected static files and caches (keeps .venv)
	rm -rf var .local staticfiles .pytest_cache .ruff_cache celerybeat-schedule*
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -print0 | xargs -0 rm -rf
