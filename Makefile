# Two commands: `make run` and `make test`. Both create .venv and install on first use.
# Also: `make interop` (ACRO and SACRO-Viewer in .venv-interop, for tests/interop; `make test` builds it unless
# DJS_SKIP_INTEROP=1), `make lab` (JupyterLab on the notebooks and the dummy extract), `make environment.yml` (the conda route,
# generated from pyproject.toml), `make lint` (ruff and mypy, run first by `make test`), `make test-fast` (the suite without tests marked slow) and `make sync-notebooks` (notebooks <-> their .py).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SCALE  ?= small
DUMMY  := dummy/$(SCALE)

.PHONY: run test test-fast lint sync-notebooks install interop bench clean-dummy lab

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lab]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

# The output checkers' tools (requirements-interop.txt) in their own venv: tests/interop runs every bundle through them.
INTEROP       := .venv-interop
INTEROP_STAMP := $(INTEROP)/.installed-stamp

$(INTEROP_STAMP): requirements-interop.txt
	rm -rf $(INTEROP)
	$(PYTHON) -m venv $(INTEROP)
	$(INTEROP)/bin/python -m pip install --quiet --upgrade pip
	$(INTEROP)/bin/python -m pip install --quiet -r requirements-interop.txt
	touch $(INTEROP_STAMP)

interop: $(INTEROP_STAMP)

run: $(STAMP)
	$(BIN)/djs main --scale $(SCALE) --dummy-dir $(DUMMY)

# tests/interop needs .venv-interop: a failed build fails `make test` (DJS_SKIP_INTEROP=1 skips both, explicitly).
test: lint $(if $(filter 1,$(DJS_SKIP_INTEROP)),,interop)
	$(BIN)/python -m pytest -q -p no:cacheprovider

# The package's house rules: ruff (lint on the package, benchmarks and scripts, format everywhere) and mypy (pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check djs_toolkit bench scripts
	$(BIN)/ruff format --check djs_toolkit bench scripts tests
	$(BIN)/mypy

# Everything but the notebook runs, kernels, child processes and larger dummy extracts (`@pytest.mark.slow`).
test-fast: $(STAMP) $(if $(filter 1,$(DJS_SKIP_INTEROP)),,interop)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

# Each notebooks/NAME.ipynb is paired with notebooks/NAME.py (jupytext, py:percent): the file saved last gives the
# cells to the other. Then outputs and execution counts are cleared from the .ipynb (they may hold results that are
# not cleared for release).
sync-notebooks: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.ipynb
	@$(BIN)/python -c "import sys, nbformat; \
	nbs = {p: nbformat.read(p, as_version=4) for p in sys.argv[1:]}; \
	dirty = {p: nb for p, nb in nbs.items() if any(c.get('outputs') or c.get('execution_count') for c in nb.cells)}; \
	[c.update(outputs=[], execution_count=None) for nb in dirty.values() for c in nb.cells if c.cell_type == 'code']; \
	[nbformat.write(nb, p) for p, nb in dirty.items()]; \
	print(f'outputs cleared from {len(dirty)} notebook(s)')" notebooks/*.ipynb

# JupyterLab on the notebooks, working on the dummy extract their `data_root` parameter names (../dummy/small),
# generated first when it is missing. LAB_ARGS passes options on (e.g. LAB_ARGS=--no-browser).
LAB_ARGS ?=
lab: $(STAMP)
	@test -d dummy/small || $(BIN)/djs dummy --scale small --out dummy/small
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(LAB_ARGS)

# environment.yml (the conda route into the SRS) is generated from pyproject.toml, the one list of dependencies.
environment.yml: pyproject.toml scripts/environment_yml.py
	$(PYTHON) scripts/environment_yml.py

bench: $(STAMP)
	for f in bench/*.py; do $(BIN)/python $$f; done

clean-dummy:
	rm -rf dummy
