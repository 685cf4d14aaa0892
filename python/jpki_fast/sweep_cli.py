"""`jpki-fast sweep`: the status of every row of a customer file (see :mod:`jpki_fast.sweep_run` and :mod:`jpki_fast.sweeps`).

The main CLI wires it in with ``sweep_cli.add_parser(subparsers)``.

Exit codes: 0 every row was checked; 1 the sweep completed but some rows could not be read
(status ``malformed``, or CSV lines skipped), each counted in the summary; 2 bad usage or input
(a missing column, an unreadable file, an unknown format: nothing written); 130 interrupted
(nothing written).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

DESCRIPTION = """\
Check every row of INPUT (a Parquet or CSV file, or a directory of them) against one snapshot of
the store at one instant, and write OUTPUT (.parquet, .csv or .jsonl): the input's columns,
unchanged and in order, then status, reason, revocation_date, meaning_ja, meaning_en (what the
reason tells, per J-LIS), action (the recommended next step), detail and, with --follow-links,
latest_serial. Rows are identified by a 'serial' column (hex text, or integers in Parquet) with an
'issuer' column or --issuer, or by a 'certificate' column (DER binary, or PEM or base64 text),
which is also path-validated. A row that cannot be read gets status 'malformed' with a detail; it
never stops the sweep. OUTPUT appears only when complete.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sweep",
        help="status of every row of a customer file (Parquet/CSV), with an optional HTML report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="a .parquet or .csv file, or a directory of them")
    p.add_argument("--store", required=True, metavar="DIR")
    p.add_argument("--out", required=True, metavar="OUTPUT", help="output file: .parquet, .csv or .jsonl")
    p.add_argument("--issuer", metavar="ALIAS", help="issuer (alias or key id) of rows without one in the issuer column")
    p.add_argument("--serial-column", metavar="NAME", help="the serial column (default: serial)")
    p.add_argument("--issuer-column", default="issuer", metavar="NAME", help="the issuer column (default: issuer)")
    p.add_argument(
        "--certificate-column",
        metavar="NAME",
        help="check certificates from this column (default: certificate, when there is no serial column)",
    )
    p.add_argument(
        "--purpose",
        choices=("login", "signature"),
        help="certificate sweeps: judge usage for this purpose (default: by the issuing CA's kind)",
    )
    p.add_argument("--keep-certificate", action="store_true", help="certificate sweeps: keep the certificate column in the output")
    p.add_argument("--follow-links", action="store_true", help="add latest_serial: the newest serial that replaced each one")
    p.add_argument("--now", metavar="ISO8601", help="judge freshness at this instant (default: now; one instant for the whole sweep)")
    p.add_argument("--report", metavar="REPORT.html", help="also write a self-contained HTML report")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--batch-rows", type=int, default=None, metavar="N", help="rows per record batch (default 1,048,576; memory grows with it)"
    )
    p.set_defaults(func=run)
    return p


def _progress_bar(quiet: bool):
    """A rich progress bar on a terminal (rows, rows/s, time left); None otherwise."""
    if quiet or not sys.stderr.isatty():
        return None, None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("[bold]sweep[/bold]"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[rows]:>14,} rows"),
        TextColumn("{task.fields[rate]:>6.2f} M rows/s"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        transient=True,
        console=None,
    )
    state: dict[str, Any] = {"task": None, "start": time.perf_counter()}

    def update(rows: int, rows_total: int | None, done_bytes: int, total_bytes: int) -> None:
        if state["task"] is None:
            total = rows_total if rows_total is not None else total_bytes
            state["task"] = progress.add_task("sweep", total=max(total, 1), rows=0, rate=0.0)
        elapsed = max(time.perf_counter() - state["start"], 1e-9)
        completed = rows if rows_total is not None else done_bytes
        progress.update(state["task"], completed=completed, rows=rows, rate=rows / elapsed / 1e6)

    return progress, update


class _Terminated(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    from .errors import JpkiFastError
    from .store import open_store
    from .sweep_run import sweep
    from .timeutil import to_epoch

    try:
        now = to_epoch(args.now)
        store = open_store(args.store)
        if args.issuer is not None and store.issuer_index(args.issuer) is None:
            known = ", ".join(i.alias for i in store.issuers())
            print(f"jpki-fast: error: --issuer {args.issuer!r} is not in the store's trust store (known: {known})", file=sys.stderr)
            return 2
    except (JpkiFastError, ValueError) as exc:
        print(f"jpki-fast: error: {exc}", file=sys.stderr)
        return 2

    def terminate(signum, frame):  # SIGTERM ends the sweep like Ctrl-C: nothing is left behind
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    progress, update = _progress_bar(args.quiet)
    try:
        if progress is not None:
            progress.start()
        summary = sweep(
            args.input,
            store,
            args.out,
            issuer=args.issuer,
            serial_column=args.serial_column,
            issuer_column=args.issuer_column,
            certificate_column=args.certificate_column,
            follow_links=args.follow_links,
            now=now,
            purpose=args.purpose,
            keep_certificate=args.keep_certificate,
            report=args.report,
            progress=update,
            **({} if args.batch_rows is None else {"batch_rows": max(1, args.batch_rows)}),
        )
    except (KeyboardInterrupt, _Terminated):
        if progress is not None:
            progress.stop()
        print(f"jpki-fast: sweep interrupted; nothing was written to {args.out}", file=sys.stderr)
        return 130
    except (JpkiFastError, ValueError, OSError) as exc:
        if progress is not None:
            progress.stop()
        print(f"jpki-fast: error: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    if progress is not None:
        progress.stop()
    if args.json:
        print(json.dumps(summary.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(summary)
    return 1 if summary.malformed_rows or summary.skipped_lines else 0
