"""The docstring examples of the public API run: every ``>>>`` example in python/jpki_fast, one
test each, against a small world built once (part of ``make test``).

Examples are found with :mod:`doctest` and run with ELLIPSIS and NORMALIZE_WHITESPACE. Besides
its module's globals, every example sees these names:

- ``NOW``: the instant every example judges freshness at (``2026-11-26T00:00:00Z``);
- ``data_dir``: a JPKI-like dataset: ``trust/`` and ``keys/`` (the synthetic CAs, three key
  generations of each), ``crls/`` (day 1: one partition CRL per CA), ``crls-day2/`` (the next
  day's: under auth_ca_2023 one entry added, one dropped), ``renewals.csv`` and
  ``renewals-more.csv`` (serial links), ``certs/`` (the certificates below);
- ``store_dir`` / ``store``: its store, opened: generation 1 (day 1), 2 (day 2) and 3 (the
  links of renewals.csv: 0A -> 0B -> 0C under auth_ca_2023);
- ``fresh_store()``: a copy of ``store_dir`` an example may change;
- ``tmp``: a scratch directory (each example writes under a name of its own);
- ``cert_der``: a good authentication certificate (serial 05A00001) of auth_ca_2023;
  ``challenge`` and ``signature``: a login challenge and the card's signature over it;
- ``revoked_cert_der``: the authentication certificate with serial 054CFCD8 (revoked);
- ``signing_cert_der``, ``document``, ``document_signature``: a signing certificate with
  (synthetic) basic 4 facts, a document and its signature;
- ``crl_server``: the base URL of a loopback HTTP server of ``data_dir``'s day-1 CRLs;
  ``fetch_toml`` and ``update_toml``: nightly-job configurations fetching from it, each with its
  own fetch directory and store;
- ``ocsp_dir``: OCSP responder pairs for ``data_dir``'s CA keys valid at ``NOW``
  (``<alias>.pem`` and ``<alias>.key.pem``, ECDSA P-256), made by ``synth.write_responders``;
- ``synth_dir``: a dataset made by ``jpki_fast.synth.generate`` (seed 0, 2,000 entries, 8
  certificates);
- ``JPKI_VECTORS``: the real JPKI certificates in ``tests/vectors/jpki``; ``JPKI_TRUST``: a
  trust directory of its real CA certificates.
"""

from __future__ import annotations

import datetime as dt
import doctest
import functools
import http.server
import importlib
import pkgutil
import shutil
import threading
from pathlib import Path

import pytest

import jpki_fast

NOW = "2026-11-26T00:00:00Z"
_NOW = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
JPKI_VECTORS = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "jpki"
MINAMI = ("Hokkaido", "Sapporo-shi-Minami-ku")


def _day(days: float) -> dt.datetime:
    return _NOW + dt.timedelta(days=days)


def _key(path: Path):
    from cryptography.hazmat.primitives import serialization

    pem = b"".join(line + b"\n" for line in path.read_bytes().splitlines() if not line.startswith(b"#"))
    return serialization.load_pem_private_key(pem, password=None)


def _write_crls(data: Path, out: str, auth_entries, number: int, this_update: dt.datetime) -> None:
    from jpki_fast import synth

    for kind, entries in (("auth", auth_entries), ("sign", _SIGN_ENTRIES)):
        alias = f"{kind}_ca_2023"
        der = synth.make_crl(
            data / "keys" / f"{alias}.pem", data / "trust" / f"{alias}.pem", entries,
            this_update, this_update + dt.timedelta(hours=48), number, synth.partition_name(kind, *MINAMI),
        )
        path = data / out / kind / MINAMI[0] / f"{MINAMI[1]}.crl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(der)


_DAY1_AUTH = [
    (0x054CFCD8, dt.datetime(2026, 1, 5), "superseded"),
    (0x054CFCD9, dt.datetime(2026, 3, 1), "certificateHold"),
    (0x054CFCE0, dt.datetime(2026, 6, 30), None),
]
_DAY2_AUTH = [*_DAY1_AUTH[:1], *_DAY1_AUTH[2:], (0x054CFCDA, dt.datetime(2026, 11, 25, 9), "keyCompromise")]
_SIGN_ENTRIES = [(0x03000001, dt.datetime(2026, 2, 2), "affiliationChanged")]


