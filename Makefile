# Every target creates .venv and installs what it needs when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint typecheck docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the demo needs the core, the report's charts and the server it ends by pointing to
$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[report,server]'
	touch $@

# the tests need every extra, the test tools and the benchmark competitors
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@ $(VENV)/.demo

demo: $(VENV)/.demo
	$(BIN)/vip-workflow demo

test: $(VENV)/.dev
	$(BIN)/ruff check vip_workflow tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q
	$(BIN)/mkdocs build --strict --site-dir $(VENV)/site

bench: $(VENV)/.dev
	$(BIN)/python -m bench

lint: $(VENV)/.dev
	$(BIN)/ruff check vip_workflow tests bench tools

typecheck: $(VENV)/.dev
	$(BIN)/mypy
	$(BIN)/lint-imports

docs: $(VENV)/.dev
	$(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) site .pytest_cache .hypothesis .mypy_cache
