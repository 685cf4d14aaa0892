"""Crash safety: SIGKILL an ingest at random moments, over and over; the store must always open
and answer exactly as the last completed publish."""

from __future__ import annotations

import datetime as dt
import functools
import os
import random
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from jpki_fast import open_store, synth
from jpki_fast.store import read_current

DAYS = 6
START = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)  # midday: all of a day's CRLs share one date


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    """Six consecutive synthetic days: same CA keys and partitions (same seed), a growing
    number of entries (so each day's answers differ), rising CRL numbers."""
    root = tmp_path_factory.mktemp("days")
    out = []
    for d in range(DAYS):
        now = START + dt.timedelta(days=d)
        path = root / f"day{d}"
        synth.generate(path, entries=20_000 + 1_000 * d, partitions=25, seed=0, now=now,
                       ca_from=None if d == 0 else root / "day0", certs=0)
        out.append((path, now))
    return out


@functools.lru_cache(maxsize=None)
def day_truth(path) -> tuple[str, dict[str, pa.Table]]:
    """A day's CRL number and its ground truth by issuer (read once per test session)."""
    truth = synth.read_truth(path)
    by_issuer = {i: truth.filter(pc.equal(truth.column("issuer"), i)) for i in pc.unique(truth.column("issuer")).to_pylist()}
    return str(synth.read_partitions(path).column("crl_number")[0]), by_issuer


def same(a: pa.ChunkedArray, b: pa.ChunkedArray) -> bool:
    return a.combine_chunks().equals(b.combine_chunks().cast(a.type))


def assert_store_matches_a_day(store_dir, days):
    """The store answers exactly as one of the days; returns which."""
    store = open_store(store_dir)
    numbers = set(store.partitions().column("crl_number").to_pylist())
    assert len(numbers) == 1, f"a mix of days published: {numbers}"
    day = [i for i, (path, _) in enumerate(days) if day_truth(path)[0] in numbers]
    assert len(day) == 1
    path, now = days[day[0]]
    for issuer, sub in day_truth(path)[1].items():
        out = store.check(sub.column("serial"), issuer, now=now)
        assert pc.all(pc.equal(out.column("status"), "revoked")).as_py()
        assert same(out.column("revocation_date"), sub.column("revocation_date"))
        assert same(out.column("reason").cast(pa.string()), sub.column("reason").cast(pa.string()))
        revoked = set(sub.column("serial").to_pylist())
        probe = [f"{s:08X}" for s in random.Random(day[0]).sample(range(0x03000000, 0x06000000), 500)]
        expect = ["revoked" if s in revoked else "good" for s in probe]
        assert store.check(probe, issuer, now=now).column("status").to_pylist() == expect
    return day[0]


def ingest_cmd(path, store_dir, now):
    return [
        sys.executable, "-m", "jpki_fast.cli", "ingest",
        "--trust", str(path / "trust"), "--crls", str(path / "crls"), "--store", str(store_dir),
        "--now", now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ]


class Interrupter:
    """Runs commands and SIGKILLs each at a random moment up to ``span`` times its expected run
    time. The expectation follows the machine (measured, never assumed): a completed run sets it
    to its duration, a killed one raises it by 5% (only completed runs show how long a run takes,
    and they are the quick ones), so a machine busier or quieter than at the start still gets
    its runs interrupted in every phase. A run that ends before its moment is a completed run."""

    def __init__(self, seed: int, expected: float, span: float = 1.3) -> None:
        self.rng = random.Random(seed)
        self.expected = expected
        self.span = span
        self.kills = 0

    def run(self, cmd, kill: bool = True) -> bool:
        """True when the command ran to its end (``kill=False``: always), False when it was killed."""
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kill_at = started + self.rng.uniform(0.0, self.expected * self.span) if kill else float("inf")
        while time.monotonic() < kill_at:
            if proc.poll() is not None:
                self.expected = time.monotonic() - started
                return proc.returncode == 0
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        self.kills += 1
        self.expected *= 1.05
        return False


def first_day(days, store_dir) -> float:
    """Ingests day 0 uninterrupted; returns how long that took."""
    path, now = days[0]
    t0 = time.monotonic()
    subprocess.run(ingest_cmd(path, store_dir, now), check=True, capture_output=True, timeout=600)
    assert assert_store_matches_a_day(store_dir, days) == 0
    return time.monotonic() - t0


#: Kill attempts per day before its ingest is let run to its end.
KILLS_PER_DAY = 2


