"""`jpki-fast cert-status`: the status of certificate files against a store, one JSON line each.

The main CLI wires it in with ``cert_cli.add_parser(subparsers)``::

    $ jpki-fast cert-status --store demo-data/store --now 2026-11-26T00:00:00Z card.der more.pem
    {"file":"card.der","index":0,"status":"good","detail":null,"reason":null,...}

Each certificate in the files (a DER file, or PEM with one or more certificates) gives one line,
in order: ``file``, ``index`` (within the file), ``status``, ``detail``, ``reason``,
``revocation_date``, ``invalidity_date``, ``issuer``, ``kind``, ``serial``, ``partition``,
``not_before``, ``not_after``, and with ``--provenance`` ``crl_number``, ``this_update``,
``next_update``. The basic 4 facts of signing certificates (name, address, date of birth, sex)
are personal data and are printed only with ``--show-personal-data``.

Exit status: 0 when every file was read (whatever the statuses), 2 for bad usage, a missing
store or an unreadable file.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import pyarrow as pa

from .timeutil import to_epoch

DESCRIPTION = """\
Check JPKI certificates (DER or PEM files) against a store: chain to a trusted CA key, validity,
key usage for the purpose, and revocation on the certificate's own CRL partition. Prints one JSON
line per certificate. Personal data (the basic 4 facts of signing certificates) is left out unless
--show-personal-data is given.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``cert-status`` sub-command to an ``argparse`` sub-parsers object."""
    p = subparsers.add_parser(
        "cert-status",
        help="status of certificate files (path, validity, usage, revocation), as JSON lines",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="CERT_FILE", help="certificate files (DER, or PEM with one or more)")
    p.add_argument("--store", required=True, metavar="DIR", help="the store to check against")
    p.add_argument("--now", metavar="ISO8601", help="judge validity and freshness at this instant (default: now)")
    p.add_argument(
        "--purpose",
        choices=("login", "signature"),
        help="login (authentication certificates) or signature (signing certificates); "
        "default: each certificate by the kind of its issuing CA",
    )
    p.add_argument("--allow-test-hierarchy", action="store_true", help="accept the JPKI test CAs (O=JPKI-TEST)")
    p.add_argument("--provenance", action="store_true", help="add the CRL number and times each answer rests on")
    p.add_argument(
        "--show-personal-data",
        action="store_true",
        help="also print the basic 4 facts (name, address, date of birth, sex) of signing certificates",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Runs ``cert-status`` for parsed arguments; returns the exit status."""
    from .certs import check_certificates, load_certificates
    from .tableio import jsonl_lines
    from .store import open_store

    to_epoch(args.now)  # validates --now before any work
    store = open_store(args.store)
    ders, origins = load_certificates(args.files)
    result = check_certificates(
        store, ders, now=args.now, purpose=args.purpose,
        allow_test_hierarchy=args.allow_test_hierarchy, provenance=args.provenance,
    )
    front = pa.table(
        {
            "file": pa.array([f for f, _ in origins], pa.string()),
            "index": pa.array([i for _, i in origins], pa.int32()),
        }
    )
    table = pa.table({**{c: front.column(c) for c in front.column_names}, **{c: result.column(c) for c in result.column_names}})
    lines = jsonl_lines(table).to_pylist() if table.num_rows else []
    facts = _facts_json(ders) if args.show_personal_data else None
    for row, line in enumerate(lines):
        if facts is not None:
            line = line[:-1] + ',"basic_four_facts":' + facts[row] + "}"
        print(line)
    return 0


def _facts_json(ders: list[bytes]) -> list[str]:
    """The basic 4 facts of each certificate as JSON (null when it has none)."""
    from .certs import parse_certificates

    column = parse_certificates(ders, personal_data=True).column("basic_four_facts").to_pylist()
    return [json.dumps(f, ensure_ascii=False) for f in column]
