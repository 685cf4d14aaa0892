# jpki-fast: the two commands a fresh machine needs are `make demo` and `make test`.
# Everything is installed into ./.venv; nothing outside the checkout is touched.

PYTHON ?= python3
VENV   := .venv
PY     := $(abspath $(VENV))/bin/python
STAMP  := $(VENV)/.installed
BUILT  := $(VENV)/.built
DEMO   ?= demo-data
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)

RUST_SOURCES := $(shell find rust -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock pyproject.toml

.PHONY: all venv build test test-rust test-python test-slow lint lint-rust lint-python demo bench bench-peers clean

all: build

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(STAMP)

# Byte-compiled as `pip install` does: where PYTHONDONTWRITEBYTECODE is set, an editable
# install would otherwise compile every module again at each start of the command line.
$(BUILT): $(STAMP) $(RUST_SOURCES)
	maturin develop --release -q
	$(PY) -m compileall -q python/jpki_fast
	touch $@

build: $(BUILT)

test: test-rust test-python

# The core crate's tests and doctests, synth included; no libpython needed.
test-rust:
	cargo test --release -q -p jpki-fast-core --all-features

test-python: $(BUILT)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(BUILT)
	$(PY) -m pytest -q -m slow

# What CI enforces besides the tests (.ci/run): clippy and rustfmt on the whole workspace, ruff
# (rules in pyproject.toml) on every Python file.
lint: lint-rust lint-python

lint-rust:
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cargo fmt --all --check

lint-python: $(STAMP)
	$(VENV)/bin/ruff check .

demo: $(BUILT)
	$(PY) -m jpki_fast.demo $(DEMO)

bench: $(BUILT)
	$(PY) -m pytest -q bench --benchmark-only

bench-peers: $(BUILT)
	$(PY) bench/peers.py

clean:
	rm -rf $(VENV) target $(DEMO)