def _certificates(data: Path) -> dict:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from jpki_fast import synth

    card = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth = (data / "keys" / "auth_ca_2023.pem", data / "trust" / "auth_ca_2023.pem")
    sign = (data / "keys" / "sign_ca_2023.pem", data / "trust" / "sign_ca_2023.pem")
    issued = (_day(-300), _day(1500))
    good = synth.issue_certificate("auth", *auth, card.public_key(), 0x05A00001, synth.partition_name("auth", *MINAMI), *issued)
    revoked = synth.issue_certificate("auth", *auth, card.public_key(), 0x054CFCD8, synth.partition_name("auth", *MINAMI), *issued)
    facts = {"name": "佐藤　花子", "sex": "2", "date_of_birth": "19800101", "address": "Hokkaido Sapporo-shi Minami-ku 1-2-3"}
    signing = synth.issue_certificate(
        "sign", *sign, card.public_key(), 0x03100001, synth.partition_name("sign", *MINAMI), *issued, facts=facts,
    )
    (data / "certs").mkdir()
    for name, der in (("login.der", good), ("revoked.der", revoked), ("signing.der", signing)):
        (data / "certs" / name).write_bytes(der)
    challenge = bytes(range(32))
    document = "口座開設申込書 (account opening application)".encode()
    return {
        "cert_der": good,
        "revoked_cert_der": revoked,
        "signing_cert_der": signing,
        "challenge": challenge,
        "signature": card.sign(challenge, padding.PKCS1v15(), hashes.SHA256()),
        "document": document,
        "document_signature": card.sign(document, padding.PKCS1v15(), hashes.SHA256()),
    }


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _update_config(path: Path, root: Path, server: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sources = "".join(
        f'[[sources]]\nurl = "{server}/{kind}/{MINAMI[0]}/{MINAMI[1]}.crl"\npath = "{kind}/{MINAMI[0]}/{MINAMI[1]}.crl"\n'
        for kind in ("auth", "sign")
    )
    path.write_text(
        f'[store]\npath = "store"\n[trust]\npath = "{root / "trust"}"\n'
        f'[fetch]\ndirectory = "crls"\nconcurrency = 1\nretries = 0\n{sources}',
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from jpki_fast import ingest, open_store, synth
    from jpki_fast.links import import_links

    root = tmp_path_factory.mktemp("doctest")
    synth_dir = root / "synth"
    synth.generate(synth_dir, entries=2_000, partitions=4, now=NOW, certs=8, cert_keys=1)
    data = root / "data"
    (data / "trust").mkdir(parents=True)
    for alias in sorted(p.stem for p in (synth_dir / "trust").glob("*.pem")):
        shutil.copy(synth_dir / "trust" / f"{alias}.pem", data / "trust")
    shutil.copytree(synth_dir / "keys", data / "keys")
    _write_crls(data, "crls", _DAY1_AUTH, 20261126, _day(-0.125))
    _write_crls(data, "crls-day2", _DAY2_AUTH, 20261127, _day(-0.05))
    (data / "renewals.csv").write_text("issuer,old_serial,new_serial\nauth_ca_2023,0A,0B\nauth_ca_2023,0B,0C\n")
    (data / "renewals-more.csv").write_text("issuer,old_serial,new_serial\nauth_ca_2023,0C,0D\n")
    certificates = _certificates(data)
    synth.write_responders(data, now=NOW, out=root / "ocsp")

    store_dir = root / "store"
    ingest(data / "trust", data / "crls", store_dir, now=NOW)
    ingest(data / "trust", data / "crls-day2", store_dir, now=NOW)
    import_links(store_dir, data / "renewals.csv")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(data / "crls")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    copies = iter(range(1_000_000))

    def fresh_store() -> Path:
        copy = root / f"store-copy-{next(copies)}"
        shutil.copytree(store_dir, copy)
        return copy

    scratch = root / "tmp"
    scratch.mkdir()
    real_trust = root / "jpki-trust"
    real_trust.mkdir()
    for ca in sorted(JPKI_VECTORS.glob("*_ca_*.pem")):
        shutil.copy(ca, real_trust)
    yield {
        "NOW": NOW,
        "data_dir": data,
        "store_dir": store_dir,
        "store": open_store(store_dir),
        "fresh_store": fresh_store,
        "tmp": scratch,
        "crl_server": url,
        "fetch_toml": _update_config(root / "fetch-job" / "update.toml", data, url),
        "update_toml": _update_config(root / "update-job" / "update.toml", data, url),
        "synth_dir": synth_dir,
        "ocsp_dir": root / "ocsp",
        "JPKI_VECTORS": JPKI_VECTORS,
        "JPKI_TRUST": real_trust,
        **certificates,
    }
    server.shutdown()
    server.server_close()


def _examples() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    names = ["jpki_fast", *(m.name for m in pkgutil.walk_packages(jpki_fast.__path__, "jpki_fast."))]
    for name in names:
        if name.endswith("__main__"):
            continue
        found += [t for t in finder.find(importlib.import_module(name), name) if t.examples]
    return sorted(found, key=lambda t: t.name)


EXAMPLES = _examples()
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_the_public_api_has_examples_and_none_is_skipped():
    names = {t.name for t in EXAMPLES}
    assert {"jpki_fast", "jpki_fast.store", "jpki_fast.store.Store.check", "jpki_fast.store.open_store"} <= names
    skipped = [f"{t.name} (line {t.lineno + e.lineno + 1})" for t in EXAMPLES for e in t.examples if e.options.get(doctest.SKIP)]
    assert skipped == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda t: t.name)
def test_docstring_example(example, world):
    test = doctest.DocTest(example.examples, {**example.globs, **world}, example.name, example.filename, example.lineno,
                           example.docstring)
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=report.append, clear_globs=False)
    assert runner.failures == 0, "".join(report)
