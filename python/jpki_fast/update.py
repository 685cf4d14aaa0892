"""The nightly job: fetch the day's CRLs, ingest and publish them, and report what changed.

``jpki-fast update --config FILE`` (or :func:`update`) runs, under one configuration file
(see :mod:`jpki_fast.config`):

1. :func:`jpki_fast.fetch.fetch_all`: conditional GETs of every configured CRL into the fetch
   directory; a failed or truncated download leaves the previous file in place.
2. :func:`jpki_fast.ingest`: verify and publish per partition (refused or missing partitions
   keep their previous CRL, and turn stale once it expires: fail closed).
3. :func:`jpki_fast.history.diff`: what the new generation added, removed or changed, counted
   by reason (optionally written out in full).

The job succeeds (exit 0) only when every download succeeded or was not modified and no CRL
was refused; otherwise it still publishes what it could and exits 1, naming each failure.

>>> result = update(update_toml, now=NOW)
>>> result.ok, result.ingest.generation, result.fetch.counts()
(True, 1, {'fetched': 2, 'not_modified': 0, 'failed': 0})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .config import UpdateConfig, load_config
from .errors import IngestRefused, PublishedThenFailed, StoreError
from .fetch import FetchReport, fetch_all
from .history import diff, summarize
from .ingest import IngestSummary, ingest
from .tableio import open_output, write_results
from .timeutil import NowLike


@dataclass
class UpdateResult:
    config: str
    fetch: FetchReport
    ingest: IngestSummary
    diff: dict[str, Any] | None = None  # summarize() of the new generation's diff, if one was published
    diff_path: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "ok": self.ok,
            "problems": self.problems,
            "fetch": self.fetch.to_dict(),
            "ingest": self.ingest.to_dict(),
            "diff": self.diff,
            "diff_path": self.diff_path,
        }

    def __str__(self) -> str:
        lines = [f"update ({self.config}): {'ok' if self.ok else f'{len(self.problems)} problem(s)'}", "fetch:"]
        lines += ["  " + line for line in str(self.fetch).splitlines()]
        lines.append("ingest:")
        lines += ["  " + line for line in str(self.ingest).splitlines()]
        if self.diff is not None:
            by = ", ".join(f"{k} {v:,}" for k, v in sorted(self.diff["by_change"].items())) or "no change"
            lines.append(f"diff: {by}")
            for change, reasons in sorted(self.diff["by_change_and_reason"].items()):
                lines.append(f"  {change}: " + ", ".join(f"{r} {n:,}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])))
            if self.diff_path:
                lines.append(f"  written to {self.diff_path}")
        return "\n".join(lines)


def update(
    config: str | Path | UpdateConfig,
    now: NowLike = None,
    *,
    diff_out: str | Path | None = None,
    progress: Callable[[int, int, Any], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> UpdateResult:
    """Runs the nightly job described by ``config`` (a path or a loaded :class:`UpdateConfig`).

    ``diff_out`` writes the full diff of the new generation (.parquet, .csv or .jsonl).
    Raises :class:`~jpki_fast.config.ConfigError` / :class:`~jpki_fast.fetch.FetchError` (or a
    bad ``diff_out``) only when the job cannot start, and
    :class:`~jpki_fast.errors.PublishedThenFailed` (carrying the result) when a step after the
    publish fails; every other failure is reported in the result.
    """
    cfg = config if isinstance(config, UpdateConfig) else load_config(config)
    if diff_out is not None:
        open_output(diff_out)  # an unusable --diff-out stops the job before it starts
    report = fetch_all(cfg, progress=progress)
    problems = [f"download failed: {r.path} from {r.url}: {r.error}" for r in report.failed]
    try:
        summary = ingest(cfg.trust, cfg.fetch.directory, cfg.store, now, policy=cfg.policy, keep=cfg.keep, log=log, limits=cfg.limits)
    except IngestRefused as exc:
        summary = exc.summary
    problems += [f"refused: {f.path}: {f.message}" for f in summary.refused]
    result = UpdateResult(config=str(cfg.path), fetch=report, ingest=summary, problems=problems)
    if summary.published:
        step = "the diff against the previous generation"
        try:
            try:
                table = diff(cfg.store)
            except StoreError:
                if not _first(cfg.store):
                    raise
                table = None  # the first generation: nothing to compare with
            if table is not None:
                result.diff = summarize(table)
                if diff_out is not None:
                    step = f"writing the diff to {diff_out}"
                    write_results(table, str(diff_out))
                    result.diff_path = str(diff_out)
        except Exception as exc:
            result.problems.append(f"after publishing generation {summary.generation}: {step} failed: {exc}")
            raise PublishedThenFailed(cfg.store, summary.generation, step, exc, result) from exc
    return result


def _first(store: Path) -> bool:
    """True when the current generation has no parent (the first publish: nothing to diff)."""
    from .store import open_store

    return open_store(store).manifest.get("parent") is None

