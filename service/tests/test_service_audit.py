"""The audit log: one line per request, HMACs instead of serials and certificates, a hash
chain that verifies, and editing, removing or reordering any line is caught."""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from jpki_fast.cli import main
from jpki_fast_service.audit import AuditLog, load_or_create_key, verify
from .svc_helpers import NOW, b64, login_body


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_request_appends_one_line_without_clear_serials_or_certificates(client, dataset, config):
    path = config.resolved_audit_log()
    before = len(records(path)) if path.exists() else 0
    cert = dataset.certs_of("auth", revoked=False)[0]
    client.post("/v1/login/verify", json=login_body(cert), headers=dataset.header("query-a"))
    client.post("/v1/certificates/status", json={"certificates": [b64(cert["der"])], "now": NOW}, headers=dataset.header("query-a"))
    client.get("/v1/snapshot", headers={"X-API-Key": "wrong"})
    lines = records(path)[before:]
    assert [(r["endpoint"], r["code"]) for r in lines] == [
        ("/v1/login/verify", 200), ("/v1/certificates/status", 200), ("/v1/snapshot", 401),
    ]
    login = lines[0]
    assert login["key_id"] == "query-a" and login["tenant"] == "bank-a" and login["items"] == 1
    assert login["counts"] == {"allow": 1} and login["kinds"] == {"authentication": {"allow": 1}}
    assert login["generation"] >= 1 and login["duration_ms"] > 0 and login["client"]
    key = load_or_create_key(config.resolved_audit_key())
    expected = hmac.new(key, f"{cert['issuer']}/{cert['serial']}".encode(), hashlib.sha256).hexdigest()
    assert login["subjects"] == [expected] and lines[1]["subjects"] == [expected]
    text = path.read_text()
    assert cert["serial"] not in text and b64(cert["der"])[:40] not in text
    assert lines[2]["key_id"] is None


def test_big_requests_record_one_digest(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl", b"k" * 32, per_item_limit=2)
    subjects = log.subjects([b"a", b"b", b"c"], 3)
    assert set(subjects) == {"subjects_digest", "subjects_count"} and subjects["subjects_count"] == 3
    assert log.subjects([b"a"], 1) == {"subjects": [hmac.new(b"k" * 32, b"a", hashlib.sha256).hexdigest()]}


def test_the_service_log_verifies(client, config, capsys):
    client.get("/v1/partitions", headers={"X-API-Key": "x"})
    assert main(["audit", "verify", str(config.resolved_audit_log())]) == 0
    assert "chain intact" in capsys.readouterr().out


@pytest.fixture
def log_file(tmp_path) -> Path:
    log = AuditLog(tmp_path / "audit.jsonl", b"k" * 32)
    for i in range(6):
        log.append({"time": f"2026-11-26T09:00:0{i}.000Z", "endpoint": "/v1/status", "items": i})
    log.close()
    assert verify(log.path).ok
    return log.path


def rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def check_fails(path: Path, line: int, words: str, capsys) -> None:
    result = verify(path)
    assert not result.ok and result.line == line, result
    assert words in result.problem
    assert main(["audit", "verify", str(path)]) == 1
    assert f"line {line}:" in capsys.readouterr().err


def test_an_edited_line_is_named(log_file, capsys):
    lines = log_file.read_text().splitlines()
    lines[2] = lines[2].replace('"items":2', '"items":20')
    rewrite(log_file, lines)
    check_fails(log_file, 3, "edited", capsys)


def test_an_edited_line_with_its_hash_recomputed_breaks_the_next_link(log_file, capsys):
    lines = log_file.read_text().splitlines()
    record = json.loads(lines[2])
    record["items"] = 20
    del record["hash"]
    body = json.dumps(record, separators=(",", ":")).encode()
    lines[2] = body[:-1].decode() + f',"hash":"{hashlib.sha256(body).hexdigest()}"}}'
    rewrite(log_file, lines)
    check_fails(log_file, 4, "does not follow", capsys)


def test_a_removed_line_is_named(log_file, capsys):
    lines = log_file.read_text().splitlines()
    del lines[3]
    rewrite(log_file, lines)
    check_fails(log_file, 4, "record 4 removed", capsys)


def test_removed_first_lines_are_named(log_file, capsys):
    rewrite(log_file, log_file.read_text().splitlines()[2:])
    check_fails(log_file, 1, "records 1 to 2 removed", capsys)


def test_reordered_lines_are_named(log_file, capsys):
    lines = log_file.read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    rewrite(log_file, lines)
    check_fails(log_file, 2, "out of order", capsys)


def test_a_garbled_line_is_named(log_file, capsys):
    lines = log_file.read_text().splitlines()
    lines[4] = lines[4][:30]
    rewrite(log_file, lines)
    check_fails(log_file, 5, "edited", capsys)


def test_a_missing_file_is_usage_error(tmp_path, capsys):
    assert main(["audit", "verify", str(tmp_path / "nope.jsonl")]) == 2


def _append_many(path: str, worker: int, n: int) -> None:
    log = AuditLog(Path(path), b"k" * 32)
    for i in range(n):
        log.append({"time": "2026-11-26T09:00:00.000Z", "worker": worker, "i": i, "pad": "x" * (i % 50) * 40})
    log.close()


def test_several_processes_never_interleave_or_break_the_chain(tmp_path):
    path = tmp_path / "shared.jsonl"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(str(path), w, 150)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    result = verify(path)
    assert result.ok, result.problem
    rows = records(path)
    assert len(rows) == 600 and [r["seq"] for r in rows] == list(range(1, 601))
    for w in range(4):
        assert [r["i"] for r in rows if r["worker"] == w] == list(range(150))


def test_the_command_line_names_the_line(log_file):
    lines = log_file.read_text().splitlines()
    lines[0] = lines[0].replace('"items":0', '"items":1')
    rewrite(log_file, lines)
    out = subprocess.run([sys.executable, "-m", "jpki_fast.cli", "audit", "verify", str(log_file)], capture_output=True, text=True)
    assert out.returncode == 1 and "line 1: edited" in out.stderr
