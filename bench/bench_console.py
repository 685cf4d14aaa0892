"""The operator console at full JPKI scale: 1,900 partitions per CA (3,800 partition CRLs).

Builds a synthetic store (two days, so the Changes page has a diff), then measures

- on the server, through the ASGI client: each page's answer time, wall and CPU of this process
  (first call after the store is opened, then the median of five), and its size in HTML and gzip;
- in headless Chromium (when chromium and chromedriver are installed), against ``jpki-fast
  serve`` on loopback: the partitions page's response, parse and load times, and what its
  script takes to filter to one prefecture, clear the filter and sort 3,800 rows.

    .venv/bin/python bench/bench_console.py [--partitions 1900] [--entries 1000000] [--data bench/data/console]

Prints a Markdown table to paste into bench/RESULTS.md, with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "service"))


def build(data: Path, partitions: int, entries: int) -> tuple[Path, Path, str]:
    from jpki_fast import ingest, synth
    from jpki_fast_service.auth import add_key

    store = data / "store"
    marker = data / f"built-{partitions}-{entries}"
    if not marker.exists():
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        now = time.time()
        for day in (1, 0):
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - day * 86400 - 3600))
            synth.generate(data / f"day{day}", entries=entries, partitions=partitions, certs=0, now=when, seed=0,
                           ca_from=data / "day1" if day == 0 else None)
            ingest(data / "day1" / "trust", data / f"day{day}" / "crls", store, now=when)
        (data / "key.txt").write_text(add_key(data / "keys.json", "bench", ["query", "admin"]))
        marker.touch()
    return store, data / "keys.json", (data / "key.txt").read_text()


def server_side(store: Path, keys: Path, key: str, audit: Path) -> list[tuple]:
    from fastapi.testclient import TestClient

    from jpki_fast_service import ServiceConfig, create_app

    rows = []
    app = create_app(ServiceConfig(store=store, api_keys=keys, audit_log=audit))
    with TestClient(app) as c:
        form = c.get("/ui/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
        c.post("/ui/login", data={"api_key": key, "login_token": token})
        for path in ("/ui", "/ui/partitions", "/ui/partitions?prefecture=Tokyo", "/ui/changes", "/ui/check", "/ui/audit"):
            times = []
            for _ in range(6):
                w, p = time.perf_counter(), time.process_time()
                r = c.get(path, headers={"Accept-Encoding": "gzip"})
                times.append((time.perf_counter() - w, time.process_time() - p))
                assert r.status_code == 200, (path, r.status_code)
            raw = len(r.content)
            wire = int(r.headers.get("content-length") or raw)
            first, rest = times[0], times[1:]
            rows.append((path, first[0], statistics.median(t[0] for t in rest), statistics.median(t[1] for t in rest), raw, wire))
    return rows


def browser_side(store: Path, keys: Path, key: str, root: Path) -> dict | None:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return None
    from tests.console_helpers import Served, World
    from tests.test_console_browser import Browser, _sign_in

    world = World(root, root, store, keys, root / "audit-browser.jsonl", {"bench": key}, 2)
    served = Served(world)
    browser = Browser(served.url)
    try:
        _sign_in(browser, key)
        browser.get("/ui/partitions")
        d = browser.driver
        nav = d.execute_script(
            "var t = performance.getEntriesByType('navigation')[0];"
            "return [t.responseEnd - t.requestStart, t.domContentLoadedEventEnd - t.responseEnd, t.loadEventEnd - t.responseEnd]"
        )
        run = (
            "var t0 = performance.now(); {action}; "
            "return new Promise(r => requestAnimationFrame(() => setTimeout(() => r(performance.now() - t0))));"
        )
        select = "var s = document.getElementById('prefecture'); s.value = '{v}'; s.dispatchEvent(new Event('change'))"
        out = {"rows": d.execute_script("return document.querySelectorAll('#partitions tbody tr[data-state]').length"),
               "response_ms": nav[0], "parsed_ms": nav[1], "loaded_ms": nav[2]}
        out["filter_ms"] = d.execute_script(run.format(action=select.format(v="Tokyo")))
        out["clear_ms"] = d.execute_script(run.format(action=select.format(v="")))
        out["sort_ms"] = d.execute_script(run.format(action="document.querySelector(\"a[data-sort='next_update']\").click()"))
        return out
    finally:
        browser.quit()
        served.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=1900, help="partitions per CA (default 1,900)")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=HERE / "data" / "console")
    args = parser.parse_args()
    store, keys, key = build(args.data, args.partitions, args.entries)
    load = os.getloadavg()[0]
    print(f"store: {2 * args.partitions:,} partitions, {args.entries:,} entries; load average {load:.1f} on {os.cpu_count()} cores")
    print("\n| page | first call | median of 5 (wall) | median (CPU) | HTML | gzip |\n|---|---|---|---|---|---|")
    for path, first, wall, cpu, raw, wire in server_side(store, keys, key, args.data / "audit.jsonl"):
        sizes = f"{raw / 1024:,.0f} KiB | {wire / 1024:,.0f} KiB"
        print(f"| `{path}` | {first * 1000:.0f} ms | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | {sizes} |")
    b = browser_side(store, keys, key, args.data)
    if b is None:
        print("\n(no chromium/chromedriver: browser timings skipped; `make browser` installs them)")
    else:
        print(f"\nChromium, partitions page ({b['rows']:,} rows): response {b['response_ms']:.0f} ms, parsed {b['parsed_ms']:.0f} ms "
              f"and loaded {b['loaded_ms']:.0f} ms after it; script: filter to Tokyo {b['filter_ms']:.0f} ms, "
              f"clear {b['clear_ms']:.0f} ms, sort by nextUpdate {b['sort_ms']:.0f} ms (each until the next frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
