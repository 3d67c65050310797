# The two commands: `make run` and `make test` (and `make check`, every test but the browser's).
# Each installs what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := run

# uv: the one on PATH, else a private copy installed with pip into .tools/.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
PORT ?= 8501
# The demo's logins are printed for anyone to read: serve it to this machine only unless asked
# (make run HOST=0.0.0.0).
HOST ?= 127.0.0.1
DEMO_SELLERS ?= 20000
WAREHOUSE := data/cxm.duckdb
CREDENTIALS := data/credentials.yaml

.PHONY: run test check install browser java system-packages demo docs bench clean

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# apt waits for another apt or dpkg (unattended upgrades, a second `make`) for up to APT_WAIT
# seconds instead of failing: dpkg's lock through DPkg::Lock::Timeout, and every lock apt-get
# takes without a timeout (apt 2.6's `update` fails at once on /var/lib/apt/lists/lock, whatever
# DPkg::Lock::Timeout says) by trying again every APT_POLL seconds while the error is a lock.
APT_WAIT ?= 600
APT_POLL ?= 5
APT := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=$(APT_WAIT)
# $(call apt,ARGUMENTS): apt-get ARGUMENTS, waiting out a lock held by another process.
define apt
start=$$SECONDS; \
until out=$$($(APT) $(1) 2>&1); do \
  case "$$out" in *"Could not get lock"*) ;; *) echo "$$out" >&2; exit 1;; esac; \
  [ $$((SECONDS - start)) -lt $(APT_WAIT) ] || { echo "$$out" >&2; exit 1; }; \
  echo "waiting for apt's lock, held by another process ($$((SECONDS - start)) s)"; \
  sleep $(APT_POLL); \
done; \
[ -z "$$out" ] || echo "$$out"
endef

$(CURDIR)/.tools/bin/uv:
	rm -rf .tools
	python3 -m venv .tools || { \
	  $(call apt,update -qq); $(call apt,install -y -qq python3-venv); python3 -m venv .tools; }
	.tools/bin/pip install --quiet uv

# Compiled at install: every test worker, app server and command then starts in a third of
# the time (nothing is compiled at import, even where PYTHONDONTWRITEBYTECODE is set).
# The spark extra (PySpark) too: tests/test_spark.py runs the derived tables on Spark.
.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra spark --compile-bytecode
	touch $@

install: .venv/.synced

$(WAREHOUSE): | .venv/.synced
	$(UV) run cxm demo --sellers $(DEMO_SELLERS) --warehouse $(WAREHOUSE)

$(CREDENTIALS): | .venv/.synced
	$(UV) run cxm demo-users --credentials $(CREDENTIALS) --quiet

demo: install  ## rebuild the demo company
	$(UV) run cxm demo --sellers $(DEMO_SELLERS) --warehouse $(WAREHOUSE)

run: install browser $(WAREHOUSE) $(CREDENTIALS)
	@$(UV) run cxm demo-users --credentials $(CREDENTIALS) --show
	@echo "Open http://$(HOST):$(PORT)"
	CXM_DEMO=1 CXM_WAREHOUSE=$(WAREHOUSE) CXM_CREDENTIALS=$(CREDENTIALS) \
	  $(UV) run streamlit run app.py --server.port $(PORT) --server.address $(HOST)

# Debian's chromium drives the browser tests (Playwright's own download is not reachable) and
# draws the board pack's charts (kaleido); the pack's text is set in DejaVu; poppler-utils
# turns its pages into images for the tests and docs/screenshots/; Java 17 runs Spark
# (`cxm derive --engine spark`, tests/test_spark.py).
SYSTEM_PACKAGES := chromium fonts-dejavu-core poppler-utils openjdk-17-jre-headless
browser:
	@{ command -v chromium && command -v pdftoppm && \
	   test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf; } >/dev/null 2>&1 || \
	  $(MAKE) --no-print-directory system-packages

java:
	@command -v java >/dev/null 2>&1 || $(MAKE) --no-print-directory system-packages

system-packages:  ## install SYSTEM_PACKAGES with apt, waiting for another apt to finish
	@$(call apt,update -qq); $(call apt,install -y -qq $(SYSTEM_PACKAGES))

# The tests run on every core (pytest-xdist), a file's tests on one worker (their module
# fixtures are built once); the demo warehouses are built once for all workers (tests/conftest.py)
# and each browser test server has a port of its own.
WORKERS ?= auto
PYTEST := $(UV) run pytest -n $(WORKERS) --dist loadfile

test: install browser java  ## every test: unit, doctests, AppTest, Chromium, Spark
	$(PYTEST)

check: install java  ## every test but the browser's
	$(PYTEST) --ignore=tests/browser

bench: install
	$(UV) run python benchmarks/build.py
	$(UV) run python benchmarks/metrics.py

docs: install  ## regenerate docs/cli.md, docs/schema.md, docs/metrics.md and docs/errors.md
	$(UV) run python -m cxm.docs
	CXM_UPDATE_DOCS=1 $(UV) run pytest -q tests/test_import.py -k docs_errors

clean:
	rm -rf .venv .tools data/*.duckdb data/*.yaml
