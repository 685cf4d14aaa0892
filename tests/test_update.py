"""`jpki-fast update`: fetch, ingest, diff, in one unattended job (against a local HTTP server)."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
import pytest
from cryptography import x509

from jpki_fast import open_store
from jpki_fast.cli import main
from jpki_fast.update import update
from conftest import NOW, make_crl
from test_fetch import Reply, Server

R = x509.ReasonFlags
NOW_ISO = "2026-11-26T00:00:00Z"


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def setup(tmp_path, server, ws, auth_ca, day):
    """Serves day `day`'s CRLs for two partitions; writes the job's configuration."""
    ws.add_ca(auth_ca)
    this_update = NOW - dt.timedelta(hours=3) + dt.timedelta(days=day)
    lines = ["url,path"]
    for i, name in enumerate(["Sapporo-shi-Minami-ku", "Sapporo-shi-Kita-ku"]):
        entries = [(0x100 + i, NOW - dt.timedelta(days=9), R.superseded, None)]
        if day:
            entries.append((0x200 + i, this_update - dt.timedelta(hours=1), R.affiliation_changed, None))
        server.route(f"/{name}.crl", Reply(200, make_crl(auth_ca, entries, partition=name, number=day + 1, this_update=this_update)))
        lines.append(f"{server.url(f'/{name}.crl')},auth/Hokkaido/{name}.crl")
    (tmp_path / "sources.csv").write_text("\n".join(lines) + "\n")
    config = tmp_path / "update.toml"
    config.write_text(f'[store]\npath = "store"\n[trust]\npath = "{ws.trust}"\n[fetch]\ndirectory = "fetched"\n'
                      f'timeout = 5\nretries = 0\nsources_file = "sources.csv"\n')
    return config


def test_two_nights_publish_and_report_the_diff(tmp_path, server, ws, auth_ca):
    config = setup(tmp_path, server, ws, auth_ca, day=0)
    first = update(config, now=NOW_ISO)
    assert first.ok and first.ingest.generation == 1 and first.diff is None
    config = setup(tmp_path, server, ws, auth_ca, day=1)
    tomorrow = NOW + dt.timedelta(days=1)
    second = update(config, now=tomorrow, diff_out=tmp_path / "diff.parquet")
    assert second.ok and second.ingest.generation == 2
    assert second.diff["by_change_and_reason"] == {"added": {"affiliationChanged": 2}}
    assert sorted(pq.read_table(tmp_path / "diff.parquet").column("serial").to_pylist()) == ["0200", "0201"]
    store = open_store(tmp_path / "store")
    out = store.check(["0200", "0201", "0300"], "auth_ca_2023", now=tomorrow).column("status").to_pylist()
    assert out == ["revoked", "revoked", "good"]
    assert "added: affiliationChanged 2" in str(second)


def test_a_failed_download_is_reported_and_exits_1(tmp_path, server, ws, auth_ca, capsys):
    config = setup(tmp_path, server, ws, auth_ca, day=0)
    assert main(["update", "--config", str(config), "--now", NOW_ISO, "--quiet"]) == 0
    capsys.readouterr()
    server.route("/Sapporo-shi-Kita-ku.crl", Reply(404, b"gone"))
    assert main(["update", "--config", str(config), "--now", NOW_ISO, "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert not result["ok"]
    assert any("download failed: auth/Hokkaido/Sapporo-shi-Kita-ku.crl" in p for p in result["problems"])
    # Yesterday's file for that partition is untouched and still answers.
    assert open_store(tmp_path / "store").check(["0101"], "auth_ca_2023", now=NOW_ISO).column("status").to_pylist() == ["revoked"]


def test_a_refused_crl_is_a_problem_but_the_rest_is_published(tmp_path, server, ws, auth_ca):
    config = setup(tmp_path, server, ws, auth_ca, day=0)
    update(config, now=NOW_ISO)
    config = setup(tmp_path, server, ws, auth_ca, day=1)
    bad = bytearray(make_crl(auth_ca, [], partition="Sapporo-shi-Kita-ku", number=5))
    bad[-5] ^= 0xFF  # a valid-looking CRL with a broken signature
    server.route("/Sapporo-shi-Kita-ku.crl", Reply(200, bytes(bad)))
    result = update(config, now=NOW + dt.timedelta(days=1))
    assert not result.ok and any("signature" in p for p in result.problems)
    assert result.ingest.published and len(result.ingest.accepted) == 1


def test_bad_configuration_exits_2(tmp_path, capsys):
    config = tmp_path / "u.toml"
    config.write_text('[store]\npath = "s"\npolicy = "sometimes"\n[trust]\npath = "t"\n[fetch]\ndirectory = "d"\n'
                      '[[sources]]\nurl = "https://crl.example.jp/a.crl"\npath = "a.crl"\n')
    assert main(["update", "--config", str(config)]) == 2
    assert "store.policy: must be one of partition, all-or-nothing" in capsys.readouterr().err
