"""The end of `make demo`: the service on the demo store, and curl commands to paste.

After ``python -m jpki_fast.demo DIR`` has built DIR/store, this creates a demo API key
(printed), writes request bodies under DIR/requests/, starts ``jpki-fast serve`` on
127.0.0.1:8000 with two workers, runs every curl command it prints (a batch of serials, a
certificate, a login, the metrics), writes OCSP responder pairs for the demo CAs and runs an
``openssl ocsp`` command against ``/ocsp``, and serves until interrupted.

Usage: ``python -m jpki_fast_service.demo [DIR] [--host H] [--port P] [--workers N] [--no-serve]``
(``--no-serve`` stops the server after running the commands, for scripted runs).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from jpki_fast import synth

from .auth import add_key


def _say(text: str = "") -> None:
    print(text, flush=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _card_key(path: Path):
    from cryptography.hazmat.primitives import serialization

    pem = b"".join(line + b"\n" for line in path.read_bytes().splitlines() if not line.startswith(b"#"))
    return serialization.load_pem_private_key(pem, password=None)


def write_requests(data: Path, out: Path) -> dict[str, Path]:
    """Request bodies for the curl commands: a batch of 1,000 serials (half of them revoked),
    three certificates, a login signed by a card key and the same login tampered with."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    out.mkdir(parents=True, exist_ok=True)
    truth = synth.read_truth(data)
    auth = truth.filter(pc.equal(truth.column("issuer"), "auth_ca_2023")).column("serial").to_pylist()
    rng = np.random.default_rng(7)
    revoked = [auth[i] for i in rng.choice(len(auth), 500, replace=False)]
    lo, hi = int(min(auth), 16), int(max(auth), 16)
    others = [f"{int(x):08X}" for x in rng.integers(lo, hi, 500)]
    batch = {"issuer": "auth_ca_2023", "serials": [s for pair in zip(revoked, others) for s in pair]}

    certs = synth.read_certs(data).to_pylist()
    good_auth = next(c for c in certs if c["kind"] == "auth" and not c["revoked"])
    revoked_sign = next(c for c in certs if c["kind"] == "sign" and c["revoked"])
    chosen = [(data / good_auth["path"]).read_bytes(), (data / revoked_sign["path"]).read_bytes()]
    sample = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "jpki" / "auth_cert_sample.der"
    if sample.is_file():
        chosen.append(sample.read_bytes())  # the real JPKI sample: untrusted (its CA generation is absent)
    certificate = {"certificates": [_b64(d) for d in chosen], "purpose": None}

    key = _card_key(data / good_auth["key_path"])
    challenge = os.urandom(32)
    signature = key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
    der = (data / good_auth["path"]).read_bytes()
    login = {"certificate": _b64(der), "challenge": _b64(challenge), "signature": _b64(signature)}
    tampered = dict(login, signature=_b64(bytes([signature[0] ^ 1]) + signature[1:]))

    paths = {}
    for name, body in (("batch", batch), ("certificate", certificate), ("login", login), ("login-tampered", tampered)):
        paths[name] = out / f"{name}.json"
        paths[name].write_text(json.dumps(body, indent=1) + "\n")
    return paths


def _commands(url: str, key: str, paths: dict[str, Path]) -> list[tuple[str, list[str]]]:
    def post(path: str, body: Path) -> list[str]:
        return ["curl", "-sS", "-H", f"X-API-Key: {key}", "-H", "Content-Type: application/json", "--data-binary", f"@{body}", url + path]

    return [
        ("a batch of 1,000 serials", post("/v1/status", paths["batch"])),
        ("certificates (good, revoked, the real JPKI sample)", post("/v1/certificates/status", paths["certificate"])),
        ("a login (challenge signed by the card key)", post("/v1/login/verify", paths["login"])),
        ("the same login, signature tampered", post("/v1/login/verify", paths["login-tampered"])),
        ("metrics", ["curl", "-sS", url + "/metrics"]),
    ]


def _ocsp_pairs(data: Path) -> list[str]:
    """Responder pairs (ECDSA P-256) for every demo CA key valid now: ``--ocsp-cert/--ocsp-key``."""
    args = []
    for row in synth.write_responders(data):
        args += ["--ocsp-cert", row["certificate"], "--ocsp-key", row["key"]]
    return args


def _ocsp_command(data: Path, url: str) -> list[str]:
    """``openssl ocsp`` asking about a revoked authentication certificate of the demo."""
    certs = synth.read_certs(data).to_pylist()
    cert = next(c for c in certs if c["kind"] == "auth" and c["revoked"])
    ca = data / "trust" / f"{cert['issuer']}.pem"
    return ["openssl", "ocsp", "-issuer", str(ca), "-cert", str(data / cert["path"]), "-url", url + "/ocsp", "-CAfile", str(ca)]


