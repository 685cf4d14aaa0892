"""pytest-benchmark: certificates and signatures (issue 3). `make bench` runs them; the
side-by-side comparison with OpenSSL and pyca/cryptography is bench/peers_certs.py."""

from __future__ import annotations

import pyarrow as pa
import pytest

import jpki_fast
import datasets
import peers_certs

ROWS = 20_000


@pytest.fixture(scope="module")
def signatures():
    w = peers_certs.signature_workload(ROWS)
    return pa.array(w["keys"]), pa.array(w["messages"]), pa.array(w["signatures"])


@pytest.fixture(scope="module")
def logins():
    w = peers_certs.login_workload(ROWS)
    return jpki_fast.open_store(w["store"]), pa.array(w["certs"]), pa.array(w["challenges"]), pa.array(w["signatures"])


def test_verify_signatures(benchmark, signatures):
    ok = benchmark.pedantic(jpki_fast.verify_signatures, args=signatures, rounds=5, iterations=1)
    assert ok.all()


def test_verify_logins(benchmark, logins):
    store, certs, challenges, sigs = logins
    out = benchmark.pedantic(store.verify_logins, args=(certs, challenges, sigs), kwargs={"now": datasets.NOW}, rounds=5, iterations=1)
    assert out.num_rows == ROWS


def test_one_login(benchmark, logins):
    store, certs, challenges, sigs = logins
    out = benchmark(store.verify_logins, certs[:1], challenges[:1], sigs[:1], now=datasets.NOW)
    assert out.num_rows == 1


def test_check_certificates(benchmark, logins):
    store, certs, _, _ = logins
    out = benchmark.pedantic(
        store.check_certificates, args=(certs,), kwargs={"now": datasets.NOW, "purpose": "login"}, rounds=5, iterations=1
    )
    assert out.num_rows == ROWS


def test_parse_certificates(benchmark, logins):
    _, certs, _, _ = logins
    out = benchmark.pedantic(jpki_fast.parse_certificates, args=(certs,), rounds=5, iterations=1)
    assert out.column("error").null_count == ROWS
