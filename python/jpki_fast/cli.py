"""The ``jpki-fast`` command line.

Exit codes: 0 success; 1 the run completed but something was refused (see the message);
2 bad usage or input (nothing done).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from . import __version__  # noqa: F401
from .errors import IngestRefused, JpkiFastError
from .timeutil import to_epoch

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


def _err(message: str) -> None:
    print(f"jpki-fast: error: {message}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# ingest


def _add_ingest(sub) -> None:
    p = sub.add_parser(
        "ingest",
        help="verify a directory of CRLs and publish a new snapshot",
        description="Verify every CRL under --crls against the CA certificates in --trust and publish "
        "a new snapshot of --store. Exit 0 when every file was accepted or unchanged, 1 when some file "
        "was refused (each is named with its cause), 2 on bad usage.",
    )
    p.add_argument("--trust", required=True, metavar="DIR", help="directory of trusted CA certificates")
    p.add_argument("--crls", required=True, metavar="DIR", help="directory of CRL files (searched recursively)")
    p.add_argument("--store", required=True, metavar="DIR", help="the store to publish into (created if absent)")
    p.add_argument("--now", metavar="ISO8601", help="judge freshness at this instant (default: the current time)")
    p.add_argument(
        "--policy",
        choices=("partition", "all-or-nothing"),
        default="partition",
        help="partition: publish every accepted partition (default); all-or-nothing: publish nothing if any file is refused",
    )
    p.add_argument("--keep", type=int, default=35, metavar="K", help="generations to keep for history (default 35)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cmd_ingest)


def _cmd_ingest(args) -> int:
    from .ingest import ingest

    log = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr))
    try:
        summary = ingest(args.trust, args.crls, args.store, now=args.now, policy=args.policy, keep=args.keep, log=log)
    except IngestRefused as exc:
        _print_summary(exc.summary, args.json)
        _err(str(exc))
        return EXIT_REFUSED
    _print_summary(summary, args.json)
    return EXIT_REFUSED if summary.refused else EXIT_OK


def _print_summary(summary, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(summary)


# --------------------------------------------------------------------------------------------
# check


def _add_check(sub) -> None:
    p = sub.add_parser(
        "check",
        help="revocation status of serial numbers",
        description="Check serials against the published snapshot. Input: SERIAL arguments (hex), or "
        "--input FILE: text (one hex serial per line), .parquet or .csv with a 'serial' column "
        "(and optionally 'issuer'). Output by --out extension: .parquet, .csv, .jsonl; without "
        "--out, JSON lines on stdout.",
    )
    p.add_argument("serials", nargs="*", metavar="SERIAL", help="serial numbers in hex (054CFCD8, 0x54cfcd8, 05:4C:FC:D8)")
    p.add_argument("--store", required=True, metavar="DIR")
    p.add_argument("--issuer", metavar="ALIAS", help="issuer alias or key identifier (hex); default for rows without one")
    p.add_argument("--input", metavar="FILE", help="read serials from FILE")
    p.add_argument("--out", metavar="FILE", help="write results to FILE (.parquet, .csv or .jsonl)")
    p.add_argument("--now", metavar="ISO8601", help="judge freshness at this instant (default: now)")
    p.add_argument("--provenance", action="store_true", help="add the partition, CRL number and times each answer rests on")
    p.set_defaults(func=_cmd_check)


def read_serial_file(path: Path) -> pa.Table:
    """A table with a 'serial' column (and maybe 'issuer') from a text, CSV or Parquet file."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: input file not found")
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    import pyarrow.csv as pacsv

    if suffix == ".csv":
        header = path.open(encoding="utf-8", errors="replace").readline()
        names = [c.strip().strip('"') for c in header.split(",")]
        types = {c: pa.string() for c in ("serial", "issuer") if c in names}
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True))
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=["serial"]),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types={"serial": pa.string()}),
    )


OUTPUT_COLUMNS = ["serial", "issuer", "status", "reason", "revocation_date"]


def _time_text(column: pa.Array) -> pa.Array:
    return pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")


def jsonl_lines(table: pa.Table) -> pa.Array:
    """One JSON object per row, built column-wise with Arrow compute (no per-row Python)."""

    def lit(text: str) -> pa.Scalar:
        return pa.scalar(text, pa.large_string())

    parts: list = []
    for i, name in enumerate(table.column_names):
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_timestamp(col.type):
            col = _time_text(col)
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            escaped = pc.replace_substring(pc.replace_substring(col.cast(pa.large_string()), "\\", "\\\\"), '"', '\\"')
            value = pc.binary_join_element_wise(lit('"'), escaped, lit('"'), lit(""))
        elif pa.types.is_boolean(t):
            value = pc.if_else(col, lit("true"), lit("false"))
        else:
            value = pc.cast(col, pa.large_string())
        parts.append(lit(("{" if i == 0 else ",") + json.dumps(name) + ":"))
        parts.append(pc.fill_null(value, lit("null")))
    parts.append(lit("}"))
    return pc.binary_join_element_wise(*parts, lit(""))


