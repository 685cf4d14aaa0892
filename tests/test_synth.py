"""`jpki-fast synth`: the generated CRLs are valid, signed, and say exactly what truth.parquet says."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from jpki_fast import _core, synth
from jpki_fast.synth import cli as synth_cli
from jpki_fast.synth import municipalities as synth_municipalities
from jpki_fast.synth import names as synth_names
from jpki_fast.synth import values as synth_values
from conftest import FIXTURES as REAL_FIXTURES  # the real JPKI roots (tests/vectors/jpki)

NOW = "2026-11-26T00:00:00Z"
NOW_S = int(dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc).timestamp())
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    synth.generate(out, entries=20_000, partitions=20, seed=7, now=NOW, certs=0)
    return out


def load_crl(path: Path) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(path.read_bytes())


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def entry_rows(crl: x509.CertificateRevocationList) -> list[tuple]:
    """(serial hex, revocation date, reason, invalidity date) of each entry, in order."""
    rows = []
    for revoked in crl:
        try:
            reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
        except x509.ExtensionNotFound:
            reason = None
        try:
            invalidity = revoked.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc
        except x509.ExtensionNotFound:
            invalidity = None
        serial = revoked.serial_number
        serial_hex = f"{serial:X}".rjust(2 * ((serial.bit_length() + 7) // 8 or 1), "0")
        rows.append((serial_hex, revoked.revocation_date_utc, reason, invalidity))
    return rows


def truth_rows(truth, partition: str) -> list[tuple]:
    rows = [r for r in truth if r["partition"] == partition]
    return [(r["serial"], r["revocation_date"], r["reason"], r["invalidity_date"]) for r in rows]


# ---------------------------------------------------------------------------------------------
# Golden check: every CRL against cryptography and truth.parquet.


def test_every_crl_verifies_and_matches_the_truth(dataset):
    truth = synth.read_truth(dataset).to_pylist()
    partitions = synth.read_partitions(dataset).to_pylist()
    assert len(partitions) == 40
    assert sum(p["entries"] for p in partitions) == len(truth) == 20_000
    for p in partitions:
        ca = load_cert(dataset / "trust" / f"{p['issuer']}.pem")
        crl = load_crl(dataset / p["path"])
        assert crl.is_signature_valid(ca.public_key()), p["path"]
        assert crl.issuer == ca.subject
        assert crl.last_update_utc == p["this_update"]
        assert crl.next_update_utc == p["next_update"] == p["this_update"] + dt.timedelta(hours=48)
        assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == p["crl_number"]
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        assert aki == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        idp_ext = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
        assert idp_ext.critical
        assert idp_ext.value.only_contains_user_certs
        (directory,) = idp_ext.value.full_name
        assert synth.partition_name(p["kind"], p["prefecture"], p["municipality"]) == p["partition"]
        assert directory.value == synth_names.parse_name(p["partition"])
        assert entry_rows(crl) == truth_rows(truth, p["partition"]), p["path"]


def test_openssl_says_verify_ok(dataset):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    part = synth.read_partitions(dataset).to_pylist()[0]
    result = subprocess.run(
        [openssl, "crl", "-inform", "DER", "-in", str(dataset / part["path"]),
         "-CAfile", str(dataset / "trust" / f"{part['issuer']}.pem"), "-noout"],
        capture_output=True, text=True, check=True,
    )
    assert "verify OK" in result.stdout + result.stderr


def test_truth_schema(dataset):
    truth = synth.read_truth(dataset)
    assert truth.schema.names == ["issuer", "partition", "serial", "revocation_date", "reason", "invalidity_date"]
    assert str(truth.schema.field("revocation_date").type) == "timestamp[s, tz=UTC]"
    assert str(truth.schema.field("invalidity_date").type) == "timestamp[s, tz=UTC]"
    assert set(truth.column("issuer").to_pylist()) == {"sign_ca_2023", "auth_ca_2023"}
    # The raw file reads the same, at millisecond unit.
    raw = pq.read_table(dataset / "truth.parquet")
    assert raw.column("serial").to_pylist() == truth.column("serial").to_pylist()


# ---------------------------------------------------------------------------------------------
# CA roots.


@pytest.mark.parametrize("kind", synth.CA_KINDS, ids=lambda k: k.name)
def test_ca_roots_are_three_generations_sharing_one_name(dataset, kind):
    certs = [load_cert(dataset / "trust" / f"{kind.alias(g)}.pem") for g in synth.GENERATIONS]
    assert len({c.subject.public_bytes() for c in certs}) == 1
    assert len({c.public_key().public_numbers().n for c in certs}) == 3
    for generation, cert in zip(synth.GENERATIONS, certs):
        assert cert.subject == cert.issuer
        jlis = "Japan Agency for Local Authority Information Systems"
        assert cert.subject.rfc4514_string() == f"OU={jlis},OU={kind.unit},O=JPKI,C=JP"
        assert cert.public_key().key_size == 2048
        assert cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256
        cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        spki_bits = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        assert ski.value.digest == hashlib.sha1(spki_bits).digest()
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign and not usage.value.digital_signature
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert basic.critical and basic.value.ca
        assert cert.not_valid_before_utc.year == generation
        assert cert.not_valid_after_utc.year == generation + 10


@pytest.mark.parametrize("kind", ["sign", "auth"])
def test_ca_names_equal_the_real_roots_byte_for_byte(dataset, kind):
    real = load_cert(REAL_FIXTURES / f"{kind}_ca_2023.pem")
    ours = load_cert(dataset / "trust" / f"{kind}_ca_2023.pem")
    assert ours.subject.public_bytes() == real.subject.public_bytes()


def test_keys_are_marked_synthetic_and_belong_to_their_certificates(dataset):
    for cert_path in sorted((dataset / "trust").glob("*.pem")):
        key_pem = (dataset / "keys" / cert_path.name).read_bytes()
        assert key_pem.startswith(b"# SYNTHETIC TEST KEY")
        assert b"-----BEGIN PRIVATE KEY-----" in key_pem  # PKCS#8, unencrypted
        key = serialization.load_pem_private_key(key_pem, password=None)
        assert key.public_key().public_numbers() == load_cert(cert_path).public_key().public_numbers()
    assert sorted(p.stem for p in (dataset / "trust").glob("*.pem")) == sorted(
        k.alias(g) for k in synth.CA_KINDS for g in synth.GENERATIONS
    )
    assert "SYNTHETIC" in (dataset / "README.txt").read_text()


# ---------------------------------------------------------------------------------------------
# Partitions and entries look like JPKI's.


def test_partitions_are_named_and_placed_like_the_real_ones(dataset):
    partitions = synth.read_partitions(dataset).to_pylist()
    for p in partitions:
        assert p["path"] == f"crls/{p['kind']}/{p['prefecture']}/{p['municipality']}.crl"
        assert p["path"].isascii()
        assert (dataset / p["path"]).is_file()
    sample_certificates_partition = (
        "C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Hokkaido, "
        "CN=Sapporo-shi-Minami-ku CRLDP"
    )
    assert sample_certificates_partition in {p["partition"] for p in partitions}
    assert not list(dataset.rglob("*.tmp"))


def test_default_partitions_cover_every_prefecture_with_unique_skewed_municipalities():
    municipalities = synth_municipalities.draw_municipalities(1900, np.random.default_rng((0, 1)))
    assert len(municipalities) == 1900
    names = [m.name for m in municipalities]
    assert len(set(names)) == 1900
    assert all(n.isascii() and "," not in n and "=" not in n for n in names)
    assert {m.prefecture for m in municipalities} == {p[0] for p in synth.PREFECTURES}
    suffixes = collections.Counter(n.rsplit("-", 1)[1] for n in names)
    assert set(suffixes) == {"shi", "machi", "cho", "mura", "son", "ku"}
    assert "Sapporo-shi-Minami-ku" in names
    population = np.array([m.population for m in municipalities])
    assert population.max() / population.min() > 100


def test_partitions_are_deterministic_in_the_seed():
    names = lambda seed: [m.name for m in synth_municipalities.draw_municipalities(300, np.random.default_rng((seed, 1)))]  # noqa: E731
    assert names(1) == names(1)
    assert names(1) != names(2)


def test_reason_mix_follows_each_ca(dataset):
    truth = synth.read_truth(dataset).to_pylist()
    for issuer in ("sign_ca_2023", "auth_ca_2023"):
        rows = [r for r in truth if r["issuer"] == issuer]
        share = {k: v / len(rows) for k, v in collections.Counter(r["reason"] for r in rows).items()}
        assert 0.01 < share[None] < 0.035
        if issuer.startswith("sign"):
            assert max(share, key=lambda k: share[k] if k else 0) == "affiliationChanged"
        else:
            order = ["superseded", "cessationOfOperation", "certificateHold", "affiliationChanged"]
            assert [share[r] for r in order] == sorted((share[r] for r in order), reverse=True)
            assert share["affiliationChanged"] < 0.1
    with_invalidity = [r for r in truth if r["invalidity_date"] is not None]
    assert 0 < len(with_invalidity) < 0.003 * len(truth)
    for r in with_invalidity:
        assert r["reason"] == "keyCompromise"
        assert r["revocation_date"] - dt.timedelta(days=30) <= r["invalidity_date"] <= r["revocation_date"]


def test_dates_fall_before_this_update_within_five_years(dataset):
    truth = synth.read_truth(dataset)
    partitions = synth.read_partitions(dataset).to_pylist()
    now = dt.datetime.fromtimestamp(NOW_S, UTC)
    earliest_update = min(p["this_update"] for p in partitions)
    for p in partitions:
        assert now - dt.timedelta(hours=3, minutes=30) <= p["this_update"] <= now - dt.timedelta(hours=3)
        assert p["crl_number"] == int(p["this_update"].strftime("%Y%m%d"))
    dates = truth.column("revocation_date").to_pylist()
    assert min(dates) >= now - dt.timedelta(days=5 * 365 + 1)
    assert max(dates) < earliest_update


def test_serials_are_a_random_subset_of_a_sequential_range(dataset):
    truth = synth.read_truth(dataset).to_pylist()
    for issuer, top in (("sign_ca_2023", 0x03), ("auth_ca_2023", 0x05)):
        serials = np.array([int(r["serial"], 16) for r in truth if r["issuer"] == issuer])
        assert len(np.unique(serials)) == len(serials)
        assert all(len(r["serial"]) == 8 for r in truth)
        assert serials.min() >= top << 24
        span = serials.max() - serials.min()
        assert 2.5 * len(serials) < span < 3 * len(serials)
        assert not np.all(np.diff(serials) > 0)  # shuffled inside the CRLs


def test_same_seed_and_keys_give_identical_files(dataset, tmp_path):
    again = tmp_path / "again"
    synth.generate(again, entries=20_000, partitions=20, seed=7, now=NOW, ca_from=dataset, certs=0)
    for p in synth.read_partitions(dataset).to_pylist():
        assert (again / p["path"]).read_bytes() == (dataset / p["path"]).read_bytes()
    assert synth.read_truth(again).equals(synth.read_truth(dataset))
    other = tmp_path / "other"
    synth.generate(other, entries=20_000, partitions=20, seed=8, now=NOW, ca_from=dataset, certs=0)
    assert synth.read_truth(other).column("serial") != synth.read_truth(dataset).column("serial")


# ---------------------------------------------------------------------------------------------
# Serial widths.


@pytest.mark.parametrize("serial_bytes", [1, 4, 8, 9, 20])
def test_serial_widths_round_trip(dataset, tmp_path, serial_bytes):
    out = tmp_path / f"w{serial_bytes}"
    summary = synth.generate(out, entries=120, partitions=3, serial_bytes=serial_bytes, now=NOW, ca_from=dataset, certs=0)
    assert summary["entries"] == 120
    truth = synth.read_truth(out).to_pylist()
    assert all(len(r["serial"]) == 2 * serial_bytes for r in truth)
    for p in synth.read_partitions(out).to_pylist():
        crl = load_crl(out / p["path"])
        assert crl.is_signature_valid(load_cert(out / "trust" / f"{p['issuer']}.pem").public_key())
        assert entry_rows(crl) == truth_rows(truth, p["partition"])
        for revoked in crl:
            assert revoked.serial_number.bit_length() > 8 * (serial_bytes - 1)


def test_too_many_entries_for_the_serial_width_is_refused(tmp_path):
    with pytest.raises(ValueError, match="do not fit in 1-octet serials"):
        synth.generate(tmp_path / "x", entries=1000, partitions=3, serial_bytes=1, now=NOW, certs=0)
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------------------
# make_crl and the Rust encoder directly.


@pytest.fixture(scope="module")
def ca(dataset):
    return dataset / "keys" / "auth_ca_2023.pem", dataset / "trust" / "auth_ca_2023.pem"


def test_high_bit_serials_get_the_der_leading_zero(ca):
    key, cert = ca
    serials = [0x7F, 0x80, 0xFF, 0x8000_0000, 0x054C_FCD8, (1 << 159) | 1, (1 << 160) - 1, 0]
    der = synth.make_crl(key, cert, [(s, NOW_S - 100) for s in serials], NOW_S, NOW_S + 86_400, 1, None)
    crl = x509.load_der_x509_crl(der)
    assert [r.serial_number for r in crl] == serials
    # INTEGER headers: 0x80 and 0xFF get a 0x00 pad, 2^160-1 takes 21 octets, 0x7F and 0 need none.
    needles = [b"\x02\x02\x00\x80", b"\x02\x02\x00\xff", b"\x02\x05\x00\x80\x00\x00\x00", b"\x02\x15\x00\xff",
               b"\x02\x01\x7f", b"\x02\x01\x00"]
    for needle in needles:
        assert needle in der, needle
    assert crl.is_signature_valid(load_cert(cert).public_key())


def test_make_crl_builds_what_it_is_told(ca):
    key, cert = ca
    when = dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    name = synth.partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku")
    der = synth.make_crl(
        key, cert,
        [
            ("05:4C:FC:D8", when, "superseded"),
            {"serial": b"\x01\x02", "revocation_date": when, "reason": "keyCompromise",
             "invalidity_date": when - dt.timedelta(days=2)},
            (3, int(when.timestamp())),
        ],
        dt.datetime(2026, 11, 26), dt.datetime(2026, 11, 28), 20261126, name,
        extra_extensions=[("1.2.3.4", False, b"\x05\x00")],
    )
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(load_cert(cert).public_key())
    assert entry_rows(crl) == [
        ("054CFCD8", when, "superseded", None),
        ("0102", when, "keyCompromise", when - dt.timedelta(days=2)),
        ("03", when, None, None),
    ]
    assert crl.last_update_utc == dt.datetime(2026, 11, 26, tzinfo=UTC)
    assert crl.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.2.3.4")).critical is False
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    assert idp.full_name[0].value == synth_names.parse_name(name)


def test_make_crl_can_make_odd_crls(ca, dataset):
    key, cert = ca
    other_key = dataset / "keys" / "auth_ca_2019.pem"
    der = synth.make_crl(other_key, cert, [], NOW_S, None, None, None, authority_key_id=None,
                         extra_extensions=[("2.5.29.27", True, b"\x02\x01\x01")])  # delta CRL indicator
    crl = x509.load_der_x509_crl(der)
    assert not crl.is_signature_valid(load_cert(cert).public_key())
    assert crl.next_update_utc is None
    assert len(crl) == 0
    assert crl.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.5.29.27")).critical
    with pytest.raises(x509.ExtensionNotFound):
        crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    with pytest.raises(x509.ExtensionNotFound):
        crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)


@pytest.mark.parametrize(
    "entry, message",
    [
        ((-1, NOW_S), "negative"),
        ((1 << 160, NOW_S), "at most 20"),
        (("xyz", NOW_S), "not a hexadecimal serial"),
        (("-05", NOW_S), "not a hexadecimal serial"),
        ((1, NOW_S, "lost"), "unknown reason 'lost'"),
        ((1,), "expected \\(serial, revocation_date"),
        ((1, "yesterday"), "revocation_date must be a datetime"),
        ((1, 10**13), "outside years 0000..9999"),
    ],
)
def test_make_crl_names_the_bad_entry(ca, entry, message):
    key, cert = ca
    with pytest.raises((ValueError, TypeError), match=message):
        synth.make_crl(key, cert, [(5, NOW_S), entry], NOW_S, NOW_S + 1, 1, None)


def test_make_crl_refuses_a_negative_crl_number(ca):
    key, cert = ca
    with pytest.raises(ValueError, match="crl_number must be a non-negative integer"):
        synth.make_crl(key, cert, [], NOW_S, NOW_S + 1, -1, None)


def test_write_crls_refuses_bad_buffers_and_names_them(ca, tmp_path):
    key_path, cert_path = ca
    key_der = synth_values.pkcs8_der(synth_values.load_key(key_path))
    signer = {"private_key": key_der, "issuer": load_cert(cert_path).subject.public_bytes(), "authority_key_id": None}
    job = {"path": str(tmp_path / "a" / "b.crl"), "signer": 0, "start": 0, "end": 2,
           "this_update": NOW_S, "next_update": NOW_S + 1}
    serials = np.array([1, 2], np.uint64)
    dates = np.array([NOW_S - 5, NOW_S - 4], np.int64)
    assert _core.write_crls([signer], [job], serials, dates)[0] == (tmp_path / "a" / "b.crl").stat().st_size
    with pytest.raises(ValueError, match="revocation_time has 1 rows but there are 2 serials"):
        _core.write_crls([signer], [job], serials, dates[:1])
    with pytest.raises(ValueError, match="revocation_time: expected int64 items"):
        _core.write_crls([signer], [job], serials, dates.astype(np.float64))
    with pytest.raises(ValueError, match="serials: expected uint64 items"):
        _core.write_crls([signer], [job], serials.astype(np.int32), dates)
    with pytest.raises(ValueError, match="not 1..=20 octets"):
        _core.write_crls([signer], [job], b"\0" * 42, dates, serial_width=21)
    with pytest.raises(ValueError, match="signer #0: signing key"):
        _core.write_crls([dict(signer, private_key=b"junk")], [job], serials, dates)
    with pytest.raises(ValueError, match=r"job #0 \(.*c\.crl\).*row range 0..3"):
        _core.write_crls([signer], [dict(job, path=str(tmp_path / "c.crl"), end=3)], serials, dates)
    with pytest.raises(ValueError, match="invalidity_time and invalidity_mask go together"):
        _core.write_crls([signer], [job], serials, dates, invalidity_time=dates)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match="file"):
        _core.write_crls([signer], [dict(job, path=str(blocker / "x.crl"))], serials, dates)


# ---------------------------------------------------------------------------------------------
# Arguments, output directory, CLI.


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"entries": -1}, "entries must be 0 or more"),
        ({"partitions": 0}, "partitions"),
        ({"serial_bytes": 21}, "serial_bytes must be 1..20"),
        ({"serial_bytes": 0}, "serial_bytes must be 1..20"),
        ({"now": "26 Nov 2026"}, "not an ISO 8601 time"),
        ({"ca_from": "/nonexistent"}, "ca_from=/nonexistent: cannot load sign_ca_2015"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        synth.generate(tmp_path / "out", **{"entries": 10, "partitions": 2, "now": NOW, **kwargs})
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_directory_is_not_overwritten(tmp_path):
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(ValueError, match="not a dataset made by `jpki-fast synth`"):
        synth.generate(tmp_path, entries=10, partitions=2, now=NOW, certs=0)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_a_failed_run_leaves_the_previous_dataset_as_it_was(dataset, tmp_path, monkeypatch):
    out = tmp_path / "data"
    synth.generate(out, entries=100, partitions=2, now=NOW, ca_from=dataset, certs=0)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    class Failing:
        @staticmethod
        def write_crls(*args, **kwargs):
            raise OSError("disk full")

    monkeypatch.setattr(synth.dataset, "_core", Failing)
    with pytest.raises(OSError, match="disk full"):
        synth.generate(out, entries=200, partitions=3, now=NOW, ca_from=dataset, certs=0)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no partial build left


def test_regenerating_replaces_an_earlier_dataset(dataset, tmp_path):
    out = tmp_path / "data"
    synth.generate(out, entries=100, partitions=4, now=NOW, ca_from=dataset, certs=0)
    synth.generate(out, entries=50, partitions=2, now=NOW, ca_from=out, certs=0)
    assert synth.read_partitions(out).num_rows == 4
    assert len(list((out / "crls").rglob("*.crl"))) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_cli_writes_a_dataset_and_summarises_it(dataset, tmp_path, capsys):
    out = tmp_path / "cli"
    status = synth_cli.main([str(out), "--entries", "1,000", "--partitions", "5", "--serial-bytes", "9",
                             "--seed", "3", "--now", NOW, "--ca-from", str(dataset)])
    captured = capsys.readouterr()
    assert status == 0
    assert captured.out.startswith("Wrote 1,000 revoked entries in 10 CRL files")
    assert "All of it is synthetic." in captured.out
    assert "synth: [" in captured.err and "writing truth.parquet" in captured.err
    assert synth.read_truth(out).num_rows == 1000


def test_cli_reports_bad_arguments(tmp_path, capsys):
    assert synth_cli.main([str(tmp_path / "x"), "--serial-bytes", "30", "--quiet"]) == 2
    assert "serial_bytes must be 1..20" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        synth_cli.main([str(tmp_path / "x"), "--entries", "many"])


def test_add_parser_plugs_into_a_main_cli(tmp_path, dataset):
    import argparse

    parser = argparse.ArgumentParser(prog="jpki-fast")
    synth_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["synth", str(tmp_path / "d"), "--entries", "10", "--partitions", "1",
                              "--now", NOW, "--ca-from", str(dataset), "--quiet"])
    assert args.func(args) == 0
    assert synth.read_truth(tmp_path / "d").num_rows == 10



@pytest.mark.parametrize("layout", ["clustered", "random"])
def test_other_serial_layouts_spread_over_the_serial_space_and_stay_exact(dataset, tmp_path, layout):
    """Clustered and random serials (8 octets) leave the sequential range, stay distinct and
    fully listed, and the good certificates of such a dataset are on no CRL."""
    out = tmp_path / layout
    summary = synth.generate(out, entries=3000, partitions=3, serial_bytes=8, now=NOW, ca_from=dataset, certs=8,
                             cert_keys=1, serials=layout)
    assert summary["serials"] == layout
    truth = synth.read_truth(out)
    serials = [int(s, 16) for s in truth.column("serial").to_pylist()]
    assert len(set(serials)) == len(serials) == 3000
    assert all(len(s) == 16 for s in truth.column("serial").to_pylist())
    sign = sorted(s for s, i in zip(serials, truth.column("issuer").to_pylist()) if i == "sign_ca_2023")
    assert sign[-1] - (0x03 << 56) > 1 << 40  # far beyond the 3x range from the base the sequential layout uses
    listed = set(serials)
    certs = synth.read_certs(out)
    for serial, revoked in zip(certs.column("serial").to_pylist(), certs.column("revoked").to_pylist()):
        assert (int(serial, 16) in listed) == revoked
    assert certs.num_rows == 8


def test_an_unknown_serial_layout_is_refused(tmp_path):
    with pytest.raises(ValueError, match="serials must be one of sequential, clustered, random"):
        synth.generate(tmp_path / "x", entries=10, partitions=1, now=NOW, certs=0, serials="zigzag")
