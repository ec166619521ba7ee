# Two commands on a fresh machine with Python 3.11:
#   make run    virtualenv + install + migrate + catalogue + demo data, then serve on http://127.0.0.1:5000
#   make test   the whole suite (SQLite; TEST_DATABASE_URL=postgresql+psycopg://... for PostgreSQL)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test serve init bench bench-instructions bench-recognition bench-pages translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

instance/secret_key:
	mkdir -p instance
	$(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@
	chmod 600 $@

init: $(VENV)/.installed instance/secret_key
	SECRET_KEY=$$(cat instance/secret_key) $(FLASK) registry init
	SECRET_KEY=$$(cat instance/secret_key) $(FLASK) registry seed-demo

run: init
	SECRET_KEY=$$(cat instance/secret_key) $(FLASK) run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python -m bench

bench-instructions: $(VENV)/.installed
	$(BIN)/python -m bench.instructions

bench-recognition: $(VENV)/.installed
	$(BIN)/python -m bench.recognition

bench-pages: $(VENV)/.installed
	$(BIN)/python -m bench.pages

# Re-extract the pages' messages, merge them into the catalogues and compile them. The compiled .mo files are
# committed, so running the registry needs no build step; tests/web/test_translations.py fails when they drift.
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project ev-charging-registry -o registry/translations/messages.pot .
	$(BIN)/pybabel update -i registry/translations/messages.pot -d registry/translations --no-fuzzy-matching --width 120
	$(BIN)/pybabel compile -d registry/translations --statistics

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
