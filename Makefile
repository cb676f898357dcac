# The two quick-start commands (see README.md) and the checks CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo check test lint types bench-accuracy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# install the package and run the offline demo against the simulated shops
demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/tracker demo

# install with the test tools and run lint, types and tests: the same as CI
check: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/ruff check tracker tests bench
	$(BIN)/ruff format --check tracker tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

test: check

# extraction accuracy on the development corpus (needs ../shared/corpus)
bench-accuracy: $(BIN)/python
	$(BIN)/python bench/accuracy.py --corpus ../shared/corpus

clean:
	rm -rf $(VENV) demo-output .mypy_cache .ruff_cache .pytest_cache
