"""Input policies (README "Input policies", docs/DESIGN.md §6.4): one test per policy, on CRLs
and certificates built by hand (tests/hostile.py) and signed by the test CA, so that each reaches
the rule it is about. A refused CRL never changes the answers already published."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

import hostile as h
import jpki_fast
from jpki_fast import _core, ingest, open_store, synth
from jpki_fast.serials import canonical
from conftest import FIXTURES, NOW, days_ago, make_crl, partition_text

FRESH = {"this_update": NOW - dt.timedelta(hours=3), "next_update": NOW + dt.timedelta(days=2)}
PARTITION = "Sapporo-shi-Minami-ku"


def statuses(store_dir, serials, issuer="auth_ca_2023"):
    return open_store(store_dir).check(serials, issuer, now=NOW).column("status").to_pylist()


def only_refusal(summary):
    assert len(summary.refused) == 1, [(f.path, f.error_kind, f.message) for f in summary.files]
    return summary.refused[0]


@pytest.fixture
def published(ws, auth_ca):
    """A store holding one good CRL (serial 1 revoked, number 4) for PARTITION."""
    ws.add_ca(auth_ca)
    ws.write_crl("p.crl", h.crl(auth_ca, [h.entry(1, days_ago(1))], number=4, **FRESH))
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert summary.published and not summary.refused
    return ws


def refused_after(ws, der, kind, fragment):
    """Replaces the partition's CRL by ``der``: refused with ``kind``, the message holding
    ``fragment``, and the published answers unchanged."""
    before = statuses(ws.store, [1, 2, 3])
    generation = open_store(ws.store).generation
    ws.write_crl("p.crl", der)
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    refusal = only_refusal(summary)
    assert (refusal.path, refusal.error_kind) == ("p.crl", kind), refusal.message
    assert fragment in refusal.message
    assert open_store(ws.store).generation == generation and statuses(ws.store, [1, 2, 3]) == before
    return refusal


def test_the_hand_built_crl_is_what_pyca_reads(auth_ca):
    der = h.crl(auth_ca, [h.entry(0x054CFCD8, days_ago(1), 4), h.entry(2, days_ago(2))], number=7, **FRESH)
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(auth_ca.key.public_key())
    assert [r.serial_number for r in crl] == [0x054CFCD8, 2]
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7


# ---- canonical DER ---------------------------------------------------------------------------


def test_non_canonical_lengths_are_refused(published, auth_ca):
    # The entry's serial INTEGER with its one-octet length in the long form: 02 81 01 05.
    entry = h.seq(h.tlv(0x02, b"\x05", length_octets=b"\x81\x01"), h.utc_of(days_ago(1)))
    refusal = refused_after(published, h.crl(auth_ca, [entry], number=5, **FRESH), "invalid_entry", "not in its shortest form")
    assert "revoked entry #0" in refusal.message
    # In the header: thisUpdate's length as 81 0D.
    this_update = h.tlv(0x17, days_ago(0.1).strftime("%y%m%d%H%M%SZ").encode(), length_octets=b"\x81\x0d")
    der = h.crl(auth_ca, [], number=5, this_update=this_update, next_update=FRESH["next_update"])
    refused_after(published, der, "malformed", "not in its shortest form")


def test_non_minimal_integers_are_refused_not_stripped(published, auth_ca):
    # 00 05 is 5 with a redundant pad: stripping it would make a different encoding match serial 5.
    refusal = refused_after(published, h.crl(auth_ca, [h.entry(b"\x00\x05", days_ago(1))], number=5, **FRESH),
                            "invalid_entry", "not in its minimal DER encoding")
    assert refusal.message.startswith("revoked entry #0")
    refused_after(published, h.crl(auth_ca, [h.entry(b"\xff\xff", days_ago(1))], number=5, **FRESH),
                  "invalid_entry", "not in its minimal DER encoding")
    # A cRLNumber with a pad: the header is malformed.
    refused_after(published, h.crl(auth_ca, [], number=b"\x00\x05", **FRESH), "malformed", "cRLNumber: INTEGER not in its minimal")


# ---- DEFAULT values (X.690 §11.5) ---------------------------------------------------------------

#: An extension nobody knows, not critical: ignored when written as DER, with no BOOLEAN.
PRIVATE_EXTENSION = "1.3.6.1.4.1.55555.1"


def test_an_explicit_boolean_false_is_refused_in_crl_extensions_entries_and_flags(published, auth_ca):
    """``critical BOOLEAN DEFAULT FALSE`` (and the issuingDistributionPoint's flags) are absent
    or TRUE in DER; an encoded FALSE is refused, not read as "not critical"."""
    absent = h.seq(h.oid(PRIVATE_EXTENSION), h.octets(h.NULL))
    published.write_crl("p.crl", h.crl(auth_ca, [], number=5, extra_extensions=[absent], **FRESH))
    assert not ingest(published.trust, published.crls, published.store, now=NOW).refused  # the control: accepted
    explicit = h.seq(h.oid(PRIVATE_EXTENSION), h.boolean(False), h.octets(h.NULL))
    refusal = refused_after(published, h.crl(auth_ca, [], number=6, extra_extensions=[explicit], **FRESH),
                            "malformed", "critical: BOOLEAN FALSE encoded explicitly")
    assert "DEFAULT FALSE" in refusal.message
    # On an entry's reasonCode: the entry is named.
    entry = h.seq(h.integer(2), h.utc_of(days_ago(1)), h.seq(h.seq(h.oid("2.5.29.21"), h.boolean(False), h.octets(h.enumerated(1)))))
    refusal = refused_after(published, h.crl(auth_ca, [entry], number=6, **FRESH), "invalid_entry", "BOOLEAN FALSE encoded explicitly")
    assert refusal.message.startswith("revoked entry #0")
    # onlyContainsCACerts [2] FALSE written out beside onlyContainsUserCerts TRUE.
    flags = h.tlv(0x81, b"\xff") + h.tlv(0x82, b"\x00")
    refused_after(published, h.crl(auth_ca, [], number=6, idp_flags=flags, **FRESH), "malformed",
                  "onlyContainsCACerts: BOOLEAN FALSE encoded explicitly")


def test_an_explicit_boolean_false_makes_a_certificate_malformed(auth_ca):
    key = _core.generate_rsa_keys(1)[0][0]
    from cryptography.hazmat.primitives import serialization

    public = serialization.load_der_private_key(key, None).public_key()
    base = synth.issue_certificate("auth", auth_ca.key, auth_ca.cert, public, 7, partition_text(PARTITION),
                                   days_ago(100), NOW + dt.timedelta(days=1000))

    def non_critical_made_explicit(extensions: list[bytes]) -> list[bytes]:
        out = []
        for ext in extensions:
            parts = h.children(ext)
            out.append(h.seq(parts[0], h.boolean(False), parts[1]) if len(parts) == 2 else ext)
        assert out != extensions  # the JPKI profile has non-critical extensions (AKI, SKI, CRL DP)
        return out

    def with_basic_constraints(ca_flag: bytes):
        return lambda extensions: [*extensions, h.seq(h.oid("2.5.29.19"), h.octets(h.seq(ca_flag)))]

    cases = {
        "control": h.resign_certificate(base, auth_ca, extensions=lambda exts: exts),
        "critical FALSE": h.resign_certificate(base, auth_ca, extensions=non_critical_made_explicit),
        "basicConstraints without cA": h.resign_certificate(base, auth_ca, extensions=with_basic_constraints(b"")),
        "cA FALSE": h.resign_certificate(base, auth_ca, extensions=with_basic_constraints(h.boolean(False))),
    }
    assert cases["control"] == base  # the rewriting itself changes nothing
    errors = dict(zip(cases, jpki_fast.parse_certificates(list(cases.values())).column("error").to_pylist()))
    assert errors["control"] is None and errors["basicConstraints without cA"] is None, errors
    assert "critical: BOOLEAN FALSE encoded explicitly" in errors["critical FALSE"]
    assert "cA: BOOLEAN FALSE encoded explicitly" in errors["cA FALSE"]


def test_the_real_jpki_certificates_hold_no_explicit_default_and_parse():
    """J-LIS's CA certificates and the real end-entity certificate (tests/vectors/jpki) encode
    only TRUE BOOLEANs: the rule refuses nothing of theirs."""
    ders = [(FIXTURES / "auth_cert_sample.der").read_bytes()]
    for pem in sorted(FIXTURES.glob("*.pem")):
        ders.extend(_core.pem_certificates(pem.read_bytes()))
    assert len(ders) == 5
    assert jpki_fast.parse_certificates(ders).column("error").to_pylist() == [None] * 5


# ---- serial identity: negative serials, over-long serials ----------------------------------------


def test_negative_serials_are_kept_exact_and_distinct(published, auth_ca):
    """PKITS 4.4.14/4.4.15 (Valid/Invalid Negative Serial Number): the CRL is used; a listed
    negative serial is revoked, an unlisted one good. FF (-1) and 00FF (255) are two serials."""
    entries = [h.entry(1, days_ago(1)), h.entry(-1, days_ago(2), 1), h.entry(-256, days_ago(3))]
    published.write_crl("p.crl", h.crl(auth_ca, entries, number=5, **FRESH))
    summary = ingest(published.trust, published.crls, published.store, now=NOW)
    assert summary.published and not summary.refused
    store = open_store(published.store)
    out = store.check([-1, "-01", "-0x1", 255, "FF", -2, "-0100", -256, 256], "auth_ca_2023", now=NOW).to_pylist()
    assert [r["status"] for r in out] == ["revoked", "revoked", "revoked", "good", "good", "good", "revoked", "revoked", "good"]
    assert out[0]["reason"] == "keyCompromise" and out[0]["revocation_date"] == days_ago(2)
    # Written as the sign and the magnitude's canonical hex.
    assert canonical(-1) == "-01" and canonical(255) == "FF" and canonical(-128) == "-80" and canonical(-129) == "-81"
    assert store.check(["-01"], "auth_ca_2023", now=NOW, provenance=True).column("crl_number").to_pylist() == ["5"]


def test_negative_serial_certificates_are_checked_exactly(published, auth_ca, tmp_path):
    """The certificate checks follow the same identity: the certificate whose serial is the
    listed negative one is revoked, the one with an unlisted negative serial (or the positive
    serial of the same octets' magnitude) is good."""
    published.write_crl("p.crl", h.crl(auth_ca, [h.entry(-1, days_ago(2), 1)], number=5, **FRESH))
    ingest(published.trust, published.crls, published.store, now=NOW)
    key = _core.generate_rsa_keys(1)[0][0]
    from cryptography.hazmat.primitives import serialization

    public = serialization.load_der_private_key(key, None).public_key()
    base = synth.issue_certificate("auth", auth_ca.key, auth_ca.cert, public, 7, partition_text(PARTITION),
                                   days_ago(100), NOW + dt.timedelta(days=1000))
    listed = h.resign_certificate(base, auth_ca, serial=b"\xff")          # -1: on the CRL
    unlisted = h.resign_certificate(base, auth_ca, serial=b"\xfe")        # -2
    positive = h.resign_certificate(base, auth_ca, serial=b"\x00\xff")    # 255: not -1
    store = open_store(published.store)
    table = store.check_certificates([listed, unlisted, positive, base], now=NOW, purpose="login")
    assert table.column("status").to_pylist() == ["revoked", "good", "good", "good"], table.column("detail").to_pylist()
    assert table.column("serial").to_pylist() == ["-01", "-02", "FF", "07"]
    assert jpki_fast.parse_certificates([listed, positive]).column("serial").to_pylist() == ["-01", "FF"]


def test_serials_over_20_octets_refuse_the_crl_naming_the_entry(published, auth_ca):
    twenty = 0x7F << (8 * 19)  # 20 content octets: the most RFC 5280 allows
    published.write_crl("p.crl", h.crl(auth_ca, [h.entry(twenty, days_ago(1))], number=5, **FRESH))
    assert not ingest(published.trust, published.crls, published.store, now=NOW).refused
    assert statuses(published.store, [twenty]) == ["revoked"]
    # 21 octets: a positive 20-octet magnitude with the top bit set needs a sign octet.
    over = h.crl(auth_ca, [h.entry(2, days_ago(1)), h.entry(0x80 << (8 * 19), days_ago(1))], number=6, **FRESH)
    refusal = refused_after(published, over, "invalid_entry", "21 octets exceeds RFC 5280's 20-octet limit")
    assert refusal.message.startswith("revoked entry #1")
    with pytest.raises(ValueError, match="20-octet"):
        open_store(published.store).check([0x80 << (8 * 19)], "auth_ca_2023", now=NOW)


def test_empty_serial_is_refused(published, auth_ca):
    refused_after(published, h.crl(auth_ca, [h.entry(b"", days_ago(1))], number=5, **FRESH), "invalid_entry", "empty serial")


# ---- signatures -------------------------------------------------------------------------------


def test_sha1_crl_signatures_are_refused_like_sha1_certificates(published, auth_ca):
    # pyca/cryptography no longer signs X.509 with SHA-1; the CRL is signed by hand, validly.
    der = h.crl(auth_ca, [h.entry(2, days_ago(1))], number=5, signature_oid=h.SHA1_RSA, **FRESH)
    assert x509.load_der_x509_crl(der).signature_hash_algorithm.name == "sha1"
    refusal = refused_after(published, der, "unsupported_algorithm", "SHA-1 is not accepted for CRLs")
    assert "sha1WithRSAEncryption" in refusal.message
    # SHA-256 and stronger are accepted, as before.
    published.write_crl("p.crl", make_crl(auth_ca, [(2, days_ago(1), None, None)], partition=PARTITION, number=5,
                                          algorithm=hashes.SHA384(), **FRESH))
    assert not ingest(published.trust, published.crls, published.store, now=NOW).refused


def test_outer_and_inner_signature_algorithms_must_match(published, auth_ca):
    # The same algorithm, but the outer AlgorithmIdentifier without its NULL parameters.
    der = h.crl(auth_ca, [], number=5, outer_algorithm=h.seq(h.oid(h.SHA256_RSA)), **FRESH)
    refused_after(published, der, "algorithm_mismatch", "RFC 5280 §5.1.1.2")


def test_trailing_data_is_refused(published, auth_ca):
    refused_after(published, h.crl(auth_ca, [], number=5, trailing=b"\x00", **FRESH), "malformed", "1 bytes of trailing data")
    refused_after(published, h.crl(auth_ca, [], number=5, inner_trailing=h.integer(0), **FRESH), "malformed", "unexpected data after")


# ---- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, tag",
    [
        ("261125210000+0900", 0x17),  # a UTCTime with an offset: DER times are in Z
        ("2611252100Z", 0x17),  # no seconds
        ("261125210000.5Z", 0x17),  # fractional seconds
        ("20261125210000.5Z", 0x18),
        ("20261125210000+0900", 0x18),
        ("20261125210000", 0x18),  # local time
    ],
)
def test_non_utc_and_fractional_times_are_refused(published, auth_ca, text, tag):
    der = h.crl(auth_ca, [], number=5, this_update=h.tlv(tag, text.encode()), next_update=FRESH["next_update"])
    refused_after(published, der, "malformed", "time must be in the DER form")
    entry = h.entry(2, h.tlv(tag, text.encode()))
    refused_after(published, h.crl(auth_ca, [entry], number=5, **FRESH), "invalid_entry", "time must be in the DER form")


def test_utctime_years_are_1950_to_2049_and_generalized_time_is_read_at_any_year(published, auth_ca):
    # UTCTime 50 is 1950 (RFC 5280 §4.1.2.5.1): a nextUpdate of "500101000000Z" is long past.
    der = h.crl(auth_ca, [], number=5, this_update=FRESH["this_update"], next_update=h.utc("500101000000Z"))
    refused_after(published, der, "malformed", "nextUpdate 1950-01-01T00:00:00Z is not after thisUpdate")
    # UTCTime 49 is 2049; GeneralizedTime before 2050 (which RFC 5280 has CAs write as UTCTime)
    # is unambiguous and read as written; after 2049 it is the only form.
    this_update = h.generalized((NOW - dt.timedelta(hours=3)).strftime("%Y%m%d%H%M%SZ"))
    revoked = h.generalized("20261120000000Z")
    der = h.crl(auth_ca, [h.entry(2, revoked)], number=5, this_update=this_update, next_update=h.utc("491231235959Z"))
    published.write_crl("p.crl", der)
    summary = ingest(published.trust, published.crls, published.store, now=NOW)
    assert summary.accepted and summary.accepted[0].next_update == "2049-12-31T23:59:59Z"
    row = open_store(published.store).check([2], "auth_ca_2023", now=NOW).to_pylist()[0]
    assert row["status"] == "revoked" and row["revocation_date"] == dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    der = h.crl(auth_ca, [], number=6, this_update=this_update, next_update=h.generalized("20510101000000Z"))
    published.write_crl("p.crl", der)
    summary = ingest(published.trust, published.crls, published.store, now=NOW)
    assert summary.accepted[0].next_update == "2051-01-01T00:00:00Z"


# ---- duplicates, versions ------------------------------------------------------------------------


def test_duplicate_serials_with_different_dates_or_reasons_keep_the_earliest(published, auth_ca):
    """The serial is revoked whichever entry is right; the earliest revocation is kept with its
    own reason (the first listed on a tie), and every dropped entry is counted."""
    entries = [
        h.entry(2, days_ago(2), 4),  # superseded
        h.entry(2, days_ago(5), 1),  # keyCompromise, earlier: kept
        h.entry(3, days_ago(3), 6),  # certificateHold, first of a tie: kept
        h.entry(3, days_ago(3), 1),
        h.entry(-4, days_ago(1)),
        h.entry(-4, days_ago(1)),  # an exact repeat
    ]
    published.write_crl("p.crl", h.crl(auth_ca, entries, number=5, **FRESH))
    summary = ingest(published.trust, published.crls, published.store, now=NOW)
    assert summary.duplicates == 3
    rows = open_store(published.store).check([2, 3, -4], "auth_ca_2023", now=NOW).to_pylist()
    assert [(r["status"], r["reason"], r["revocation_date"]) for r in rows] == [
        ("revoked", "keyCompromise", days_ago(5)),
        ("revoked", "certificateHold", days_ago(3)),
        ("revoked", None, days_ago(1)),
    ]
    assert open_store(published.store).partitions().column("duplicates").to_pylist() == [3]


def test_v1_crls_are_refused_for_want_of_a_crl_number(published, auth_ca):
    """A v1 CRL has no extensions, so no cRLNumber: its order against the CRL held (rollback,
    conflict) cannot be established, and it cannot name a partition. Refused."""
    der = h.crl(auth_ca, [h.entry(2, days_ago(1))], version=None, extensions=False, **FRESH)
    assert x509.load_der_x509_crl(der).is_signature_valid(auth_ca.key.public_key())
    ws = published
    ws.write_crl("v1.crl", der)
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    refusal = only_refusal(summary)
    assert (refusal.path, refusal.error_kind) == ("v1.crl", "no_crl_number")
    assert "v1 CRL" in refusal.message
    assert statuses(ws.store, [2]) == ["good"]
    (ws.crls / "v1.crl").unlink()
    # v1 written out explicitly (INTEGER 0) is not DER for v2's OPTIONAL version: malformed.
    refused_after(ws, h.crl(auth_ca, [], number=5, version=h.integer(0), **FRESH), "malformed", "version v1 encoded explicitly")
    refused_after(ws, h.crl(auth_ca, [], number=5, version=h.integer(2), **FRESH), "unsupported", "CRL version 3")


# ---- certificates: the same DER rules ------------------------------------------------------------


def test_certificates_follow_the_same_der_rules(auth_ca, tmp_path):
    key = _core.generate_rsa_keys(1)[0][0]
    from cryptography.hazmat.primitives import serialization

    public = serialization.load_der_private_key(key, None).public_key()
    base = synth.issue_certificate("auth", auth_ca.key, auth_ca.cert, public, 7, partition_text(PARTITION),
                                   days_ago(100), NOW + dt.timedelta(days=1000))
    cases = {
        "padded serial": h.resign_certificate(base, auth_ca, serial=b"\x00\x07"),
        "21-octet serial": h.resign_certificate(base, auth_ca, serial=b"\x00" + b"\x80" * 20),
        "empty serial": h.resign_certificate(base, auth_ca, serial=b""),
        "explicit v1": h.resign_certificate(base, auth_ca, version=h.tlv(0xA0, h.integer(0))),
        "long-form length": base[:1] + b"\x83\x00" + base[2:4] + base[4:] if base[1] == 0x82 else None,
    }
    errors = jpki_fast.parse_certificates([c for c in cases.values() if c is not None]).column("error").to_pylist()
    named = dict(zip([k for k, c in cases.items() if c is not None], errors))
    assert "minimal encoding" in named["padded serial"]
    assert "21 octets exceeds" in named["21-octet serial"]
    assert "empty INTEGER" in named["empty serial"]
    assert "v1 encoded explicitly" in named["explicit v1"]
    if "long-form length" in named:
        assert "shortest form" in named["long-form length"]
    assert jpki_fast.parse_certificates([base]).column("error").to_pylist() == [None]
