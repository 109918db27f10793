# `make run`: set up .venv and run the default sweep. `make test`: set up and run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# A torch that already imports (e.g. a CUDA build on a GPU machine) is used as it is;
# otherwise torch==2.13.0 comes from pip's configured indexes (where a CPU wheel is provided
# locally, that one). On Linux, PyPI's build is a CUDA one with several GB of libraries:
# `make TORCH_INDEX=https://download.pytorch.org/whl/cpu` installs the CPU build instead.
SYSTEM_TORCH := $(shell $(PYTHON) -c "import torch" 2>/dev/null && echo yes)
TORCH_INDEX ?=
# `make run VERBOSE=1` shows Snakemake's job blocks on the console too (snakesweep/console.py).
VERBOSE ?=

.PHONY: run test test-all lint clean

run: $(VENV)/.installed
	SNAKESWEEP_VERBOSE=$(VERBOSE) snakemake --cores 2

test: $(VENV)/.installed
	pytest

test-all: $(VENV)/.installed
	pytest -m ""

lint: $(VENV)/.installed
	ruff check .
	ruff format --check .
	snakefmt --check .
	snakemake --lint

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(if $(SYSTEM_TORCH),--system-site-packages) $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null \
	  || $(BIN)/python -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

clean:
	rm -rf $(VENV)