def _run(argv: list[str]) -> str:
    if shutil.which(argv[0]):
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout
    # No curl on this machine: the same request with urllib.
    headers, data, url = {}, None, argv[-1]
    for flag, value in zip(argv, argv[1:]):
        if flag == "-H":
            name, _, v = value.partition(": ")
            headers[name] = v
        elif flag == "--data-binary":
            data = Path(value[1:]).read_bytes()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=60) as r:
        return r.read().decode()


def _summary(label: str, text: str) -> str:
    if label == "metrics":
        lines = [line for line in text.splitlines() if line.startswith(("jpki_fast_checks_total", "jpki_fast_snapshot_generation"))]
        return "\n".join("      " + line for line in lines[:8])
    body = json.loads(text)
    if "results" in body:
        counts: dict[str, int] = {}
        for r in body["results"]:
            key = r.get("decision") or r["status"]
            counts[key] = counts.get(key, 0) + 1
        first = {k: v for k, v in body["results"][0].items() if k in ("serial", "status", "reason", "decision", "detail")}
        return f"      generation {body['generation']}: {counts}; first: {json.dumps(first, ensure_ascii=False)}"
    keep = {k: body.get(k) for k in ("decision", "status", "detail", "serial", "generation")}
    return f"      {json.dumps(keep, ensure_ascii=False)}"


def _wait_ready(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited (is the port in use?)")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url}/healthz within {seconds:.0f} s")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m jpki_fast_service.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", nargs="?", default="demo-data")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-serve", action="store_true", help="stop after running the commands")
    args = ap.parse_args(argv)
    root = Path(args.dir)
    data, store = root / "dataset", root / "store"
    if not (store / "CURRENT").is_file():
        _say(f"{store}: no published store; run `make demo` (or python -m jpki_fast.demo {root}) first")
        return 2

    _say("\n== 5. the service: jpki-fast serve on the demo store")
    key_file = root / "api-keys.json"
    key_file.unlink(missing_ok=True)
    key = add_key(key_file, "demo", ["query", "personal_data", "admin"], "demo-bank")
    _say(f"   API key (roles query, personal_data, admin; tenant demo-bank), stored as a hash in {key_file}:")
    _say(f"   {key}")
    paths = write_requests(data, root / "requests")
    url = f"http://{args.host}:{args.port}"
    ocsp_pairs = _ocsp_pairs(data)
    command = [sys.executable, "-m", "jpki_fast.cli", "serve", "--store", str(store), "--api-keys", str(key_file),
               "--host", args.host, "--port", str(args.port), "--workers", str(args.workers), *ocsp_pairs]
    _say(f"   jpki-fast serve --store {store} --api-keys {key_file} --host {args.host} --port {args.port} --workers {args.workers} \\")
    pairs = len(ocsp_pairs) // 4
    _say(f"       --ocsp-cert {data}/ocsp/<alias>.pem --ocsp-key {data}/ocsp/<alias>.key.pem   (x{pairs}: one pair per CA key)")
    server = subprocess.Popen(command)
    signal.signal(signal.SIGTERM, _interrupt)  # stop the server on TERM as on Ctrl-C
    try:
        _wait_ready(url, server)
        _say(f"\n   ready on {url} (OpenAPI docs: {url}/docs). Each command below was just run; paste to try:")
        for label, cmd in _commands(url, key, paths):
            output = _run(cmd)
            _say(f"\n   # {label}")
            _say("   " + shlex.join(cmd))
            _say(_summary(label.split(" ")[0] if label == "metrics" else label, output))
        ocsp_cmd = _ocsp_command(data, url)
        _say("\n   # OCSP (RFC 6960): OpenSSL asks about a revoked authentication certificate")
        _say("   " + shlex.join(ocsp_cmd))
        if shutil.which("openssl"):
            done = subprocess.run(ocsp_cmd, capture_output=True, text=True, timeout=60)
            _say("\n".join("      " + line for line in (done.stderr + done.stdout).strip().splitlines()[:6]))
        else:
            _say("      (openssl is not installed here; the command above works where it is)")
        _say(f"\n   audit log: {store / 'audit.jsonl'}   (check it: .venv/bin/jpki-fast audit verify {store / 'audit.jsonl'})")
        if args.no_serve:
            return 0
        _say(f"\n   serving on {url} until interrupted (Ctrl-C)")
        server.wait()
        return server.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    sys.exit(main())
