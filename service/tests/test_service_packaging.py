"""The library carries no HTTP code; the service plugs its commands into `jpki-fast`."""

from __future__ import annotations

import subprocess
import sys

from jpki_fast import cli

HTTP_MODULES = ("fastapi", "starlette", "uvicorn", "granian", "jpki_fast_service")


def test_importing_the_library_and_its_command_line_loads_no_http_code():
    code = (
        "import sys, jpki_fast, jpki_fast.cli\n"
        "jpki_fast.cli.build_parser(['check', '--store', 'x'])\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HTTP_MODULES!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_building_the_service_parsers_loads_no_http_code():
    code = (
        "import sys, jpki_fast.cli\n"
        "jpki_fast.cli.build_parser(['serve', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette', 'uvicorn', 'granian')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_serve_keys_and_audit_come_from_the_service_entry_points(capsys):
    parser = cli.build_parser(["serve"])
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"serve", "keys", "audit"} <= set(sub.choices)
    assert sub.choices["serve"].prog == "jpki-fast serve" and "--max-items" in sub.choices["serve"].format_help()


def test_without_the_service_serve_says_how_to_install_it_and_exits_2(monkeypatch, capsys):
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [])
    for command in (["serve", "--store", "x"], ["keys", "add"], ["audit", "verify", "f"]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert "pip install jpki-fast-service" in err and "make service-install" in err


def test_serve_refuses_a_missing_store_or_key_file(tmp_path, capsys):
    assert cli.main(["serve", "--store", str(tmp_path / "none")]) == 2
    assert "store not found" in capsys.readouterr().err


def test_serve_refuses_a_missing_key_file(dataset, tmp_path, capsys):
    assert cli.main(["serve", "--store", str(dataset.store), "--api-keys", str(tmp_path / "keys.json")]) == 2
    err = capsys.readouterr().err
    assert "API key file not found" in err and "jpki-fast keys add" in err


def test_the_service_depends_on_the_library_of_the_same_version():
    from importlib.metadata import requires, version

    assert version("jpki-fast-service") == version("jpki-fast")
    assert f"jpki-fast=={version('jpki-fast')}" in requires("jpki-fast-service")
