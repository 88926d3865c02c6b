# cpkit: the two commands of the README's quick start, and a few helpers.
#   make reports   render the sample enterprises' reports into reports/
#   make test      lint, notebook hygiene and the whole test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.cpkit-installed
LANGS  ?= zh,en
FORMATS ?= html,pdf

.PHONY: reports test lint format setup bench lab-check clean

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh
	@touch $(STAMP)

setup: $(STAMP)

reports: $(STAMP)
	$(VENV)/bin/cpkit render data/samples/* --out reports --lang $(LANGS) --format $(FORMATS)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/check_notebooks.py notebooks
	$(PY) -m pytest -n auto

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lab-check: $(STAMP)
	$(VENV)/bin/pip install -q -e ".[ui]"
	$(PY) scripts/check_lab_widgets.py

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf reports .pytest_cache build dist
