# Model as a Service kit. A fresh machine needs only `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STATE_DIR ?= .maas
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install run test lint unit-test policy-test lab bench soak clean

## The venv (pinned by constraints.txt) and nbstripout as this clone's git filter for notebooks (harmless again).
install: $(VENV)/.installed
	$(BIN)/python tools/notebook_filter.py install

$(VENV)/.installed: pyproject.toml setup.py constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

## Start the sandbox, run every notebook headless into build/, print where the results are.
run: install
	$(BIN)/maas run --state-dir $(STATE_DIR)

## Lint, import contracts (design §1), mypy, Python tests (sandbox, helpers, notebooks, browser) and the Lua policy specs.
test: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	bash policies/run-specs.sh
	$(BIN)/pytest
	$(BIN)/python tools/threescale_suite.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

policy-test:
	bash policies/run-specs.sh

## JupyterLab with the sandbox up (loopback only; --allow-root when run as root, as in most containers).
lab: install
	$(BIN)/maas sandbox up --state-dir $(STATE_DIR)
	$(BIN)/jupyter lab --ip 127.0.0.1 $(LAB_ROOT) notebooks

LAB_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

bench: install
	$(BIN)/python benchmarks/run_all.py

soak: install
	$(BIN)/python benchmarks/soak.py

clean:
	-$(BIN)/maas sandbox down --state-dir $(STATE_DIR) 2>/dev/null
	rm -rf build .pytest_cache .ruff_cache .import_linter_cache
