# jpki-fast: the two commands a fresh machine needs are `make demo` and `make test`.
# Everything is installed into ./.venv; nothing outside the checkout is touched.

PYTHON ?= python3
VENV   := .venv
PY     := $(abspath $(VENV))/bin/python
STAMP  := $(VENV)/.installed
BUILT  := $(VENV)/.built
SERVICE := $(VENV)/.service
DEMO   ?= demo-data
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)

RUST_SOURCES := $(shell find rust -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock pyproject.toml

.PHONY: all venv build test test-rust test-python test-slow test-spark lint lint-rust lint-python demo bench bench-peers bench-sweep clean service-install loadtest bench-service browser soak fuzz audit bench-ocsp

all: build

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -U pip setuptools  # not the interpreter's bundled, older ones (docs/SECURITY.md)
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

test: test-rust test-python test-spark

# The core crate's tests and doctests, synth included; no libpython needed.
test-rust:
	cargo test --release -q -p jpki-fast-core --all-features

test-python: $(BUILT) $(SERVICE) browser
	$(PY) -m pytest -q -m "not slow"

# The Spark adapter's tests (local[2], Java 17): pyspark is an optional extra, installed here.
SPARK := $(VENV)/.spark
$(SPARK): $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check "pyspark[sql]>=3.5" "pandas>=2.2,<3"
	touch $@

test-spark: $(BUILT) $(SPARK)
	JPKI_FAST_SPARK=1 $(PY) -m pytest -q -m spark tests/test_spark.py

test-slow: $(BUILT) $(SERVICE)
	$(PY) -m pytest -q -m slow --durations=10

# What CI enforces besides the tests (.ci/run): clippy and rustfmt on the whole workspace, ruff
# (rules in pyproject.toml) on every Python file.
lint: lint-rust lint-python

lint-rust:
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cargo fmt --all --check

lint-python: $(STAMP)
	$(VENV)/bin/ruff check .

# The operator console's browser tests (service/tests/test_console_browser.py) drive Debian's
# chromium with its chromedriver, and read Japanese pages (Noto CJK). Installed here when missing
# (root and apt-get, as on CI); otherwise those tests are skipped and say so.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null && fc-list :lang=ja 2>/dev/null | grep -q .; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium, chromium-driver and fonts-noto-cjk for the console's browser tests"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; } \
	    || echo "WARNING: apt-get could not install the browser: the console's browser tests will be skipped"; \
	else echo "WARNING: no chromium/chromedriver and no apt-get as root: the console's browser tests will be skipped"; fi

# The HTTP service: its own distribution (service/), installed editable beside the library.
$(SERVICE): $(BUILT) service/pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check -e "service[dev]"
	touch $@

service-install: $(SERVICE)

# Ends by serving the demo store on 127.0.0.1:8000 until interrupted (DEMO_SERVE=--no-serve stops after the curl commands).
demo: $(BUILT) $(SERVICE)
	$(PY) -m jpki_fast.demo $(DEMO)
	$(PY) -m jpki_fast_service.demo $(DEMO) $(DEMO_SERVE)

# The service under locust (bounded in time; CSV stats and an HTML report in bench/data/loadtest/);
# fails on any failed request, wrong answer, or p99 above its bound. LOADTEST_ARGS="--time 60s --users 40"
loadtest: $(BUILT) $(SERVICE)
	$(PY) bench/loadtest.py $(LOADTEST_ARGS)

# Service benchmarks (status JSON/Arrow against a naive FastAPI peer, logins under wrk, uvicorn
# against granian, memory per worker); rewrites the "service" section of bench/RESULTS.md.
bench-service: $(BUILT) $(SERVICE)
	@command -v wrk >/dev/null || apt-get install -y -qq wrk
	$(PY) bench/bench_service.py $(BENCH_SERVICE_ARGS)

# OCSP benchmarks (cached and live-signed responses under wrk, a sequential client beside
# OpenSSL's responder, pre-production); rewrites the "ocsp" section of bench/RESULTS.md.
bench-ocsp: $(BUILT) $(SERVICE)
	@command -v wrk >/dev/null || apt-get install -y -qq wrk
	$(PY) bench/bench_ocsp.py $(BENCH_OCSP_ARGS)

# Soak (bench/soak.py, issue 12): mixed load (logins, JSON and Arrow batches, certificates,
# OCSP) for 10 minutes while a generation is published every 30 s; RSS and fds of every worker
# sampled; fails on any failed or wrong answer or growth past the stated rule; rewrites the
# "soak" section of bench/RESULTS.md. SOAK_ARGS="--minutes 10 --publish-every 30 --no-write"
soak: $(BUILT) $(SERVICE)
	$(PY) bench/soak.py $(SOAK_ARGS)

bench: $(BUILT)
	$(PY) -m pytest -q bench --benchmark-only

bench-peers: $(BUILT)
	$(PY) bench/peers.py

bench-sweep: $(BUILT) $(SPARK)
	$(PY) bench/bench_sweep.py --write-results

# Fuzzing (README "Fuzzing"): each cargo-fuzz target of fuzz/ for FUZZ_SECONDS, one at a time and
# niced (fuzz/run.sh), then the atheris harness of the Python entry points. cargo-fuzz and atheris
# are installed when missing; the stable toolchain runs cargo-fuzz with RUSTC_BOOTSTRAP=1. A crash,
# a hang (-timeout), a leak (LeakSanitizer) or a memory blow-up (-rss_limit_mb) fails the run and
# leaves the input in fuzz/artifacts/<target>/ (atheris: fuzz/artifacts/python/); every target
# still runs. Logs: fuzz/artifacts/logs/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= der crl certificate pem_trust ocsp_request
FUZZ_NICE ?= nice -n 19
ATHERIS := $(VENV)/.atheris
$(ATHERIS): $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check "atheris>=2.3"
	touch $@

fuzz: $(BUILT) $(ATHERIS)
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	@status=0; \
	FUZZ_NICE="$(FUZZ_NICE)" fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS) || status=1; \
	mkdir -p fuzz/corpus/python fuzz/artifacts/python fuzz/artifacts/logs; \
	echo "fuzz: python entry points for $(FUZZ_SECONDS) s (log: fuzz/artifacts/logs/python.log)"; \
	$(FUZZ_NICE) $(PY) fuzz/python/fuzz_entry_points.py fuzz/corpus/python fuzz/seeds/python \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=60 -rss_limit_mb=3072 -artifact_prefix=fuzz/artifacts/python/ \
	  -print_final_stats=1 >fuzz/artifacts/logs/python.log 2>&1 || { status=1; echo "fuzz: python FAILED (see fuzz/artifacts/logs/python.log)"; }; \
	grep -E '^#[0-9]+|^stat::number_of_executed_units' fuzz/artifacts/logs/python.log | tail -2; \
	exit $$status

