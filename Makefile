# Two commands do all the set-up on a fresh machine with Python 3.11+ and make:
#   make demo   - bootstrap .venv, then run a checked, fault-injected simulation campaign
#   make test   - bootstrap .venv, then run the whole test suite
#   make browser - install headless Chromium for the HTML report's browser tests (which skip,
#                  naming this command, without it); Debian/Ubuntu as root, CI runs it first
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/raftref demo

test: $(STAMP)
	$(BIN)/python -m pytest

# An explicit set-up step, never run by a test: Debian's chromium package (/usr/bin/chromium).
browser:
	@if command -v chromium >/dev/null 2>&1; then \
	  echo "chromium is installed: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q chromium; \
	else \
	  echo "make browser: install Chromium by hand (Debian/Ubuntu: sudo apt-get install chromium)"; \
	  exit 1; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/check_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info
