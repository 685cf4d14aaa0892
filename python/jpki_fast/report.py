"""The sweep report: one self-contained HTML file a compliance officer can open anywhere.

Everything is inline (CSS, charts as SVG drawn here); the page loads nothing from the network.
It shows what was checked (the input and its row count, the snapshot and the instant used), the
counts by status and by revocation reason with what J-LIS says each reason tells and the next
step, the revocations over time, the stale partitions and the rows they affected, and the rows
that could not be read.

>>> import pyarrow as pa, pyarrow.parquet as pq, jpki_fast
>>> pq.write_table(pa.table({"serial": ["054CFCD8", "1234"]}), tmp / "report-in.parquet")
>>> summary = jpki_fast.sweep(tmp / "report-in.parquet", store, tmp / "report-out.parquet", issuer="auth_ca_2023", now=NOW)
>>> page = write_report(summary, tmp / "sweep-report.html").read_text(encoding="utf-8")
>>> page.count("<svg") >= 3, "collect the renewed certificate" in page
(True, True)
"""

from __future__ import annotations

import datetime as _dt
import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from . import meanings

if TYPE_CHECKING:  # pragma: no cover
    from .sweep_run import SweepSummary

STATUS_COLORS = {
    "good": "#2e7d32",
    "revoked": "#c62828",
    "stale": "#ef6c00",
    "unknown": "#6d4c41",
    "expired": "#8e24aa",
    "not_yet_valid": "#5e35b1",
    "untrusted": "#37474f",
    "bad_signature": "#ad1457",
    "wrong_usage": "#00838f",
    "malformed": "#757575",
}
REASON_COLORS = {
    "superseded": "#1565c0",
    "affiliationChanged": "#c62828",
    "cessationOfOperation": "#ef6c00",
    "certificateHold": "#f9a825",
    "keyCompromise": "#6a1b9a",
    "unspecified": "#546e7a",
    "none": "#90a4ae",
    "privilegeWithdrawn": "#00838f",
    "cACompromise": "#4e342e",
    "aACompromise": "#4e342e",
    "removeFromCRL": "#9e9e9e",
}
STATUS_JA = {
    "good": "有効",
    "revoked": "失効",
    "stale": "失効情報が古い",
    "unknown": "発行者不明",
    "expired": "有効期間満了",
    "not_yet_valid": "有効期間前",
    "untrusted": "信頼できない発行者",
    "bad_signature": "署名不正",
    "wrong_usage": "用途違い",
    "malformed": "読取不可",
}
KIND_JA = {"signing": "署名用", "authentication": "利用者証明用", None: ""}
_MAX_TABLE_ROWS = 60

_CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9e2ec; --bg:#f5f7fa; }
* { box-sizing: border-box; }
body { margin:0;
       font-family: system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Noto Sans CJK JP", "Noto Sans JP",
       "Yu Gothic", Meiryo, sans-serif;
       color:var(--ink); background:var(--bg); font-size:14px; line-height:1.5; }
