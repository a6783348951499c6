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

# Most of the suite waits on Temporal, the vendors and timers: two processes (pytest-xdist, a file per
# process at a time) cut its time by a third on 2 cores; the `serial` tests then run alone.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not serial"
	$(BIN)/python -m pytest -m serial

clean:
	rm -rf .data .pytest_cache
