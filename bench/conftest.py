"""pytest-benchmark fixtures. Sizes default to 1 million entries so `make bench` is quick;
JPKI_BENCH_ENTRIES=10000000 reproduces the issue's figures (see bench/peers.py for the
side-by-side comparison with OpenSSL, pyca/cryptography, a Python set and numpy)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402

import jpki_fast  # noqa: E402

ENTRIES = int(os.environ.get("JPKI_BENCH_ENTRIES", "1000000"))


@pytest.fixture(scope="session")
def single_crl() -> Path:
    return datasets.single(ENTRIES)


@pytest.fixture(scope="session")
def daily_crls() -> Path:
    return datasets.daily(ENTRIES)


@pytest.fixture(scope="session")
def single_store(single_crl, tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("bench") / "store"
    jpki_fast.ingest(single_crl / "trust", single_crl / "crls", store, now=datasets.NOW)
    return store


@pytest.fixture(scope="session")
def queries(single_crl) -> np.ndarray:
    """Half revoked serials, half serials in the same range that are not revoked, shuffled."""
    serials = np.load(single_crl / "serials.npy")
    rng = np.random.default_rng(7)
    n = len(serials)
    revoked = serials[rng.integers(0, n, n // 2)]
    other = np.setdiff1d(rng.integers(int(serials.min()), int(serials.max()), 4 * n, dtype=np.uint64), serials)[: n - n // 2]
    q = np.concatenate([revoked, other])
    rng.shuffle(q)
    return q


@pytest.fixture
def fresh_dir(tmp_path):
    def make(name="store"):
        path = tmp_path / name
        shutil.rmtree(path, ignore_errors=True)
        return path

    return make
