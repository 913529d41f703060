# Everything a new machine needs: `make test` and `make demo` install what they use themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False

LINTED := airflow_provider_jobstatus dev tests benchmarks example_dags docs/conf.py docs/examples

.PHONY: install db lint test unit slow compat demo airflow docs bench bench-memory bench-triggerer chaos drill clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

install: $(BIN)/.installed

$(AIRFLOW_HOME)/airflow.db: $(BIN)/.installed
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -50 $(AIRFLOW_HOME)/db-migrate.log; exit 1)

db: $(AIRFLOW_HOME)/airflow.db

lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy --strict airflow_provider_jobstatus dev benchmarks

# The documentation site (Sphinx, Markdown pages) in docs/_build/html; any warning is an error.
$(BIN)/.docs-installed: $(BIN)/.installed pyproject.toml
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[docs]'
	touch $@

docs: $(BIN)/.docs-installed
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

# Three pytest-xdist workers, each test file on one worker (its module's Airflow is started once):
# the end-to-end tests mostly wait on real Airflow processes and poll intervals, not on the CPU.
test: install db lint
	$(BIN)/pytest -q -n 3 --dist loadfile

unit: install
	$(BIN)/pytest -q tests/unit

# Tests of bulk I/O that take minutes (a 512 MiB result streamed to S3): not part of `make test`.
slow: install db
	$(BIN)/pytest -q -m slow

# The unit, simulator and integration suites and one `airflow dags test` on the newest 3.1.x and
# 3.2.x, each in its own venv under .venv-compat/ with the dependency releases of its release day
# (kept; rebuilt when pyproject.toml changes).
compat: install
	$(BIN)/python -m dev.compat $(COMPAT_ARGS)

# The example DAGs on a real Airflow (scheduler/LocalExecutor, triggerer, API server, DAG processor)
# against the vendor simulator, in .airflow-demo/; DEMO_ARGS=--keep leaves it up afterwards.
demo: install
	$(BIN)/python -m dev.demo $(DEMO_ARGS)

# The same Airflow on the same home (the demo's runs stay visible), nothing triggered; Ctrl-C stops it.
airflow: install
	$(BIN)/python -m dev.demo --serve $(AIRFLOW_ARGS)

bench: install
	$(BIN)/python -m pip install -q --disable-pip-version-check 'apache-airflow-providers-http>=5'
	$(BIN)/python benchmarks/triggerer_scale.py
	AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING $(BIN)/python benchmarks/coalescing.py
	$(BIN)/python -m benchmarks.rate_budget
	$(BIN)/python benchmarks/declared_poll.py

# 1,000 start_from_trigger waits in one real triggerer: ours, HttpSensorTrigger, DateTimeTrigger floor
bench-triggerer: install
	$(BIN)/python -m pip install -q --disable-pip-version-check 'apache-airflow-providers-http>=5'
	nice -n 10 $(BIN)/python -m benchmarks.triggerer_real $(BENCH_ARGS)

# Memory per wait in a real triggerer: DateTimeTriggers (Airflow's own cost), ours and
# HttpSensorTrigger, at 200 and at 1,000 waits (I = 5 s, 60 s window), and the slope between them:
# what one more wait costs. BENCH_RUNS=3 for medians; BENCH_MEMORY_ARGS replaces the arguments.
BENCH_MEMORY_ARGS ?= --kinds floor,ours,theirs --waits 200,1000 --interval 5
bench-memory: install
	$(BIN)/python -m pip install -q --disable-pip-version-check 'apache-airflow-providers-http>=5'
	nice -n 10 $(BIN)/python -m benchmarks.triggerer_memory $(BENCH_MEMORY_ARGS)

chaos: install
	$(BIN)/python benchmarks/chaos.py --jobs 1000

# The production topology and its failure drills (dev/drill.py): PostgreSQL and Redis (installed
# with apt-get if missing, run in a temporary folder), Celery workers, two triggerers, the simulator
# with faults on. DRILL_ARGS=--reduced is what CI runs.
# celery 5.7 removed what providers-celery 3.26 imports (celery.backends.database.retry)
DRILL_DEPS := 'apache-airflow-providers-celery>=3.8' 'celery[redis]>=5.5,<5.7' 'psycopg2-binary>=2.9' 'asyncpg>=0.29'
drill: install
	$(BIN)/python -m pip install -q --disable-pip-version-check $(DRILL_DEPS)
	nice -n 5 $(BIN)/python -m dev.drill $(DRILL_ARGS)

clean:
	rm -rf $(VENV) .venv-compat $(AIRFLOW_HOME) .airflow-demo .pytest_cache .mypy_cache .ruff_cache docs/_build
