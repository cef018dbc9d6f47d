# Every development command is defined once, here; the README, CI (.ci/run) and hooks call these.
VENV    ?= .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
PYTHON  ?= python3
OUT     ?= out

PIP     := $(PY) -m pip install --quiet --disable-pip-version-check
MERMAID := tests/mermaid/node_modules/.package-lock.json

.PHONY: all venv mermaid install demo test pytest install-tests lint typecheck contracts schema crd-schemas bench clean

all: test

# .venv is also the Pulumi program's virtualenv (Pulumi.yaml): meshfleet with its Pulumi extra, editable,
# and the test tools, all at the versions pinned in constraints.txt.
$(STAMP): pyproject.toml requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# Mermaid's own parser (under Node with jsdom, no browser) for the tests of the diff's Mermaid blocks.
$(MERMAID): tests/mermaid/package.json tests/mermaid/package-lock.json
	npm ci --prefix tests/mermaid --no-audit --no-fund --loglevel=error

mermaid: $(MERMAID)

## make install: the command line alone (no Pulumi, no test tools) on your PATH, with pipx
install:
	@command -v pipx >/dev/null 2>&1 || { echo "make install uses pipx; without it: pip install . (in a virtualenv)" >&2; exit 2; }
	pipx install --force --pip-args="-c $(CURDIR)/constraints.txt" .

## make demo: set up, check and render the default fleet (fleet/demo.yaml) into out/
demo: venv
	$(BIN)/meshfleet validate fleet/demo.yaml fleet/demo-standalone.yaml
	$(BIN)/meshfleet plan fleet/demo.yaml
	$(BIN)/meshfleet render fleet/demo.yaml --out $(OUT)
	@if command -v kubectl >/dev/null 2>&1; then \
	  for d in $(OUT)/*/; do kubectl kustomize "$$d" >/dev/null && echo "kubectl kustomize $$d: ok" || exit 1; done; \
	else echo "kubectl not found: skipped building the rendered directories"; fi
	@echo
	@echo "Next: put meshfleet on your PATH with 'source $(VENV)/bin/activate' (or 'make install'), then try"
	@echo "  meshfleet plan fleet/demo.yaml --summary          # one line per cluster"
	@echo "  meshfleet plan fleet/mixed.yaml --cluster fsm-eu   # one cluster's objects"
	@echo "  meshfleet diff fleet/demo.yaml fleet/demo-standalone.yaml"
	@echo "  meshfleet render fleet/demo.yaml --cluster cluster-2 --stdout | kubectl diff --server-side -f -"
	@echo "  meshfleet --help"

## make test: lint and format check, types, layer contracts and the whole test suite (npm installs the Mermaid parser it
## uses); under CI (CI=true) also the install tests, which build fresh virtualenvs from PyPI (about a minute)
test: venv lint typecheck contracts pytest $(if $(filter true 1,$(CI)),install-tests)

pytest: venv mermaid
	$(PY) -m pytest

install-tests: venv
	$(PY) -m pytest -m install

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

contracts: venv
	$(BIN)/lint-imports

## make schema: regenerate fleet/schema.json from the model
schema: venv
	$(BIN)/meshfleet schema --out fleet/schema.json

## make crd-schemas: refresh the schema-only copy of the upstream CRDs from ../shared/crds
crd-schemas: venv
	$(PY) scripts/vendor_schemas.py --crds ../shared/crds --out schemas/crds

## make bench: every command as a whole process at ~1k/10k/100k objects against its floor and kubectl
## kustomize; prints the tables, writes bench/results.json and the README's performance block (about
## 20 minutes on 2 cores). `make bench SIZES=1k,10k`: a quick run that leaves those two alone.
bench: venv
	$(PY) -m bench.run $(if $(SIZES),--sizes $(SIZES))

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis tests/mermaid/node_modules
