# Zhongshu OMS. `make run` starts everything on embedded defaults; `make test` runs every check.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROTO_INCLUDE := build/protoinclude
GEN := build/gen
PROTOS := $(shell find protos -name '*.proto' | sort)
PROTOVALIDATE_SRC := 1.1.2

.PHONY: setup browser protos dev-keys lint test test-unit test-integration test-e2e test-faults run run-distributed bench bench-quick bench-scale clean

## setup: virtualenv, pinned dependencies, validate.proto, generated code, dev keys
setup: $(VENV)/.installed protos dev-keys browser

## browser: Debian's Chromium and a Chinese font for the browser tests (scripts/ensure-browser.sh)
browser:
	bash scripts/ensure-browser.sh

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

$(PROTO_INCLUDE)/buf/validate/validate.proto:
	bash scripts/fetch-validate-proto.sh $(PROTOVALIDATE_SRC) $(PROTO_INCLUDE)

## protos: regenerate Python code from protos/ (never edited by hand, never committed)
protos: $(VENV)/.installed $(PROTO_INCLUDE)/buf/validate/validate.proto
	rm -rf $(GEN) && mkdir -p $(GEN)
	# google/type/date.proto ships with googleapis-common-protos (whose google.type.date_pb2 the
	# generated code imports): copied beside validate.proto so protoc and buf read the same file.
	mkdir -p $(PROTO_INCLUDE)/google/type
	cp "$$($(BIN)/python -c 'import importlib.util as u, pathlib as p; \
	  print(p.Path(u.find_spec("google.type.date_pb2").origin).with_name("date.proto"))')" \
	  $(PROTO_INCLUDE)/google/type/date.proto
	$(BIN)/python -m grpc_tools.protoc -Iprotos -I$(PROTO_INCLUDE) \
	  --python_out=$(GEN) --pyi_out=$(GEN) --grpc_python_out=$(GEN) \
	  $(PROTOS) $(PROTO_INCLUDE)/buf/validate/validate.proto
	# the edge's Connect (HTTP/JSON) endpoints, from the same protos: oms/*/v1/*_connect.py
	$(BIN)/python -m grpc_tools.protoc -Iprotos -I$(PROTO_INCLUDE) \
	  --plugin=protoc-gen-connectrpc=$(BIN)/protoc-gen-connectrpc \
	  --connectrpc_out=$(GEN) --connectrpc_opt=protobuf=google $(PROTOS)
	find $(GEN) -type d -exec touch {}/__init__.py \;
	$(BIN)/python scripts/link-generated.py $(GEN)

## dev-keys: dev token keys in var/keys/ (issuer key for omsctl/tests, JWKS for services,
## service tokens); creates only what is missing or stale
dev-keys: $(VENV)/.installed
	$(BIN)/python scripts/dev-keys.py

## lint: ruff, mypy and buf
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/buf lint
	$(BIN)/buf format -d --exit-code protos

## test: every check (lint, unit, integration on real PostgreSQL + RabbitMQ, end-to-end in both modes)
test: setup lint
	bash scripts/ensure-servers.sh
	$(BIN)/python -m pytest -q tests

test-unit: setup
	$(BIN)/python -m pytest -q tests/unit

test-integration: setup
	bash scripts/ensure-servers.sh
	$(BIN)/python -m pytest -q tests/integration

test-e2e: setup
	bash scripts/ensure-servers.sh
	$(BIN)/python -m pytest -q tests/e2e

## test-faults: fault injection on the distributed stack with its own PostgreSQL + RabbitMQ (< 10 min);
## prints the fault table, also written to build/faults/latest.md. Not part of `make test`.
test-faults: setup
	$(BIN)/python -m pytest -q -m faults tests/faults

## run: the whole system in one process on embedded defaults (SQLite, in-process bus, demo tenants)
run: setup
	OMS_METRICS_PORT=$${OMS_METRICS_PORT:-9464} $(BIN)/python -m services

## run-distributed: every service as its own process on PostgreSQL + RabbitMQ, notify under nameko
run-distributed: setup
	$(BIN)/python -m services.stack up

## bench: benchmark suite, ratios against same-run baselines (results in build/bench/)
bench: setup
	bash scripts/ensure-servers.sh
	$(BIN)/python -m bench

## bench-quick: every case with small counts (what CI runs via tests/bench); figures mean little
bench-quick: setup
	bash scripts/ensure-servers.sh
	$(BIN)/python -m bench --quick

## bench-scale: only the list-orders scale case (10k vs 1M orders in PostgreSQL)
bench-scale: setup
	bash scripts/ensure-servers.sh
	$(BIN)/python -m bench --only scale

clean:
	rm -rf build var $(VENV)
