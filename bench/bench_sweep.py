"""Customer sweep benchmark (issue 10), side by side with the pipelines a data engineer would write.

    python bench/bench_sweep.py                      # 100M customers against a 10M-entry snapshot
    python bench/bench_sweep.py --rows 10000000      # smaller, for a quick look
    python bench/bench_sweep.py --write-results      # also rewrite the sweep section of bench/RESULTS.md

Data is generated once and cached outside the repository (``--data``, default /work/benchdata or
$JPKI_BENCH_DATA): a synthetic JPKI day of ``--entries`` revoked entries ingested into a store, the
revoked entries as a Parquet file (what a data engineer would be handed), and ``--rows`` customers
(Parquet: ``customer_id`` int64, ``serial`` 8-digit hex; about 5% revoked, row groups of 1M rows).

Measured, each in its own process (wall time and peak RSS from wait4), on the same files:

1. ``jpki-fast sweep customers.parquet --out status.parquet --issuer auth_ca_2023``.
2. The plain pyarrow pipeline: stream the Parquet file, ``pyarrow.compute.is_in`` against the
   revoked serials as hex strings, write ``customer_id, serial, revoked`` (it answers less: no
   reason, date or freshness).
3. With pyspark installed (``--spark-rows``, default 2M): ``jpki_fast.spark.with_revocation_status``
   in local[2] against Spark's own left join of the customers with the revoked entries as a
   DataFrame; both read the same Parquet file and write Parquet.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-26T01:00:00Z"
ISSUER = "auth_ca_2023"
ROW_GROUP = 1 << 20


def _run(cmd: list[str], env: dict | None = None) -> dict:
    """Runs a command; returns wall seconds and peak RSS (MiB) of the process tree's largest."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:4])}... failed ({code}):\n{err[-3000:]}")
    return {"seconds": wall, "rss_mib": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime, "stdout": out, "stderr": err}


def _jpki(*args: str) -> list[str]:
    return [sys.executable, "-m", "jpki_fast.cli", *args]


