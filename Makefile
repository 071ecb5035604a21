# Shagym: `make run` runs the bot, `make test` runs every check. Both set up .venv when needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench migrate check-config clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

config.yaml:
	cp config.example.yaml config.yaml
	@echo "Created config.yaml from config.example.yaml: set telegram.token (or SHAGYM_BOT_TOKEN)."

run: $(STAMP) config.yaml
	$(BIN)/shagym run --config $${SHAGYM_CONFIG:-config.yaml}

test: $(STAMP)
	$(BIN)/ruff check bot handlers storage tests bench
	$(BIN)/ruff format --check bot handlers storage tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

migrate: $(STAMP) config.yaml
	$(BIN)/shagym migrate --config $${SHAGYM_CONFIG:-config.yaml}

check-config: $(STAMP)
	$(BIN)/shagym check-config $${SHAGYM_CONFIG:-config.example.yaml}

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
