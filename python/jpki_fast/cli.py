"""The ``jpki-fast`` command line.

Exit codes (docs/DESIGN.md §6.2), each true whatever failed and when:

- 0: success;
- 1: the run completed but something was refused (see the message), or damage was found;
- 2: bad usage or input, or the job could not start; nothing was published;
- 3: a generation was published (it is current and complete), then a later step failed; the
  message names the generation and the step;
- 4: the run failed (an I/O error such as a full or read-only disk, or an internal error)
  before publishing anything; the published generation is unchanged;
- 130: interrupted (Ctrl-C); the message says whether anything was published first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .errors import IngestRefused, JpkiFastError, PublishedThenFailed
from .journal import publish_journal
from .timeutil import to_epoch

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_PUBLISHED_THEN_FAILED = 3
EXIT_FAILED = 4
EXIT_INTERRUPTED = 130


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
    p.add_argument("--max-crl-bytes", type=int, metavar="N", help="refuse a CRL file larger than N bytes (default 1 GiB)")
    p.add_argument("--max-crl-entries", type=int, metavar="N", help="refuse a CRL listing more than N entries (default 30,000,000)")
    p.add_argument("--max-files", type=int, metavar="N", help="refuse a run of more than N CRL files (default 100,000)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cmd_ingest)


def _cmd_ingest(args) -> int:
    from .ingest import ingest
    from .limits import Limits

    given = {"max_crl_bytes": args.max_crl_bytes, "max_crl_entries": args.max_crl_entries, "max_files": args.max_files}
    limits = Limits(**{k: v for k, v in given.items() if v is not None})
    log = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr))
    try:
        summary = ingest(args.trust, args.crls, args.store, now=args.now, policy=args.policy, keep=args.keep, log=log,
                         limits=limits)
    except IngestRefused as exc:
        _print_summary(exc.summary, args.json)
        _err(str(exc))
        return EXIT_REFUSED
    except PublishedThenFailed as exc:
        if exc.result is not None:  # what the run did, then why it did not finish
            _print_summary(exc.result, args.json)
        raise
    _print_summary(summary, args.json)
    return EXIT_REFUSED if summary.refused else EXIT_OK


def _print_summary(summary, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(summary)


# --------------------------------------------------------------------------------------------
# update


def _add_update(sub) -> None:
    p = sub.add_parser(
        "update",
        help="the nightly job: fetch the day's CRLs, ingest them, report what changed",
        description="Fetch every CRL the configuration lists (conditional GET, timeouts, size limits, "
        "retries; a failed download keeps yesterday's file), ingest and publish per partition, and diff "
        "the new generation against the previous one. Exit 0 when everything was fetched and accepted, "
        "1 when a download failed or a CRL was refused (what could be published still is), 2 when the "
        "job could not start (bad configuration, store or fetch directory locked).",
    )
    p.add_argument("--config", required=True, metavar="FILE", help="the job's TOML configuration")
    p.add_argument("--now", metavar="ISO8601", help="judge freshness at this instant (default: now)")
    p.add_argument("--diff-out", metavar="FILE", help="also write the full diff (.parquet, .csv or .jsonl)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_cmd_update)


def _cmd_update(args) -> int:
    from .config import ConfigError
    from .fetch import FetchError
    from .update import update

    to_epoch(args.now)
    quiet = args.quiet or args.json

    def progress(done, total, result):
        if not quiet and (done == total or done % 100 == 0 or result.outcome == "failed"):
            print(f"fetch [{done}/{total}] {result}", file=sys.stderr)

    log = None if quiet else (lambda m: print(m, file=sys.stderr))
    try:
        result = update(args.config, now=args.now, diff_out=args.diff_out, progress=progress, log=log)
    except (ConfigError, FetchError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    except PublishedThenFailed as exc:
        if exc.result is not None:  # what the run did, then why it did not finish
            print(json.dumps(exc.result.to_dict(), indent=1, ensure_ascii=False) if args.json else exc.result)
        raise
    print(json.dumps(result.to_dict(), indent=1, ensure_ascii=False) if args.json else result)
    return EXIT_OK if result.ok else EXIT_REFUSED


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
    p.add_argument("--follow-links", action="store_true", help="add latest_serial: the newest serial that replaced each one")
    p.set_defaults(func=_cmd_check)


OUTPUT_COLUMNS = ["serial", "issuer", "status", "reason", "revocation_date"]


def _cmd_check(args) -> int:
    import pyarrow as pa

    from .store import open_store
    from .tableio import open_input, open_output

    if bool(args.serials) == bool(args.input):
        _err("give either SERIAL arguments or --input FILE")
        return EXIT_USAGE
    now = to_epoch(args.now)  # one instant for every batch
    store = open_store(args.store)
    if args.input:
        source = open_input(Path(args.input), text_ok=True)
        source.require("serial")
        names, batches = source.schema.names, source.batches()
    else:
        table = pa.table({"serial": pa.array(args.serials, pa.string())})
        names, batches = table.column_names, table.to_batches()
    if args.issuer is None and "issuer" not in names:
        _err("give --issuer ALIAS (known: " + ", ".join(i.alias for i in store.issuers()) + ")")
        return EXIT_USAGE
    if args.issuer is not None and store.issuer_index(args.issuer) is None:
        print(
            f"jpki-fast: warning: issuer {args.issuer!r} is not in the store's trust store; "
            f"answers will be 'unknown' (known: {', '.join(i.alias for i in store.issuers())})",
            file=sys.stderr,
        )
    columns = OUTPUT_COLUMNS + (["invalidity_date", "partition", "crl_number", "this_update", "next_update"] if args.provenance else [])
    columns += ["latest_serial"] if args.follow_links else []

    def check(batch):
        if "issuer" in batch.schema.names and pa.types.is_string(batch.schema.field("issuer").type):
            import pyarrow.compute as pc  # an empty CSV field means no issuer: --issuer applies

            i = batch.schema.get_field_index("issuer")
            issuers = batch.column(i)
            batch = batch.set_column(i, "issuer", pc.if_else(pc.equal(issuers, ""), pa.scalar(None, pa.string()), issuers))
        result = store.check_table(
            batch, default_issuer=args.issuer, now=now, provenance=args.provenance, follow_links=args.follow_links
        )
        return result.select(columns)

    with open_output(args.out) as writer:
        empty = pa.table({n: pa.array([], pa.string()) for n in names})
        writer.expect(check(empty).schema)
        for batch in batches:
            writer.write(check(batch))
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
    import pyarrow.compute as pc

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
# history: diff, history, verify-store, rollback


def _add_diff(sub) -> None:
    p = sub.add_parser(
        "diff",
        help="entries added, removed or changed between two generations",
        description="List the revoked entries added, removed or changed between two generations of a store "
        "(default: the current generation against its parent). Output by --out extension (.parquet, .csv, "
        ".jsonl); without --out, JSON lines on stdout. --summary prints counts by change and reason instead.",
    )
    p.add_argument("--store", required=True, metavar="DIR")
    p.add_argument("--from", dest="from_generation", type=int, metavar="GEN", help="older generation (default: the parent of --to)")
    p.add_argument("--to", dest="to_generation", type=int, metavar="GEN", help="newer generation (default: the current one)")
    p.add_argument("--out", metavar="FILE")
    p.add_argument("--summary", action="store_true", help="print counts by change and reason")
    p.set_defaults(func=_cmd_diff)


def _cmd_diff(args) -> int:
    from .history import diff, summarize
    from .tableio import write_results

    table = diff(args.store, args.from_generation, args.to_generation)
    if args.summary:
        meta = table.schema.metadata or {}
        out = {
            "from_generation": int(meta.get(b"from_generation", b"0")),
            "to_generation": int(meta.get(b"to_generation", b"0")),
            **summarize(table),
        }
        print(json.dumps(out, indent=1))
    else:
        write_results(table, args.out)
    return EXIT_OK


def _add_history(sub) -> None:
    p = sub.add_parser("history", help="the generations a store keeps")
    p.add_argument("--store", required=True, metavar="DIR")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_history)


def _cmd_history(args) -> int:
    from dataclasses import asdict

    from .history import generations

    gens = generations(args.store)
    if args.json:
        print(json.dumps([asdict(g) for g in gens], indent=1))
    else:
        for g in gens:
            mark = "*" if g.current else " "
            print(f"{mark} {g.generation:>6}  {g.created_at}  parent {g.parent if g.parent is not None else '-':>6}  "
                  f"{g.entries:>12,} entries  {g.partitions:>6,} partitions")
    return EXIT_OK


def _add_verify(sub) -> None:
    p = sub.add_parser(
        "verify-store",
        help="check every file of a store against its manifest checksums",
        description="Check the current generation (or --generation N, or --all kept generations) against "
        "the sizes and BLAKE3 digests in their manifests. Exit 0 when intact, 1 when damage is found.",
    )
    p.add_argument("store", metavar="DIR")
    p.add_argument("--generation", type=int, metavar="GEN")
    p.add_argument("--all", action="store_true", help="check every generation kept")
    p.set_defaults(func=_cmd_verify)


def _cmd_verify(args) -> int:
    from .store import StoreError, list_generations, read_current, verify_generation

    root = Path(args.store)
    if args.all:
        targets = list_generations(root)
    elif args.generation is not None:
        targets = [args.generation]
    else:
        current = read_current(root)
        if current is None:
            raise StoreError(f"{root}: nothing published yet")
        targets = [current]
    damaged = 0
    for g in targets:
        problems = verify_generation(root, g)
        if problems:
            damaged += 1
            for p in problems:
                print(f"generation {g}: DAMAGED: {p}")
        else:
            print(f"generation {g}: ok")
    if damaged:
        current = read_current(root)
        print(f"{damaged} damaged generation(s). Make an intact one current with "
              f"`jpki-fast rollback --store {root} --to GEN` (current: {current}).", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK


def _add_links(sub) -> None:
    p = sub.add_parser(
        "links",
        help="serial links (新旧シリアル番号紐付け): import renewals, look up the latest serial",
        description="Serial links record which new serial replaced an old one at renewal.",
    )
    links_sub = p.add_subparsers(dest="links_command", required=True, metavar="ACTION")
    imp = links_sub.add_parser(
        "import",
        help="add the links of a CSV/Parquet file (issuer, old_serial, new_serial) and publish",
    )
    imp.add_argument("--store", required=True, metavar="DIR")
    imp.add_argument("file", metavar="FILE")
    imp.set_defaults(func=_cmd_links_import)
    latest = links_sub.add_parser("latest", help="the latest serial of each serial, following chains")
    latest.add_argument("--store", required=True, metavar="DIR")
    latest.add_argument("--issuer", required=True, metavar="ALIAS")
    latest.add_argument("serials", nargs="+", metavar="SERIAL")
    latest.set_defaults(func=_cmd_links_latest)


def _cmd_links_import(args) -> int:
    from .links import import_links

    result = import_links(args.store, args.file)
    print(f"{args.store}: imported {result['imported']:,} links ({result['links']:,} in all); generation {result['generation']} is current")
    return EXIT_OK


def _cmd_links_latest(args) -> int:
    from .serials import normalize, to_hex
    from .store import open_store

    store = open_store(args.store)
    latest = store.latest_serial(args.serials, args.issuer)
    for serial, new in zip(to_hex(normalize(args.serials)).to_pylist(), latest.to_pylist()):
        print(json.dumps({"serial": serial, "issuer": args.issuer, "latest_serial": new}))
    return EXIT_OK


def _add_rollback(sub) -> None:
    p = sub.add_parser(
        "rollback",
        help="make an earlier, intact generation current",
        description="Make generation GEN current again (atomically), after checking its files. "
        "Readers pick it up like any newly published generation.",
    )
    p.add_argument("--store", required=True, metavar="DIR")
    p.add_argument("--to", required=True, type=int, metavar="GEN")
    p.set_defaults(func=_cmd_rollback)


def _cmd_rollback(args) -> int:
    from .store import StoreCorruptedError, read_current, rollback

    try:
        before = read_current(Path(args.store))
    except StoreCorruptedError:  # a damaged CURRENT is what a rollback repairs
        before = "unreadable"
    rollback(args.store, args.to)
    print(f"{args.store}: generation {args.to} is current (was {before})")
    return EXIT_OK


# --------------------------------------------------------------------------------------------


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jpki-fast",
        description="Fast, exact revocation checks for JPKI certificates.",
    )
    parser.add_argument("--version", action="version", version=f"jpki-fast {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    command = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
    if command not in sub.choices:  # a built-in command never pays for looking up plugins
        _add_plugins(sub)
    return parser


# --------------------------------------------------------------------------------------------
# Sub-commands other distributions add: jpki-fast-service registers serve, keys and audit
# under this entry point group (each entry: a function adding its parser to `sub`).

PLUGIN_GROUP = "jpki_fast.commands"
SERVICE_COMMANDS = {
    "serve": "run the HTTP service on a store",
    "keys": "API keys of the service",
    "audit": "verify the service's audit log",
}
SERVICE_INSTALL = "pip install jpki-fast-service (in a checkout: make service-install)"


def _add_plugins(sub) -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.name not in sub.choices:
            ep.load()(sub)
    for name, help_text in SERVICE_COMMANDS.items():
        if name not in sub.choices:
            # No option prefix: whatever follows the command is taken as is, and answered below.
            p = sub.add_parser(name, help=f"{help_text} (needs jpki-fast-service: {SERVICE_INSTALL})", add_help=False, prefix_chars="\0")
            p.add_argument("rest", nargs="*")
            p.set_defaults(func=_service_missing)


def _service_missing(args) -> int:
    _err(f"`jpki-fast {args.command}` is part of the service, which is not installed: {SERVICE_INSTALL}")
    return EXIT_USAGE


def _add_synth(sub) -> None:
    # Listed for `jpki-fast --help` only: main() hands `jpki-fast synth ...` to the synthetic-data
    # package's own command line, so that no other command imports that package.
    sub.add_parser("synth", help="write a synthetic JPKI-like dataset (CA roots, CRLs, ground truth)", add_help=False)


def _add_sweep(sub) -> None:
    from .sweep_cli import add_parser

    add_parser(sub)


def _add_cert_status(sub) -> None:
    from .cert_cli import add_parser

    add_parser(sub)


COMMANDS = [
    _add_synth, _add_ingest, _add_update, _add_check, _add_info, _add_diff, _add_history, _add_verify, _add_rollback,
    _add_links, _add_cert_status, _add_sweep,
]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["synth"]:
        from .synth.cli import main as synth_main

        return synth_main(argv[1:])
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    with publish_journal() as published:
        try:
            return args.func(args)
        except BrokenPipeError:
            return EXIT_OK if not published else EXIT_PUBLISHED_THEN_FAILED
        except BaseException as exc:  # noqa: BLE001 - every failure gets an exit code that tells the truth
            return _failed(exc, published)


def _failed(exc: BaseException, published: list) -> int:
    """Reports a failure and returns its exit code: whether something was published before it
    decides the code, not the exception's type alone (docs/DESIGN.md §6.2)."""
    if isinstance(exc, SystemExit):
        raise exc
    message = str(exc).strip('"') or type(exc).__name__
    if isinstance(exc, PublishedThenFailed):
        _err(message)
        return EXIT_PUBLISHED_THEN_FAILED
    if published:
        root, generation = published[-1]
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"failed: {message}"
        _err(f"generation {generation} of {root} was published and is current; then the run {what}")
        return EXIT_PUBLISHED_THEN_FAILED
    if isinstance(exc, KeyboardInterrupt):
        _err("interrupted; nothing was published")
        return EXIT_INTERRUPTED
    if isinstance(exc, (JpkiFastError, FileNotFoundError, ValueError, KeyError)):
        _err(message)
        return EXIT_USAGE
    if isinstance(exc, OSError):
        _err(f"{message}; nothing was published (the published generation, if any, is unchanged)")
        return EXIT_FAILED
    import traceback

    traceback.print_exception(exc, file=sys.stderr)
    _err(f"internal error ({type(exc).__name__}: {message}); nothing was published (the published generation, if any, is unchanged)")
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
