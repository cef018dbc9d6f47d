# Every development command is defined once, here; the README, CI (.ci/run) and hooks call these.
VENV    ?= .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
PYTHON  ?= python3
OUT     ?= out

.PHONY: all venv demo test pytest lint typecheck contracts schema crd-schemas bench clean

all: test

$(STAMP): pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e . -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

## make demo: set up, check and render the default fleet (fleet/demo.yaml) into out/
demo: venv
	$(BIN)/meshfleet validate fleet/demo.yaml fleet/demo-standalone.yaml
	$(BIN)/meshfleet plan fleet/demo.yaml
	$(BIN)/meshfleet render fleet/demo.yaml --out $(OUT)
	@if command -v kubectl >/dev/null 2>&1; then \
	  for d in $(OUT)/*/; do kubectl kustomize "$$d" >/dev/null && echo "kubectl kustomize $$d: ok" || exit 1; done; \
	else echo "kubectl not found: skipped building the rendered directories"; fi

## make test: lint, types, layer contracts and the whole test suite
test: venv lint typecheck contracts pytest

pytest: venv
	$(PY) -m pytest

lint: venv
	$(BIN)/ruff check .

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
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