header { background:#102a43; color:#fff; padding:24px 40px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header .sub { color:#bcccdc; }
main { max-width:1180px; margin:0 auto; padding:24px 40px 48px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:20px 24px; margin:0 0 20px; }
h2 { font-size:17px; margin:0 0 12px; }
h2 small { color:var(--muted); font-weight:400; margin-left:8px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(150px, 1fr)); gap:12px; }
.card { border:1px solid var(--line); border-left:6px solid var(--c); border-radius:6px; padding:10px 14px; background:#fff; }
.card .label { color:var(--muted); font-size:12px; }
.card .value { font-size:22px; font-weight:600; font-variant-numeric: tabular-nums; }
.card .pct { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:12px; background:#fafbfc; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; white-space:nowrap; }
td:first-child { white-space:nowrap; }
h3 { font-size:14px; margin:16px 0 8px; }
dl.facts { display:grid; grid-template-columns: 200px 1fr; gap:4px 16px; margin:0; }
dl.facts dt { color:var(--muted); }
dl.facts dd { margin:0; word-break:break-all; }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:6px; vertical-align:baseline; }
.note { color:var(--muted); font-size:12px; margin:8px 0 0; }
.ok { color:#2e7d32; font-weight:600; }
.warn { color:#c62828; font-weight:600; }
svg text { font-family: inherit; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:0 0 32px; }
@media print { body { background:#fff; } section { break-inside: avoid; } header { background:#fff; color:#000; } }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: int | float) -> str:
    return f"{value:,}"


def rate(rows_per_second: float) -> str:
    """``2.51 M rows/s``, or ``42 rows/s`` for small runs."""
    return f"{rows_per_second / 1e6:,.2f} M rows/s" if rows_per_second >= 1e5 else f"{rows_per_second:,.0f} rows/s"


def _pct(part: int, whole: int) -> str:
    if not whole:
        return "0%"
    share = 100 * part / whole
    return f"{share:.2f}%" if share < 10 else f"{share:.1f}%"


# --------------------------------------------------------------------------------------------
# Charts (inline SVG)


def hbar_chart(items: Sequence[tuple[str, int, str]], width: int = 700, bar: int = 22, label_width: int = 250) -> str:
    """Horizontal bars, one per (label, value, colour), scaled to the largest value."""
    if not items:
        return ""
    top = max(v for _, v, _ in items) or 1
    gap = 8
    height = len(items) * (bar + gap) + gap
    room = width - label_width - 110
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for i, (label, value, color) in enumerate(items):
        y = gap + i * (bar + gap)
        w = max(1.5, room * value / top) if value else 0
        parts.append(
            f'<text x="{label_width - 8}" y="{y + bar * 0.7:.1f}" text-anchor="end" font-size="13" fill="#1f2933">{_e(label)}</text>'
        )
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar}" rx="3" fill="{color}">'
            f"<title>{_e(label)}: {_n(value)}</title></rect>"
        )
        parts.append(f'<text x="{label_width + w + 6:.1f}" y="{y + bar * 0.7:.1f}" font-size="12" fill="#52606d">{_n(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(top: int) -> int:
    """A round gridline step for an axis reaching ``top``."""
    if top <= 5:
        return 1
    raw = top / 5
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return int(factor * magnitude)
    return int(10 * magnitude)


def monthly_chart(months: dict[str, dict[str, int]], width: int = 1080, height: int = 300) -> str:
    """Stacked columns of revoked rows per month of revocation, one colour per reason."""
    if not months:
        return ""
    keys = sorted(months)
    first, last = _month_number(keys[0]), _month_number(keys[-1])
    span = [_month_text(m) for m in range(first, last + 1)]
    reasons = sorted({r for m in months.values() for r in m}, key=lambda r: -sum(m.get(r, 0) for m in months.values()))
    totals = [sum(months.get(m, {}).values()) for m in span]
    top = max(totals) or 1
    step = _nice_step(top)
    axis_top = ((top + step - 1) // step) * step
    left, right, upper, lower = 64, 16, 12, 40
    plot_w, plot_h = width - left - right, height - upper - lower
    col = plot_w / len(span)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for tick in range(0, axis_top + 1, step):
        y = upper + plot_h - plot_h * tick / axis_top
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e7eb"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#616e7c">{_n(tick)}</text>')
    for i, month in enumerate(span):
        x = left + i * col
        y = upper + plot_h
        for reason in reasons:
            value = months.get(month, {}).get(reason, 0)
            if not value:
                continue
            h = plot_h * value / axis_top
            y -= h
            parts.append(
                f'<rect x="{x + col * 0.1:.1f}" y="{y:.1f}" width="{max(col * 0.8, 1):.1f}" height="{h:.1f}" '
                f'fill="{REASON_COLORS.get(reason, "#9e9e9e")}"><title>{_e(month)} {_e(reason)}: {_n(value)}</title></rect>'
            )
        if month.endswith("-01") or len(span) <= 14 or i == 0:
            label = month if (month.endswith("-01") or i == 0) else month[5:]
            parts.append(
                f'<text x="{x + col / 2:.1f}" y="{height - lower + 16}" text-anchor="middle" font-size="11" fill="#616e7c">'
                f"{_e(label)}</text>"
            )
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{upper + plot_h}" y2="{upper + plot_h + 4}" stroke="#9aa5b1"/>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{upper + plot_h}" y2="{upper + plot_h}" stroke="#9aa5b1"/>')
    parts.append("</svg>")
    legend = " ".join(
        f'<span style="white-space:nowrap;margin-right:14px">'
        f'<span class="swatch" style="background:{REASON_COLORS.get(r, "#9e9e9e")}"></span>{_e(r)}</span>'
        for r in reasons
    )
    return "".join(parts) + f'<div class="note">{legend}</div>'


def _month_number(text: str) -> int:
    year, month = text.split("-")
    return int(year) * 12 + int(month) - 1


def _month_text(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


# --------------------------------------------------------------------------------------------
# The page


def _table(headers: Sequence[tuple[str, bool]], rows: Sequence[Sequence[Any]], raw: bool = False) -> str:
    head = "".join(f'<th class="num">{_e(h)}</th>' if num else f"<th>{_e(h)}</th>" for h, num in headers)
    body = []
    for row in rows:
        cells = []
        for (_, num), value in zip(headers, row):
            text = (
                value
                if raw and isinstance(value, str) and value.startswith("<")
                else (_n(value) if num and isinstance(value, (int, float)) else _e(value))
            )
            cells.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render(summary: "SweepSummary") -> str:
    """The report of a sweep as one HTML document (a string)."""
    s = summary
    total = s.rows
    counts = s.counts
    cards = []
    for status in meanings.STATUSES:
        if status not in counts or (not counts[status] and status not in ("good", "revoked", "stale")):
            continue
        cards.append(
            f'<div class="card" style="--c:{STATUS_COLORS[status]}"><div class="label">{_e(status)} · {_e(STATUS_JA[status])}</div>'
            f'<div class="value">{_n(counts[status])}</div><div class="pct">{_pct(counts[status], total)} of {_n(total)} rows</div></div>'
        )
    findings = []
    if counts.get("revoked"):
        findings.append(f'<b class="warn">{_n(counts["revoked"])} revoked</b>: follow the recommended action per reason below')
    not_good = sum(v for k, v in counts.items() if k not in ("good", "revoked", "stale", "malformed"))
    if not_good:
        findings.append(f'<b class="warn">{_n(not_good)} not acceptable</b> (unknown issuer or certificate problems)')
    if counts.get("stale"):
        findings.append(f'<b>{_n(counts["stale"])} not confirmed</b> (stale revocation data): re-check after the next CRL update')
    if counts.get("malformed"):
        findings.append(f'<b>{_n(counts["malformed"])} unreadable rows</b>: correct the input (see Input problems)')
    if not findings:
        findings.append(f'<b class="ok">Every one of the {_n(total)} rows is good.</b>')
    findings_html = '<p style="margin:14px 0 0">' + " · ".join(findings) + ".</p>"
    status_chart = hbar_chart([(f"{k} ({STATUS_JA[k]})", v, STATUS_COLORS[k]) for k, v in counts.items() if v or k in ("good", "revoked")])
    status_rows = [
        (
            f'<span class="swatch" style="background:{STATUS_COLORS[k]}"></span>{_e(k)}',
            STATUS_JA[k],
            v,
            _pct(v, total),
            meanings.meaning(k)[0] if k != "revoked" else "（理由別は下表）",
            meanings.meaning(k)[1] if k != "revoked" else "(by reason below)",
            meanings.action(k) if k != "revoked" else "(by reason below)",
        )
        for k, v in counts.items()
        if v
    ]
    status_table = _table(
        [("status", False), ("", False), ("rows", True), ("share", True), ("意味", False), ("meaning", False), ("action", False)],
        status_rows,
        raw=True,
    )

    revoked = counts.get("revoked", 0)
    # One row per reason and meaning: the kinds share a row unless J-LIS gives them different meanings.
    grouped: dict[tuple, dict[str | None, int]] = {}
    for r in s.revoked_by_reason_kind:
        grouped.setdefault((r["reason"], r["meaning_ja"], r["meaning_en"], r["action"]), {})[r["kind"]] = r["rows"]
    reason_rows = []
    for (reason, ja, en, act), kinds in sorted(grouped.items(), key=lambda item: -sum(item[1].values())):
        rows = sum(kinds.values())
        split = "<br>".join(
            f'<span style="white-space:nowrap">{_e(KIND_JA[k] or "unknown")} {_n(v)}</span>'
            for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])
        )
        reason_rows.append(
            (
                f'<span class="swatch" style="background:{REASON_COLORS.get(reason, "#9e9e9e")}"></span>{_e(reason)}',
                f"<span>{split}</span>",
                rows,
                _pct(rows, revoked),
                ja,
                en,
                act,
            )
        )
    reason_section = (
        hbar_chart([(r, v, REASON_COLORS.get(r, "#9e9e9e")) for r, v in s.revoked_by_reason.items()])
        + _table(
            [
                ("reason", False),
                ("certificates", False),
                ("rows", True),
                ("of revoked", True),
                ("J-LIS: 意味", False),
                ("meaning", False),
                ("recommended action", False),
            ],
            reason_rows,
            raw=True,
        )
        if revoked
        else '<p class="ok">No row is revoked.</p>'
    )

    months_section = monthly_chart(s.revocations_by_month) if s.revocations_by_month else '<p class="note">No revoked rows.</p>'
    if s.revocations_by_month:
        keys = sorted(s.revocations_by_month)
        months_section += (
            f'<p class="note">Revoked rows by month of revocation (UTC), {_e(keys[0])} to {_e(keys[-1])}; hover a column for its count.</p>'
        )

    stale_parts = s.stale_partitions
    if stale_parts or s.stale_rows:
        shown = stale_parts[:_MAX_TABLE_ROWS]
        rows = [
            (
                p["issuer"],
                p["partition"] or "(full CRL)",
                p["kind"] if p["kind"] != "missing" else "no CRL held",
                (p["next_update"] or "-").replace("T", " "),
                p["rows"],
            )
            for p in shown
        ]
        stale_html = ""
        if s.stale_by_issuer:
            stale_html += "<h3>Stale rows by issuer</h3>" + _table(
                [("issuer", False), ("rows", True), ("why", False)],
                [(k, v["rows"], v["why"]) for k, v in s.stale_by_issuer.items()],
            )
            stale_html += (
                '<p class="note">A bare serial does not name its partition, so every partition CRL of its issuer must be '
                "fresh for it to be good: each of these rows is affected by every stale partition of its issuer.</p>"
            )
        if shown:
            stale_html += (
                "<h3>Partition CRLs not fresh at "
                + _e(s.now)
                + "</h3>"
                + _table(
                    [
                        ("issuer", False),
                        ("partition (CRL distribution point)", False),
                        ("kind", False),
                        ("nextUpdate", True),
                        ("rows affected", True),
                    ],
                    rows,
                )
            )
        if len(stale_parts) > len(shown):
            stale_html += (
                f'<p class="note">… and {_n(len(stale_parts) - len(shown))} more stale partitions (all are in the JSON summary).</p>'
            )
        stale_html += (
            '<p class="note">Stale data never yields good (fail closed): re-run the sweep after the next CRL update '
            "(<code>jpki-fast update</code>).</p>"
        )
    else:
        stale_html = f'<p class="ok">Every partition CRL of the snapshot was fresh at {_e(s.now)}.</p>'

    problems = ""
    if s.unknown_issuers:
        problems += "<h3>Unknown issuers</h3>" + _table(
            [("issuer as given", False), ("rows", True)], list(s.unknown_issuers.items())[:_MAX_TABLE_ROWS]
        )
    if s.malformed_rows:
        problems += "<h3>Rows that could not be read</h3>" + _table([("why", False), ("rows", True)], list(s.malformed_by_detail.items()))
        problems += "<p>First rows (0-based row numbers of the input):</p>" + _table(
            [("row", True), ("why", False)], [(m["row"], m["detail"]) for m in s.malformed_samples[:10]]
        )
    if s.skipped_lines:
        problems += (
            f'<p class="warn">{_n(s.skipped_lines)} CSV lines were skipped (wrong number of fields), e.g. '
            + ", ".join(f"{_e(Path(x['file']).name)} line {_n(x['line']) if x['line'] else '?'}" for x in s.skipped_line_numbers[:10])
            + ".</p>"
        )
    if not problems:
        problems = '<p class="ok">Every row was read.</p>'

    links = (
        ""
        if s.links_followed is None
        else f"<dt>serial links followed</dt><dd>{_n(s.links_followed)} rows have a newer serial (column latest_serial)</dd>"
    )
    facts = f"""<dl class="facts">
<dt>input</dt><dd>{_e(s.input)} ({_n(s.files)} file{"s" if s.files != 1 else ""})</dd>
<dt>rows checked</dt><dd>{_n(total)} (identified by {_e(s.mode)})</dd>
<dt>output</dt><dd>{_e(s.output)}</dd>
<dt>snapshot</dt><dd>{_e(s.store)}, generation {_n(s.generation)} (published {_e(s.snapshot_created_at)})</dd>
<dt>freshness judged at (now)</dt><dd>{_e(s.now)}</dd>
<dt>one snapshot, one instant</dt><dd>every row was checked against generation {_n(s.generation)} at {_e(s.now)}</dd>
<dt>duration</dt><dd>{s.seconds:,.1f} s ({rate(s.rows_per_second)})</dd>
{links}</dl>"""

    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    from . import __version__

    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>JPKI revocation sweep · 失効確認レポート · {_e(Path(s.input).name)}</title>
<style>{_CSS}</style></head>
<body>
<header><h1>JPKI revocation sweep report · 電子証明書 失効確認レポート</h1>
<div class="sub">{_e(Path(s.input).name)} · {_n(total)} rows · snapshot generation {_n(s.generation)} · judged at {_e(s.now)}</div></header>
<main>
<section id="checked"><h2>What was checked <small>確認の対象</small></h2>{facts}</section>
<section id="status"><h2>Status <small>状態別の件数</small></h2><div class="cards">{"".join(cards)}</div>{findings_html}
<div style="margin-top:16px">{status_chart}</div>{status_table}</section>
<section id="reasons"><h2>Revoked, by reason <small>失効理由別（J-LISによる意味と推奨対応）</small></h2>{reason_section}</section>
<section id="timeline"><h2>Revocations over time <small>失効日の推移</small></h2>{months_section}</section>
<section id="stale"><h2>Stale revocation data <small>失効情報の鮮度</small></h2>{stale_html}</section>
<section id="problems"><h2>Input problems <small>入力の不備</small></h2>{problems}</section>
</main>
<footer>Generated {generated} by jpki-fast {_e(__version__)}. Reason meanings as J-LIS describes them for JPKI (公的個人認証サービス);
statuses are exact answers from the snapshot named above. This file is self-contained and loads nothing from the network.</footer>
</body></html>
"""


def write_report(summary: "SweepSummary", path: str | Path) -> Path:
    """Writes :func:`render`'s page to ``path`` (through a temporary file renamed into place)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(render(summary), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