def write_results(table: pa.Table, out: str | None) -> None:
    if out is None:
        lines = jsonl_lines(table)
        for chunk in lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]:
            sys.stdout.write("\n".join(chunk.to_pylist()))
            if len(chunk):
                sys.stdout.write("\n")
        return
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        converted = table
        for i, name in enumerate(table.column_names):
            t = table.column(name).type
            if pa.types.is_dictionary(t):
                converted = converted.set_column(i, name, table.column(name).cast(t.value_type))
            if pa.types.is_timestamp(t):
                converted = converted.set_column(i, name, _time_text(table.column(name)))
        pacsv.write_csv(converted, path)
    elif suffix in (".jsonl", ".ndjson"):
        lines = jsonl_lines(table)
        with open(path, "w", encoding="utf-8") as f:
            for chunk in lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]:
                if len(chunk):
                    f.write("\n".join(chunk.to_pylist()))
                    f.write("\n")
    else:
        raise ValueError(f"--out {out}: unknown format; use .parquet, .csv or .jsonl")


def _cmd_check(args) -> int:
    from .store import open_store

    if bool(args.serials) == bool(args.input):
        _err("give either SERIAL arguments or --input FILE")
        return EXIT_USAGE
    to_epoch(args.now)  # validates --now early
    store = open_store(args.store)
    if args.input:
        table = read_serial_file(Path(args.input))
        if "serial" not in table.column_names:
            _err(f"{args.input}: no 'serial' column (columns: {', '.join(table.column_names)})")
            return EXIT_USAGE
    else:
        table = pa.table({"serial": pa.array(args.serials, pa.string())})
    if args.issuer is None and "issuer" not in table.column_names:
        _err("give --issuer ALIAS (known: " + ", ".join(i.alias for i in store.issuers()) + ")")
        return EXIT_USAGE
    if args.issuer is not None and store.issuer_index(args.issuer) is None:
        print(
            f"jpki-fast: warning: issuer {args.issuer!r} is not in the store's trust store; "
            f"answers will be 'unknown' (known: {', '.join(i.alias for i in store.issuers())})",
            file=sys.stderr,
        )
    result = store.check_table(table, default_issuer=args.issuer, now=args.now, provenance=args.provenance)
    columns = OUTPUT_COLUMNS + (["invalidity_date", "partition", "crl_number", "this_update", "next_update"] if args.provenance else [])
    write_results(result.select(columns), args.out)
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# info


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="what a store holds: generation, issuers, partition freshness")
    p.add_argument("--store", required=True, metavar="DIR")
    p.add_argument("--now", metavar="ISO8601")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_info)


def _cmd_info(args) -> int:
    from .store import open_store

    store = open_store(args.store)
    fresh = store.freshness(args.now)
    n_fresh = pc.sum(fresh.column("fresh")).as_py() or 0
    info = {
        "store": str(store.root),
        "generation": store.generation,
        "created_at": store.manifest.get("created_at"),
        "issuers": [
            {"alias": i.alias, "key_id": i.key_id, "kind": i.kind, "entries": i.entries + i.long_entries}
            for i in store.issuers()
        ],
        "partitions": store.partitions().num_rows,
        "fresh_partitions": n_fresh,
    }
    if args.json:
        print(json.dumps(info, indent=1, ensure_ascii=False))
    else:
        print(f"{info['store']}: generation {info['generation']} (created {info['created_at']})")
        for i in info["issuers"]:
            print(f"  {i['alias']:<20} {i['key_id']}  {i['kind'] or '-':<15} {i['entries']:>12,} entries")
        print(f"  partitions: {info['partitions']:,} ({n_fresh:,} fresh at {args.now or 'now'})")
    return EXIT_OK


# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jpki-fast",
        description="Fast, exact revocation checks for JPKI certificates.",
    )
    parser.add_argument("--version", action="version", version=f"jpki-fast {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def _add_synth(sub) -> None:
    from .synth_cli import add_parser

    add_parser(sub)


COMMANDS = [_add_synth, _add_ingest, _add_check, _add_info]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (JpkiFastError, FileNotFoundError, ValueError, KeyError) as exc:
        _err(str(exc).strip('"'))
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
