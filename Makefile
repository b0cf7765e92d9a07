# `make run` and `make test` build .venv from nothing, then run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# test emulators from npm (Azurite); without npm their tests skip, saying so
EMULATORS := tests/emulators
EMU_STAMP := $(EMULATORS)/node_modules/.installed

.PHONY: run tour test lint bench clean venv lock screenshots emulators

venv: $(STAMP)

$(STAMP): pyproject.toml uv.lock requirements.lock
	@if command -v uv >/dev/null 2>&1; then \
		echo "setting up $(VENV) with uv"; \
		uv venv --quiet --allow-existing --python $(PYTHON) $(VENV) && \
		UV_PROJECT_ENVIRONMENT=$(VENV) uv sync --quiet --frozen --extra dev --compile-bytecode; \
	else \
		echo "setting up $(VENV) with pip (install uv for a ~20x faster setup)"; \
		$(PYTHON) -m venv $(VENV) && \
		$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock && \
		$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .; \
	fi
	@$(BIN)/python -c "import hcl2; hcl2.loads('a = 1')" >/dev/null
	@touch $(STAMP)

lock:
	uv lock
	uv export --quiet --frozen --extra dev --no-hashes --no-emit-project -o requirements.lock

run: $(STAMP)
	@$(BIN)/driftmgr demo

tour: $(STAMP)
	@bash examples/run-example.sh

emulators: $(EMU_STAMP)

$(EMU_STAMP): $(EMULATORS)/package.json $(EMULATORS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		echo "installing the test emulators (Azurite) with npm ci"; \
		npm ci --prefix $(EMULATORS) --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: the Azurite (azurerm backend) tests will be skipped; install Node.js and npm to run them"; \
	fi

test: $(STAMP) $(EMU_STAMP)
	$(BIN)/ruff check driftmgr_tui tests benchmarks scripts
	$(BIN)/python -m pytest -n auto -p no:cacheprovider --durations=15

bench: $(STAMP)
	$(BIN)/python -m benchmarks state
	$(BIN)/python -m benchmarks discovery

screenshots: $(STAMP)
	$(BIN)/python scripts/capture_screens.py

clean:
	rm -rf $(VENV) $(EMULATORS)/node_modules
