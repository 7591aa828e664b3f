# Two commands a user needs: `make run` and `make test`. Both set everything up first.
#
# Setup: a Python 3.10 venv in .venv with every pin from requirements.lock, installed by uv (pip's
# resolver backtracks for more than 5 minutes on this stack; uv installs it in about 30 s from its
# cache), then this package in editable mode. .venv is reused while requirements.lock, setup.py and
# pyproject.toml are unchanged (a stamp records their hash), so CI on a warm machine does not
# reinstall 3 GB.
# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI here) Python would
# otherwise compile TensorFlow, TFX and Beam from source in every process (importing tfx,
# tf.Transform and TFMA took 66-72 s instead of 20 s on a loaded 2-core machine).

SHELL := /bin/bash
PYTHON310 ?= $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10) $(shell command -v python3.10 2>/dev/null))
UV_VERSION := 0.13.9
TOOLS := $(HOME)/.cache/trainguard/uv-$(UV_VERSION)
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.trainguard-installed
# Bump when the install recipe changes, so a .venv made by the old recipe is rebuilt.
SETUP_REVISION := 2
LOCK_HASH = $(shell (cat requirements.lock setup.py pyproject.toml; echo $(SETUP_REVISION)) | sha256sum | cut -c1-16)
ARGS ?=
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (CI has 2 cores; 0 runs the suite in this one process).
PYTEST_WORKERS ?= 2

.PHONY: setup run test kubeflow lock clean

setup:
	@if [ -f $(STAMP) ] && [ "$$(cat $(STAMP))" = "$(LOCK_HASH)" ] && [ -x $(PY) ]; then \
	  echo "setup: .venv matches requirements.lock, reusing it"; \
	else \
	  $(MAKE) --no-print-directory install; \
	fi

install: $(UV)
	@test -n "$(PYTHON310)" || { echo "setup: Python 3.10 not found; install it (pyenv install 3.10) or pass PYTHON310=/path/to/python3.10" >&2; exit 2; }
	rm -rf $(VENV)
	$(UV) venv --seed --python $(PYTHON310) $(VENV)
	$(UV) pip install --compile-bytecode --python $(PY) -r requirements.lock
	$(UV) pip install --python $(PY) --no-deps -e .
	echo "$(LOCK_HASH)" > $(STAMP)

$(UV):
	@test -n "$(PYTHON310)" || { echo "setup: Python 3.10 not found; install it (pyenv install 3.10) or pass PYTHON310=/path/to/python3.10" >&2; exit 2; }
	$(PYTHON310) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

run: setup
	$(PY) -m trainguard.pipeline.local_runner $(ARGS)

test: setup
	@start=$$(date +%s); \
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS); status=$$?; \
	echo "make test: total $$(( $$(date +%s) - start )) s"; \
	exit $$status

# Compile the pipeline for Kubeflow Pipelines 2 / Vertex AI into kubeflow/build/ (kubeflow/README.md).
kubeflow: setup
	$(PY) -m trainguard.kubeflow.kubeflow_v2_runner $(ARGS)

# Re-resolve requirements.in into requirements.lock (every transitive pin, Python 3.10, Linux).
lock: $(UV)
	$(UV) pip compile requirements.in --python-version 3.10 --python-platform x86_64-manylinux_2_28 -o requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info
