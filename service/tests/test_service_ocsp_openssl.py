"""The real `openssl ocsp` client against a `jpki-fast serve` process on loopback (two workers),
and our answers beside those of OpenSSL's own responder (`openssl ocsp -index`) given the same
revocations.

The served store's authentication CA is fresh and its signing CA three days stale, so one
server gives every status: good, revoked (reason and time checked against the truth), unknown
(stale data), and unauthorized (the real JPKI CA, whose key is not in this trust store). Each is
asked with and without a nonce, with SHA-1 and SHA-256 CertIDs, by POST (what OpenSSL 3 sends)
and by GET (the request written with -reqout, sent by urllib, the saved response verified with
-respin), and each signed answer must print `Response verify OK`. The 2023 keys' responders
are ECDSA P-256, the 2019 keys' RSA-2048.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from cryptography.x509 import ocsp as x509_ocsp

from jpki_fast import ocsp

from . import ocsp_world
from .ocsp_world import OcspWorld
from .test_service_server import Server, _free_port

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command line")

REAL_CA = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "jpki" / "auth_ca_2023.pem"
OPENSSL_REASONS = {
    "unspecified": "unspecified", "keyCompromise": "keyCompromise", "cACompromise": "CACompromise",
    "affiliationChanged": "affiliationChanged", "superseded": "superseded",
    "cessationOfOperation": "cessationOfOperation", "certificateHold": "certificateHold",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> OcspWorld:
    return ocsp_world.build(tmp_path_factory.mktemp("ocsp-openssl"), stale_sign=True)


def _pair_args(world: OcspWorld) -> list[str]:
    """ECDSA responders for the 2023 keys, RSA ones for the 2019 keys."""
    args = []
    for alias in ocsp_world.SERVED:
        (cert, key), = world.pairs([alias], rsa=alias.endswith("2019"))
        args += ["--ocsp-cert", cert, "--ocsp-key", key]
    return args


@pytest.fixture(scope="module")
def server(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("ocsp-server")
    s = Server(world.stale_store, world.key_file, root / "audit.jsonl", workers=2, extra=_pair_args(world))
    yield s
    s.stop()


def openssl(*args, input: bytes | None = None) -> tuple[int, str]:
    done = subprocess.run(["openssl", "ocsp", *map(str, args)], capture_output=True, input=input, timeout=60)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


def _cases(world: OcspWorld):
    """(name, issuer alias, serial, expected status, (revocation time, reason) or None)."""
    revoked_2019 = world.cert("auth_ca_2019", True)
    revoked_2023 = world.cert("auth_ca_2023", True)
    truth = {(r["issuer"], r["serial"]): r for r in world.truth.to_pylist()}

    def revocation(serial):
        row = truth[("auth_ca_2023", serial)]  # CRLs are the 2023 key's
        return row["revocation_date"], row["reason"]

    return [
        ("good", "auth_ca_2023", world.cert("auth_ca_2023", False)["serial"], "good", None),
        ("good-2019", "auth_ca_2019", world.cert("auth_ca_2019", False)["serial"], "good", None),
        ("revoked", "auth_ca_2023", revoked_2023["serial"], "revoked", revocation(revoked_2023["serial"])),
        ("revoked-2019", "auth_ca_2019", revoked_2019["serial"], "revoked", revocation(revoked_2019["serial"])),
        ("unknown", "sign_ca_2023", world.cert("sign_ca_2023", False)["serial"], "unknown", None),
    ]


def _openssl_time(t: dt.datetime) -> str:
    return t.strftime("%b %e %H:%M:%S %Y GMT")


def _check_output(out: str, serial: str, status: str, revocation) -> None:
    assert "Response verify OK" in out, out
    assert f"0x{serial}: {status}" in out, out
    if revocation is not None:
        when, reason = revocation
        assert f"Revocation Time: {_openssl_time(when)}" in out, out
        if reason is not None:
            assert f"Reason: {OPENSSL_REASONS[reason]}" in out, out
        else:
            assert "Reason:" not in out, out


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
@pytest.mark.parametrize("nonce", [True, False], ids=["nonce", "no-nonce"])
def test_openssl_client_by_post(world, server, digest, nonce):
    for name, issuer, serial, status, revocation in _cases(world):
        ca = world.ca(issuer)
        rc, out = openssl(f"-{digest}", "-issuer", ca, "-serial", f"0x{serial}", "-url", f"{server.url}/ocsp",
                          "-CAfile", ca, "-nonce" if nonce else "-no_nonce", "-resp_text")
        assert rc == 0, (name, out)
        _check_output(out, serial, status, revocation)
        assert f"Hash Algorithm: {digest}" in out, (name, out)
        assert ("OCSP Nonce" in out) == nonce, (name, out)
        if status in ("good", "revoked"):
            assert "Next Update:" in out and "WARNING" not in out, (name, out)


def test_openssl_client_sees_unauthorized_for_issuers_not_served(world, server):
    rc, out = openssl("-issuer", REAL_CA, "-serial", "0x054CFCD8", "-url", f"{server.url}/ocsp", "-CAfile", REAL_CA)
    assert "Responder Error: unauthorized (6)" in out, out


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
@pytest.mark.parametrize("nonce", [True, False], ids=["nonce", "no-nonce"])
def test_get_requests_written_by_openssl(world, server, tmp_path, digest, nonce):
    for name, issuer, serial, status, revocation in _cases(world):
        ca = world.ca(issuer)
        req, resp = tmp_path / f"{name}.req", tmp_path / f"{name}.resp"
        rc, out = openssl(f"-{digest}", "-issuer", ca, "-serial", f"0x{serial}", "-nonce" if nonce else "-no_nonce", "-reqout", req)
        assert rc == 0, out
        encoded = base64.b64encode(req.read_bytes()).decode()  # slashes and pluses stay in the path
        with urllib.request.urlopen(f"{server.url}/ocsp/{encoded}", timeout=30) as r:
            assert r.headers["Content-Type"] == "application/ocsp-response"
            cacheable = "max-age=" in r.headers["Cache-Control"]
            resp.write_bytes(r.read())
        assert cacheable == (not nonce and status != "unknown"), (name, r.headers["Cache-Control"])
        if nonce:  # the nonce is checked against the saved request; statuses in the text
            rc, out = openssl("-reqin", req, "-respin", resp, "-CAfile", ca, "-resp_text")
            assert rc == 0 and "Response verify OK" in out, out
            assert f"Cert Status: {status}" in out, out
        else:
            rc, out = openssl("-respin", resp, "-issuer", ca, f"-{digest}", "-serial", f"0x{serial}", "-no_nonce", "-CAfile", ca)
            assert rc == 0, out
            _check_output(out, serial, status, revocation)
        # The responder certificate, trusted directly (-VAfile), verifies the same response.
        pair = world.pairs([issuer], rsa=issuer.endswith("2019"))[0][0]
        rc, out = openssl("-respin", resp, "-VAfile", pair, *(["-reqin", req] if nonce else ["-no_nonce"]))
        assert "Response verify OK" in out, out


def test_openssl_sends_the_api_key_with_header(world, tmp_path):
    s = Server(world.store, world.key_file, tmp_path / "audit.jsonl", workers=1, extra=[*_pair_args(world), "--ocsp-auth", "key"])
    try:
        ca = world.ca("auth_ca_2023")
        serial = world.cert("auth_ca_2023", False)["serial"]
        base = ["-issuer", ca, "-serial", f"0x{serial}", "-url", f"{s.url}/ocsp", "-CAfile", ca]
        rc, out = openssl(*base, "-header", f"X-API-Key={world.keys['query']}")
        assert rc == 0 and "Response verify OK" in out and f"0x{serial}: good" in out, out
        rc, out = openssl(*base)
        assert rc != 0 and "Response verify OK" not in out, out
        rc, out = openssl(*base, "-header", f"X-API-Key={world.keys['admin']}")
        assert rc != 0 and "Response verify OK" not in out, out
    finally:
        s.stop()


# --------------------------------------------------------------------------------------------
# Beside OpenSSL's own responder


def _index(world: OcspWorld, issuer: str, revoked: list[dict], good: list[str]) -> str:
    """An OpenSSL CA database (index.txt) with the same revocations."""
    expiry = "491231235959Z"
    lines = []
    for r in revoked:
        when = r["revocation_date"].strftime("%y%m%d%H%M%SZ")
        reason = f",{OPENSSL_REASONS[r['reason']]}" if r["reason"] else ""
        lines.append(f"R\t{expiry}\t{when}{reason}\t{r['serial']}\tunknown\t/CN=revoked {r['serial']}")
    lines += [f"V\t{expiry}\t\t{serial}\tunknown\t/CN=good {serial}" for serial in good]
    return "\n".join(lines) + "\n"


def _openssl_responder_answer(index: Path, request: Path, answer: Path, signer: tuple[str, str], ca: Path) -> None:
    """OpenSSL's responder (`openssl ocsp -index ... -port N -rsigner -rkey -CA`) answers one
    request on loopback and stops (-nrequest 1), bounded in time. OpenSSL 3.0 binds every
    interface, so it runs in a network namespace of its own, which has only loopback (`unshare
    -n`, where allowed); without one it answers the same request from the file (-reqin), the
    same responder code without a socket."""
    port = _free_port()
    serve = ["openssl", "ocsp", "-index", str(index), "-rsigner", signer[0], "-rkey", signer[1], "-CA", str(ca), "-ndays", "1"]
    ask = ["openssl", "ocsp", "-reqin", str(request), "-url", f"http://127.0.0.1:{port}/", "-respout", str(answer), "-noverify"]
    script = (
        "ip link set lo up 2>/dev/null || true; "
        f"{' '.join(serve)} -port {port} -nrequest 1 -timeout 20 & srv=$!; "
        f"for i in $(seq 100); do {' '.join(ask)} >/dev/null 2>&1 && break; sleep 0.1; done; "
        "kill $srv 2>/dev/null; wait $srv 2>/dev/null; test -s " + str(answer)
    )
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        done = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
    else:
        done = subprocess.run([*serve, "-reqin", str(request), "-respout", str(answer)], capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode(errors="replace")


@pytest.mark.parametrize("issuer", ["auth_ca_2023", "auth_ca_2019"])
def test_answers_equal_openssls_responder(world, server, tmp_path, issuer):
    """A sample of serials (revoked ones with every reason the CRLs carry, none without, and
    good ones) in one request: ours and OpenSSL's agree on status, revocation time and reason."""
    listed = world.revoked_serials("auth_ca_2023")  # the 2023 key signs the CRLs of both
    by_reason: dict = {}
    for r in listed:
        by_reason.setdefault(r["reason"], []).append(r)
    revoked = [r for rows in by_reason.values() for r in rows[:6]]
    assert {"superseded", "certificateHold", "unspecified", None} <= set(by_reason)
    good = [c["serial"] for c in world.certs if c["issuer"].startswith("auth") and not c["revoked"]]
    serials = [r["serial"] for r in revoked] + good
    (tmp_path / "index.txt").write_text(_index(world, issuer, revoked, good))
    request = tmp_path / "request.der"
    request.write_bytes(ocsp.build_request(world.ca(issuer).read_bytes(), serials))
    signer = world.pairs([issuer], rsa=issuer.endswith("2019"))[0]
    theirs_path = tmp_path / "openssl.der"
    _openssl_responder_answer(tmp_path / "index.txt", request, theirs_path, signer, world.ca(issuer))
    ours = urllib.request.urlopen(
        urllib.request.Request(f"{server.url}/ocsp", data=request.read_bytes(), headers={"Content-Type": "application/ocsp-request"}),
        timeout=30,
    ).read()
    mine = list(x509_ocsp.load_der_ocsp_response(ours).responses)
    theirs = list(x509_ocsp.load_der_ocsp_response(theirs_path.read_bytes()).responses)
    assert len(mine) == len(theirs) == len(serials)
    for serial, a, b in zip(serials, mine, theirs):
        assert a.serial_number == b.serial_number == int(serial, 16)
        assert a.certificate_status == b.certificate_status, serial
        assert a.revocation_time_utc == b.revocation_time_utc, serial
        assert a.revocation_reason == b.revocation_reason, serial
    assert {a.certificate_status.name for a in mine} == {"GOOD", "REVOKED"}
    for path in (tmp_path / "openssl.der",):
        rc, out = openssl("-respin", path, "-CAfile", world.ca(issuer), "-no_nonce")
        assert "Response verify OK" in out, out


