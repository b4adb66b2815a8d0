# The front door: `make demo` and `make test` are all a newcomer needs.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PIP     := $(BIN)/pip install -c constraints.txt

.PHONY: demo test test-fast lint bench docs clean install

install: $(STAMP)

$(STAMP): pyproject.toml setup.py constraints.txt $(wildcard src/gencommons/*/*/*.pyx src/gencommons/*/*/*.h)  # compiled at install
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(PIP) -q -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)  ## curate the bundled sample corpus, train a tiny model on it, serve it and ask it
	$(BIN)/gencommons data run examples/demo.yaml --overwrite
	$(BIN)/gencommons lm tokenizer train demo-out -o demo-lm/tok --vocab-size 4096 --overwrite
	$(BIN)/gencommons lm pack demo-out -o demo-lm/packed -t demo-lm/tok --seq-len 128 --val-fraction 0.05 --overwrite
	$(BIN)/gencommons lm train examples/train_tiny.yaml --restart
	$(BIN)/gencommons lm eval demo-lm/model demo-lm/packed
	$(BIN)/python examples/ask_model.py demo-lm/model "Tell me about Debian packages."

test: $(STAMP)  ## the whole suite, slow tests included (what CI runs)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  ## skip the slow tests (real Ray cluster, kill -9, big inputs)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)  ## benchmarks against the peers; writes bench/results/
	$(BIN)/python bench/run_all.py

docs: $(STAMP)  ## regenerate the README's step reference
	$(BIN)/python docs/update_steps.py

clean:
	rm -rf $(VENV) demo-out demo-lm bench/results .pytest_cache .ruff_cache .mypy_cache
