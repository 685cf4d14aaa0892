"""Resource limits (README "Resource limits", docs/DESIGN.md §6.4): each is configurable, has a
safe default, and its error names the file and the limit; what was published stays."""

from __future__ import annotations

import pytest

from jpki_fast import cli, ingest, open_store
from jpki_fast.config import ConfigError, load_config
from jpki_fast.limits import DEFAULT, LimitExceeded, Limits
from conftest import NOW, NOW_ISO, days_ago, make_crl


def test_defaults_are_safe_and_values_are_checked():
    assert (DEFAULT.max_crl_bytes, DEFAULT.max_crl_entries, DEFAULT.max_files) == (1 << 30, 30_000_000, 100_000)
    for bad in (0, -1, True, 1.5, "10"):
        with pytest.raises(ValueError, match="max_files must be a positive integer"):
            Limits(max_files=bad)


def test_a_crl_over_the_size_limit_is_refused_naming_it_and_the_limit(ws, auth_ca):
    ws.add_ca(auth_ca)
    small = make_crl(auth_ca, [(1, days_ago(1), None, None)], partition="A")
    big = make_crl(auth_ca, [(s, days_ago(1), None, None) for s in range(2, 400)], partition="B")
    ws.write_crl("small.crl", small)
    ws.write_crl("big.crl", big)
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW, limits=Limits(max_crl_bytes=len(small) + 10))
    assert [(f.path, f.error_kind) for f in summary.refused] == [("big.crl", "limit_exceeded")]
    assert summary.refused[0].message == (
        f"CRL file of {len(big)} bytes exceeds the limit of {len(small) + 10} bytes (max_crl_bytes)"
    )
    assert open_store(ws.store).check([1], "auth_ca_2023", now=NOW).column("status").to_pylist() == ["revoked"]


def test_a_crl_with_too_many_entries_is_refused(ws, auth_ca):
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [(s, days_ago(1), None, None) for s in range(1, 11)], partition="A"))
    ws.write_crl("b.crl", make_crl(auth_ca, [(s, days_ago(1), None, None) for s in range(100, 111)], partition="B"))
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW, limits=Limits(max_crl_entries=10))
    assert [(f.path, f.error_kind, f.message) for f in summary.refused] == [
        ("b.crl", "limit_exceeded", "CRL has more than 10 entries, the limit (max_crl_entries)")
    ]
    assert summary.accepted[0].entries == 10


def test_too_many_files_refuse_the_run_before_anything_is_read(ws, auth_ca, capsys):
    ws.add_ca(auth_ca)
    for i in range(3):
        ws.write_crl(f"{i}.crl", make_crl(auth_ca, [(i + 1, days_ago(1), None, None)], partition=f"P{i}"))
    with pytest.raises(LimitExceeded, match="3 CRL files exceed the limit of 2 files per ingest"):
        ingest(ws.trust, ws.crls, ws.store, now=NOW, limits=Limits(max_files=2))
    code = cli.main(["ingest", "--trust", str(ws.trust), "--crls", str(ws.crls), "--store", str(ws.store),
                     "--now", NOW_ISO, "--max-files", "2"])
    assert code == cli.EXIT_USAGE and "(max_files)" in capsys.readouterr().err
    assert not (ws.store / "CURRENT").exists()
    assert cli.main(["ingest", "--trust", str(ws.trust), "--crls", str(ws.crls), "--store", str(ws.store),
                     "--now", NOW_ISO, "--max-crl-entries", "1", "--max-crl-bytes", "100000"]) == 0


def test_the_update_configuration_sets_the_limits(tmp_path):
    base = (
        '[store]\npath = "s"\n[trust]\npath = "t"\n[fetch]\ndirectory = "c"\n'
        '[[sources]]\nurl = "http://127.0.0.1:9/a.crl"\npath = "a.crl"\n'
    )
    (tmp_path / "u.toml").write_text(base)
    assert load_config(tmp_path / "u.toml").limits == DEFAULT
    (tmp_path / "u.toml").write_text(base + "[limits]\nmax_crl_bytes = 1000\nmax_files = 5\n")
    assert load_config(tmp_path / "u.toml").limits == Limits(max_crl_bytes=1000, max_files=5)
    for bad, fragment in (("max_files = 0", "limits.max_files: must be positive"), ("max_size = 3", "limits.max_size: unknown key")):
        (tmp_path / "u.toml").write_text(base + f"[limits]\n{bad}\n")
        with pytest.raises(ConfigError, match=fragment):
            load_config(tmp_path / "u.toml")
