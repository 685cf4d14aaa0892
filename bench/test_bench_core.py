"""pytest-benchmark: the core engine's hot paths (run with `make bench`)."""

from __future__ import annotations

import numpy as np

import jpki_fast
from jpki_fast.history import diff
import datasets


def test_ingest_one_big_crl(benchmark, single_crl, fresh_dir):
    def run():
        jpki_fast.ingest(single_crl / "trust", single_crl / "crls", fresh_dir(), now=datasets.NOW)

    benchmark.pedantic(run, rounds=3, iterations=1)


def test_ingest_daily_partitions(benchmark, daily_crls, fresh_dir):
    def run():
        jpki_fast.ingest(daily_crls / "trust", daily_crls / "crls", fresh_dir(), now=datasets.NOW)

    benchmark.pedantic(run, rounds=3, iterations=1)


def test_open_store(benchmark, single_store):
    benchmark(jpki_fast.open_store, single_store)


def test_check_uint64(benchmark, single_store, queries):
    store = jpki_fast.open_store(single_store)
    out = benchmark.pedantic(store.check, args=(queries, "auth_ca_2023"), kwargs={"now": datasets.NOW}, rounds=5, iterations=1)
    assert out.num_rows == len(queries)


def test_check_hex_strings(benchmark, single_store, queries):
    import pyarrow as pa

    store = jpki_fast.open_store(single_store)
    hexes = pa.array([f"{v:08X}" for v in queries[:200_000].tolist()])
    benchmark(store.check, hexes, "auth_ca_2023", now=datasets.NOW)


def test_python_set_peer(benchmark, single_crl, queries):
    serials = set(np.load(single_crl / "serials.npy").tolist())
    sample = queries[:1_000_000].tolist()
    benchmark.pedantic(lambda: sum(1 for q in sample if q in serials), rounds=3, iterations=1)


def test_diff_identical_generations(benchmark, daily_crls, fresh_dir):
    store = fresh_dir("diffstore")
    jpki_fast.ingest(daily_crls / "trust", daily_crls / "crls", store, now=datasets.NOW)
    # A second generation over the same data (links-only publish) diffs against the first.
    from jpki_fast.store import Store, derive_generation, store_lock

    with store_lock(store):
        derive_generation(store, Store(store), {}, {"bench": True})
    benchmark.pedantic(diff, args=(store,), rounds=3, iterations=1)
