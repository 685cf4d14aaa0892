"""Partition names read as places: prefecture and municipality, the 47 prefectures."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from cryptography import x509

from jpki_fast import synth
from jpki_fast.places import PREFECTURES, Place, partition_place, partition_places, prefecture_code, prefecture_ja

VECTORS = Path(__file__).parent / "vectors" / "jpki"


def _real_distribution_point() -> str:
    cert = x509.load_der_x509_certificate((VECTORS / "auth_cert_sample.der").read_bytes())
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    name = points[0].full_name[0].value
    # Encoding order, as the store names partitions (RFC 4514 text is in reverse order).
    return ", ".join(attr.rfc4514_string() for attr in name)


def test_the_real_certificates_distribution_point_names_hokkaido_sapporo_minami():
    assert partition_place(_real_distribution_point()) == Place("Hokkaido", "Sapporo-shi-Minami-ku")


def test_every_synthetic_partition_reads_back_as_the_place_it_was_made_for():
    made = [(p, f"Town{i}-cho") for i, (p, _) in enumerate(PREFECTURES)]
    names = [synth.partition_name(kind, p, m) for kind in ("auth", "sign") for p, m in made]
    table = partition_places(pa.array(names).dictionary_encode())
    assert list(zip(table.column("prefecture").to_pylist(), table.column("municipality").to_pylist())) == made * 2
    assert table.column("prefecture_code").to_pylist() == list(range(1, 48)) * 2


def test_names_without_a_place_give_nulls_not_errors():
    table = partition_places(["", None, "C=JP, O=JPKI, OU=JPKI for digital signature", "CN=Something CRLDP"])
    assert table.column("prefecture").null_count == 4 and table.column("municipality").null_count == 4


def test_a_prefecture_outside_the_47_has_no_code_but_keeps_its_name():
    table = partition_places(["C=JP, O=JPKI-TEST, OU=CRL Distribution Points, OU=Testland, CN=Test-shi CRLDP"])
    assert table.to_pylist() == [{"prefecture": "Testland", "municipality": "Test-shi", "prefecture_code": None}]


def test_prefecture_codes_and_japanese_names_follow_the_official_order():
    assert len(PREFECTURES) == 47
    assert [prefecture_code(p) for p in ("Hokkaido", "Tokyo", "Hyogo", "Hyōgo", "Okinawa")] == [1, 13, 28, 28, 47]
    assert [prefecture_ja(p) for p in ("Hokkaido", "Kyoto", "Osaka", "Kanagawa")] == ["北海道", "京都府", "大阪府", "神奈川県"]
    assert prefecture_ja("Nowhere") is None


def test_an_empty_column_gives_an_empty_table():
    assert partition_places(pa.array([], pa.string())).num_rows == 0
