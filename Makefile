# zksolv — `make demo` and `make test` work on a fresh clone: each installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest

.PHONY: install browser native-witness lint test test-all demo demo-portfolio bench clean

install: $(VENV)/.installed node_modules/.installed zksolv/data/inclusion.html

# The holders' page: web/src bundled by the pinned esbuild into one self-contained HTML file, shipped
# as package data so that `zksolv page --out DIR` can hand it to a venue.
web/dist/inclusion.html: web/build.mjs web/inclusion.html $(wildcard web/src/*.js) package-lock.json node_modules/.installed
	node web/build.mjs
zksolv/data/inclusion.html: web/dist/inclusion.html
	cp $< $@

# The browser tests (holders' page, audit report) drive Debian's Chromium through its
# ChromeDriver; nothing is downloaded by selenium or npm. Needs root or sudo once.
APT_GET := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)
browser: /usr/bin/chromedriver
/usr/bin/chromedriver:
	DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q --no-install-recommends chromium chromium-driver \
	  || { DEBIAN_FRONTEND=noninteractive $(APT_GET) update -q && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q --no-install-recommends chromium chromium-driver; }

# `zksolv setup --native-witness` builds circom's C++ witness generator: g++ and nasm, with Debian's
# nlohmann/json and gmp headers. Skipped when all four are installed; needs root or sudo once.
NATIVE_PACKAGES := g++ nasm nlohmann-json3-dev libgmp-dev
native-witness:
	@dpkg -s $(NATIVE_PACKAGES) >/dev/null 2>&1 \
	  || DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q --no-install-recommends $(NATIVE_PACKAGES) \
	  || { DEBIAN_FRONTEND=noninteractive $(APT_GET) update -q && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q --no-install-recommends $(NATIVE_PACKAGES); }

# Re-run only when the pins or the C extension change; `pip install -e` keeps Python edits live.
$(VENV)/.installed: pyproject.toml requirements.lock zksolv/_native/poseidon.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# ruff (lint + format) and mypy: configured in pyproject.toml, pinned in requirements.lock.
lint: install
	$(BIN)/ruff check zksolv bench tests
	$(BIN)/ruff format --check zksolv bench tests
	$(BIN)/mypy

test: install browser native-witness lint
	$(PYTEST) -q -m "not slow"

test-all: install browser native-witness
	$(PYTEST) -q

demo: install
	$(BIN)/zksolv demo --out demo-out

# The portfolio-margin venue: BTC options, 16 SPAN + 2 named scenarios (PROTOCOL.md §3.3).
demo-portfolio: install
	$(BIN)/zksolv demo --venue portfolio --accounts 30 --batch-size 8 --out demo-portfolio-out

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf build demo-out demo-portfolio-out .pytest_cache
