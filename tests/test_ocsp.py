"""The OCSP responder of the library (jpki_fast.ocsp): responder pairs, answers, refusals.

Responses are read back with pyca/cryptography (an implementation independent of ours) and
their signatures verified with it; statuses are checked against the synthetic dataset's ground
truth and against Store.check. The service and the real `openssl ocsp` client are tested in
service/tests/test_service_ocsp*.py.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import stat
from pathlib import Path

import pyarrow.compute as pc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509 import ocsp as x509_ocsp

from jpki_fast import ingest, ocsp, open_store, synth
from jpki_fast.errors import SerialFormatError
from jpki_fast.timeutil import to_epoch

NOW = "2026-11-26T09:00:00Z"
NOW_S = to_epoch(NOW)
VECTORS = Path(__file__).resolve().parent / "vectors"


def tlv(tag: int, content: bytes) -> bytes:
    """A DER element (for hand-made requests the library would not build)."""
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def cert_id_of(request: bytes) -> bytes:
    """The CertID of a one-Request request: OCSPRequest > tbsRequest > requestList > Request > CertID."""
    assert request[8] == 0x30 and all(request[i] == 0x30 and request[i + 1] < 0x80 for i in (0, 2, 4, 6))
    return request[8:]


def request_of(*cert_ids: bytes) -> bytes:
    return tlv(0x30, tlv(0x30, tlv(0x30, b"".join(tlv(0x30, c) for c in cert_ids))))


def cert_id_with_serial(template: bytes, serial_content: bytes) -> bytes:
    """A CertID like ``template`` (a CertID DER) with an exact serialNumber content."""
    body = template[2:]  # a CertID is shorter than 128 bytes: a one-octet length
    pos, parts = 0, []  # hashAlgorithm, issuerNameHash, issuerKeyHash: the three elements before serialNumber
    for _ in range(3):
        length = body[pos + 1]
        parts.append(body[pos : pos + 2 + length])
        pos += 2 + length
    return tlv(0x30, b"".join(parts) + tlv(0x02, serial_content))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("ocsp")
    data = root / "data"
    synth.generate(data, entries=6_000, partitions=6, certs=24, cert_keys=2, now=NOW, seed=3, ocsp_responders="ecdsa-p256")
    rsa_dir = root / "rsa"
    synth.write_responders(data, "rsa-2048", now=NOW, out=rsa_dir)
    ingest(data / "trust", data / "crls", root / "store", now=NOW)
    store = open_store(root / "store")
    aliases = ("auth_ca_2023", "auth_ca_2019", "sign_ca_2023", "sign_ca_2019")
    pairs = [(data / "ocsp" / f"{a}.pem", data / "ocsp" / f"{a}.key.pem") for a in aliases]
    responder = ocsp.OcspResponder.load(pairs, store, now=NOW)
    return {
        "root": root,
        "data": data,
        "rsa": rsa_dir,
        "store": store,
        "responder": responder,
        "certs": synth.read_certs(data).to_pylist(),
        "truth": synth.read_truth(data),
    }


def ca_pem(world, alias: str) -> bytes:
    return (world["data"] / "trust" / f"{alias}.pem").read_bytes()


def parse(der: bytes) -> x509_ocsp.OCSPResponse:
    return x509_ocsp.load_der_ocsp_response(der)


def verify_signature(resp: x509_ocsp.OCSPResponse) -> None:
    """The response's signature verifies with the responder certificate it carries."""
    (responder,) = resp.certificates
    key = responder.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    else:
        key.verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())


# --------------------------------------------------------------------------------------------
# synth: responder pairs


