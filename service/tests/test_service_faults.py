"""Fault injection on a running service (issue 12): a generation deleted under the server, a
damaged generation published as the newest, SIGKILL of a worker, of the whole service (and a
restart) and of ``jpki-fast ingest`` while the service answers. Every case asserts on the
answers served: each one equal to the library's answer from the generation the response names,
that generation one of the complete publishes; the service answers from the last good snapshot
or refuses to start, never answers wrong."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from jpki_fast import ingest, synth
from jpki_fast.store import Store, read_current
from .test_service_server import Server, _next_day, worker_generations

QUERY_NOW = "2026-11-27T12:00:00Z"


class World:
    """A served store whose generations answer a fixed question differently, and the answers."""

    def __init__(self, dataset, root: Path, days: list[tuple[Path, str]]) -> None:
        self.dataset, self.root, self.days = dataset, root, days
        self.store = root / "store"
        shutil.copytree(dataset.store, self.store)
        serials = sorted(set(synth.read_truth(dataset.data).column("serial").to_pylist()[:200]
                             + [s for d, _ in days for s in synth.read_truth(d).column("serial").to_pylist()[:200]]))
        self.issuers = ["sign_ca_2023" if s.startswith("03") else "auth_ca_2023" for s in serials]
        self.serials = serials
        self.body = {"items": [{"issuer": i, "serial": s} for i, s in zip(self.issuers, serials)], "now": QUERY_NOW}
        self._expected: dict[int, list[str]] = {}

    def publish(self, day: int) -> int:
        data, when = self.days[day]
        return ingest(data / "trust", data / "crls", self.store, now=when).generation

    def expected(self, generation: int) -> list[str]:
        """The library's answer from ``generation`` (computed while its files exist)."""
        if generation not in self._expected:
            self._expected[generation] = Store(self.store, generation).check(self.serials, self.issuers, now=QUERY_NOW) \
                .column("status").to_pylist()
        return self._expected[generation]

    def ask(self, url: str, close: bool = True) -> tuple[int, list[str]]:
        """(generation named, statuses) of one POST /v1/status; asserts HTTP 200."""
        r = httpx.post(url + "/v1/status", json=self.body, headers={**self.dataset.header("query-a"),
                       **({"Connection": "close"} if close else {})}, timeout=60)
        assert r.status_code == 200, r.text
        return int(r.headers["X-Snapshot-Generation"]), [x["status"] for x in r.json()["results"]]

    def assert_answers(self, url: str, generation: int, times: int = 12) -> None:
        """``times`` requests (new connections: the kernel spreads them over the workers), each
        from ``generation`` and equal to its answer."""
        for _ in range(times):
            named, statuses = self.ask(url)
            assert named == generation and statuses == self.expected(generation), named


