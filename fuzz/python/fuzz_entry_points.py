"""atheris harness for the Python entry points that take untrusted bytes (issue 12; README
"Fuzzing"). The first byte of an input picks the entry point, the rest is the payload:

0. a CRL file through :func:`jpki_fast.ingest` (beside a good one, into a store that holds a
   snapshot): never raises; the file is accepted or refused by name; a refused file leaves the
   published generation as it was;
1. a certificate through :func:`jpki_fast.parse_certificates` and ``Store.check_certificates``:
   never raises, one row out, a status from the documented set;
2. a serial string through :mod:`jpki_fast.serials`: ``SerialFormatError`` or a canonical form
   that normalises to itself, and to which the same value given as an int normalises;
3. a JSON status body through :mod:`jpki_fast.wire`: ``WireError`` (4xx) or a checked answer
   whose encoding has one result per item, each with a documented status;
4. an Arrow IPC status body, likewise (the encoded stream read back: one row per item);
5. an OCSP request through :meth:`jpki_fast.ocsp.OcspResponder.answer`: never raises; a
   documented response status, and the DER response reads back through ``cryptography`` with
   that status (and, when successful, one SingleResponse per Request, the statuses given);
   :meth:`~jpki_fast.ocsp.OcspResponder.cache_key` agrees with the answer.

The dataset's CA keys are committed (``fuzz/python/world/``: test keys made by
``--write-seeds``, nothing else uses them), so the seeds (a CRL signed by them, certificates
they issued, OCSP requests naming them) reach the accepting paths, not only the refusals.

Run: ``.venv/bin/python fuzz/python/fuzz_entry_points.py fuzz/corpus/python fuzz/seeds/python
-max_total_time=60`` (``make fuzz`` does). Seeds: ``--write-seeds`` makes new CA keys in fuzz/python/world and writes fuzz/seeds/python
from them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import tempfile
from pathlib import Path

import faulthandler
import signal

import atheris
import pyarrow as pa

faulthandler.register(signal.SIGUSR1, all_threads=True)

with atheris.instrument_imports():
    import jpki_fast
    from jpki_fast import serials, wire
    from jpki_fast.errors import SerialFormatError

NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)
WIRE_STATUSES = {"good", "revoked", "stale", "unknown", "malformed"}
STATUSES = {"good", "revoked", "stale", "expired", "not_yet_valid", "wrong_usage", "untrusted", "bad_signature", "malformed"}
HERE = Path(__file__).resolve().parent
KEYS = HERE / "world"


class World:
    """A small synthetic dataset, a store holding it, and a CRL directory for the fuzzed file."""

    def __init__(self, new_keys: bool = False) -> None:
        from jpki_fast import ocsp, synth

        self.tmp = Path(tempfile.mkdtemp(prefix="jpki-fuzz-"))
        self.data = self.tmp / "data"
        synth.generate(self.data, entries=300, partitions=2, seed=1, now=NOW, certs=3, ca_from=None if new_keys else KEYS)
        self.store_dir = self.tmp / "store"
        self.crls = self.tmp / "crls"
        self.crls.mkdir()
        self.good = sorted((self.data / "crls").rglob("*.crl"))[0]
        (self.crls / "good.crl").write_bytes(self.good.read_bytes())
        jpki_fast.ingest(self.data / "trust", self.crls, self.store_dir, now=NOW)
        self.store = jpki_fast.open_store(self.store_dir)
        self.generation = self.store.generation
        self.certificates = sorted((self.data / "certs").rglob("*.der")) if (self.data / "certs").is_dir() else []
        pairs = synth.write_responders(self.data, now=NOW, out=self.tmp / "ocsp")
        self.responder = ocsp.OcspResponder.load([(r["certificate"], r["key"]) for r in pairs], self.store, now=NOW)


WORLD: World | None = None


def world() -> World:
    global WORLD
    if WORLD is None:
        WORLD = World()
    return WORLD


def crl_file(payload: bytes) -> None:
    w = world()
    (w.crls / "fuzz.crl").write_bytes(payload)
    summary = jpki_fast.ingest(w.data / "trust", w.crls, w.store_dir, now=NOW)  # must not raise
    report = {f.path: f for f in summary.files}["fuzz.crl"]
    assert report.outcome in ("accepted", "unchanged", "refused")
    if report.outcome == "refused":
        assert report.error_kind and report.message
        if not summary.published:
            assert jpki_fast.open_store(w.store_dir).generation == summary.generation


def certificate(payload: bytes) -> None:
    w = world()
    parsed = jpki_fast.parse_certificates([payload])
    assert parsed.num_rows == 1
    table = w.store.check_certificates([payload], now=NOW, purpose="login")
    assert table.num_rows == 1 and table.column("status")[0].as_py() in STATUSES
    if table.column("status")[0].as_py() == "malformed":
        assert table.column("detail")[0].as_py()


def serial_text(payload: bytes) -> None:
    text = payload.decode("utf-8", errors="replace")
    try:
        form = serials.canonical(text)
    except SerialFormatError:
        return
    assert serials.canonical(form) == form, (text, form)
    # The same serial given as a Python int has the same canonical form.
    assert serials.canonical(int(form, 16)) == form, (text, form)


def status_json(payload: bytes) -> None:
    w = world()
    try:
        request = wire.decode_status_json(payload, max_items=1000)
    except wire.WireError as exc:
        assert 400 <= exc.http_status < 500
        return
    result = wire.check_status(w.store, request, now=NOW)
    answer = json.loads(wire.encode_status_json(result))
    assert len(answer["results"]) == request.n and sum(result.counts.values()) == request.n
    assert {r["status"] for r in answer["results"]} <= WIRE_STATUSES


def status_arrow(payload: bytes) -> None:
    w = world()
    try:
        request = wire.decode_status_arrow(payload, max_items=1000)
    except wire.WireError as exc:
        assert 400 <= exc.http_status < 500
        return
    result = wire.check_status(w.store, request, now=NOW)
    table = pa.ipc.open_stream(wire.encode_status_arrow(result)).read_all()
    assert table.num_rows == request.n and set(table.column("status").to_pylist()) <= WIRE_STATUSES


def ocsp_request(payload: bytes) -> None:
    from cryptography.x509 import ocsp as x509_ocsp

    from jpki_fast import ocsp

    w = world()
    answer = w.responder.answer(payload, w.store, now=NOW)
    assert answer.response_status in ocsp.RESPONSE_STATUSES
    response = x509_ocsp.load_der_ocsp_response(answer.der)
    # cryptography's names: SUCCESSFUL, MALFORMED_REQUEST, ...; ours: successful, malformedRequest, ...
    assert response.response_status.name.replace("_", "").lower() == answer.response_status.lower()
    if answer.response_status == "successful":
        singles = list(response.responses)
        assert len(singles) == len(answer.statuses) >= 1
        assert [s.certificate_status.name.lower() for s in singles] == list(answer.statuses)
        if answer.cacheable:
            assert w.responder.cache_key(payload) == answer.cache_key
    else:
        assert answer.detail and not answer.statuses


ENTRY_POINTS = [crl_file, certificate, serial_text, status_json, status_arrow, ocsp_request]


def one_input(data: bytes) -> None:
    if not data:
        return
    ENTRY_POINTS[data[0] % len(ENTRY_POINTS)](data[1:])


def write_seeds() -> None:
    import shutil

    from jpki_fast import ocsp

    w = World(new_keys=True)
    for sub in ("trust", "keys"):
        shutil.rmtree(KEYS / sub, ignore_errors=True)
        shutil.copytree(w.data / sub, KEYS / sub)
    out = HERE.parent / "seeds" / "python"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    seeds = [b"\x00" + w.good.read_bytes(), b"\x00" + b"\x30\x03\x02\x01\x05"]
    seeds += [b"\x01" + p.read_bytes() for p in w.certificates[:2]]
    seeds += [b"\x01" + (HERE.parent.parent / "tests" / "vectors" / "jpki" / "auth_cert_sample.der").read_bytes()]
    seeds += [b"\x02" + s.encode() for s in ("054CFCD8", "-0x01", "05:4c:fc:d8", "00" * 21, "zz")]
    status = {"issuer": "auth_ca_2023", "serials": ["054CFCD8", "-01", "x"], "now": "2026-11-26T12:00:00Z"}
    seeds.append(b"\x03" + json.dumps(status).encode())
    seeds.append(b"\x03" + json.dumps({"items": [{"issuer": "auth_ca_2023", "serial": "01"}], "provenance": True}).encode())
    sink = io.BytesIO()
    table = pa.table({"issuer": ["auth_ca_2023"], "serial": ["054CFCD8"]})
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    seeds.append(b"\x04" + sink.getvalue())
    ca = (w.data / "trust" / "auth_ca_2023.pem").read_bytes()
    seeds.append(b"\x05" + ocsp.build_request(ca, ["054CFCD8"]))
    seeds.append(b"\x05" + ocsp.build_request(ca, ["01", "7F" + "FF" * 19], hash="sha256", nonce=bytes(16)))
    seeds += [b"\x05" + p.read_bytes() for p in sorted((HERE.parent.parent / "tests" / "vectors" / "ocsp").glob("openssl_*.der"))]
    for i, s in enumerate(seeds):
        (out / f"seed-{i:02d}").write_bytes(s)


if __name__ == "__main__":
    if "--write-seeds" in sys.argv:
        write_seeds()
    else:
        world()
        atheris.Setup(sys.argv, one_input)
        atheris.Fuzz()
