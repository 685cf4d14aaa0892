"""The jpki-fast command line, end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from cryptography import x509

from jpki_fast.cli import main
from conftest import NOW_ISO, days_ago, make_crl

R = x509.ReasonFlags


@pytest.fixture
def ingested(ws, auth_ca, sign_ca):
    ws.add_ca(auth_ca)
    ws.add_ca(sign_ca)
    ws.write_crl("auth/a.crl", make_crl(auth_ca, [(0x054CFCD8, days_ago(3), R.superseded, None)], number=3))
    ws.write_crl("sign/b.crl", make_crl(sign_ca, [(0x99, days_ago(2), R.affiliation_changed, None)], partition="Aomori-shi"))
    assert main(["ingest", "--trust", str(ws.trust), "--crls", str(ws.crls), "--store", str(ws.store), "--now", NOW_ISO]) == 0
    return ws


def run(*args):
    return subprocess.run([sys.executable, "-m", "jpki_fast.cli", *args], capture_output=True, text=True)


def test_ingest_prints_a_summary_and_refusals_exit_1(ws, auth_ca, capsys):
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [(1, days_ago(1), None, None)], number=3))
    ws.write_crl("bad.crl", b"not a crl at all")
    code = main(["ingest", "--trust", str(ws.trust), "--crls", str(ws.crls), "--store", str(ws.store), "--now", NOW_ISO, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["counts"]["accepted"] == 1 and out["counts"]["refused"] == 1
    assert out["files"][1]["path"] == "bad.crl" and "malformed" in out["files"][1]["message"]


def test_ingest_all_or_nothing_publishes_nothing(ws, auth_ca):
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [], number=3))
    ws.write_crl("bad.crl", b"\x30\x00")
    r = run("ingest", "--trust", str(ws.trust), "--crls", str(ws.crls), "--store", str(ws.store), "--now", NOW_ISO,
            "--policy", "all-or-nothing")
    assert r.returncode == 1
    assert "REFUSED bad.crl" in r.stdout and "nothing published" in r.stderr


def test_check_serials_as_json_lines(ingested):
    r = run("check", "--store", str(ingested.store), "--issuer", "auth_ca_2023", "054cfcd8", "0x01", "--now", NOW_ISO)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows == [
        {"serial": "054CFCD8", "issuer": "auth_ca_2023", "status": "revoked", "reason": "superseded",
         "revocation_date": days_ago(3).strftime("%Y-%m-%dT%H:%M:%SZ")},
        {"serial": "01", "issuer": "auth_ca_2023", "status": "good", "reason": None, "revocation_date": None},
    ]


def test_check_text_input_to_parquet(ingested, tmp_path):
    src = tmp_path / "serials.txt"
    src.write_text("054CFCD8\n02\n\n0x99\n")
    out = tmp_path / "out.parquet"
    assert main(["check", "--store", str(ingested.store), "--issuer", "auth_ca_2023", "--input", str(src),
                 "--out", str(out), "--now", NOW_ISO]) == 0
    t = pq.read_table(out)
    assert t.column_names == ["serial", "issuer", "status", "reason", "revocation_date"]
    assert t.column("status").to_pylist() == ["revoked", "good", "good"]


def test_check_csv_with_issuer_column_to_csv(ingested, tmp_path):
    src = tmp_path / "in.csv"
    pacsv.write_csv(pa.table({"serial": ["054CFCD8", "99", "99"], "issuer": ["auth_ca_2023", "sign_ca_2023", None]}), src)
    out = tmp_path / "out.csv"
    assert main(["check", "--store", str(ingested.store), "--issuer", "auth_ca_2023", "--input", str(src),
                 "--out", str(out), "--now", NOW_ISO]) == 0
    t = pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    assert t.column("issuer").to_pylist() == ["auth_ca_2023", "sign_ca_2023", "auth_ca_2023"]
    assert t.column("status").to_pylist() == ["revoked", "revoked", "good"]
    assert t.column("reason").to_pylist() == ["superseded", "affiliationChanged", None]


def test_check_parquet_input_to_jsonl_with_provenance(ingested, tmp_path):
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"serial": pa.array([0x054CFCD8], pa.uint64())}), src)
    out = tmp_path / "out.jsonl"
    assert main(["check", "--store", str(ingested.store), "--issuer", "auth_ca_2023", "--input", str(src),
                 "--out", str(out), "--now", NOW_ISO, "--provenance"]) == 0
    row = json.loads(out.read_text())
    assert row["crl_number"] == "3" and row["status"] == "revoked"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--issuer", "auth_ca_2023"], "either SERIAL"),
        (["--issuer", "auth_ca_2023", "zz"], "serial #0 ('zz')"),
        (["--issuer", "auth_ca_2023", "01", "--now", "yesterday"], "not an ISO 8601"),
        (["01"], "give --issuer"),
        (["--issuer", "auth_ca_2023", "01", "--out", "x.xlsx"], "unknown format"),
    ],
)
def test_check_usage_errors_exit_2(ingested, args, message):
    r = run("check", "--store", str(ingested.store), *args)
    assert r.returncode == 2
    assert message in r.stderr


def test_check_unknown_issuer_warns(ingested):
    r = run("check", "--store", str(ingested.store), "--issuer", "nobody", "01")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "unknown"
    assert "not in the store's trust store" in r.stderr


def test_info(ingested, capsys):
    assert main(["info", "--store", str(ingested.store), "--now", NOW_ISO, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["generation"] == 1 and info["partitions"] == 2 and info["fresh_partitions"] == 2


def test_missing_store_is_a_clear_error(tmp_path):
    r = run("check", "--store", str(tmp_path / "none"), "--issuer", "a", "01")
    assert r.returncode == 2 and "store not found" in r.stderr