def test_sigkill_at_random_points_never_damages_the_store(days, tmp_path):
    """Each day's ingest is killed at random moments (up to the last measured run time, so
    every phase is hit), twice, then run to its end; after every run the store opens and answers
    exactly as after the last completed publish. Bounded by the number of runs, not by a clock,
    so a loaded machine makes the test slower, never weaker: a kill attempt that finishes
    first only publishes its day early, and the measured durations follow the machine."""
    store_dir = tmp_path / "store"
    kill = Interrupter(2026, first_day(days, store_dir), span=1.0)
    target, attempts = 1, 0
    while target < DAYS:
        path, now = days[target]
        interrupt = attempts < KILLS_PER_DAY
        finished = kill.run(ingest_cmd(path, store_dir, now), kill=interrupt)
        assert finished or interrupt, f"the uninterrupted ingest of day {target} failed"
        attempts += 1
        day = assert_store_matches_a_day(store_dir, days)
        assert day in (target - 1, target)
        if day == target:
            target, attempts = target + 1, 0
        assert read_current(store_dir) == open_store(store_dir).generation
    # 10 kill attempts, each at a moment before the expected end: only a run much faster than
    # the one before it escapes its kill.
    assert kill.kills >= 3, f"{kill.kills} kills in {KILLS_PER_DAY * (DAYS - 1)} attempts"
    assert assert_store_matches_a_day(store_dir, days) == DAYS - 1
    # What killed runs left (staging, a renamed but unpublished generation) the next writer removes.
    path, now = days[DAYS - 1]
    subprocess.run(ingest_cmd(path, store_dir, now), check=True, capture_output=True, timeout=600)
    assert not list((store_dir / "staging").iterdir())
    assert not [p for p in (store_dir / "generations").iterdir() if int(p.name) > read_current(store_dir)]


LONG_DAYS = 6


@pytest.fixture(scope="module")
def long_days(tmp_path_factory):
    """Six days of 300,000 entries in 2 x 400 partitions: enough files and entries that kills
    land in every phase (verify, build, write, fsync, rename, publish, prune), not just in the
    interpreter's start, and short enough that a loaded machine still makes dozens of attempts."""
    root = tmp_path_factory.mktemp("long-days")
    out = []
    for d in range(LONG_DAYS):
        now = START + dt.timedelta(days=d)
        path = root / f"day{d}"
        synth.generate(path, entries=300_000 + 5_000 * d, partitions=400, seed=0, now=now,
                       ca_from=None if d == 0 else root / "day0", certs=0)
        out.append((path, now))
    return out


def links_cmd(store_dir, link_file):
    return [sys.executable, "-m", "jpki_fast.cli", "links", "import", "--store", str(store_dir), str(link_file)]


@pytest.mark.slow
def test_a_long_sigkill_loop_over_ingests_and_link_imports_never_damages_the_store(long_days, tmp_path):
    """Dozens of kills, at random moments, of the nightly ingest and of serial-link imports
    (which publish a generation that shares the revocation data): after each, the store opens
    and answers exactly as the last completed publish, with every link imported so far. The loop
    ends when every day is published and enough runs were killed, or after four minutes."""
    store_dir = tmp_path / "store"
    kill = Interrupter(9, first_day(long_days, store_dir))
    link_kill = Interrupter(10, kill.expected / 4)
    imported: dict[str, str] = {}  # old serial -> new serial, as published
    target, attempt = 1, 0
    deadline = time.monotonic() + 240

    def enough() -> bool:
        return target == LONG_DAYS and kill.kills >= 20 and link_kill.kills >= 6

    while not enough() and time.monotonic() < deadline:
        attempt += 1
        if attempt % 3 == 0:  # a links import: one new renewal each time
            old, new = f"{0x05F00000 + 2 * attempt:08X}", f"{0x05F00001 + 2 * attempt:08X}"
            link_file = tmp_path / f"links-{attempt}.csv"
            link_file.write_text(f"issuer,old_serial,new_serial\nauth_ca_2023,{old},{new}\n")
            before = open_store(store_dir).links().num_rows
            link_kill.run(links_cmd(store_dir, link_file))
            links = open_store(store_dir).links()
            assert links.num_rows in (before, before + 1)
            if links.num_rows == before + 1:
                imported[old] = new
        elif target < LONG_DAYS:
            path, now = long_days[target]
            kill.run(ingest_cmd(path, store_dir, now))
        else:  # every day published: interrupt runs that find every partition unchanged
            path, now = long_days[-1]
            kill.run(ingest_cmd(path, store_dir, now))
        day = assert_store_matches_a_day(store_dir, long_days)
        assert day in (target - 1, target)
        target += day == target
        store = open_store(store_dir)
        assert read_current(store_dir) == store.generation
        assert dict(zip(*store.links().select(["old_serial", "new_serial"]).to_pydict().values())) == imported
    assert kill.kills >= 5 and link_kill.kills >= 2, (kill.kills, link_kill.kills)
    for d in range(target, LONG_DAYS):
        path, now = long_days[d]
        subprocess.run(ingest_cmd(path, store_dir, now), check=True, capture_output=True, timeout=600)
    assert assert_store_matches_a_day(store_dir, long_days) == LONG_DAYS - 1
    assert open_store(store_dir).latest_serial(list(imported), "auth_ca_2023").to_pylist() == list(imported.values())
    assert not list((store_dir / "staging").iterdir())
    assert not [p for p in (store_dir / "generations").iterdir() if int(p.name) > read_current(store_dir)]
