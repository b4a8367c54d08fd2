# SoulSpot: `make run` serves it, `make test` checks everything. Both set up what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
SYSTEM_STAMP := $(VENV)/.installed-system

.PHONY: run test audit-deps lint type security unit bench soak demo clean docs-config dist image

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml $(STAMP_RUN)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(SYSTEM_STAMP): scripts/install-system-deps.sh | $(BIN)/python
	bash scripts/install-system-deps.sh
	touch $@

## run: serve SoulSpot on http://127.0.0.1:8765 (data in ./data); PORT=8766 make run for
## another port. The command it installs is $(BIN)/soulspot (not on PATH).
run: $(STAMP_RUN)
	@echo "make run: the soulspot command is $(BIN)/soulspot (or: . $(BIN)/activate)" >&2
	$(BIN)/soulspot serve $(if $(PORT),--port $(PORT))

## test: lint, type check, security scan and the whole suite (e2e included)
test: $(STAMP_TEST) $(SYSTEM_STAMP)
	$(BIN)/ruff check kernel plugins tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -q -c pyproject.toml -r kernel plugins
	$(BIN)/actionlint .github/workflows/*.yml
	$(BIN)/hadolint Dockerfile
	$(MAKE) --no-print-directory audit-deps
	$(BIN)/pytest -n auto -q

## audit-deps: known vulnerabilities in installed dependencies (pip-audit; needs internet,
## says NOT AUDITED and does not fail when the vulnerability service cannot be reached)
audit-deps: $(STAMP_TEST)
	$(PY) scripts/audit_deps.py

lint: $(STAMP_TEST)
	$(BIN)/ruff check kernel plugins tests bench examples
	$(BIN)/lint-imports

type: $(STAMP_TEST)
	$(BIN)/mypy

security: $(STAMP_TEST)
	$(BIN)/bandit -q -c pyproject.toml -r kernel plugins

unit: $(STAMP_TEST)
	$(BIN)/pytest -n auto -q -m "not e2e"

## docs-config: regenerate config/soulspot.toml, config/production.example.toml and
## docs/configuration.md from the models
docs-config: $(STAMP_RUN)
	$(BIN)/soulspot config sample > config/soulspot.toml
	$(BIN)/soulspot config reference > docs/configuration.md
	$(PY) scripts/production_config.py > config/production.example.toml

## demo: click through sign-in offline: a local OAuth provider (Spotify stand-in) and SoulSpot
demo: $(STAMP_RUN)
	BIN=$(BIN) bash scripts/demo.sh

## bench: every benchmark in bench/, each side by side with its baseline (not part of `make test`)
bench: $(STAMP_RUN)
	@set -e; for script in bench/*.py; do \
	  case $$script in bench/_*|bench/soak.py) continue;; esac; \
	  echo "== $$script"; $(PY) $$script; done

## soak: 60 s of mixed load (16 signed-in clients on 127.0.0.1) while backups and the session
## purge run; fails on any 5xx or lost write, reports memory growth (bench/soak.py)
soak: $(STAMP_RUN)
	$(PY) bench/soak.py

## dist: the release files in dist/: the wheel (with share/doc/soulspot: deployment docs, the
## production config example, the systemd units) and the sdist
dist: $(STAMP_TEST)
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .

## image: the container image soulspot:<version>, its label carrying that version (needs Docker)
VERSION = $(shell $(PY) -c 'import soulspot; print(soulspot.__version__)' 2>/dev/null)
image: $(STAMP_RUN)
	docker build --build-arg SOULSPOT_VERSION=$(VERSION) -t soulspot:$(VERSION) -t soulspot:latest .

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache
