"""Fault injection on publish (issue 12): a full disk and a read-only store during publish, on a
real tmpfs the test mounts; corrupted snapshot files; SIGKILL of ``jpki-fast update`` at random
moments while it fetches from a local HTTP server. Nothing published is lost: every case asserts
on the answers the store gives afterwards (exactly the last completed publish), not only on exit
codes, and that the exit code and message tell the truth."""

from __future__ import annotations

import datetime as dt
import errno
import functools
import http.server
import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jpki_fast import cli, ingest, open_store, publish, synth
from jpki_fast.errors import StoreCorruptedError, StoreError
from jpki_fast.store import read_current
from test_crash import Interrupter, assert_store_matches_a_day

START = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)
INGEST = importlib.import_module("jpki_fast.ingest")  # the module (jpki_fast.ingest is also the function)
UPDATE = importlib.import_module("jpki_fast.update")


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    """Four synthetic days (same keys and partitions, rising CRL numbers, growing entries)."""
    root = tmp_path_factory.mktemp("fault-days")
    out = []
    for d in range(4):
        now = START + dt.timedelta(days=d)
        synth.generate(root / f"day{d}", entries=8_000 + 500 * d, partitions=12, seed=3, now=now,
                       ca_from=None if d == 0 else root / "day0", certs=0)
        out.append((root / f"day{d}", now))
    return out


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jpki_fast.cli", *args], capture_output=True, text=True, timeout=600)


def ingest_args(day, store) -> list[str]:
    path, now = day
    return ["ingest", "--trust", str(path / "trust"), "--crls", str(path / "crls"), "--store", str(store), "--now", iso(now)]


# ---- a real filesystem to fill up and make read-only ---------------------------------------------


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def tmpfs(tmp_path):
    """A 6 MiB tmpfs of the test's own (the test runs as root; skipped, with the reason, where
    the sandbox cannot mount one)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = _mount("-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt))
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (mount -t tmpfs: {r.stderr.strip() or r.returncode}); "
                    "the disk-full and read-only cases need one")
    yield mnt
    subprocess.run(["umount", "-R", "-l", str(mnt)], capture_output=True)


def free_bytes(path: Path) -> int:
    s = os.statvfs(path)
    return s.f_bavail * s.f_frsize


def leftovers(store: Path) -> list[str]:
    """What a failed run must not leave: staging directories and temporary CURRENT files."""
    staging = store / "staging"
    return sorted([p.name for p in staging.iterdir()] if staging.is_dir() else []) + sorted(
        p.name for p in store.iterdir() if p.name.startswith(".CURRENT")
    )


def test_a_full_disk_during_publish_publishes_nothing_and_says_so(days, tmpfs):
    store = tmpfs / "store"
    assert run_cli(*ingest_args(days[0], store)).returncode == 0
    assert assert_store_matches_a_day(store, days) == 0
    generation = read_current(store)
    # Leave less room than the next generation needs, at several levels, so that the disk runs
    # out in different files (the first index file, a later one, the manifest, CURRENT).
    size = sum(f.stat().st_size for f in (store / "generations" / f"{generation:08d}").iterdir())
    for room in (0, 4096, size // 4, size // 2, size - 8192):
        filler = tmpfs / "filler"
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free_bytes(tmpfs) - room))
        r = run_cli(*ingest_args(days[1], store))
        filler.unlink()
        if r.returncode == 0:  # it fitted after all (tmpfs rounds to pages): a normal publish
            assert assert_store_matches_a_day(store, days) == 1
            break
        assert r.returncode == cli.EXIT_FAILED, (room, r.returncode, r.stderr)
        assert "No space left on device" in r.stderr and "nothing was published" in r.stderr, r.stderr
        assert assert_store_matches_a_day(store, days) == 0 and read_current(store) == generation
        assert leftovers(store) == [], leftovers(store)
    r = run_cli(*ingest_args(days[1], store))
    assert r.returncode == 0, r.stderr
    assert assert_store_matches_a_day(store, days) == 1


def test_a_read_only_store_refuses_to_start(days, tmpfs):
    store = tmpfs / "store"
    assert run_cli(*ingest_args(days[0], store)).returncode == 0
    assert _mount("-o", "remount,ro", str(tmpfs)).returncode == 0
    try:
        r = run_cli(*ingest_args(days[1], store))
        assert r.returncode == cli.EXIT_USAGE and "Read-only file system" in r.stderr, r.stderr
        r = run_cli("rollback", "--store", str(store), "--to", "1")
        assert r.returncode == cli.EXIT_USAGE and "Read-only file system" in r.stderr, r.stderr
        assert assert_store_matches_a_day(store, days) == 0  # readers are unaffected
    finally:
        assert _mount("-o", "remount,rw", str(tmpfs)).returncode == 0


def test_the_store_turning_read_only_at_each_step_of_publish_loses_nothing(days, tmpfs, monkeypatch):
    """The store is made read-only (a read-only bind mount over it, so files already open stay
    open) just before the k-th file operation of the publish, for every k: each run fails with
    EROFS and publishes nothing; the answers stay those of the last publish; once writable
    again the next run cleans up after it and publishes."""
    store = tmpfs / "store"
    path, now = days[0]
    ingest(path / "trust", path / "crls", store, now=now)
    steps = {"n": 0, "at": None}
    real_write, real_fsync, real_current = publish._write_ipc, publish.fsync_path, publish._make_current

    def maybe_freeze():
        steps["n"] += 1
        if steps["n"] == steps["at"]:
            assert _mount("--bind", str(store), str(store)).returncode == 0
            assert _mount("-o", "remount,bind,ro", str(store)).returncode == 0

    def step(real):
        @functools.wraps(real)
        def wrapped(*args, **kwargs):
            maybe_freeze()
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(publish, "_write_ipc", step(real_write))
    monkeypatch.setattr(publish, "fsync_path", step(real_fsync))
    monkeypatch.setattr(publish, "_make_current", step(real_current))
    path1, now1 = days[1]
    k = 1
    while True:
        steps.update(n=0, at=k)
        try:
            summary = ingest(path1 / "trust", path1 / "crls", store, now=now1)
        except OSError as exc:
            assert exc.errno == errno.EROFS or "Read-only file system" in str(exc), exc
            assert assert_store_matches_a_day(store, days) == 0
            subprocess.run(["umount", str(store)], check=True)
            k += 1
            continue
        assert steps["n"] < k, "the store was frozen but the run did not fail"
        break
    assert k > 10, f"only {k - 1} file operations were interrupted"
    assert summary.published and assert_store_matches_a_day(store, days) == 1
    assert leftovers(store) == []
    assert not [p for p in (store / "generations").iterdir() if int(p.name) > read_current(store)]


# ---- failures after a publish: exit 3, never "nothing done" -----------------------------------------


def test_a_failure_after_publishing_exits_3_naming_the_generation(days, tmp_path, monkeypatch, capsys):
    store = tmp_path / "store"
    assert cli.main(ingest_args(days[0], store)) == 0

    def broken(summary, snapshot):
        raise StoreError("simulated: the snapshot could not be read back")

    monkeypatch.setattr(INGEST, "_fill_snapshot_counts", broken)
    capsys.readouterr()
    assert cli.main(ingest_args(days[1], store)) == cli.EXIT_PUBLISHED_THEN_FAILED
    err = capsys.readouterr().err
    assert f"generation 2 of {store} was published and is current" in err and "simulated" in err, err
    assert assert_store_matches_a_day(store, days) == 1  # what it says was published, is


def test_update_reports_a_diff_that_could_not_be_written_after_publishing(days, tmp_path, monkeypatch, capsys):
    served = tmp_path / "served"
    serve_day(served, days[0])
    with static_server(served) as base:
        config = write_config(tmp_path, days[0][0], served, base)
        assert cli.main(["update", "--config", str(config), "--now", iso(days[0][1]), "--quiet"]) == 0
        serve_day(served, days[1])

        def full_disk(table, out):
            raise OSError(errno.ENOSPC, "No space left on device", str(out))

        monkeypatch.setattr(UPDATE, "write_results", full_disk)
        capsys.readouterr()
        code = cli.main(["update", "--config", str(config), "--now", iso(days[1][1]), "--quiet",
                         "--diff-out", str(tmp_path / "diff.parquet")])
    captured = capsys.readouterr()
    assert code == cli.EXIT_PUBLISHED_THEN_FAILED, captured.err
    assert "generation 2" in captured.err and "was published and is current" in captured.err
    assert "writing the diff" in captured.err and "No space left on device" in captured.err
    assert "ingest:" in captured.out  # the run's report is still printed
    assert assert_store_matches_a_day(tmp_path / "store", days) == 1


def test_a_bad_diff_out_stops_update_before_anything_is_published(days, tmp_path, capsys):
    served = tmp_path / "served"
    serve_day(served, days[0])
    with static_server(served) as base:
        config = write_config(tmp_path, days[0][0], served, base)
        code = cli.main(["update", "--config", str(config), "--now", iso(days[0][1]), "--diff-out", str(tmp_path / "diff.txt")])
    assert code == cli.EXIT_USAGE and "unknown format '.txt'" in capsys.readouterr().err
    assert read_current(tmp_path / "store") is None


# ---- corrupted snapshot files --------------------------------------------------------------------


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x5A
    p.write_bytes(bytes(data))


def _garbage(p: Path) -> None:
    p.write_bytes(b"not an arrow file" + b"\0" * (p.stat().st_size - 17))


CORRUPTIONS = {
    # name: (file, damage, open refuses it without verify=True)
    "entries truncated": ("entries.arrow", _truncate, True),
    "bitmap missing": ("bitmap.arrow", Path.unlink, True),
    "partitions garbage, same size": ("partitions.arrow", _garbage, True),
    "entries bit flip": ("entries.arrow", _flip, False),
    "manifest garbage": ("manifest.json", lambda p: p.write_text("{not json"), True),
    "manifest missing": ("manifest.json", Path.unlink, True),
}


@pytest.fixture(scope="module")
def two_generations(days, tmp_path_factory):
    store = tmp_path_factory.mktemp("corrupt") / "store"
    for day in days[:2]:
        path, now = day
        ingest(path / "trust", path / "crls", store, now=now)
    return store


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_corrupted_current_generation_is_refused_by_name_and_rollback_restores_answers(case, days, two_generations, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(two_generations, store)
    assert assert_store_matches_a_day(store, days) == 1
    name, damage, open_refuses = CORRUPTIONS[case]
    damage(store / "generations" / "00000002" / name)
    if open_refuses:
        with pytest.raises(StoreCorruptedError) as exc:
            open_store(store)
        assert name in str(exc.value) or "manifest" in str(exc.value), str(exc.value)
    with pytest.raises(StoreCorruptedError) as exc:
        open_store(store, verify=True)
    assert name in str(exc.value), str(exc.value)
    r = run_cli("verify-store", str(store))
    assert r.returncode == cli.EXIT_REFUSED and "generation 2: DAMAGED:" in r.stdout and name in r.stdout, r.stdout
    assert "rollback" in r.stderr
    # A damaged generation cannot be rolled back to; the previous one can, and answers as before.
    r = run_cli("rollback", "--store", str(store), "--to", "2")
    assert r.returncode == cli.EXIT_USAGE and "cannot roll back to generation 2" in r.stderr
    r = run_cli("rollback", "--store", str(store), "--to", "1")
    assert r.returncode == 0, r.stderr
    assert assert_store_matches_a_day(store, days) == 0
    assert run_cli("verify-store", str(store)).returncode == 0
    # The next ingest builds on generation 1 and publishes generation 3: day 1 again, intact.
    assert run_cli(*ingest_args(days[1], store)).returncode == 0
    assert read_current(store) == 3 and assert_store_matches_a_day(store, days) == 1


@pytest.mark.parametrize("content", ["garbage\n", "", "99\n"])
def test_a_damaged_current_file_is_named_and_rollback_still_works(content, days, two_generations, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(two_generations, store)
    (store / "CURRENT").write_text(content)
    with pytest.raises(StoreError) as exc:
        open_store(store)
    assert "CURRENT" in str(exc.value) or "00000099" in str(exc.value), str(exc.value)
    r = run_cli("rollback", "--store", str(store), "--to", "2")
    assert r.returncode == 0, r.stderr
    assert assert_store_matches_a_day(store, days) == 1


# ---- SIGKILL of the nightly job ------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class static_server:
    """Serves a directory on 127.0.0.1 (a fresh port) for as long as the block runs."""

    def __init__(self, directory: Path) -> None:
        handler = functools.partial(_Quiet, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True

    def __enter__(self) -> str:
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_day(served: Path, day) -> None:
    """Replaces the served CRLs by a day's, each file atomically (a client sees old or new),
    dated that day (the server answers If-Modified-Since from the file's time)."""
    path, now = day
    for src in sorted((path / "crls").rglob("*.crl")):
        dst = served / src.relative_to(path / "crls")
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        os.utime(tmp, (now.timestamp(), now.timestamp()))
        os.replace(tmp, dst)


def write_config(root: Path, day: Path, served: Path, base: str) -> Path:
    rows = [f"{base}/{p.relative_to(served).as_posix()},{p.relative_to(served).as_posix()}" for p in sorted(served.rglob("*.crl"))]
    (root / "sources.csv").write_text("url,path\n" + "\n".join(rows) + "\n")
    config = root / "update.toml"
    config.write_text(
        f'[store]\npath = "store"\n[trust]\npath = {json.dumps(str(day / "trust"))}\n'
        f'[fetch]\ndirectory = "fetched"\nsources_file = "sources.csv"\ntimeout = 10\nretries = 0\nconcurrency = 4\n'
    )
    return config


def test_sigkill_of_update_at_random_points_never_loses_a_publish(days, tmp_path):
    """The nightly job, killed at random moments (while fetching, verifying, building, writing,
    publishing or diffing), day after day: after every run the store answers exactly as one
    whole day, the day before or the new one, and the next run completes the sequence."""
    served = tmp_path / "served"
    serve_day(served, days[0])
    with static_server(served) as base:
        config = write_config(tmp_path, days[0][0], served, base)
        store = tmp_path / "store"

        def cmd(day):
            return [sys.executable, "-m", "jpki_fast.cli", "update", "--config", str(config), "--now", iso(days[day][1]), "--quiet"]

        kill = Interrupter(12, 1.0, span=1.0)
        assert kill.run(cmd(0), kill=False)
        assert assert_store_matches_a_day(store, days) == 0
        target, attempts = 1, 0
        serve_day(served, days[1])
        while target < len(days):
            interrupt = attempts < 2
            finished = kill.run(cmd(target), kill=interrupt)
            assert finished or interrupt, f"the uninterrupted update of day {target} failed"
            attempts += 1
            day = assert_store_matches_a_day(store, days)
            assert day in (target - 1, target)
            assert not [p for p in (tmp_path / "fetched").rglob("*") if p.is_file() and p.name.endswith(".crl")
                        and p.stat().st_size == 0]
            if day == target:
                target, attempts = target + 1, 0
                if target < len(days):
                    serve_day(served, days[target])
        assert kill.kills >= 2, kill.kills
        assert kill.run(cmd(len(days) - 1), kill=False)
    assert assert_store_matches_a_day(store, days) == len(days) - 1
    assert not list((store / "staging").iterdir())
