# Model as a Service kit. A fresh machine needs only `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STATE_DIR ?= .maas
# PORT: the sandbox's first port (default 8930; a state dir keeps the port it was created with).
# LAB_PORT: JupyterLab's port (default 8888). E.g. `make run PORT=9130`, `make lab PORT=9130 LAB_PORT=9888`.
PORT ?=
LAB_PORT ?= 8888
SANDBOX_PORT = $(if $(PORT),--port $(PORT))
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
	$(BIN)/maas run --state-dir $(STATE_DIR) $(SANDBOX_PORT)

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

## JupyterLab with the sandbox up (loopback only; --allow-root when run as root, as in most containers); notebooks
## open unmodified (maas_helpers/lab.py).
lab: install
	$(BIN)/maas sandbox up --state-dir $(STATE_DIR) $(SANDBOX_PORT)
	$(BIN)/jupyter lab --ip 127.0.0.1 --port $(LAB_PORT) $(LAB_ROOT) \
		--ServerApp.contents_manager_class=maas_helpers.lab.KernelLanguageContents notebooks

LAB_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

bench: install
	$(BIN)/python benchmarks/run_all.py

soak: install
	$(BIN)/python benchmarks/soak.py

clean:
	-$(BIN)/maas sandbox down --state-dir $(STATE_DIR) 2>/dev/null
	rm -rf build .pytest_cache .ruff_cache .import_linter_cache
