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
