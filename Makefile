# Every target bootstraps .venv on a fresh machine before it runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint unit fuzz bench clean crds

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/infleet up

crds: $(STAMP)
	$(BIN)/infleet crds --out deploy/crds

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python tools/check_module_size.py src --max-lines 800

unit: $(STAMP)
	sh tools/install_system_packages.sh
	$(BIN)/pytest

test: lint unit

# The fuzz suite runs bounded inside `make test`; this is its long mode.
fuzz: $(STAMP)
	INFLEET_FUZZ_EXAMPLES=60 $(BIN)/pytest -q tests/fuzz tests/apiserver/test_bad_input_properties.py

bench: $(STAMP)
	$(BIN)/python benchmarks/apiserver.py
	$(BIN)/python benchmarks/crash_durability.py
	$(BIN)/python benchmarks/engine_calibration.py
	$(BIN)/python benchmarks/engine_capacity.py
	$(BIN)/python benchmarks/sim_cluster.py
	$(BIN)/python benchmarks/models_controller.py
	$(BIN)/python benchmarks/gateway_vs_litellm.py
	$(BIN)/python benchmarks/routing.py
	$(BIN)/python benchmarks/global_routing.py
	$(BIN)/python benchmarks/placement_quality.py
	$(BIN)/python benchmarks/placement_scale.py
	$(BIN)/python benchmarks/provisioning.py
	$(BIN)/python benchmarks/consolidation.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
