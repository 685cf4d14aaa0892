"""Serial identity (docs/DESIGN.md §3.1): every accepted input form maps to the same exact integer."""

import numpy as np
import pyarrow as pa
import pytest

from jpki_fast.errors import SerialFormatError
from jpki_fast.serials import canonical, normalize, to_hex


def values(batch):
    """The integers a batch denotes, for comparison."""
    out = [int(v) for v in batch.short]
    for row, key in zip(batch.long_rows, batch.long_keys):
        out[row] = int.from_bytes(bytes(key), "big")
    return out


@pytest.mark.parametrize(
    "text",
    ["054CFCD8", "54cfcd8", "0x054cfcd8", "0X54CFCD8", "05:4C:FC:D8", "  0054cfcd8 ", "00000000054CFCD8"],
)
def test_hex_forms_denote_one_integer(text):
    assert values(normalize([text])) == [0x054CFCD8]


def test_int_bytes_and_hex_agree():
    batch = normalize([0x054CFCD8, b"\x05\x4c\xfc\xd8", b"\x00\x05\x4c\xfc\xd8", "054CFCD8"])
    assert values(batch) == [0x054CFCD8] * 4


def test_canonical_text_is_uppercase_even_length():
    assert canonical(0x54CFCD8) == "054CFCD8"
    assert canonical(0) == "00"
    assert canonical(1) == "01"
    assert canonical("0x80") == "80"


def test_one_octet_and_twenty_octet_serials():
    # 20 octets as a DER INTEGER (RFC 5280's limit counts them): below 2^159.
    twenty = int("7F" + "FF" * 19, 16)
    batch = normalize([1, twenty, "7F" + "FF" * 19, b"\x7f" + b"\xff" * 19])
    assert values(batch) == [1, twenty, twenty, twenty]
    assert to_hex(batch).to_pylist() == ["01"] + ["7F" + "FF" * 19] * 3
    for over in (int("FF" * 20, 16), "FF" * 20, b"\xff" * 20, -(2**159) - 1, "-80" + "00" * 19 + "01"):
        with pytest.raises(SerialFormatError, match="21 octets"):
            normalize([over])
    assert canonical(-(2**159)) == "-80" + "00" * 19  # the most negative 20-octet value


def test_negative_serials_are_distinct_from_positive_ones():
    batch = normalize([-1, "-01", "-0x1", " -00:01 ", 255, "FF", b"\xff"])
    assert to_hex(batch).to_pylist() == ["-01"] * 4 + ["FF"] * 3
    assert canonical(-128) == "-80" and canonical(-129) == "-81" and canonical(-(2**64)) == "-010000000000000000"


def test_high_bit_serial_with_der_leading_zero():
    # DER content 00 80 .. denotes the positive value 0x80..: the zero is not part of the value.
    assert values(normalize([b"\x00\x80\x00\x00\x01"])) == [0x80000001]
    assert canonical(b"\x00\x80") == "80"


def test_nine_octets_are_exact_not_truncated():
    v = 0x01_0000000000000005
    batch = normalize([v, v + 1])
    assert values(batch) == [v, v + 1]
    assert list(batch.long_rows) == [0, 1]


def test_arrow_and_numpy_inputs():
    assert values(normalize(np.array([5, 6], dtype=np.uint64))) == [5, 6]
    assert values(normalize(np.array([5, 6], dtype=np.int32))) == [5, 6]
    assert values(normalize(pa.array(["0A", "0b"]))) == [10, 11]
    assert values(normalize(pa.array(["0A", "0b"], pa.large_string()))) == [10, 11]
    assert values(normalize(pa.array([b"\x0a", b"\x00\x0b"]))) == [10, 11]
    assert values(normalize(pa.chunked_array([["01"], ["02", "03"]]))) == [1, 2, 3]
    assert values(normalize(pa.array(["x", "0A", "0B"]).slice(1))) == [10, 11]


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (["01", "xyz"], "serial #1 ('xyz')"),
        (["01", ""], "serial #1"),
        (["--1"], "not a hexadecimal serial"),
        (["1" * 41], "20-octet"),
        ([2**160], "20-octet"),
        ([b""], "empty"),
        ([b"\x01" * 21], "20-octet"),
        ([1.5], "expected int"),
        (pa.array(["01", None]), "missing"),
        (np.array([1, -2], dtype=np.int64), "serial #1 (-2): negative value in an integer column"),
        (pa.array([1, -2], pa.int64()), "serial #1 (-2): negative value in an integer column"),
    ],
)
def test_bad_serials_name_the_item(bad, fragment):
    with pytest.raises(SerialFormatError) as exc:
        normalize(bad)
    assert fragment in str(exc.value)