# Dependency audit (docs/SECURITY.md "Dependency audit"): cargo-audit over Cargo.lock and
# fuzz/Cargo.lock (RustSec's advisory database, a git repository it clones) and pip-audit over the
# installed environment (PyPI's vulnerability data). Both are installed when missing; each result
# is printed, and the target fails when either finds an advisory or cannot fetch its data.
# pip-audit --strict: a package it could not look up fails the audit (without it, an index that
# does not answer PyPI's per-version JSON skips every package and still says "No known
# vulnerabilities found"); --skip-editable leaves out this checkout's own two packages.
AUDIT := $(VENV)/.pip-audit
$(AUDIT): $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check "pip-audit>=2.7"
	touch $@

audit: $(AUDIT) $(SERVICE)
	@command -v cargo-audit >/dev/null || cargo install cargo-audit --locked
	@status=0; \
	echo "== cargo audit (Cargo.lock)"; cargo audit --file Cargo.lock || status=1; \
	echo "== cargo audit (fuzz/Cargo.lock)"; cargo audit --file fuzz/Cargo.lock || status=1; \
	echo "== pip-audit (the installed environment, $(VENV))"; $(VENV)/bin/pip-audit --strict --skip-editable --progress-spinner off || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) target $(DEMO) fuzz/target
