"""Full scale, exact (slow: ``make test-slow``, which CI runs): ten million entries.

- A full synthetic JPKI day: 2 x 1,900 partition CRLs, 10 million entries with JPKI-like
  (roughly sequential) 4-octet serials, ingested by the command line as the nightly job does.
- Ten million random 8-octet serials (WebPKI-style, as RFC 5280 / CA/Browser Forum rules
  produce) and four million clustered ones: the layouts a lookup tuned for JPKI could miss.

Every answer is compared with an oracle independent of the engine: the generator's ground truth
(every revoked entry with its date and reason) and, for probes, a sorted numpy array of the
revoked serials (parsed from the truth's hex by Python's ``int``) searched with
``numpy.searchsorted``. The first call after ``open_store`` is one of them.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from jpki_fast import open_store, synth

pytestmark = pytest.mark.slow

NOW = "2026-11-26T00:00:00Z"
ISSUERS = ("sign_ca_2023", "auth_ca_2023")


def oracle_keys(hexes: pa.ChunkedArray) -> np.ndarray:
    """Sorted uint64 serials, parsed without the engine."""
    return np.sort(np.fromiter((int(h, 16) for h in hexes.to_pylist()), dtype=np.uint64, count=len(hexes)))


def same(a: pa.ChunkedArray, b: pa.ChunkedArray) -> bool:
    return a.combine_chunks().equals(b.combine_chunks().cast(a.type))


def assert_truth_is_revoked(store, truth: pa.Table) -> None:
    """Every entry of every issuer: revoked, with its own date and reason (one call per issuer)."""
    for issuer in ISSUERS:
        sub = truth.filter(pc.equal(truth.column("issuer"), issuer))
        out = store.check(sub.column("serial"), issuer, now=NOW)
        assert pc.all(pc.equal(out.column("status"), "revoked")).as_py(), f"{issuer}: an entry is not revoked"
        assert same(out.column("revocation_date"), sub.column("revocation_date"))
        assert same(out.column("reason").cast(pa.string()), sub.column("reason").cast(pa.string()))


def probes(keys: np.ndarray, n: int, low: int, high: int, rng: np.random.Generator) -> np.ndarray:
    """Half revoked serials, half drawn uniformly from [low, high), shuffled."""
    revoked = keys[rng.integers(0, len(keys), n // 2)]
    other = rng.integers(low, high, n - n // 2, dtype=np.uint64, endpoint=False)
    return rng.permutation(np.concatenate([revoked, other]))


def expected_status(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    at = np.searchsorted(keys, queries).clip(0, len(keys) - 1)
    return keys[at] == queries


def assert_probes_are_exact(store, truth: pa.Table, n: int, low: int, high: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = {issuer: oracle_keys(truth.filter(pc.equal(truth.column("issuer"), issuer)).column("serial")) for issuer in ISSUERS}
    for issuer in ISSUERS:  # one issuer for the whole batch
        queries = probes(keys[issuer], n, low, high, rng)
        status = store.check(queries, issuer, now=NOW).column("status")
        got = pc.equal(status, "revoked").to_numpy(zero_copy_only=False)
        np.testing.assert_array_equal(got, expected_status(keys[issuer], queries))
        assert pc.all(pc.is_in(status, pa.array(["good", "revoked"]))).as_py()
    # One issuer per row, the two CAs interleaved at random.
    rows = rng.integers(0, 2, n)
    queries = np.where(rows == 0, probes(keys[ISSUERS[0]], n, low, high, rng), probes(keys[ISSUERS[1]], n, low, high, rng))
    issuers = pa.DictionaryArray.from_arrays(pa.array(rows.astype(np.int8)), pa.array(ISSUERS))
    got = pc.equal(store.check(queries, issuers, now=NOW).column("status"), "revoked").to_numpy(zero_copy_only=False)
    expect = np.where(rows == 0, expected_status(keys[ISSUERS[0]], queries), expected_status(keys[ISSUERS[1]], queries))
    np.testing.assert_array_equal(got, expect)


def test_a_full_day_of_ten_million_jpki_like_entries_is_exact(tmp_path):
    data, store_dir = tmp_path / "day", tmp_path / "store"
    synth.generate(data, entries=10_000_000, partitions=1900, now=NOW, certs=0, progress=None)
    result = subprocess.run(
        [sys.executable, "-m", "jpki_fast.cli", "ingest", "--trust", str(data / "trust"), "--crls", str(data / "crls"),
         "--store", str(store_dir), "--now", NOW],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3800 accepted" in result.stdout.replace(",", "")
    store = open_store(store_dir)
    truth = synth.read_truth(data)
    assert sum(i.entries for i in store.issuers()) == truth.num_rows == 10_000_000
    assert_probes_are_exact(store, truth, 4_000_000, 0x03000000, 0x06000000, seed=1)  # the first call after opening
    assert_truth_is_revoked(store, truth)
    assert pc.all(store.freshness(NOW).column("fresh")).as_py()


@pytest.mark.parametrize(("layout", "entries"), [("random", 10_000_000), ("clustered", 4_000_000)])
def test_eight_octet_serials_off_the_jpki_pattern_are_exact(tmp_path, layout, entries):
    from jpki_fast import ingest

    data, store_dir = tmp_path / "data", tmp_path / "store"
    synth.generate(data, entries=entries, partitions=50, serial_bytes=8, serials=layout, now=NOW, certs=0)
    ingest(data / "trust", data / "crls", store_dir, now=NOW)
    store = open_store(store_dir)
    truth = synth.read_truth(data)
    # Probes cover the whole 8-octet space both CAs allocate from (0x03.. and 0x05..).
    assert_probes_are_exact(store, truth, 4_000_000, 0x03 << 56, 0x06 << 56, seed=2)
    assert_truth_is_revoked(store, truth)
