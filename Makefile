# PAR Lab: `make demo` runs the three services natively; `make test` runs every test;
# `make up` / `make down` run them in Docker with Compose v2 (docs/docker.md).
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.txt */requirements.txt | cksum | cut -d' ' -f1)

.PHONY: demo test install clean up down

# A virtualenv with the pinned dependencies, rebuilt when a requirements file changes.
$(STAMP): requirements-dev.txt auth_server/requirements.txt client_app/requirements.txt notes_api/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## demo: run auth_server (:9000), client_app (:3000) and notes_api (:8000) under gunicorn
demo: $(STAMP)
	scripts/demo.sh

## attacks: run every attack of the attack lab against the running stack (start `make demo` first)
.PHONY: attacks
attacks: $(STAMP)
	$(VENV)/bin/python -m client_app.lab

## matrix: the defence matrix, every matrix attack against classic, PAR and FAPI 2.0 (start `make demo` first)
.PHONY: matrix
matrix: $(STAMP)
	$(VENV)/bin/python -m client_app.lab --matrix

## bench: throughput, latency and a soak, all in one run (writes bench/results/latest.json)
.PHONY: bench
bench: $(STAMP)
	scripts/bench.sh

## bench-scale: three auth_server replicas against one, in Docker (writes bench/results/scale.json)
.PHONY: bench-scale
bench-scale: $(STAMP)
	scripts/bench-scale.sh

## test: unit tests for each service, then the three services together on loopback
test: $(STAMP)
	scripts/run-tests.sh

## up: build the three images and start them with Docker Compose v2 (same ports as demo)
up:
	scripts/up.sh

## down: stop and remove the containers; the named volumes keep the data
down:
	docker compose down

## up-scale: as `up`, but the issuer is three auth_server replicas on PostgreSQL behind nginx
## down-scale: stop them (docker-compose.scale.yml, project parlab-scale; volumes kept)
.PHONY: up-scale down-scale
up-scale:
	scripts/up.sh docker-compose.scale.yml
down-scale:
	docker compose -f docker-compose.scale.yml down

clean:
	rm -rf $(VENV) instance .pytest_cache
