# Two commands on a fresh machine: `make demo` and `make test`. Both create the virtualenv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# recstack is offline-first: no telemetry from mlflow and friends.
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1

.PHONY: demo test lint typecheck unit install dev bench clean benchmark benchmark-sequential \
	benchmark-serving benchmark-embeddings benchmark-embeddings-sweep benchmark-treatment \
	benchmark-features benchmark-monitoring airflow

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[torch,embeddings,nlu,chat]'
	@touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,torch,embeddings,nlu,serve,chat,llm,spark]'
	@touch $(VENV)/.installed $@

# Reference libraries the benchmarks compare against (Feast, Evidently, EconML, MAPIE) and locust.
$(VENV)/.bench-installed: pyproject.toml | $(VENV)/.dev-installed
	$(BIN)/pip install -q -e '.[dev,torch,embeddings,nlu,serve,chat,llm,spark,bench]'
	@touch $@

# Airflow 3 in its own virtualenv (its pins are many; never a dependency of recstack), with
# recstack installed into it so that the DAGs in dags/ import the task functions.
AIRFLOW_VENV := .venv-airflow
$(AIRFLOW_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install -q apache-airflow==3.3.2
	$(AIRFLOW_VENV)/bin/pip install -q -e .
	@touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed
bench: $(VENV)/.bench-installed
airflow: $(AIRFLOW_VENV)/.installed  ## Airflow's virtualenv (the DAG tests in tests/pipelines need it)

demo: install  ## generate data, train, register, evaluate, serve on localhost:8000
	$(BIN)/recstack demo

test: dev lint typecheck unit  ## ruff, mypy, pytest

lint: dev
	$(BIN)/ruff check src tests benchmarks dags
	$(BIN)/lint-imports

typecheck: dev
	$(BIN)/mypy

unit: dev
	$(BIN)/pytest

benchmark: dev  ## ML-1M-T2 baselines, full ranking; writes benchmarks/results/*.json
	$(BIN)/python benchmarks/baselines_ml1m.py

benchmark-sequential: dev  ## neural models on ML-1M-T2 (budget per model: MINUTES, default 30)
	$(BIN)/python benchmarks/sequential_ml1m.py --budget-minutes $(or $(MINUTES),30)

benchmark-serving: dev  ## p50/p99 latency in-process and over HTTP
	$(BIN)/python benchmarks/serving_latency.py

benchmark-embeddings: dev  ## Meta-Prod2Vec vs Prod2Vec vs item-kNN, overall and cold items
	$(BIN)/python benchmarks/embeddings.py

benchmark-embeddings-sweep: dev  ## ML-1M-T2 validation sweep: can any skip-gram setting reach item-kNN?
	$(BIN)/python benchmarks/embeddings_sweep.py

benchmark-treatment: bench  ## recstack vs EconML vs MAPIE on simulated lens-size data
	$(BIN)/python benchmarks/treatment.py

benchmark-features: bench  ## training frame and online reads, recstack vs Feast
	$(BIN)/python benchmarks/feature_store.py

benchmark-monitoring: bench  ## drift on 1M x 100, recstack vs Evidently
	$(BIN)/python benchmarks/drift.py

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) .recstack .pytest_cache .mypy_cache .ruff_cache