def snapshot(data: Path, entries: int) -> tuple[Path, Path]:
    """(store, revoked.parquet) for a synthetic day of ``entries`` revoked entries."""
    day, store = data / f"day-{entries}", data / f"store-{entries}"
    revoked = data / f"revoked-{entries}.parquet"
    if not (store / "CURRENT").exists():
        subprocess.run(
            _jpki("synth", str(day), "--entries", str(entries), "--now", "2026-11-26T00:00:00Z", "--certs", "0", "--quiet"), check=True
        )
        subprocess.run(
            _jpki("ingest", "--trust", str(day / "trust"), "--crls", str(day / "crls"), "--store", str(store), "--now", NOW),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if not revoked.exists():
        import pyarrow.parquet as pq

        import jpki_fast
        from jpki_fast.serials import SerialBatch, to_hex
        import numpy as np
        import pyarrow as pa

        s = jpki_fast.open_store(store)
        e = s.entries()
        serial = e.column("serial").combine_chunks().to_numpy()
        hexes = to_hex(SerialBatch(np.ascontiguousarray(serial), np.empty(0, np.uint32), np.empty((0, 20), np.uint8))).cast(pa.string())
        table = pa.table(
            {
                "issuer": e.column("issuer").cast(pa.string()),
                "serial": hexes,
                "reason": e.column("reason").cast(pa.string()),
                "revocation_date": e.column("revocation_date"),
            }
        )
        pq.write_table(table, revoked.with_suffix(".tmp"))
        os.replace(revoked.with_suffix(".tmp"), revoked)
    return store, revoked


def customers(data: Path, store: Path, rows: int, revoked_share: float = 0.05, seed: int = 7) -> Path:
    """``rows`` customers of the authentication CA: ``revoked_share`` of them revoked."""
    path = data / f"customers-{rows}-{int(revoked_share * 1000)}.parquet"
    if path.exists():
        return path
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import jpki_fast
    from jpki_fast.serials import SerialBatch, to_hex

    s = jpki_fast.open_store(store)
    revoked = np.sort(s.entries(ISSUER).column("serial").combine_chunks().to_numpy())
    lo, hi = int(revoked[0]), int(revoked[-1]) + 1
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    schema = pa.schema([("customer_id", pa.int64()), ("serial", pa.string())])
    with pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            k = int(rng.binomial(n, revoked_share))
            picks = revoked[rng.integers(0, len(revoked), k)]
            candidates = rng.integers(lo, hi, 2 * n + 1000, dtype=np.uint64)
            at = np.minimum(np.searchsorted(revoked, candidates), len(revoked) - 1)
            good = candidates[revoked[at] != candidates][: n - k]
            serial = np.concatenate([picks, good])
            rng.shuffle(serial)
            hexes = to_hex(SerialBatch(np.ascontiguousarray(serial), np.empty(0, np.uint32), np.empty((0, 20), np.uint8)))
            writer.write_table(
                pa.table({"customer_id": np.arange(start, start + n, dtype=np.int64), "serial": hexes.cast(pa.string())}, schema=schema)
            )
    os.replace(tmp, path)
    return path


ISIN_PIPELINE = textwrap.dedent(
    """
    import sys, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
    customers, revoked_file, out, issuer = sys.argv[1:5]
    revoked = pq.read_table(revoked_file, columns=["issuer", "serial"])
    value_set = revoked.filter(pc.equal(revoked.column("issuer"), issuer)).column("serial").combine_chunks()
    source = pq.ParquetFile(customers)
    writer = None
    for batch in source.iter_batches(batch_size=1 << 20):
        result = pa.record_batch([batch.column(0), batch.column(1), pc.is_in(batch.column(1), value_set=value_set)],
                                 names=["customer_id", "serial", "revoked"])
        if writer is None:
            writer = pq.ParquetWriter(out, result.schema)
        writer.write_batch(result)
    writer.close()
    """
)

SPARK_JOBS = textwrap.dedent(
    """
    import json, sys, time
    from pyspark.sql import SparkSession, functions as F
    customers, revoked_file, store, out, issuer, now = sys.argv[1:7]
    spark = (SparkSession.builder.master("local[2]").appName("jpki-fast-bench")
             .config("spark.sql.shuffle.partitions", "4").config("spark.ui.enabled", "false")
             .config("spark.driver.memory", "4g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.range(1).count()  # JVM and session started before timing
    from jpki_fast.spark import with_revocation_status
    times = {}
    df = spark.read.parquet(customers)
    t0 = time.perf_counter()
    with_revocation_status(df, store, issuer=issuer, now=now).write.mode("overwrite").parquet(out + "-jpki")
    times["jpki_fast_spark"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    revoked = spark.read.parquet(revoked_file).where(F.col("issuer") == issuer).select("serial", "reason", "revocation_date")
    joined = df.join(revoked, on="serial", how="left")
    joined = joined.withColumn("revoked", F.col("reason").isNotNull() | F.col("revocation_date").isNotNull())
    joined.write.mode("overwrite").parquet(out + "-join")
    times["spark_join"] = time.perf_counter() - t0
    rows = spark.read.parquet(out + "-jpki").where(F.col("status") == "revoked").count()
    joins = spark.read.parquet(out + "-join").where(F.col("revoked")).count()
    times["revoked_rows"] = [rows, joins]
    print(json.dumps(times))
    spark.stop()
    """
)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--spark-rows", type=int, default=2_000_000)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("JPKI_BENCH_DATA", "/work/benchdata")))
    parser.add_argument("--write-results", action="store_true", help="rewrite the sweep section of bench/RESULTS.md")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    if args.generate_only:
        store, revoked = snapshot(args.data, args.entries)
        paths = [customers(args.data, store, args.rows)]
        if not args.skip_spark:
            paths.append(customers(args.data, store, args.spark_rows))
        print(json.dumps({"store": str(store), "revoked": str(revoked), "customers": [str(p) for p in paths]}))
        return
    # Generate in a child process: this one stays small, so the peak RSS that wait4 reports for
    # each measured process is its own (a forked child starts with its parent's pages counted).
    cmd = [
        sys.executable,
        __file__,
        "--generate-only",
        "--rows",
        str(args.rows),
        "--entries",
        str(args.entries),
        "--spark-rows",
        str(args.spark_rows),
        "--data",
        str(args.data),
    ] + (["--skip-spark"] if args.skip_spark else [])
    generated = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    store, revoked, source = Path(generated["store"]), Path(generated["revoked"]), Path(generated["customers"][0])
    out = args.data / "out"
    out.mkdir(exist_ok=True)
    load_before = os.getloadavg()
    results = []

    sweep = _run(
        _jpki(
            "sweep",
            str(source),
            "--store",
            str(store),
            "--out",
            str(out / "status.parquet"),
            "--issuer",
            ISSUER,
            "--now",
            NOW,
            "--json",
            "--quiet",
        )
    )
    summary = json.loads(sweep["stdout"])
    results.append(
        ("jpki-fast sweep (status, reason, date, meanings, action)", args.rows, sweep["seconds"], sweep["cpu"], sweep["rss_mib"])
    )
    isin = _run([sys.executable, "-c", ISIN_PIPELINE, str(source), str(revoked), str(out / "isin.parquet"), ISSUER])
    results.append(("pyarrow streaming + pc.is_in (revoked yes/no only)", args.rows, isin["seconds"], isin["cpu"], isin["rss_mib"]))

    spark = None
    if not args.skip_spark:
        import importlib.util

        if importlib.util.find_spec("pyspark") is None:
            print("pyspark not installed: Spark comparison skipped (pip install 'jpki-fast[spark]')", file=sys.stderr)
        else:
            small = Path(generated["customers"][1])
            spark_run = _run([sys.executable, "-c", SPARK_JOBS, str(small), str(revoked), str(store), str(out / "spark"), ISSUER, NOW])
            spark = json.loads(spark_run["stdout"].strip().splitlines()[-1])
            results.append(
                ("Spark local[2]: jpki_fast.spark.with_revocation_status", args.spark_rows, spark["jpki_fast_spark"], None, None)
            )
            results.append(("Spark local[2]: join with the revoked entries DataFrame", args.spark_rows, spark["spark_join"], None, None))

    load_after = os.getloadavg()
    lines = [
        f"Sweep of {args.rows:,} customers (Parquet in, Parquet out, 8-digit hex serials, a passthrough customer_id; "
        f"{summary['counts']['revoked']:,} revoked) against a {args.entries:,}-entry snapshot; commit {commit()}, "
        f"{machine()}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
        f"(`uptime`). Command: `python bench/bench_sweep.py --rows {args.rows} --entries {args.entries}`.",
        "",
        "| pipeline | rows | wall s | M rows/s | CPU s (user+sys) | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, rows, seconds, cpu, rss in results:
        lines.append(
            f"| {name} | {rows:,} | {seconds:.1f} | {rows / seconds / 1e6:.2f} | "
            f"{'' if cpu is None else f'{cpu:.1f}'} | {'' if rss is None else f'{rss:,.0f}'} |"
        )
    if spark is not None:
        lines.append("")
        lines.append(
            f"Spark rows found revoked: jpki-fast {spark['revoked_rows'][0]:,}, join {spark['revoked_rows'][1]:,} "
            "(timed from a started session; both write Parquet)."
        )
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        results_md = ROOT / "bench" / "RESULTS.md"
        begin, end = "<!-- BEGIN sweep -->", "<!-- END sweep -->"
        current = results_md.read_text(encoding="utf-8")
        section = f"{begin}\n## Customer sweeps (issue 10)\n\n{text}\n{end}"
        if begin in current:
            current = current[: current.index(begin)] + section + current[current.index(end) + len(end) :]
        else:
            current = current.rstrip("\n") + "\n\n" + section + "\n"
        results_md.write_text(current, encoding="utf-8")


if __name__ == "__main__":
    main()
