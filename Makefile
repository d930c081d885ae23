# DGD — the two commands of README's quick start are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP := pip==26.3
PIP_TOOLS := pip-tools==7.6.2

.PHONY: install lock run test lint format bench drill messages clean

install: $(STAMP)

# The venv holds exactly what requirements-dev.txt pins (every file checked against its hash), then the project
# itself without its dependencies. A lock older than pyproject.toml's dependencies stops here: `make lock`.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) scripts/check_lock.py
	$(PY) -m pip install --quiet '$(PIP)'
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Regenerate the hashed lock files from pyproject.toml (README, "Dependencies"): requirements-dev.txt for
# development and CI (the `dev` extra too), requirements.txt for production (the Dockerfile). Pins already in
# the files are kept unless UPGRADE names packages (`make lock UPGRADE="django celery"`) or is `all`; hashes
# of unchanged pins are reused, so an unchanged lock takes seconds. The runtime file starts from the dev one's
# pins, so the two never disagree. pip-compile resolves against PyPI alone: this machine's pip.conf (mirrors,
# find-links) is ignored, so the lock is the same wherever it is made.
UPGRADE ?=
LOCK_UPGRADE = $(if $(UPGRADE),$(if $(filter all,$(UPGRADE)),--upgrade,$(addprefix --upgrade-package ,$(UPGRADE))))
PIP_COMPILE = env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null \
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links --no-emit-trusted-host

lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(VENV)/bin/pip-compile || $(PY) -m pip install --quiet '$(PIP)' '$(PIP_TOOLS)'
	$(PIP_COMPILE) $(LOCK_UPGRADE) --extra dev -o requirements-dev.txt pyproject.toml
	cp requirements-dev.txt requirements.txt
	$(PIP_COMPILE) -o requirements.txt pyproject.toml
	$(PY) scripts/check_lock.py

run: install
	scripts/run.sh

test: install
	scripts/test.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	scripts/bench.sh

# The delivery fault drill (docs/delivery.md): its own Redis, PostgreSQL cluster, worker and SMTP server.
drill: install
	$(PY) -m bench.drill

messages: install
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*'
	$(PY) manage.py compilemessages -l zh_Hans --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*'

clean:
	rm -rf var
