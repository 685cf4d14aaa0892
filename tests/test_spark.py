"""The Spark adapter in local[2] mode: its output equals the local sweep on the same input.

Marked ``spark`` and run only with JPKI_FAST_SPARK=1 (``make test`` does it through ``make
test-spark``, which installs pyspark), so a plain ``pytest`` stays fast and needs no JVM.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import jpki_fast

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(os.environ.get("JPKI_FAST_SPARK") != "1", reason="Spark tests run with JPKI_FAST_SPARK=1 (make test-spark)"),
]

NOW = "2026-11-26T01:00:00Z"


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("spark-day")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "jpki_fast.cli",
            "synth",
            str(root / "data"),
            "--entries",
            "4000",
            "--partitions",
            "6",
            "--certs",
            "12",
            "--now",
            "2026-11-26T00:00:00Z",
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    jpki_fast.ingest(root / "data" / "trust", root / "data" / "crls", root / "store", now=NOW)
    return root


@pytest.fixture(scope="module")
def spark():
    pyspark = pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("jpki-fast-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    assert pyspark.__version__
    yield session
    session.stop()


def _customers(day: Path) -> pa.Table:
    truth = pq.read_table(day / "data" / "truth.parquet", columns=["issuer", "serial"]).slice(0, 1500)
    serials = truth.column("serial").to_pylist() + [f"{0x05000000 + i:08X}" for i in range(1500)] + ["zz", None]
    issuers = truth.column("issuer").cast(pa.string()).to_pylist() + ["auth_ca_2023"] * 1500 + ["auth_ca_2023", "sign_ca_2023"]
    return pa.table({"customer_id": [f"C{i:05d}" for i in range(len(serials))], "serial": serials, "issuer": issuers})


def _plain(table: pa.Table) -> list[dict]:
    columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    columns = [c.cast(pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(c.type) else c for c in columns]
    columns = [c.cast(pa.string()) if pa.types.is_large_string(c.type) else c for c in columns]
    return pa.Table.from_arrays(columns, names=table.column_names).sort_by("customer_id").to_pylist()


def test_spark_adapter_equals_the_local_sweep(day, spark, tmp_path):
    from jpki_fast.spark import with_revocation_status

    customers = _customers(day)
    pq.write_table(customers, tmp_path / "c.parquet", row_group_size=500)
    jpki_fast.sweep(tmp_path / "c.parquet", day / "store", tmp_path / "local.parquet", now=NOW, follow_links=True)
    df = spark.read.parquet(str(tmp_path / "c.parquet")).repartition(3)
    result = with_revocation_status(df, str(day / "store"), now=NOW, follow_links=True)
    assert result.columns == customers.column_names + [
        "status",
        "reason",
        "revocation_date",
        "meaning_ja",
        "meaning_en",
        "action",
        "detail",
        "latest_serial",
    ]
    result.write.parquet(str(tmp_path / "spark.parquet"))
    assert _plain(pq.read_table(tmp_path / "spark.parquet")) == _plain(pq.read_table(tmp_path / "local.parquet"))


def test_spark_adapter_checks_certificates_from_a_shipped_snapshot(day, spark, tmp_path):
    from jpki_fast.spark import ship_snapshot, with_revocation_status

    index = pq.read_table(day / "data" / "certs" / "certs.parquet")
    ders = [(day / "data" / p).read_bytes() for p in index.column("path").to_pylist()]
    table = pa.table({"customer_id": [f"C{i:05d}" for i in range(len(ders))], "certificate": pa.array(ders, pa.binary())})
    pq.write_table(table, tmp_path / "certs.parquet")
    jpki_fast.sweep(tmp_path / "certs.parquet", day / "store", tmp_path / "local.parquet", now=NOW)
    shipped = ship_snapshot(spark, day / "store")
    assert shipped.startswith("sparkfiles://jpki-fast-store-")
    df = spark.read.parquet(str(tmp_path / "certs.parquet"))
    with_revocation_status(df, shipped, now=NOW).write.parquet(str(tmp_path / "spark.parquet"))
    spark_rows = _plain(pq.read_table(tmp_path / "spark.parquet"))
    assert spark_rows == _plain(pq.read_table(tmp_path / "local.parquet"))
    assert sum(r["status"] == "revoked" for r in spark_rows) == sum(index.column("revoked").to_pylist())