@pytest.fixture(scope="module")
def days(dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("fault-days")
    return [_next_day(dataset, root, d) for d in (1, 2, 3)]


@pytest.fixture
def world(dataset, days, tmp_path):
    return World(dataset, tmp_path, days)


def wait_for(url: str, generation: int, workers: int = 2) -> None:
    deadline = time.monotonic() + 60
    while worker_generations(url) != [generation] * workers:
        assert time.monotonic() < deadline, f"generation {generation} not picked up: {worker_generations(url)}"
        time.sleep(0.05)


def readiness(url: str) -> dict:
    return httpx.get(url + "/readyz", timeout=10).json()


def failed_reloads(url: str) -> float:
    m = re.search(r'^jpki_fast_reloads_total\{outcome="failed"\} (\S+)$', httpx.get(url + "/metrics", timeout=10).text, re.M)
    return float(m.group(1)) if m else 0.0


def serve(world: World, *extra: str, workers: int = 2) -> Server:
    return Server(world.store, world.dataset.key_file, world.root / "audit.jsonl", workers=workers, extra=extra)


def write_current(store: Path, generation: int) -> None:
    """Points CURRENT at ``generation`` as publish does (a temporary file renamed over it)."""
    tmp = store / ".CURRENT.test"
    tmp.write_text(f"{generation}\n")
    os.replace(tmp, store / "CURRENT")


# ---- a generation deleted under the server ------------------------------------------------------


def test_the_served_generation_deleted_keeps_answering_from_its_maps_and_a_rollback_is_served(world):
    first = read_current(world.store)
    server = serve(world)
    try:
        second = world.publish(0)
        wait_for(server.url, second)
        world.expected(first), world.expected(second)
        assert world.expected(first) != world.expected(second)
        ready_before = readiness(server.url)
        shutil.rmtree(world.store / "generations" / f"{second:08d}")
        # The open memory maps keep the deleted files' contents: the same, right answers.
        world.assert_answers(server.url, second)
        assert readiness(server.url) == ready_before
        # A server starting now cannot open the store, and says why (it does not serve anything).
        r = subprocess.run([sys.executable, "-m", "jpki_fast.cli", "serve", "--store", str(world.store),
                            "--api-keys", str(world.dataset.key_file), "--port", "1"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and f"generation {second} not found" in r.stderr, r.stderr
        # The operator's way out: roll back; the running workers follow.
        r = subprocess.run([sys.executable, "-m", "jpki_fast.cli", "rollback", "--store", str(world.store), "--to", str(first)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        wait_for(server.url, first)
        world.assert_answers(server.url, first)
    finally:
        server.stop()


def test_a_published_generation_missing_when_the_server_looks_is_not_served(world):
    first = read_current(world.store)
    server = serve(world)
    try:
        world.assert_answers(server.url, first, times=2)
        write_current(world.store, first + 7)  # CURRENT names a generation whose files are gone
        deadline = time.monotonic() + 60
        while (ready := readiness(server.url)).get("reload_error") is None:  # one answer, one worker's view
            assert time.monotonic() < deadline, ready
            time.sleep(0.05)
        assert f"generation {first + 7} not loaded, still serving {first}" in ready["reload_error"], ready
        world.assert_answers(server.url, first)
        write_current(world.store, first)
        second = world.publish(0)  # the next publish is served as usual
        wait_for(server.url, second)
        world.assert_answers(server.url, second)
        assert readiness(server.url)["reload_error"] is None
    finally:
        server.stop()


# ---- a damaged generation published as the newest -----------------------------------------------


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    for at in range(64, len(data), max(1, len(data) // 16)):  # damage spread over the file
        data[at] ^= 0x5A
    p.write_bytes(bytes(data))


DAMAGE = {
    "entries.arrow bits flipped": ("entries.arrow", _flip),
    "entries.arrow truncated": ("entries.arrow", lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])),
    "bitmap.arrow missing": ("bitmap.arrow", Path.unlink),
    "manifest.json garbage": ("manifest.json", lambda p: p.write_text("{not json")),
}


def test_damaged_new_generations_are_refused_and_the_last_good_one_answers(world):
    """Each next generation is built genuinely (in a copy of the store), damaged, then published
    into the served store as a copied generation would arrive: the workers refuse it, keep
    answering from the current one, say so in /readyz and the metrics, and do not verify it
    again and again; after a rollback, the next good publish is served."""
    first = read_current(world.store)
    server = serve(world)
    try:
        world.assert_answers(server.url, first, times=2)
        refusals = failed_reloads(server.url)
        for case, (name, damage) in DAMAGE.items():
            elsewhere = world.root / "elsewhere"
            shutil.rmtree(elsewhere, ignore_errors=True)
            shutil.copytree(world.store, elsewhere)
            data, when = world.days[0]
            damaged = ingest(data / "trust", data / "crls", elsewhere, now=when).generation
            damage(elsewhere / "generations" / f"{damaged:08d}" / name)
            shutil.rmtree(world.store / "generations" / f"{damaged:08d}", ignore_errors=True)
            shutil.copytree(elsewhere / "generations" / f"{damaged:08d}", world.store / "generations" / f"{damaged:08d}")
            write_current(world.store, damaged)
            deadline = time.monotonic() + 60
            while failed_reloads(server.url) < refusals + 2:  # each worker refused it
                assert time.monotonic() < deadline, (case, readiness(server.url))
                time.sleep(0.05)
            ready = readiness(server.url)
            assert f"generation {damaged} not loaded, still serving {first}" in ready["reload_error"], (case, ready)
            assert name not in ready["reload_error"] and str(world.store) not in ready["reload_error"], (case, ready)  # no paths
            logged = (world.root / "audit.server.log").read_text()  # the whole reason is in the service's log
            assert f"generation {damaged} not loaded" in logged and (name in logged or "manifest" in logged), (case, logged[-2000:])
            world.assert_answers(server.url, first, times=6)
            time.sleep(1.0)  # five reload intervals: a refused generation is not verified again each time
            refusals = failed_reloads(server.url)
            assert refusals == refusals // 2 * 2 and failed_reloads(server.url) == refusals, case
            r = subprocess.run([sys.executable, "-m", "jpki_fast.cli", "rollback", "--store", str(world.store), "--to", str(first)],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, (case, r.stderr)
            world.assert_answers(server.url, first, times=2)
        good = world.publish(1)
        wait_for(server.url, good)
        world.assert_answers(server.url, good)
        assert readiness(server.url)["reload_error"] is None
    finally:
        server.stop()


# ---- SIGKILL -------------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return [p for p in out if b"resource_tracker" not in _cmdline(p)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class Hammer:
    """Threads asking the question over and over; every answer is checked against the
    generation it names. Transport errors are counted apart (a killed worker drops its
    connections); a wrong answer or an HTTP error status is a failure."""

    def __init__(self, world: World, url: str, threads: int = 3) -> None:
        self.world, self.url = world, url
        self.answers: list[int] = []
        self.wrong: list[str] = []
        self.dropped = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 300
        with httpx.Client(base_url=self.url, headers=self.world.dataset.header("query-a"), timeout=60) as c:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    r = c.post("/v1/status", json=self.world.body)
                except httpx.HTTPError:
                    self.dropped += 1
                    time.sleep(0.02)
                    continue
                if r.status_code != 200:
                    self.wrong.append(f"HTTP {r.status_code}: {r.text[:200]}")
                    continue
                generation = int(r.headers["X-Snapshot-Generation"])
                if [x["status"] for x in r.json()["results"]] != self.world.expected(generation):
                    self.wrong.append(f"a wrong answer from generation {generation}")
                self.answers.append(generation)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)


@pytest.mark.parametrize("kind", ["granian", "uvicorn"])
def test_a_killed_worker_is_replaced_and_answers_stay_right(world, kind):
    first = read_current(world.store)
    world.expected(first)
    server = serve(world, "--server", kind)
    try:
        hammer = Hammer(world, server.url)
        rng = random.Random(3)
        for _ in range(2):
            before = sorted(_descendants(server.process.pid))
            victim = rng.choice(before)
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while True:  # a new worker takes its place and the pair serves again
                now = _descendants(server.process.pid)
                if victim not in now and len(now) == len(before) and len(worker_generations(server.url)) == 2:
                    break
                assert server.process.poll() is None, f"the server exited when a worker was killed ({kind})"
                assert time.monotonic() < deadline, (before, now)
                time.sleep(0.1)
            world.assert_answers(server.url, first, times=6)
        count = len(hammer.answers)
        deadline = time.monotonic() + 30
        while len(hammer.answers) < count + 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        hammer.stop()
        assert not hammer.wrong, hammer.wrong[:5]
        assert len(hammer.answers) >= count + 20
    finally:
        server.stop()


def test_sigkill_of_the_whole_service_and_a_restart_serve_the_last_publish_and_keep_the_audit_chain(world):
    """The service (its main process and every worker at once, as a power cut or `kill -9` of
    the unit would) is killed at random moments under load, including while a generation is
    being published and picked up; each restart answers from the last complete publish, and
    the audit log it appended to still verifies."""
    rng = random.Random(7)
    generations = [read_current(world.store)]
    for round_ in range(3):
        server = serve(world)
        hammer = Hammer(world, server.url)
        publisher = None
        if round_ < len(world.days):
            publisher = threading.Thread(target=lambda d=round_: generations.append(world.publish(d)))
            publisher.start()
        time.sleep(rng.uniform(0.2, 2.0))
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(30)
        server.log.close()
        hammer.stop()
        if publisher is not None:
            publisher.join(timeout=300)
        assert not hammer.wrong, hammer.wrong[:5]
        current = read_current(world.store)
        assert current == generations[-1]
        restarted = serve(world)
        try:
            world.assert_answers(restarted.url, current, times=6)
        finally:
            restarted.stop()
        r = subprocess.run([sys.executable, "-m", "jpki_fast.cli", "audit", "verify", str(world.root / "audit.jsonl")],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr


def test_sigkill_of_ingest_at_random_points_never_shows_a_partial_publish(world):
    """``jpki-fast ingest`` killed at random moments while the service answers under load:
    every answer is one of a complete generation (the one it names), the workers stay on the
    last complete publish, and an uninterrupted run is then served."""
    server = serve(world)
    hammer = Hammer(world, server.url)
    try:
        data, when = world.days[0]
        cmd = [sys.executable, "-m", "jpki_fast.cli", "ingest", "--trust", str(data / "trust"), "--crls", str(data / "crls"),
               "--store", str(world.store), "--now", when]
        rng = random.Random(11)
        rehearsal = world.root / "rehearsal"  # the same run on a copy: how long one takes here, now
        shutil.copytree(world.store, rehearsal)
        started = time.monotonic()
        subprocess.run([*cmd[:-4], "--store", str(rehearsal), "--now", when], check=True, capture_output=True, timeout=300)
        expected = time.monotonic() - started
        kills = 0
        for _ in range(8):
            before = read_current(world.store)
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                proc.wait(rng.uniform(0.1, 1.0) * expected)
            except subprocess.TimeoutExpired:
                proc.kill()
                kills += 1
            proc.wait(60)
            current = read_current(world.store)
            assert current in (before, before + 1)
            wait_for(server.url, current)
            world.assert_answers(server.url, current, times=4)
            if current != before or kills >= 3:
                break
            expected *= 1.05  # as tests/test_crash.py's Interrupter: a busier machine still gets every phase
        assert kills >= 1
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        final = read_current(world.store)
        wait_for(server.url, final)
        world.assert_answers(server.url, final)
    finally:
        hammer.stop()
        server.stop()
    assert not hammer.wrong, hammer.wrong[:5]
    assert hammer.answers and set(hammer.answers) <= set(range(1, final + 1))
