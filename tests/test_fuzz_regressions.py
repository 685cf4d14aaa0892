"""Inputs the fuzzers found (README "Fuzzing"), each replayed with the answer it must get.

The crashing inputs themselves are kept in tests/vectors/fuzz/ (named for what they hold);
each test also builds the same defect from scratch, so it does not hang on one byte layout.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from jpki_fast.wire import WireError, decode_status_arrow

VECTORS = Path(__file__).parent / "vectors" / "fuzz"


def _arrow_body(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def test_arrow_column_name_not_utf8_is_a_bad_body():
    # atheris, status_arrow: a column name of invalid UTF-8 escaped decode_status_arrow as a
    # UnicodeDecodeError (a 500 in the service) instead of a WireError.
    body = _arrow_body(pa.table({"issuer": ["auth_ca_2023"], "seQQal": ["054CFCD8"]})).replace(b"seQQal", b"se\xff\xffal")
    for payload in (body, (VECTORS / "python-arrow-column-name-not-utf8").read_bytes()[1:]):
        with pytest.raises(WireError) as err:
            decode_status_arrow(payload)
        assert err.value.http_status == 400 and err.value.location == "body"
        assert "UTF-8" in str(err.value)


def test_arrow_column_of_a_type_pyarrow_cannot_wrap_is_a_bad_body():
    # atheris, status_arrow: a changed type id in the issuer column's schema made pyarrow raise
    # KeyError (21) when the column was read, escaping decode_status_arrow (a 500 in the service).
    payload = (VECTORS / "python-arrow-issuer-column-unknown-type-id").read_bytes()[1:]
    with pytest.raises(WireError) as err:
        decode_status_arrow(payload)
    assert 400 <= err.value.http_status < 500
