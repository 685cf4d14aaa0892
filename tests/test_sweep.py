"""Customer sweeps (issue 10): jpki_fast.sweep, Store.check_batch, `jpki-fast sweep`, the report."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import jpki_fast
from jpki_fast.cli import main
from jpki_fast.serials import normalize
from jpki_fast.sweeps import SweepError, check_batch, hex_fixed_width
from jpki_fast.tableio import TableInputError

from conftest import FIXTURES

NOW = "2026-11-26T01:00:00Z"
RESULT = ["status", "reason", "revocation_date", "meaning_ja", "meaning_en", "action", "detail"]


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jpki_fast.cli", *args], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> Path:
    """A synthetic JPKI day (both CA kinds, 12 partitions each, 30 certificates) and its store."""
    root = tmp_path_factory.mktemp("sweep-day")
    r = _cli(
        "synth", str(root / "data"), "--entries", "6000", "--partitions", "12", "--certs", "30", "--now", "2026-11-26T00:00:00Z", "--quiet"
    )
    assert r.returncode == 0, r.stderr
    jpki_fast.ingest(root / "data" / "trust", root / "data" / "crls", root / "store", now=NOW)
    return root


@pytest.fixture(scope="module")
def store(day):
    return jpki_fast.open_store(day / "store")


def _customers(day: Path, n: int = 5000, seed: int = 1) -> pa.Table:
    """Customers of both issuers: a third revoked serials from the truth, the rest random."""
    truth = pq.read_table(day / "data" / "truth.parquet", columns=["issuer", "serial"])
    rng = np.random.default_rng(seed)
    picks = truth.take(rng.integers(0, truth.num_rows, n // 3))
    k = n - picks.num_rows
    others = [f"{v:08X}" for v in rng.integers(0x03000000, 0x03010000, k // 2)] + [
        f"{v:08X}" for v in rng.integers(0x05000000, 0x05010000, k - k // 2)
    ]
    issuers = ["sign_ca_2023"] * (k // 2) + ["auth_ca_2023"] * (k - k // 2)
    order = rng.permutation(n)
    return pa.table(
        {
            "customer_id": pa.array([f"{i:06d}" for i in range(n)]).take(order),
            "segment": pa.array(rng.choice(["retail", "corporate", None], n).tolist(), pa.string()).take(order),
            "serial": pa.array(picks.column("serial").to_pylist() + others).take(order),
            "issuer": pa.array(picks.column("issuer").cast(pa.string()).to_pylist() + issuers).take(order),
            "score": pa.array(rng.random(n)).take(order),
        }
    )


def _expected(store, table: pa.Table) -> pa.Table:
    return store.check(table.column("serial"), table.column("issuer"), now=NOW)


# --------------------------------------------------------------------------------------------
# Equal to Store.check, passthrough intact


def test_sweep_equals_store_check_row_by_row_and_keeps_columns_in_order(day, store, tmp_path):
    customers = _customers(day)
    pq.write_table(customers, tmp_path / "c.parquet", row_group_size=700)
    summary = jpki_fast.sweep(tmp_path / "c.parquet", store, tmp_path / "out.parquet", now=NOW, batch_rows=1000)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column_names == customers.column_names + RESULT
    for name in customers.column_names:
        assert out.column(name).to_pylist() == customers.column(name).to_pylist(), name
    expected = _expected(store, customers)
    for name in ("status", "reason", "revocation_date"):
        assert (
            out.column(name)
            .cast(
                expected.column(name).type.value_type if pa.types.is_dictionary(expected.column(name).type) else expected.column(name).type
            )
            .to_pylist()
            == expected.column(name)
            .cast(
                expected.column(name).type.value_type if pa.types.is_dictionary(expected.column(name).type) else expected.column(name).type
            )
            .to_pylist()
        ), name
    statuses = out.column("status").to_pylist()
    assert summary.rows == customers.num_rows
    assert summary.counts["revoked"] == statuses.count("revoked") > 1000
    assert summary.counts["good"] == statuses.count("good") > 1000
    assert summary.generation == store.generation and summary.now == NOW
    assert sum(summary.revoked_by_reason.values()) == summary.counts["revoked"]


def test_meanings_and_actions_follow_reason_and_kind(day, store, tmp_path):
    out = store.check_batch(_customers(day), now=NOW)
    rows = [r for r in out.to_pylist() if r["status"] == "revoked"]
    by = {(r["reason"], r["issuer"][:4]): r for r in rows}
    assert by[("affiliationChanged", "sign")]["meaning_ja"].startswith("「死亡」、「海外転出」又は基本4情報")
    assert by[("affiliationChanged", "auth")]["meaning_en"] == "death or emigration"
    assert by[("superseded", "auth")]["action"] == "collect the renewed certificate"
    assert by[("cessationOfOperation", "sign")]["meaning_en"] == "card lost, or emigration"
    good = next(r for r in out.to_pylist() if r["status"] == "good")
    assert good["action"] == "none" and good["reason"] is None and good["detail"] is None


def test_integer_serials_in_parquet(day, store, tmp_path):
    customers = _customers(day, 2000)
    ints = pa.array([int(s, 16) for s in customers.column("serial").to_pylist()], pa.int64())
    table = customers.set_column(2, "serial", ints)
    pq.write_table(table, tmp_path / "ints.parquet")
    jpki_fast.sweep(tmp_path / "ints.parquet", store, tmp_path / "out.parquet", now=NOW)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column("serial").to_pylist() == ints.to_pylist()
    assert out.column("status").to_pylist() == _expected(store, customers).column("status").to_pylist()


def test_default_issuer_applies_to_rows_without_one(day, store, tmp_path):
    customers = _customers(day, 900).drop_columns(["issuer"])
    pq.write_table(customers, tmp_path / "c.parquet")
    jpki_fast.sweep(tmp_path / "c.parquet", store, tmp_path / "out.parquet", issuer="sign_ca_2023", now=NOW)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column("status").to_pylist() == store.check(customers.column("serial"), "sign_ca_2023", now=NOW).column("status").to_pylist()


@pytest.mark.parametrize("width", list(range(1, 17)))
def test_fixed_width_hex_fast_path_equals_the_rust_parser(width):
    rng = np.random.default_rng(width)
    digits = np.array(list("0123456789abcdefABCDEF"))
    values = ["".join(rng.choice(digits, width)) for _ in range(500)] + ["0" * width, "F" * width]
    fast = hex_fixed_width(pa.array(values))
    assert fast is not None
    assert fast.short.tolist() == normalize(pa.array(values)).short.tolist()
    assert hex_fixed_width(pa.array(values[:-1] + ["0x" + "1" * (width - 2 if width > 2 else 1)])) is None or width <= 2


# --------------------------------------------------------------------------------------------
# Formats: CSV, JSON lines, directories


def test_csv_in_csv_out_keeps_text_exactly(day, store, tmp_path):
    src = tmp_path / "c.csv"
    src.write_text(
        'customer_id,serial,issuer,note\n000123,03006C56,sign_ca_2023,"a, quoted"\n000124,0x1234,auth_ca_2023,\n000125,12,,plain\n',
        encoding="utf-8",
    )
    summary = jpki_fast.sweep(src, store, tmp_path / "out.csv", issuer="auth_ca_2023", now=NOW)
    out = pacsv.read_csv(
        tmp_path / "out.csv",
        convert_options=pacsv.ConvertOptions(column_types={"customer_id": pa.string(), "serial": pa.string()}, strings_can_be_null=True),
    )
    assert out.column_names == ["customer_id", "serial", "issuer", "note"] + RESULT
    assert out.column("customer_id").to_pylist() == ["000123", "000124", "000125"]
    assert out.column("note").to_pylist() == ["a, quoted", None, "plain"]
    assert out.column("serial").to_pylist() == ["03006C56", "0x1234", "12"]
    expected = store.check(["03006C56", "0x1234", "12"], ["sign_ca_2023", "auth_ca_2023", "auth_ca_2023"], now=NOW)
    assert out.column("status").to_pylist() == expected.column("status").to_pylist()
    assert summary.rows == 3


def test_jsonl_output_one_object_per_row(day, store, tmp_path):
    customers = _customers(day, 300)
    pq.write_table(customers, tmp_path / "c.parquet")
    jpki_fast.sweep(tmp_path / "c.parquet", store, tmp_path / "out.jsonl", now=NOW, follow_links=True)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 300
    assert list(rows[0]) == customers.column_names + RESULT + ["latest_serial"]
    assert [r["status"] for r in rows] == _expected(store, customers).column("status").to_pylist()
    revoked = next(r for r in rows if r["status"] == "revoked")
    assert revoked["revocation_date"].endswith("Z") and revoked["meaning_ja"]


def test_directory_of_parquet_and_csv_files_in_name_order(day, store, tmp_path):
    customers = _customers(day, 3000).select(["customer_id", "serial", "issuer"])
    parts = tmp_path / "in" / "dt=2026-11-26"
    parts.mkdir(parents=True)
    pq.write_table(customers.slice(0, 1000), parts / "part-0.parquet")
    pacsv.write_csv(customers.slice(1000, 1000), parts / "part-1.csv")
    pq.write_table(customers.slice(2000), parts / "part-2.parquet")
    (parts / "_SUCCESS").write_text("")
    (parts / ".part-3.parquet.crc").write_text("junk")
    summary = jpki_fast.sweep(tmp_path / "in", store, tmp_path / "out.parquet", now=NOW, batch_rows=400)
    out = pq.read_table(tmp_path / "out.parquet")
    assert summary.files == 3 and summary.rows == 3000
    assert out.column("customer_id").to_pylist() == customers.column("customer_id").to_pylist()
    assert out.column("status").to_pylist() == _expected(store, customers).column("status").to_pylist()


def test_directory_with_different_columns_is_refused(day, store, tmp_path):
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"serial": ["01"], "issuer": ["auth_ca_2023"]}), tmp_path / "in" / "a.parquet")
    pq.write_table(pa.table({"id": [1], "serial": ["01"]}), tmp_path / "in" / "b.parquet")
    with pytest.raises(TableInputError, match=r"b\.parquet: columns differ"):
        jpki_fast.sweep(tmp_path / "in", store, tmp_path / "out.parquet", now=NOW)
    assert not (tmp_path / "out.parquet").exists()


# --------------------------------------------------------------------------------------------
# Certificates


def _certs(day: Path) -> tuple[pa.Table, list[bytes]]:
    index = pq.read_table(day / "data" / "certs" / "certs.parquet")
    ders = [(day / "data" / p).read_bytes() for p in index.column("path").to_pylist()]
    return index, ders


def _pem(der: bytes) -> str:
    b64 = base64.b64encode(der).decode()
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64)) + "\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("encoding", ["der", "base64", "pem"])
def test_certificate_column_der_base64_pem(day, store, tmp_path, encoding):
    index, ders = _certs(day)
    real = (FIXTURES / "auth_cert_sample.der").read_bytes()
    ders = ders + [real]
    column = {
        "der": pa.array(ders, pa.binary()),
        "base64": pa.array([base64.b64encode(d).decode() for d in ders]),
        "pem": pa.array([_pem(d) for d in ders]),
    }[encoding]
    table = pa.table({"customer_id": pa.array(range(len(ders))), "certificate": column})
    pq.write_table(table, tmp_path / "certs.parquet")
    summary = jpki_fast.sweep(tmp_path / "certs.parquet", store, tmp_path / "out.parquet", now=NOW)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column_names == ["customer_id", "serial", "issuer"] + RESULT
    expected = store.check_certificates(ders, now=NOW)
    assert out.column("status").to_pylist() == expected.column("status").cast(pa.string()).to_pylist()
    assert out.column("serial").to_pylist() == expected.column("serial").to_pylist()
    assert out.column("detail").to_pylist() == expected.column("detail").to_pylist()
    # The synthetic index says which certificates are revoked; the real JPKI certificate's CA
    # generation is not in this trust store.
    assert out.column("status").to_pylist()[: index.num_rows].count("revoked") == sum(index.column("revoked").to_pylist())
    assert out.column("status")[-1].as_py() == "untrusted"
    assert summary.mode == "certificate"


def test_certificate_rows_missing_or_garbage_are_malformed(day, store, tmp_path):
    _, ders = _certs(day)
    table = pa.table({"certificate": pa.array([ders[0], None, b"", b"\x30\x03\x02\x01\x01"], pa.binary())})
    out = store.check_batch(table, now=NOW, keep_certificate=True)
    assert out.column_names[0] == "certificate"
    statuses = out.column("status").to_pylist()
    assert statuses[1:] == ["malformed", "malformed", "malformed"]
    assert out.column("detail")[1].as_py() == "missing certificate"
    assert out.column("detail")[3].as_py()


# --------------------------------------------------------------------------------------------
# Links


def test_follow_links_adds_latest_serial(day, tmp_path):
    import shutil

    from jpki_fast.links import import_links

    root = tmp_path / "store"
    shutil.copytree(day / "store", root)
    (tmp_path / "links.csv").write_text("issuer,old_serial,new_serial\nauth_ca_2023,0A,0B\nauth_ca_2023,0B,0C\n")
    import_links(root, tmp_path / "links.csv")
    store = jpki_fast.open_store(root)
    src = pa.table(
        {"id": [1, 2, 3, 4], "serial": ["0A", "0B", "99", "zz"], "issuer": ["auth_ca_2023", "auth_ca_2023", "auth_ca_2023", "auth_ca_2023"]}
    )
    pq.write_table(src, tmp_path / "c.parquet")
    summary = jpki_fast.sweep(tmp_path / "c.parquet", store, tmp_path / "out.parquet", now=NOW, follow_links=True)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column("latest_serial").to_pylist() == ["0C", "0C", "99", None]
    assert out.column("latest_serial").to_pylist()[:3] == store.latest_serial(["0A", "0B", "99"], "auth_ca_2023").to_pylist()
    assert summary.links_followed == 2


# --------------------------------------------------------------------------------------------
# Bad rows, bad inputs


def test_malformed_rows_get_status_and_detail_and_never_abort(day, store, tmp_path):
    src = pa.table(
        {
            "id": list(range(8)),
            "serial": ["03006C56", "not-hex", None, "", "1" * 42, "  ", "0x:", "05"],
            "issuer": [
                "sign_ca_2023",
                "auth_ca_2023",
                "auth_ca_2023",
                "auth_ca_2023",
                "auth_ca_2023",
                "auth_ca_2023",
                "auth_ca_2023",
                None,
            ],
        }
    )
    pq.write_table(src, tmp_path / "bad.parquet")
    r = _cli(
        "sweep",
        str(tmp_path / "bad.parquet"),
        "--store",
        str(day / "store"),
        "--out",
        str(tmp_path / "out.parquet"),
        "--now",
        NOW,
        "--json",
    )
    assert r.returncode == 1, r.stderr
    summary = json.loads(r.stdout)
    out = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [row["status"] for row in out][1:] == ["malformed"] * 7
    details = [row["detail"] for row in out]
    assert "not a hexadecimal serial" in details[1]
    assert details[2] == details[3] == details[5] == "missing serial"
    assert "longer than 20 octets" in details[4]
    assert details[7].startswith("missing issuer")
    assert all(row["reason"] is None and row["revocation_date"] is None for row in out[1:])
    assert summary["malformed_rows"] == 7 and [s["row"] for s in summary["malformed_samples"]] == list(range(1, 8))
    assert "not-hex" not in r.stdout  # details name the problem, never echo the value


def test_negative_and_null_integer_serials_are_malformed(store):
    batch = pa.record_batch({"serial": pa.array([5, -1, None], pa.int64())})
    out = check_batch(store, batch, issuer="auth_ca_2023", now=NOW)
    assert out.column("status").to_pylist() == ["good", "malformed", "malformed"]
    assert "negative" in out.column("detail")[1].as_py() and out.column("detail")[2].as_py() == "missing serial"


def test_unknown_issuer_rows_are_unknown_with_detail(store):
    out = check_batch(store, pa.table({"serial": ["01"], "issuer": ["nobody_ca"]}), now=NOW)
    assert out.column("status").to_pylist() == ["unknown"]
    assert out.column("detail")[0].as_py() == "issuer 'nobody_ca' is not in the store's trust store"


def test_csv_lines_with_wrong_field_count_are_skipped_and_counted(day, store, tmp_path):
    (tmp_path / "c.csv").write_text("id,serial,issuer\n1,01,auth_ca_2023\n2,02\n3,03,auth_ca_2023,extra\n4,04,auth_ca_2023\n")
    summary = jpki_fast.sweep(tmp_path / "c.csv", store, tmp_path / "out.csv", now=NOW)
    assert summary.rows == 2 and summary.skipped_lines == 2
    assert [x["line"] for x in summary.skipped_line_numbers] in ([3, 4], [None, None])  # None: the threaded reader cannot tell


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda p: pq.write_table(pa.table({"id": [1], "name": ["x"]}), p / "in.parquet"),
            "no 'serial' or 'certificate' column (columns: id, name)",
        ),
        (lambda p: pq.write_table(pa.table({"serial": ["01"]}), p / "in.parquet"), "no 'issuer' column"),
        (lambda p: (p / "in.parquet").write_bytes(b"this is not parquet"), "in.parquet: cannot be read as Parquet"),
        (lambda p: (p / "in.xlsx").write_bytes(b"PK"), "unknown format '.xlsx'"),
        (lambda p: None, "input not found"),
        (lambda p: (p / "in.csv").write_bytes(b""), "empty CSV file"),
    ],
    ids=["no-serial-column", "no-issuer", "unreadable", "unknown-format", "missing", "zero-bytes"],
)
def test_bad_inputs_exit_2_naming_the_problem(day, tmp_path, make, message):
    make(tmp_path)
    name = next((p.name for p in tmp_path.iterdir()), "in.parquet")
    r = _cli("sweep", str(tmp_path / name), "--store", str(day / "store"), "--out", str(tmp_path / "out.parquet"), "--now", NOW)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and str(tmp_path) in r.stderr if message != "no 'issuer' column" else message in r.stderr
    assert not (tmp_path / "out.parquet").exists()


def test_unknown_default_issuer_and_unknown_serial_column_exit_2(day, tmp_path):
    pq.write_table(pa.table({"serial": ["01"]}), tmp_path / "in.parquet")
    r = _cli("sweep", str(tmp_path / "in.parquet"), "--store", str(day / "store"), "--out", str(tmp_path / "o.parquet"), "--issuer", "nope")
    assert r.returncode == 2 and "--issuer 'nope' is not in the store's trust store (known:" in r.stderr
    r = _cli(
        "sweep",
        str(tmp_path / "in.parquet"),
        "--store",
        str(day / "store"),
        "--out",
        str(tmp_path / "o.parquet"),
        "--issuer",
        "auth_ca_2023",
        "--serial-column",
        "cert_serial",
    )
    assert r.returncode == 2 and "no 'cert_serial' column for the serial" in r.stderr


def test_header_only_csv_and_empty_parquet_give_empty_outputs_with_columns(day, store, tmp_path):
    (tmp_path / "empty.csv").write_text("customer_id,serial,issuer\n")
    summary = jpki_fast.sweep(tmp_path / "empty.csv", store, tmp_path / "out.parquet", now=NOW)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.num_rows == 0 and out.column_names == ["customer_id", "serial", "issuer"] + RESULT
    assert summary.rows == 0 and summary.counts["good"] == 0
    pq.write_table(pa.table({"serial": pa.array([], pa.string())}), tmp_path / "empty.parquet")
    jpki_fast.sweep(tmp_path / "empty.parquet", store, tmp_path / "out.csv", issuer="auth_ca_2023", now=NOW)
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        '"serial","status","reason","revocation_date","meaning_ja","meaning_en","action","detail"'
    ]


# --------------------------------------------------------------------------------------------
# Atomic output, interruption


def test_interrupted_sweep_leaves_no_output_and_keeps_an_earlier_one(day, store, tmp_path):
    pq.write_table(_customers(day, 3000), tmp_path / "c.parquet")
    (tmp_path / "out.parquet").write_bytes(b"yesterday's sweep")

    def interrupt(rows, total, done_bytes, total_bytes):
        if rows >= 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        jpki_fast.sweep(tmp_path / "c.parquet", store, tmp_path / "out.parquet", now=NOW, batch_rows=500, progress=interrupt)
    assert (tmp_path / "out.parquet").read_bytes() == b"yesterday's sweep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.parquet", "out.parquet"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_killed_cli_sweep_leaves_no_file(day, tmp_path, sig):
    customers = _customers(day, 2000)
    pq.write_table(pa.concat_tables([customers] * 100), tmp_path / "c.parquet")  # 200,000 rows
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jpki_fast.cli",
            "sweep",
            str(tmp_path / "c.parquet"),
            "--store",
            str(day / "store"),
            "--out",
            str(tmp_path / "out.csv"),
            "--now",
            NOW,
            "--batch-rows",
            "500",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a test run started in the background (nohup, `&` in a script)
        # inherits SIGINT ignored, and Python then keeps ignoring it in the child.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.csv.") for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep never started writing"
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; nothing was written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.parquet"]


# --------------------------------------------------------------------------------------------
# Summary, report, Arrow engines


def test_cli_json_summary_names_snapshot_and_now(day, tmp_path):
    pq.write_table(_customers(day, 500), tmp_path / "c.parquet")
    r = _cli(
        "sweep", str(tmp_path / "c.parquet"), "--store", str(day / "store"), "--out", str(tmp_path / "o.parquet"), "--now", NOW, "--json"
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["generation"] == jpki_fast.open_store(day / "store").generation and summary["now"] == NOW
    assert summary["rows"] == 500 and sum(summary["counts"].values()) == 500
    assert r.stderr == ""  # no progress bar when stderr is not a terminal
    r = _cli("sweep", str(tmp_path / "c.parquet"), "--store", str(day / "store"), "--out", str(tmp_path / "o.parquet"), "--now", NOW)
    assert f"generation {summary['generation']}" in r.stdout and f"now {NOW}" in r.stdout and "revoked" in r.stdout


def test_report_is_self_contained_html(day, store, tmp_path):
    customers = _customers(day, 2000)
    pq.write_table(customers, tmp_path / "c.parquet")
    summary = jpki_fast.sweep(tmp_path / "c.parquet", store, tmp_path / "o.parquet", now="2026-11-28T12:00:00Z", report=tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") >= 3
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert f"generation {summary.generation}" in text and "2,000" in text and "c.parquet" in text
    assert "「死亡」又は「海外転出」" in text and "collect the renewed certificate" in text
    assert summary.stale_rows > 0 and "Partition CRLs not fresh" in text  # everything is stale two days on
    assert summary.report == str(tmp_path / "r.html")


def test_check_batch_on_record_batches_and_tables(day, store):
    customers = _customers(day, 700)
    as_table = store.check_batch(customers, now=NOW)
    as_batches = [store.check_batch(b, now=NOW) for b in customers.to_batches(max_chunksize=100)]
    assert isinstance(as_table, pa.RecordBatch)
    assert as_table.to_pylist() == pa.Table.from_batches(as_batches).to_pylist()
    assert as_table.schema.metadata[b"jpki_fast.now"] == NOW.encode()
    with pytest.raises(SweepError, match="batch: no 'serial' or 'certificate' column"):
        store.check_batch(pa.table({"x": [1]}), issuer="auth_ca_2023")


def test_check_input_streams_large_csv(day, store, tmp_path):
    customers = _customers(day, 3000).select(["serial", "issuer"])
    pacsv.write_csv(customers, tmp_path / "c.csv")
    assert (
        main(
            ["check", "--store", str(day / "store"), "--input", str(tmp_path / "c.csv"), "--out", str(tmp_path / "o.parquet"), "--now", NOW]
        )
        == 0
    )
    out = pq.read_table(tmp_path / "o.parquet")
    assert out.column("status").to_pylist() == _expected(store, customers).column("status").to_pylist()


# --------------------------------------------------------------------------------------------
# Bounded memory


@pytest.mark.slow
def test_sweep_memory_stays_bounded_on_a_large_input(day, tmp_path):
    """30 million rows (about 1.2 GB as Arrow in and out) sweep in well under 1 GB peak RSS."""
    rows = 30_000_000
    rng = np.random.default_rng(5)
    schema = pa.schema([("customer_id", pa.int64()), ("serial", pa.string())])
    with pq.ParquetWriter(tmp_path / "big.parquet", schema) as writer:
        for start in range(0, rows, 1 << 20):
            n = min(1 << 20, rows - start)
            serial = pc.utf8_upper(pa.array(np.char.mod("%08x", rng.integers(0x05000000, 0x05020000, n))))
            writer.write_table(pa.table({"customer_id": np.arange(start, start + n), "serial": serial}, schema=schema))
    launcher = (
        "import os, sys, subprocess; p = subprocess.Popen(sys.argv[1:]); _, status, usage = os.wait4(p.pid, 0); "
        "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)"
    )
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            launcher,
            sys.executable,
            "-m",
            "jpki_fast.cli",
            "sweep",
            str(tmp_path / "big.parquet"),
            "--store",
            str(day / "store"),
            "--out",
            str(tmp_path / "out.parquet"),
            "--issuer",
            "auth_ca_2023",
            "--now",
            NOW,
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    code, peak_kib = map(int, r.stdout.split()[-2:])
    assert code == 0, r.stderr
    assert pq.ParquetFile(tmp_path / "out.parquet").metadata.num_rows == rows
    print(f"peak RSS {peak_kib / 1024:.0f} MiB for {rows:,} rows")
    assert peak_kib < 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
