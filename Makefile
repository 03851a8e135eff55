# Two commands set up everything: `make sweep` (the paper's sweep and figure), `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
TRACKERS := $(VENV)/.installed-trackers
DOCS := $(VENV)/.installed-docs

.DEFAULT_GOAL := help
# This checkout's example code (rosenbrock/) first, whichever checkout .venv was made from.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
.PHONY: help env trackers sweep figures search test test-local lint docs format bench slurm-up slurm-down clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

# pyproject.toml's requires-python.
MIN_PYTHON := 3.11
# Asked for a given Python (make env PYTHON=python3.12): an unsupported one stops make, and a
# .venv that another interpreter made is removed here, so that it is rebuilt (scripts/venv
# says which and why).
ifeq ($(origin PYTHON),command line)
ifneq ($(shell scripts/venv check "$(PYTHON)" "$(VENV)" $(MIN_PYTHON) >&2 && echo ok),ok)
$(error PYTHON=$(PYTHON) cannot be used (see above))
endif
endif

# A failed set-up (an unsupported Python, a failed install) removes the half-made .venv.
$(INSTALLED): pyproject.toml constraints.txt
	@scripts/venv create "$(PYTHON)" "$(VENV)" $(MIN_PYTHON) -c constraints.txt \
		--config-settings editable_mode=compat -e '.[test,lint]'
	touch $@

env: $(INSTALLED)  ## Create .venv with the pinned dependencies (done by the other targets)

# The trackers extra (MLflow, W&B) for tracker=mlflow / tracker=wandb; make test installs it.
$(TRACKERS): $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt \
		--config-settings editable_mode=compat -e '.[test,lint,trackers]'
	touch $@

trackers: $(TRACKERS)  ## Install MLflow and W&B into .venv (for tracker=mlflow / tracker=wandb)

# The docs extra (MkDocs) for make docs, make lint and the tests that build the docs.
$(DOCS): $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt \
		--config-settings editable_mode=compat -e '.[test,lint,docs]'
	touch $@

sweep: $(INSTALLED)  ## Run the full experiment sweep into results/, then the figures
	$(PY) task.py -cp experiment -m
	$(MAKE) figures

# Every figure and table of the paper in one process: the generic specs of plots/specs/ and the
# landscape, the example's own script (its spec is of kind script).
FIGURE_SPECS := plots/specs/convergence.yaml plots/specs/summary.yaml plots/specs/landscape.yaml

figures: $(INSTALLED)  ## Draw the figures and the summary table in plots/ from results/
	$(VENV)/bin/optsweep plot $(addprefix --spec ,$(FIGURE_SPECS))

search: $(INSTALLED)  ## Run the searches of experiment/search/ (nevergrad, Optuna) and draw their traces
	$(PY) task.py -cp experiment search=tnc -m
	$(PY) task.py -cp experiment search=lbfgsb -m
	$(PY) task.py -cp experiment search=tnc-optuna -m
	$(PY) plots/search_trace.py search=tnc
	$(PY) plots/search_trace.py search=lbfgsb
	$(PY) plots/search_trace.py search=tnc-optuna

# On one pytest-xdist worker per core, at most 4 (tests/conftest.py says how tests are grouped):
# most tests wait on the sweeps they start, so the workers overlap them.
PARALLEL := -n auto --maxprocesses 4 --dist loadgroup

test: $(TRACKERS) $(DOCS)  ## Run all tests (the SLURM ones start a test cluster: root)
	$(PY) -m pytest $(PARALLEL)

test-local: $(TRACKERS) $(DOCS)  ## Run every test that needs no SLURM cluster (no root needed)
	$(PY) -m pytest $(PARALLEL) -m "not slurm"

lint: $(TRACKERS) $(DOCS)  ## Lint, check formatting, type-check (ruff, mypy) and build the docs strictly
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(MAKE) docs

docs: $(DOCS)  ## Build the documentation into site/ (MkDocs; a broken link or anchor fails)
	$(VENV)/bin/mkdocs build --strict --site-dir site

format: $(INSTALLED)  ## Format the code and sort imports (ruff)
	$(VENV)/bin/ruff check --select I --fix .
	$(VENV)/bin/ruff format .

# bench/benchopt_bench.py installs benchopt into .cache/benchopt-venv (pip, once), not .venv.
bench: $(INSTALLED)  ## Benchmark the sweep against a plain loop, the launchers, reading results (45-4,500), searches, benchopt
	$(PY) bench/sweep_bench.py
	$(PY) bench/launcher_bench.py
	$(PY) bench/results_bench.py
	$(PY) bench/search_bench.py
	$(PY) bench/benchopt_bench.py

slurm-up:  ## Start a one-node SLURM test cluster (root; installs slurm-wlm, munge if missing)
	@scripts/slurm-cluster up
	@echo 'use it in this shell: eval "$$(scripts/slurm-cluster env)"'

slurm-down:  ## Stop the test cluster
	@scripts/slurm-cluster down

clean:  ## Remove the environment, caches, Hydra's run logs and the built docs (results/ is kept)
	rm -rf $(VENV) .cache outputs multirun site