def test_synth_writes_a_delegated_responder_per_valid_ca_key(world):
    store = world["store"]
    written = sorted(p.name for p in (world["data"] / "ocsp").iterdir())
    # The 2015 keys expired in 2025: no responder of theirs could be valid.
    aliases = ("auth_ca_2019", "auth_ca_2023", "sign_ca_2019", "sign_ca_2023")
    assert written == sorted(f"{a}{s}" for a in aliases for s in (".pem", ".key.pem"))
    for path in (world["data"] / "ocsp").glob("*.key.pem"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    cert = x509.load_pem_x509_certificate((world["data"] / "ocsp" / "auth_ca_2019.pem").read_bytes())
    ca = x509.load_pem_x509_certificate(ca_pem(world, "auth_ca_2019"))
    cert.verify_directly_issued_by(ca)
    assert x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    cert.extensions.get_extension_for_class(x509.OCSPNoCheck)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki.hex().upper() == store.issuers()[store.issuer_index("auth_ca_2019")].key_id.upper()
    assert {p.algorithm for p in world["responder"].pairs} == {"ecdsa-with-SHA256"}
    rsa_pairs = ocsp.OcspResponder.load([(world["rsa"] / "auth_ca_2023.pem", world["rsa"] / "auth_ca_2023.key.pem")], store, now=NOW)
    assert [p.algorithm for p in rsa_pairs.pairs] == ["sha256WithRSAEncryption"]


def test_synth_command_line_writes_responders(tmp_path, world):
    from jpki_fast.synth.cli import main

    assert main([str(tmp_path / "d"), "--entries", "200", "--partitions", "2", "--certs", "0", "--now", NOW,
                 "--ca-from", str(world["data"]), "--ocsp-responders", "rsa-2048", "--quiet"]) == 0
    key = serialization.load_pem_private_key((tmp_path / "d" / "ocsp" / "sign_ca_2023.key.pem").read_bytes(), None)
    assert key.key_size == 2048
    assert (tmp_path / "d" / "README.txt").read_text().count("ocsp/") >= 1


# --------------------------------------------------------------------------------------------
# responder pairs: what is refused


def _write_pair(dir: Path, name: str, cert_der: bytes, key) -> tuple[Path, Path]:
    dir.mkdir(parents=True, exist_ok=True)
    c, k = dir / f"{name}.pem", dir / f"{name}.key.pem"
    c.write_bytes(x509.load_der_x509_certificate(cert_der).public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return c, k


def test_pairs_that_are_not_delegated_responders_are_refused(world, tmp_path):
    store, data = world["store"], world["data"]
    ca_key, ca_cert = data / "keys" / "auth_ca_2023.pem", data / "trust" / "auth_ca_2023.pem"
    good_c, good_k = data / "ocsp" / "auth_ca_2023.pem", data / "ocsp" / "auth_ca_2023.key.pem"

    def refused(cert: Path, key: Path, now=NOW, password=None) -> str:
        with pytest.raises(ocsp.OcspConfigError) as e:
            ocsp.load_responder(cert, key, store, now=now, password=password)
        return str(e.value)

    der, key = synth.issue_responder(ca_key, ca_cert, now=NOW, ocsp_signing=False)
    assert "id-kp-OCSPSigning" in refused(*_write_pair(tmp_path, "no-eku", der, key))
    der, key = synth.issue_responder(ca_key, ca_cert, now=NOW, nocheck=False)
    assert "id-pkix-ocsp-nocheck" in refused(*_write_pair(tmp_path, "no-nocheck", der, key))
    # Issued by a CA key outside the trust store (a fresh CA under the same name).
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(65537, 2048)
    real_ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    other_ca = (
        x509.CertificateBuilder().subject_name(real_ca.subject).issuer_name(real_ca.subject).public_key(other_key.public_key())
        .serial_number(7).not_valid_before(real_ca.not_valid_before_utc).not_valid_after(real_ca.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(other_key.public_key()), critical=False)
        .sign(other_key, hashes.SHA256())
    )
    der, key = synth.issue_responder(other_key, other_ca, now=NOW)
    assert "not issued by any CA key of the store's trust store" in refused(*_write_pair(tmp_path, "foreign", der, key))
    # The key of another responder; a CA certificate; an expired responder.
    assert "not the private key" in refused(good_c, data / "ocsp" / "auth_ca_2019.key.pem")
    assert "a CA certificate" in refused(ca_cert, ca_key) or "not a delegated" in refused(ca_cert, ca_key)
    assert "not valid at 2029" in refused(good_c, good_k, now="2029-01-01T00:00:00Z")
    # An encrypted key without its password; with it, the pair loads.
    encrypted = tmp_path / "encrypted.key.pem"
    private = serialization.load_pem_private_key(good_k.read_bytes(), None)
    encrypted.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.BestAvailableEncryption(b"pw")))
    assert "encrypted" in refused(good_c, encrypted)
    assert ocsp.load_responder(good_c, encrypted, store, now=NOW, password=b"pw").ca_alias == "auth_ca_2023"
    # Keys of a kind responses cannot be signed with.
    p384 = ec.generate_private_key(ec.SECP384R1())
    der, _ = synth.issue_responder(ca_key, ca_cert, now=NOW)
    c, k = _write_pair(tmp_path, "p384", der, p384)
    assert "P-256" in refused(c, k)
    # Unreadable files.
    assert "cannot read" in refused(tmp_path / "missing.pem", good_k)
    (tmp_path / "garbage.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    assert "not a PEM" in refused(tmp_path / "garbage.pem", good_k)
    # Two pairs for one CA key.
    der, key = synth.issue_responder(ca_key, ca_cert, now=NOW)
    second = _write_pair(tmp_path, "second", der, key)
    with pytest.raises(ocsp.OcspConfigError, match="one pair per CA key"):
        ocsp.OcspResponder.load([(good_c, good_k), second], store, now=NOW)


# --------------------------------------------------------------------------------------------
# answers


def _expected(world, alias: str, serial: str):
    """(status, revocation time, reason) the truth gives for a serial of CA key ``alias``: CRLs
    are signed by the 2023 key of each CA, whichever key issued the certificate."""
    truth = world["truth"]
    signer = alias.replace("2019", "2023")
    hit = truth.filter(pc.and_(pc.equal(truth.column("issuer"), signer), pc.equal(truth.column("serial"), serial)))
    if hit.num_rows == 0:
        return "good", None, None
    row = hit.to_pylist()[0]
    return "revoked", int(row["revocation_date"].timestamp()), row["reason"]


def test_every_certificate_gets_the_answer_the_truth_gives(world):
    responder, store = world["responder"], world["store"]
    seen = set()
    for c in world["certs"]:
        for hash_name in ("sha1", "sha256"):
            req = ocsp.build_request(ca_pem(world, c["issuer"]), [c["serial"]], hash=hash_name)
            answer = responder.answer(req, store, now=NOW)
            status, when, reason = _expected(world, c["issuer"], c["serial"])
            assert answer.response_status == "successful"
            assert answer.statuses == (status,), (c["issuer"], c["serial"])
            assert status == ("revoked" if c["revoked"] else "good")
            resp = parse(answer.der)
            verify_signature(resp)
            single = next(iter(resp.responses))
            assert single.hash_algorithm.name == hash_name
            assert single.serial_number == int(c["serial"], 16)
            assert single.certificate_status.name == status.upper()
            if status == "revoked":
                assert int(single.revocation_time_utc.timestamp()) == when
                assert (single.revocation_reason.name if single.revocation_reason else None) == _x509_reason(reason)
            seen.add((c["issuer"], status))
    # Revoked and good certificates of both key generations, the 2019 ones on the 2023 key's CRLs.
    assert {("auth_ca_2019", "revoked"), ("auth_ca_2023", "good"), ("sign_ca_2019", "good")} <= seen


def _x509_reason(name: str | None) -> str | None:
    if name is None:
        return None
    return {
        "unspecified": "unspecified", "keyCompromise": "key_compromise", "cACompromise": "ca_compromise",
        "affiliationChanged": "affiliation_changed", "superseded": "superseded",
        "cessationOfOperation": "cessation_of_operation", "certificateHold": "certificate_hold",
        "privilegeWithdrawn": "privilege_withdrawn", "aACompromise": "aa_compromise",
    }[name]


@pytest.mark.parametrize("layout", ["listed", "random64", "random20"])
def test_answers_equal_the_stores_own_check_with_provenance(world, layout):
    """Many serials in one OCSPRequest (the truth's, or random ones: data we did not tune for):
    status, time, reason and thisUpdate/nextUpdate equal Store.check's with provenance."""
    store, responder = world["store"], world["responder"]
    rng = random.Random(layout)
    listed = world["truth"].filter(pc.equal(world["truth"].column("issuer"), "auth_ca_2023")).column("serial").to_pylist()
    if layout == "listed":
        serials = rng.sample(listed, 200) + [f"{int(s, 16) + 1:08X}" for s in rng.sample(listed, 56)]
    else:
        octets = 8 if layout == "random64" else 20
        serials = [f"{rng.getrandbits(8 * octets - 1) | 1:0{2 * octets}X}" for _ in range(256)]
    answer = responder.answer(ocsp.build_request(ca_pem(world, "auth_ca_2023"), serials, hash="sha256"), store, now=NOW)
    expected = store.check(serials, "auth_ca_2023", now=NOW, provenance=True).to_pylist()
    resp = parse(answer.der)
    verify_signature(resp)
    singles = list(resp.responses)
    assert len(singles) == len(serials) == len(answer.statuses)
    for serial, single, want, got in zip(serials, singles, expected, answer.statuses):
        assert single.serial_number == int(serial, 16)
        assert got == {"good": "good", "revoked": "revoked", "stale": "unknown"}[want["status"]]
        assert single.this_update_utc == want["this_update"]
        if want["status"] == "revoked":
            assert single.revocation_time_utc == want["revocation_date"]
            assert (single.revocation_reason.name if single.revocation_reason else None) == _x509_reason(want["reason"])
        if want["status"] in ("good", "revoked"):
            assert single.next_update_utc == want["next_update"]
    assert answer.cacheable is False  # several Requests


def test_the_response_names_the_responder_echoes_the_nonce_and_the_cert_id(world):
    store, responder = world["store"], world["responder"]
    nonce = bytes(range(32))
    req = ocsp.build_request(ca_pem(world, "sign_ca_2023"), ["03000001"], hash="sha256", nonce=nonce)
    answer = responder.answer(req, store, now=NOW)
    resp = parse(answer.der)
    verify_signature(resp)
    assert resp.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(resp.certificates[0].public_key()).digest
    assert resp.responder_name is None
    assert resp.produced_at_utc == dt.datetime.fromtimestamp(NOW_S, dt.timezone.utc)
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    request = x509_ocsp.load_der_ocsp_request(req)
    assert resp.issuer_key_hash == request.issuer_key_hash and resp.issuer_name_hash == request.issuer_name_hash
    assert answer.nonce and not answer.cacheable and answer.cache_key is None
    # The responder certificate in `certs` is the configured one.
    pair = next(p for p in responder.pairs if p.ca_alias == "sign_ca_2023")
    assert resp.certificates[0].public_bytes(serialization.Encoding.DER) == pair.certificate


def test_cacheable_answers_and_their_times(world):
    store, responder = world["store"], world["responder"]
    good = next(c for c in world["certs"] if c["issuer"] == "auth_ca_2023" and not c["revoked"])
    req = ocsp.build_request(ca_pem(world, "auth_ca_2023"), [good["serial"]])
    answer = responder.answer(req, store, now=NOW)
    p = store.partitions().to_pylist()
    auth = [r for r in p if r["issuer"] == "auth_ca_2023"]
    assert answer.this_update == min(int(r["this_update"].timestamp()) for r in auth)
    assert answer.next_update == min(int(r["next_update"].timestamp()) for r in auth)
    assert answer.cacheable and answer.cache_key == responder.cache_key(req)
    assert answer.max_age(NOW) == answer.next_update - NOW_S
    assert answer.max_age(answer.next_update + 5) == 0
    assert len(answer.etag) == 64 and answer.etag == answer.etag


def test_stale_data_is_never_good(world):
    """Past the CRLs' nextUpdate: good serials are unknown, revoked ones stay revoked without a
    nextUpdate, and neither is cacheable."""
    store, responder = world["store"], world["responder"]
    later = max(int(r["next_update"].timestamp()) for r in store.partitions().to_pylist()) + 60
    good = next(c for c in world["certs"] if c["issuer"] == "auth_ca_2023" and not c["revoked"])
    revoked = next(c for c in world["certs"] if c["issuer"] == "auth_ca_2023" and c["revoked"])
    for cert, status in ((good, "unknown"), (revoked, "revoked")):
        answer = responder.answer(ocsp.build_request(ca_pem(world, "auth_ca_2023"), [cert["serial"]]), store, now=later)
        assert answer.statuses == (status,)
        assert not answer.cacheable and answer.next_update is None
        single = next(iter(parse(answer.der).responses))
        assert single.next_update_utc is None
        if status == "unknown":
            assert single.this_update_utc == dt.datetime.fromtimestamp(later, dt.timezone.utc)


def test_serials_no_certificate_can_carry_are_unknown(world):
    store, responder = world["store"], world["responder"]
    raw_id = cert_id_of(ocsp.build_request(ca_pem(world, "auth_ca_2023"), ["05"]))
    negative = cert_id_with_serial(raw_id, b"\x85")
    too_long = cert_id_with_serial(raw_id, b"\x01" * 21)
    zero = cert_id_with_serial(raw_id, b"\x00")
    answer = responder.answer(request_of(negative, too_long, zero), store, now=NOW)
    assert answer.response_status == "successful"
    assert answer.statuses == ("unknown", "unknown", "good")
    assert answer.serials == (None, None, "00")
    verify_signature(parse(answer.der))


def test_build_request_names_a_serial_it_cannot_write(world):
    """A negative serial (which Store.check takes, as "-01") or an unreadable one raises the
    serial error naming the item, never a bare ValueError from inside."""
    ca = ca_pem(world, "auth_ca_2023")
    with pytest.raises(SerialFormatError, match=r"^serial #1 \('-01'\): negative serial"):
        ocsp.build_request(ca, ["05", "-01"])
    with pytest.raises(SerialFormatError, match=r"^serial #0 \('-0100'\): negative serial"):
        ocsp.build_request(ca, [-256])
    with pytest.raises(SerialFormatError, match=r"^serial #2 \('zz'\): "):
        ocsp.build_request(ca, ["05", "06", "zz"])
    # The same serial without its sign is written, and the responder reads it back.
    answer = world["responder"].answer(ocsp.build_request(ca, ["01"], nonce=bytes(32)), world["store"], now=NOW)
    assert answer.response_status == "successful" and answer.serials == ("01",)


def test_issuers_not_served_are_unauthorized(world, tmp_path):
    store, responder = world["store"], world["responder"]

    def status(req: bytes, r=responder, now=NOW) -> tuple[str, str | None]:
        a = r.answer(req, store, now=now)
        assert a.der == {"unauthorized": b"\x30\x03\x0a\x01\x06", "malformedRequest": b"\x30\x03\x0a\x01\x01"}.get(
            a.response_status, a.der
        )
        return a.response_status, a.detail

    # A CA outside the trust store: the real JPKI authentication CA (its key, not ours).
    real = (VECTORS / "jpki" / "auth_ca_2023.pem").read_bytes()
    assert status(ocsp.build_request(real, ["054CFCD8"]))[0] == "unauthorized"
    # A CA key of the trust store without a responder pair.
    only_auth = ocsp.OcspResponder.load(
        [(world["data"] / "ocsp" / "auth_ca_2023.pem", world["data"] / "ocsp" / "auth_ca_2023.key.pem")], store, now=NOW
    )
    s, detail = status(ocsp.build_request(ca_pem(world, "sign_ca_2023"), ["03000001"]), only_auth)
    assert (s, "sign_ca_2023" in detail) == ("unauthorized", True)
    # Requests for two CA keys in one OCSPRequest, even two generations of one CA.
    ids = [cert_id_of(ocsp.build_request(ca_pem(world, alias), ["01"])) for alias in ("auth_ca_2023", "auth_ca_2019")]
    s, detail = status(request_of(*ids))
    assert s == "unauthorized" and "2 CA keys" in detail
    # A CertID hashed with MD5: no issuer can be found by it.
    md5_alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d0205")) + b"\x05\x00")
    md5_id = tlv(0x30, md5_alg + tlv(0x04, bytes(16)) + tlv(0x04, bytes(16)) + tlv(0x02, b"\x01"))
    s, detail = status(request_of(md5_id))
    assert s == "unauthorized" and "1.2.840.113549.2.5" in detail
    # The responder certificate has expired at `now`.
    s, detail = status(ocsp.build_request(ca_pem(world, "auth_ca_2023"), ["01"]), now="2031-01-01T00:00:00Z")
    assert s == "unauthorized" and "not valid" in detail


def test_anything_unparseable_is_malformed_and_nothing_raises(world):
    store, responder = world["store"], world["responder"]
    good = ocsp.build_request(ca_pem(world, "auth_ca_2023"), ["054CFCD8", "01"], nonce=bytes(16))
    cases = [b"", b"\x30", b"garbage", b"\x30\x80\x00\x00", good + b"\x00", b"\x30" * 70_000]
    cases += [good[:n] for n in range(len(good))]
    rng = random.Random(11)
    cases += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300))) for _ in range(300)]
    flipped = []
    for i in range(len(good)):
        b = bytearray(good)
        b[i] ^= 0xFF
        flipped.append(bytes(b))
    for req in cases:
        a = responder.answer(req, store, now=NOW)
        assert a.response_status == "malformedRequest", req[:20]
        assert a.der == b"\x30\x03\x0a\x01\x01" and a.detail
    for req in flipped:  # each flip is refused, or answered: never an exception
        assert responder.answer(req, store, now=NOW).response_status in ocsp.RESPONSE_STATUSES
    # RFC 8954 nonce lengths.
    ca = ca_pem(world, "auth_ca_2023")
    assert responder.answer(ocsp.build_request(ca, ["01"], nonce=b""), store, now=NOW).response_status == "malformedRequest"
    too_long = responder.answer(ocsp.build_request(ca, ["01"], nonce=bytes(33)), store, now=NOW)
    assert (too_long.response_status, "nonce of 33 octets" in too_long.detail) == ("malformedRequest", True)
    assert responder.answer(ocsp.build_request(ca, ["01"], nonce=bytes(1)), store, now=NOW).response_status == "successful"
    # More Requests than the limit.
    many = ocsp.build_request(ca, list(range(1, ocsp.MAX_REQUESTS + 2)))
    assert "requests exceed the limit" in responder.answer(many, store, now=NOW).detail


