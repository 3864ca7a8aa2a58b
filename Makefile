# The two front-door commands (see README.md): `make run` and `make test`.
# Both create the virtual environment .venv and install motifbench into it the first time.
VENV ?= .venv
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --editable '.[dev]'
	touch $@

.PHONY: install run test
install: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/motifbench run --stream smooth10-v1 --method all --seeds 0 --out results --force

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest
