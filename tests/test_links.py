"""Serial links: chains of renewals, cycles refused, unknown serials unchanged."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from jpki_fast import ingest, open_store
from jpki_fast.cli import main
from jpki_fast.links import LinkError, import_links
from conftest import NOW, days_ago, make_crl


@pytest.fixture
def store_dir(ws, auth_ca, sign_ca):
    ws.add_ca(auth_ca)
    ws.add_ca(sign_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [(0x0A, days_ago(9), None, None), (0x0B, days_ago(2), None, None)], number=1))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    return ws.store


def write_links(path, rows):
    pacsv.write_csv(pa.table({k: [r[i] for r in rows] for i, k in enumerate(("issuer", "old_serial", "new_serial"))}), path)
    return path


def test_chains_are_followed_and_unknown_serials_pass_through(store_dir, tmp_path):
    f = write_links(tmp_path / "l.csv", [("auth_ca_2023", "0A", "0B"), ("auth_ca_2023", "0x0b", "0C")])
    result = import_links(store_dir, f)
    assert result == {"imported": 2, "links": 2, "generation": 2}
    store = open_store(store_dir)
    assert store.latest_serial(["0A", "0B", "0C", "99"], "auth_ca_2023").to_pylist() == ["0C", "0C", "0C", "99"]
    # Links belong to an issuer key: the same serial of another issuer is not linked.
    assert store.latest_serial(["0A"], "sign_ca_2023").to_pylist() == ["0A"]
    out = store.check([0x0A, 0x0C], "auth_ca_2023", now=NOW, follow_links=True)
    assert out.column("latest_serial").to_pylist() == ["0C", "0C"]
    assert out.column("status").to_pylist() == ["revoked", "good"]


def test_links_accumulate_and_survive_ingest(store_dir, ws, auth_ca, tmp_path):
    import_links(store_dir, write_links(tmp_path / "1.csv", [("auth_ca_2023", "0A", "0B")]))
    import_links(store_dir, write_links(tmp_path / "2.csv", [("auth_ca_2023", "0B", "0D"), ("auth_ca_2023", "0A", "0B")]))
    ws.write_crl("a.crl", make_crl(auth_ca, [(0x0A, days_ago(9), None, None)], number=2))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    store = open_store(store_dir)
    assert store.generation == 4
    assert store.latest_serial(["0A"], "auth_ca_2023").to_pylist() == ["0D"]
    assert store.links().num_rows == 2
    # The revocation data of a links-only generation is shared with its parent, not copied.
    g2 = store_dir / "generations" / "00000002" / "entries.arrow"
    g1 = store_dir / "generations" / "00000001" / "entries.arrow"
    assert g1.stat().st_ino == g2.stat().st_ino


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("auth_ca_2023", "01", "02"), ("auth_ca_2023", "02", "01")], "cycle"),
        ([("auth_ca_2023", "01", "02"), ("auth_ca_2023", "02", "03"), ("auth_ca_2023", "03", "01")], "cycle"),
        ([("auth_ca_2023", "01", "01")], "cannot replace itself"),
        ([("auth_ca_2023", "01", "02"), ("auth_ca_2023", "01", "03")], "linked to several new serials"),
        ([("nobody", "01", "02")], "issuer 'nobody' is not in the store"),
        ([("auth_ca_2023", "xyz", "02")], r"old_serial: row #0 \('xyz'\)"),
        ([(None, "01", "02")], "missing issuer"),
    ],
)
def test_bad_links_are_refused_and_nothing_is_published(store_dir, tmp_path, rows, message):
    with pytest.raises(LinkError, match=message):
        import_links(store_dir, write_links(tmp_path / "bad.csv", rows))
    assert open_store(store_dir).generation == 1


def test_cycle_across_two_imports_is_refused(store_dir, tmp_path):
    import_links(store_dir, write_links(tmp_path / "1.csv", [("auth_ca_2023", "01", "02")]))
    with pytest.raises(LinkError, match="cycle"):
        import_links(store_dir, write_links(tmp_path / "2.csv", [("auth_ca_2023", "02", "01")]))


def test_parquet_links_and_cli(store_dir, tmp_path, capsys):
    f = tmp_path / "l.parquet"
    links = {"issuer": ["auth_ca_2023"], "old_serial": pa.array([10], pa.uint64()), "new_serial": pa.array([12], pa.uint64())}
    pq.write_table(pa.table(links), f)
    assert main(["links", "import", "--store", str(store_dir), str(f)]) == 0
    capsys.readouterr()
    assert main(["links", "latest", "--store", str(store_dir), "--issuer", "auth_ca_2023", "0A"]) == 0
    assert '"latest_serial": "0C"' in capsys.readouterr().out
    args = ["check", "--store", str(store_dir), "--issuer", "auth_ca_2023", "0A", "--follow-links", "--now", "2026-11-26T00:00:00Z"]
    assert main(args) == 0
    assert '"latest_serial":"0C"' in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("issuer,old\nx,1\n")
    assert main(["links", "import", "--store", str(store_dir), str(bad)]) == 2
    assert "missing column(s) old_serial, new_serial" in capsys.readouterr().err