def test_openssl_requests_are_answered(world):
    """The requests `openssl ocsp -reqout` wrote for the real JPKI CAs (tests/vectors/ocsp): read,
    and unauthorized here (their CA keys are the real ones, not in this trust store)."""
    for name in ("openssl_sha1_no_nonce.der", "openssl_sha256_nonce.der", "openssl_signed.der", "openssl_two_issuers.der"):
        a = world["responder"].answer((VECTORS / "ocsp" / name).read_bytes(), world["store"], now=NOW)
        assert a.response_status == "unauthorized", name


def test_preproduced_responses_equal_live_answers(world):
    store, responder = world["store"], world["responder"]
    certs = [c for c in world["certs"] if c["issuer"] == "auth_ca_2023"]
    serials = [c["serial"] for c in certs] + ["7FFFFFFF"]
    batch = responder.preproduce(store, "auth_ca_2023", serials, now=NOW)
    for serial, pre in zip(serials, batch):
        live = responder.answer(ocsp.build_request(ca_pem(world, "auth_ca_2023"), [serial]), store, now=NOW)
        assert (pre.statuses, pre.cache_key, pre.this_update, pre.next_update, pre.cacheable) == (
            live.statuses, live.cache_key, live.this_update, live.next_update, live.cacheable
        )
        a, b = parse(pre.der), parse(live.der)
        verify_signature(a)
        assert a.tbs_response_bytes == b.tbs_response_bytes  # ECDSA signatures differ; what they sign does not
    with pytest.raises(KeyError):
        responder.preproduce(store, "nobody", ["01"], now=NOW)
