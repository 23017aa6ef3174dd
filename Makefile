# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Embedded Temporal (SQLite under .data/) + store migrations + worker + demo. Ctrl-C stops it all.
run: $(STAMP)
	$(BIN)/followthrough dev --demo

## Debian's Chromium for the inbox's browser test; apt-get runs only when it is missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

## Debian's nginx (the mutual-TLS proxy of the connection test) and docker-compose (which
## checks docker-compose.yml without a Docker daemon); apt-get runs only when one is missing.
NGINX := /usr/sbin/nginx
DOCKER_COMPOSE := /usr/bin/docker-compose
$(NGINX) $(DOCKER_COMPOSE) &:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx docker-compose

## Shape check (import circles, file and function sizes), lint, type-check and the whole test suite.
test: $(STAMP) $(CHROMIUM) $(NGINX) $(DOCKER_COMPOSE)
	$(BIN)/python scripts/check_structure.py
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/python scripts/check_structure.py
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .data
