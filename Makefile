# Every target installs what it needs into .venv first, so a fresh clone needs only python3.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test demo replay bench lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) -m bot --demo $(if $(DATA),--data $(DATA)) $(if $(SPEED),--speed $(SPEED))

replay: $(STAMP)
	$(PY) -m sim.binance $(if $(DATA),--data $(DATA))

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/bot_latency.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) demo .pytest_cache
