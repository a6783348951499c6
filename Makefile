# The two commands: `make run` (the whole local stack with demo orders) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local,test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/o2c run

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf .data .pytest_cache
