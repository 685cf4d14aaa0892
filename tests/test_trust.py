"""The trust store against the real JPKI CA certificates."""

import shutil

import pytest

from jpki_fast import TrustStore, TrustStoreError
from conftest import FIXTURES


def test_real_jpki_roots_load_with_their_key_identifiers(real_trust):
    trust = TrustStore.from_dir(real_trust)
    assert trust.aliases == ["auth_ca_2015", "auth_ca_2023", "sign_ca_2015", "sign_ca_2023"]
    assert trust["auth_ca_2015"].key_id_hex == "9567951B5CA70D84A0FFF1D85A87F1AAB1340385"
    assert trust["auth_ca_2023"].key_id_hex == "1AC100F596A3BC8C4B3DF195E32699249E9E308A"
    assert trust["sign_ca_2015"].key_id_hex == "0D034CBB34D0714F45E45A1CAFD8FD143FAB54A7"
    assert trust["sign_ca_2023"].key_id_hex == "D21EA55895617E93ADBF966B941AB4EDF653F08F"


def test_generations_share_a_name_but_not_a_key(real_trust):
    trust = TrustStore.from_dir(real_trust)
    old, new = trust["auth_ca_2015"], trust["auth_ca_2023"]
    assert old.subject == new.subject == (
        "C=JP, O=JPKI, OU=JPKI for user authentication, OU=Japan Agency for Local Authority Information Systems"
    )
    assert old.key_id != new.key_id
    assert old.kind == new.kind == "authentication"
    assert trust["sign_ca_2023"].kind == "signing"
    assert all(k.crl_sign and not k.test_hierarchy for k in trust)


def test_lookup_by_alias_or_key_id(real_trust):
    trust = TrustStore.from_dir(real_trust)
    assert trust.index_of("auth_ca_2023") == trust.index_of("1ac100f596a3bc8c4b3df195e32699249e9e308a")
    assert trust.index_of("1A:C1:00:F5:96:A3:BC:8C:4B:3D:F1:95:E3:26:99:24:9E:9E:30:8A") == 1
    assert "nope" not in trust
    with pytest.raises(KeyError, match="known: auth_ca_2015"):
        trust["nope"]


def test_end_entity_certificate_is_not_a_trust_anchor(tmp_path):
    shutil.copy(FIXTURES / "auth_cert_sample.der", tmp_path / "ee.der")
    with pytest.raises(TrustStoreError, match="ee.der: not a CA certificate"):
        TrustStore.from_dir(tmp_path)


def test_garbage_and_empty_directories_are_named(tmp_path):
    with pytest.raises(TrustStoreError, match="no CA certificates"):
        TrustStore.from_dir(tmp_path)
    (tmp_path / "junk.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(TrustStoreError, match="junk.pem: not a valid X.509 certificate"):
        TrustStore.from_dir(tmp_path)
    with pytest.raises(TrustStoreError, match="not found"):
        TrustStore.from_dir(tmp_path / "missing")


def test_same_key_twice_is_refused(tmp_path):
    shutil.copy(FIXTURES / "auth_ca_2023.pem", tmp_path / "a.pem")
    shutil.copy(FIXTURES / "auth_ca_2023.pem", tmp_path / "b.pem")
    with pytest.raises(TrustStoreError, match="same key identifier"):
        TrustStore.from_dir(tmp_path)


def _pyca_facts(cert):
    """What pyca/cryptography reads from a CA certificate: the reference for our parser."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key_id = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        key_id = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = key_id if cert.issuer == cert.subject else None
    return {
        "key_id": key_id,
        "authority_key_id": aki,
        "subject_der": cert.subject.public_bytes(),
        "public_key_der": cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "certificate_der": cert.public_bytes(serialization.Encoding.DER),
        "not_before": int(cert.not_valid_before_utc.timestamp()),
        "not_after": int(cert.not_valid_after_utc.timestamp()),
        "serial": cert.serial_number,
    }


def test_real_roots_read_as_pyca_reads_them(real_trust):
    """The trust store parses certificates in Rust; every fact it keeps equals pyca's."""
    from cryptography import x509

    trust = TrustStore.from_dir(real_trust)
    for key in trust:
        cert = x509.load_pem_x509_certificate((real_trust / f"{key.alias}.pem").read_bytes())
        for name, want in _pyca_facts(cert).items():
            assert getattr(key, name) == want, (key.alias, name)
        assert key.certificate == cert


def test_key_id_without_subject_key_identifier_and_usage_without_crl_sign(tmp_path):
    """No subjectKeyIdentifier: RFC 5280 method (1), as pyca computes it. A keyUsage without
    cRLSign is kept (and marked), a certificate without basicConstraints cA is refused, and a
    file holding two certificates is refused by name."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for digital signature"),
        ]
    )
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)

    def make(ca, usage=None):
        b = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(2**100 + 5)
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650))
        )
        if ca is not None:
            b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        if usage is not None:
            b = b.add_extension(usage, critical=True)
        return b.sign(key, hashes.SHA256())

    no_crl_sign = x509.KeyUsage(True, False, False, False, False, True, False, False, False)
    cert = make(True, no_crl_sign)
    (tmp_path / "test_sign.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    trust = TrustStore.from_dir(tmp_path)
    k = trust["test_sign"]
    for field, want in _pyca_facts(cert).items():
        assert getattr(k, field) == want, field
    assert (k.kind, k.test_hierarchy, k.crl_sign) == ("signing", True, False)

    for ca in (False, None):
        (tmp_path / "test_sign.der").write_bytes(make(ca).public_bytes(serialization.Encoding.DER))
        with pytest.raises(TrustStoreError, match="test_sign.der: not a CA certificate"):
            TrustStore.from_dir(tmp_path)
    (tmp_path / "test_sign.der").unlink()
    (tmp_path / "two.pem").write_bytes(make(True).public_bytes(serialization.Encoding.PEM) * 2)
    with pytest.raises(TrustStoreError, match="two.pem: holds 2 certificates"):
        TrustStore.from_dir(tmp_path)
