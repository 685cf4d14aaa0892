"""``jpki-fast serve``, ``jpki-fast keys`` and ``jpki-fast audit``: the sub-commands this
distribution adds to the library's command line (entry point group ``jpki_fast.commands``).

Building the parsers imports nothing heavy (no FastAPI): the library's command line stays fast
for its own commands. Exit codes as everywhere in jpki-fast: 0 success, 1 a check found a
problem (``audit verify``), 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def _err(message: str) -> None:
    print(f"jpki-fast: error: {message}", file=sys.stderr)


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


# --------------------------------------------------------------------------------------------
# serve


def add_serve(sub) -> None:
    from .config import (DEFAULT_MAX_BODY, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_CONCURRENT_LARGE, DEFAULT_MAX_ITEMS,
                         DEFAULT_REQUEST_TIMEOUT)

    p = sub.add_parser(
        "serve",
        help="run the HTTP service (batch, certificate and login checks) on a store",
        description="Serve the store's published snapshot over HTTP (FastAPI). Worker processes share "
        "the memory-mapped snapshot; a newly published generation is picked up within a second. "
        "API keys (X-API-Key) come from --api-keys (default STORE/api-keys.json; create keys with "
        "`jpki-fast keys add`); every request is appended to the audit log. OpenAPI docs at /docs.",
    )
    p.add_argument("--store", required=True, metavar="DIR", help="the store whose published snapshot to serve")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=_positive, default=1, metavar="N", help="worker processes (default 1)")
    p.add_argument("--api-keys", metavar="FILE", help="API key file (default STORE/api-keys.json)")
    p.add_argument("--audit-log", metavar="FILE", help="audit log, JSON lines (default STORE/audit.jsonl)")
    p.add_argument("--audit-key", metavar="FILE", help="HMAC key of the audit log (default AUDIT_LOG.key, created if absent)")
    p.add_argument("--max-items", type=_positive, default=DEFAULT_MAX_ITEMS, metavar="N",
                   help=f"items per request at most (default {DEFAULT_MAX_ITEMS:,})")
    p.add_argument("--max-body", type=_positive, default=DEFAULT_MAX_BODY, metavar="BYTES",
                   help=f"request body size at most (default {DEFAULT_MAX_BODY:,})")
    p.add_argument("--max-concurrent", type=_positive, default=DEFAULT_MAX_CONCURRENT, metavar="N",
                   help=f"requests in progress per worker at most; past it 503 with Retry-After (default {DEFAULT_MAX_CONCURRENT})")
    p.add_argument("--max-concurrent-large", type=_positive, default=DEFAULT_MAX_CONCURRENT_LARGE, metavar="N",
                   help="of those, requests with a body over 1 MiB or of undeclared length, per worker "
                        f"(default {DEFAULT_MAX_CONCURRENT_LARGE}; bounds the memory bodies take)")
    p.add_argument("--request-timeout", type=_seconds, default=DEFAULT_REQUEST_TIMEOUT, metavar="SECONDS",
                   help="408 when a body has not arrived, 503 when an answer has not started by then "
                        f"(default {DEFAULT_REQUEST_TIMEOUT:g})")
    p.add_argument("--stale-grace", type=_seconds, default=3600.0, metavar="SECONDS",
                   help="/readyz fails when a partition is past its nextUpdate by more than this (default 3600)")
    p.add_argument("--reload-interval", type=_seconds, default=0.5, metavar="SECONDS",
                   help="how often to look for a newly published generation (default 0.5)")
    p.add_argument("--no-verify-snapshots", dest="verify_snapshots", action="store_false",
                   help="serve a generation without first checking its files against its manifest's digests "
                        "(default: check; a damaged generation is refused and the current one kept)")
    p.add_argument("--server", choices=("uvicorn", "granian"), default=None,
                   help="HTTP server (default: the faster on these endpoints, see bench/RESULTS.md)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="warning")
    ocsp = p.add_argument_group("OCSP responder (POST /ocsp, GET /ocsp/...; served when pairs are given)")
    ocsp.add_argument("--ocsp-cert", action="append", default=[], metavar="FILE",
                      help="a delegated OCSP responder certificate (PEM), issued by the CA key it answers for; repeat, one per CA key")
    ocsp.add_argument("--ocsp-key", action="append", default=[], metavar="FILE",
                      help="its private key (PEM, unencrypted), in the same order as --ocsp-cert")
    ocsp.add_argument("--ocsp-auth", choices=("open", "key"), default="open",
                      help="open (default: any relying party) or key (an API key with the query role in X-API-Key)")
    ocsp.add_argument("--ocsp-cache-bytes", type=_non_negative, default=64 * 1024 * 1024, metavar="BYTES",
                      help="memory for pre-produced responses per worker (default 64 MiB; 0: none)")
    p.set_defaults(func=_cmd_serve)


def _cmd_serve(args) -> int:
    from .config import ServiceConfig
    from .server import DEFAULT_SERVER, prepare, run

    try:
        extra = _ocsp_extra(args)
        config = ServiceConfig(
            store=Path(args.store),
            api_keys=Path(args.api_keys) if args.api_keys else None,
            audit_log=Path(args.audit_log) if args.audit_log else None,
            audit_key=Path(args.audit_key) if args.audit_key else None,
            max_items=args.max_items,
            max_body=args.max_body,
            max_concurrent=args.max_concurrent,
            max_concurrent_large=args.max_concurrent_large,
            request_timeout=args.request_timeout,
            verify_snapshots=args.verify_snapshots,
            stale_grace=args.stale_grace,
            reload_interval=max(args.reload_interval, 0.05),
            extra=extra,
        )
        prepare(config)
        if extra:
            from .ocsp_settings import OcspSettings

            OcspSettings.of(config).check(config.store)  # a pair that cannot sign fails here, once
    except (ValueError, OSError) as exc:
        _err(str(exc).strip('"'))
        return EXIT_USAGE
    except Exception as exc:  # the store cannot be opened (StoreError and kin)
        from jpki_fast.errors import JpkiFastError

        if isinstance(exc, JpkiFastError):
            _err(str(exc))
            return EXIT_USAGE
        raise
    if not is_loopback(args.host):
        print(
            f"jpki-fast serve: warning: --host {args.host} is not a loopback address, and the service speaks plain HTTP: "
            "API keys and console sessions would cross the network in clear. Put a TLS proxy in front and listen on "
            "127.0.0.1 (docs/SECURITY.md \"TLS termination and proxies\").",
            file=sys.stderr,
        )
    return run(config, args.host, args.port, args.workers, args.server or DEFAULT_SERVER, args.log_level)


def is_loopback(host: str) -> bool:
    """Whether ``--host`` names this machine only (``127.0.0.0/8``, ``::1``, ``localhost``).

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("10.0.0.5")
    (True, True, False, False)
    """
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _ocsp_extra(args) -> dict:
    """``ServiceConfig.extra`` for the OCSP options (empty without responder pairs)."""
    if len(args.ocsp_cert) != len(args.ocsp_key):
        raise ValueError(f"--ocsp-cert given {len(args.ocsp_cert)} times, --ocsp-key {len(args.ocsp_key)}: give them in pairs")
    if not args.ocsp_cert:
        if args.ocsp_auth != "open":
            raise ValueError("--ocsp-auth needs responder pairs (--ocsp-cert FILE --ocsp-key FILE)")
        return {}
    from .ocsp_settings import OcspSettings

    return OcspSettings(tuple(zip(args.ocsp_cert, args.ocsp_key)), args.ocsp_auth, args.ocsp_cache_bytes).to_extra()


# --------------------------------------------------------------------------------------------
# keys


def add_keys(sub) -> None:
    p = sub.add_parser(
        "keys",
        help="API keys of the service: add a key, list the keys",
        description="Manage the service's API key file (JSON; it holds only SHA-256 hashes of keys).",
    )
    keys_sub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    add = keys_sub.add_parser(
        "add",
        help="create a key: print it once, store only its hash",
        description="Create a random API key, store its SHA-256 hash in the key file (created 0600 if absent) "
        "and print the key: it is shown only this once. A running service picks the change up by itself.",
    )
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--file", metavar="FILE", help="the key file")
    where.add_argument("--store", metavar="DIR", help="use DIR/api-keys.json (the file `jpki-fast serve` reads by default)")
    add.add_argument("--id", required=True, help="the key's id (shown in the audit log and usage)")
    add.add_argument("--roles", required=True, help="comma-separated: query, personal_data, admin")
    add.add_argument("--tenant", help="the tenant (service provider) the key belongs to")
    add.set_defaults(func=_cmd_keys_add)
    show = keys_sub.add_parser("list", help="the keys of a key file (ids, roles, tenants; never keys)")
    where = show.add_mutually_exclusive_group(required=True)
    where.add_argument("--file", metavar="FILE")
    where.add_argument("--store", metavar="DIR")
    show.set_defaults(func=_cmd_keys_list)


def _key_file(args) -> Path:
    return Path(args.file) if args.file else Path(args.store) / "api-keys.json"


def _cmd_keys_add(args) -> int:
    from .auth import ROLES, KeyFileError, add_key

    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        _err(f"--roles: {', '.join(unknown) or 'none given'}: expected a comma-separated list of {', '.join(ROLES)}")
        return EXIT_USAGE
    path = _key_file(args)
    try:
        key = add_key(path, args.id, roles, args.tenant)
    except (KeyFileError, json.JSONDecodeError, OSError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    print(key)
    print(
        f"key {args.id!r} ({', '.join(roles)}{', tenant ' + args.tenant if args.tenant else ''}) added to {path}; "
        "this is the only time the key is shown: store it now",
        file=sys.stderr,
    )
    return EXIT_OK


def _cmd_keys_list(args) -> int:
    from .auth import KeyFileError, KeyRing

    path = _key_file(args)
    try:
        KeyRing.load(path)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (KeyFileError, OSError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    for item in data["keys"]:
        print(json.dumps({"id": item["id"], "roles": item["roles"], "tenant": item.get("tenant")}))
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# audit


def add_audit(sub) -> None:
    p = sub.add_parser("audit", help="the service's audit log: verify its hash chain")
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser(
        "verify",
        help="check the hash chain of an audit log",
        description="Check every line's hash, sequence number and link to the line before. Exit 0 when the "
        "chain is intact; 1 naming the first edited, removed, inserted or reordered line.",
    )
    verify.add_argument("file", metavar="FILE")
    verify.set_defaults(func=_cmd_audit_verify)


def _cmd_audit_verify(args) -> int:
    from .audit import verify

    path = Path(args.file)
    if not path.is_file():
        _err(f"{path}: audit log not found")
        return EXIT_USAGE
    result = verify(path)
    if result.ok:
        print(f"{path}: {result.lines:,} lines, chain intact (last hash {result.last_hash})")
        return EXIT_OK
    print(f"{path}: {result.problem}", file=sys.stderr)
    return EXIT_PROBLEM
