# Developer tasks. `make serve` and `make test` set up .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: serve test lint bench bench-quick bench-storage bench-api bench-axfr bench-propagation bench-import venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test,dev]'
	@touch $(STAMP)

serve: venv
	$(VENV)/bin/dnsaas serve

test: venv
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check . || true

bench: bench-storage bench-api bench-axfr bench-propagation bench-import

# Every benchmark in its quick mode, one after the other (CI runs this after the tests).
bench-quick: venv
	$(PY) -m bench.storage --quick
	$(PY) -m bench.api --quick
	$(PY) -m bench.axfr --quick
	$(PY) -m bench.propagation --quick
	$(PY) -m bench.import_zone --quick

bench-storage: venv
	$(PY) -m bench.storage $(BENCH_ARGS)

bench-api: venv
	$(PY) -m bench.api $(BENCH_ARGS)

bench-axfr: venv
	$(PY) -m bench.axfr $(BENCH_ARGS)

bench-propagation: venv
	$(PY) -m bench.propagation $(BENCH_ARGS)

bench-import: venv
	$(PY) -m bench.import_zone $(BENCH_ARGS)

clean:
	rm -rf $(VENV) dnsaas.db *.egg-info