# --------------------------------------------------------------------------------------------
# Java's PKIX


#: java.security.cert.CRLReason names (an entry without a reason reads as UNSPECIFIED).
JAVA_REASONS = {
    "superseded": "SUPERSEDED", "cessationOfOperation": "CESSATION_OF_OPERATION", "certificateHold": "CERTIFICATE_HOLD",
    "affiliationChanged": "AFFILIATION_CHANGED", "keyCompromise": "KEY_COMPROMISE", "unspecified": "UNSPECIFIED", None: "UNSPECIFIED",
}


@pytest.fixture(scope="module")
def java_checker(tmp_path_factory):
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("needs a JDK (javac, java)")
    out = tmp_path_factory.mktemp("java")
    source = Path(__file__).resolve().parent / "java" / "OcspCheck.java"
    subprocess.run(["javac", "-d", str(out), str(source)], check=True, capture_output=True, timeout=300)
    return out


@pytest.mark.parametrize("nonce", ["true", "false"])
def test_java_pkix_validation_with_ocsp(world, server, java_checker, nonce):
    """Java's CertPathValidator (PKIX) with OCSP only (NO_FALLBACK), its responder URL set by
    ocsp.responderURL and nonces by jdk.security.certpath.ocspNonce: good, revoked with the
    reason, and the delegated responder accepted. (Java sends small requests by GET.)"""
    for issuer, revoked in (("auth_ca_2023", False), ("auth_ca_2019", True), ("auth_ca_2023", True)):
        cert = world.cert(issuer, revoked)
        args = [f"{server.url}/ocsp", str(world.ca(issuer)), str(world.data / cert["path"]), nonce]
        done = subprocess.run(["java", "-cp", str(java_checker), "OcspCheck", *args], capture_output=True, text=True, timeout=120)
        if not revoked:
            assert done.stdout.strip() == "good", done.stdout + done.stderr
        else:
            row = next(r for r in world.revoked_serials("auth_ca_2023") if r["serial"] == cert["serial"])
            java_name = JAVA_REASONS[row["reason"]]
            assert done.stdout.strip() == f"revoked {java_name}", done.stdout + done.stderr
