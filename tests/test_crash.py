"""Crash safety: SIGKILL an ingest at random moments, over and over; the store must always open
and answer exactly as the last completed publish."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time

import pyarrow.compute as pc
import pytest

from jpki_fast import open_store, synth
from jpki_fast.store import read_current

DAYS = 4
START = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)  # midday: all of a day's CRLs share one date


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    """Four consecutive synthetic days: same CA keys and partitions (same seed), a growing
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


def assert_store_matches_a_day(store_dir, days):
    """The store answers exactly as one of the days; returns which."""
    store = open_store(store_dir)
    numbers = set(store.partitions().column("crl_number").to_pylist())
    assert len(numbers) == 1, f"a mix of days published: {numbers}"
    day = [i for i, (path, _) in enumerate(days) if str(synth.read_partitions(path).column("crl_number")[0]) in numbers]
    assert len(day) == 1
    path, now = days[day[0]]
    truth = synth.read_truth(path)
    for issuer in pc.unique(truth.column("issuer")).to_pylist():
        sub = truth.filter(pc.equal(truth.column("issuer"), issuer))
        out = store.check(sub.column("serial"), issuer, now=now)
        assert out.column("status").to_pylist() == ["revoked"] * sub.num_rows
        assert out.column("revocation_date").to_pylist() == sub.column("revocation_date").to_pylist()
        assert out.column("reason").cast("string").to_pylist() == sub.column("reason").cast("string").to_pylist()
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


def test_sigkill_at_random_points_never_damages_the_store(days, tmp_path):
    store_dir = tmp_path / "store"
    path, now = days[0]
    t0 = time.monotonic()
    subprocess.run(ingest_cmd(path, store_dir, now), check=True, capture_output=True, timeout=120)
    duration = time.monotonic() - t0
    assert assert_store_matches_a_day(store_dir, days) == 0

    rng = random.Random(2026)
    target, kills, completed = 1, 0, 0
    deadline = time.monotonic() + 90  # bounded, whatever the machine's speed
    while target < DAYS and time.monotonic() < deadline:
        path, now = days[target]
        proc = subprocess.Popen(ingest_cmd(path, store_dir, now), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, duration * 1.2))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        day = assert_store_matches_a_day(store_dir, days)
        assert day in (target - 1, target)
        if day == target:
            completed += 1
            target += 1
        assert read_current(store_dir) == open_store(store_dir).generation
    assert kills >= 3, "the runs were too short to be interrupted"
    # Whatever was interrupted, a final uninterrupted run completes the sequence.
    for d in range(target, DAYS):
        path, now = days[d]
        subprocess.run(ingest_cmd(path, store_dir, now), check=True, capture_output=True, timeout=120)
    assert assert_store_matches_a_day(store_dir, days) == DAYS - 1
    assert not list((store_dir / "staging").iterdir())
