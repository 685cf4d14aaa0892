"""`jpki-fast synth`: write a synthetic JPKI-like dataset (CA roots, partition CRLs, truth).

The main command line hands ``jpki-fast synth ...`` to :func:`main` without importing this
package for any other command. :func:`add_parser` plugs the sub-command into another
``argparse`` parser; it also runs on its own as ``python -m jpki_fast.synth OUT [options]``::

    $ python -m jpki_fast.synth demo-data --entries 20000 --partitions 20 --now 2026-11-26T00:00:00Z
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable, Sequence

from .dataset import generate
from .entries import SERIAL_LAYOUTS
from .responders import KEY_TYPES as RESPONDER_KEY_TYPES


DESCRIPTION = """\
Write a synthetic JPKI-like dataset to OUT: CA roots (trust/) and their synthetic keys (keys/),
one signed DER CRL per municipality partition and CA (crls/<sign|auth>/<Prefecture>/<Municipality>.crl),
the ground truth (truth.parquet, partitions.parquet), and end-entity certificates with their
private keys (certs/, indexed in certs/certs.parquet; a quarter of them revoked on the CRLs).
Nothing in it is real JPKI data.
"""


def _non_negative(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``synth`` sub-command to an ``argparse`` sub-parsers object and returns it."""
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic JPKI-like dataset (CA roots, CRLs, ground truth)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", help="output directory (replaced if it holds an earlier synth dataset)")
    parser.add_argument("--entries", type=_non_negative, default=1_000_000, metavar="N",
                        help="revoked entries in all, about 60%% signing / 40%% authentication (default 1,000,000)")
    parser.add_argument("--partitions", type=_non_negative, default=1900, metavar="P",
                        help="municipality partitions (CRL files) per CA (default 1,900)")
    parser.add_argument("--serial-bytes", type=_non_negative, default=4, metavar="B",
                        help="octets per serial number, 1..20 (default 4, like JPKI today)")
    parser.add_argument("--serials", choices=SERIAL_LAYOUTS, default="sequential",
                        help="how revoked serials lie: sequential (like JPKI, default), clustered (dense runs at "
                        "random places) or random (uniform, WebPKI-style; use --serial-bytes 8 or more)")
    parser.add_argument("--seed", type=_non_negative, default=0, metavar="S",
                        help="random seed for partitions and entries (RSA keys are always fresh)")
    parser.add_argument("--now", metavar="ISO8601",
                        help="issuing time, e.g. 2026-11-26T00:00:00Z (default: the current UTC time)")
    parser.add_argument("--ca-from", metavar="DIR",
                        help="reuse the CA certificates and keys of an earlier dataset (e.g. OUT itself)")
    parser.add_argument("--certs", type=_non_negative, default=200, metavar="N",
                        help="end-entity certificates to issue, half authentication, half signing (default 200; 0: none)")
    parser.add_argument("--cert-keys", type=_non_negative, default=None, metavar="K",
                        help="RSA keys the certificates share (default min(N, 8); N for one key each)")
    parser.add_argument("--ocsp-responders", choices=RESPONDER_KEY_TYPES, default=None, metavar="KEY_TYPE",
                        help="also write a delegated OCSP responder certificate and key for every CA key valid at "
                        f"--now, under OUT/ocsp/ ({', '.join(RESPONDER_KEY_TYPES)}), for jpki-fast serve --ocsp-cert/--ocsp-key")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _progress_printer() -> Callable[[str], None]:
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"synth: [{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    return progress


def summary_text(summary: dict[str, Any]) -> str:
    """The one-paragraph report printed after a run."""
    cas = summary["cas"]
    per_ca = "; ".join(
        f"{c['issuer']} (key id {c['key_id'][:8]}...) {c['entries']:,} entries in {c['partitions']:,} partitions"
        for c in cas.values()
    )
    return (
        f"Wrote {summary['entries']:,} revoked entries in {summary['files']:,} CRL files "
        f"({summary['bytes'] / 1e6:,.1f} MB) to {summary['out_dir']} in {summary['seconds']:.1f} s: {per_ca}. "
        f"Serials have {summary['serial_bytes']} octets; thisUpdate {summary['this_update']}, "
        f"nextUpdate {summary['next_update']} (now {summary['now']}, seed {summary['seed']}). "
        f"Trust store: {summary['out_dir']}/trust; ground truth: truth.parquet and partitions.parquet. "
        + _certs_text(summary.get("certs"))
        + _responders_text(summary.get("ocsp_responders"))
        + "All of it is synthetic."
    )


def _certs_text(certs: dict[str, Any] | None) -> str:
    if not certs or not certs["count"]:
        return ""
    return (
        f"End-entity certificates: {certs['count']:,} in certs/ ({certs['revoked']:,} revoked; "
        f"{certs['keys']:,} shared keys), index certs/certs.parquet. "
    )


def _responders_text(aliases: list[str] | None) -> str:
    if not aliases:
        return ""
    return f"OCSP responders (certificate and key) in ocsp/ for {', '.join(aliases)}. "


def run(args: argparse.Namespace) -> int:
    """Runs ``synth`` for parsed arguments; returns the exit status (2 for bad arguments)."""
    try:
        summary = generate(
            args.out,
            entries=args.entries,
            partitions=args.partitions,
            serial_bytes=args.serial_bytes,
            seed=args.seed,
            now=args.now,
            ca_from=args.ca_from,
            progress=None if args.quiet else _progress_printer(),
            certs=args.certs,
            cert_keys=args.cert_keys,
            serials=args.serials,
            ocsp_responders=args.ocsp_responders,
        )
    except (ValueError, TypeError) as e:
        print(f"jpki-fast synth: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"jpki-fast synth: error: {e}", file=sys.stderr)
        return 1
    print(summary_text(summary))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``jpki-fast synth`` and ``python -m jpki_fast.synth``."""
    parser = argparse.ArgumentParser(prog="jpki-fast synth", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(parser)
    return run(parser.parse_args(argv))
