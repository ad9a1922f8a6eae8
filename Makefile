# The README's two commands: `make demo` (the main job on the embedded demo) and `make test`.
# PYTHON may name a virtual environment's interpreter: `make demo PYTHON=.venv/bin/python`.
PYTHON ?= python3
# Pinned: an unpinned torch resolves to the newest build, which drags in several GB of CUDA packages
# even where a CPU build would do. On a CUDA machine this same pin installs the CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install install-export demo test

# The base install (`pip install stylert`) runs exports only; the demo exports (torch: the
# `export` extra) and the tests need every extra (`dev`).
install-export:
	$(PYTHON) -m pip install --quiet "$(TORCH)"
	$(PYTHON) -m pip install --quiet -e ".[export]"

install:
	$(PYTHON) -m pip install --quiet "$(TORCH)"
	$(PYTHON) -m pip install --quiet -e ".[dev]"

demo: install-export
	$(PYTHON) -m stylert demo --overwrite

test: install
	$(PYTHON) -m pytest -q tests
