"""The rows of the partitions table as HTML, written directly.

The table has a row per partition CRL (~3,800 on a full JPKI day). Rendering them through Jinja
macros took seconds; one f-string per row, with every value escaped, takes milliseconds. The
cells are the template's columns in order: issuer, prefecture, municipality, thisUpdate,
nextUpdate, CRL number, entries, state; the ``data-*`` attributes carry the sort keys and filter
values the page's script uses.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from .i18n import Translator


def partition_rows_html(rows: list[dict], t: Translator) -> Markup:
    states = {s: f'<span class="badge {s}">{escape(t.state(s))}</span>' for s in ("fresh", "carried", "stale")}
    arl, full = escape(t.gettext("authority revocation list")), escape(t.gettext("full CRL"))
    seen: dict[str, str] = {}  # issuers, prefectures and CRL numbers repeat: escape each once

    def esc(value: str) -> str:
        found = seen.get(value)
        if found is None:
            found = seen[value] = escape(value)
        return found

    shown_prefecture: dict[str | None, str] = {}
    out = []
    for r in rows:
        pref = r["prefecture"]
        shown = shown_prefecture.get(pref)
        if shown is None:
            shown = shown_prefecture[pref] = escape(t.prefecture(pref)) if pref else "–"
        place = escape(r["municipality"]) if r["municipality"] else (arl if r["kind"] == "arl" else (escape(r["name"]) or full))
        nu = r["next_update"]
        issuer, crl = esc(r["issuer"]), esc(r["crl_number"])
        out.append(
            f'<tr data-state="{r["state"]}" data-pref="{esc(pref or "")}" data-pc="{r["prefecture_code"] or 99}" '
            f'data-issuer="{issuer}" data-tu="{r["this_update"] or 0}" data-nu="{nu if nu is not None else -1}" '
            f'data-crl="{crl}" data-e="{r["entries"]}">'
            f'<td class="mono">{issuer}</td><td>{shown}</td><th scope="row">{place}</th>'
            f'<td class="mono">{r["this_update_text"] or "–"}</td><td class="mono">{r["next_update_text"] or "–"}</td>'
            f'<td class="num mono">{crl}</td><td class="num">{r["entries"]:,}</td><td>{states[r["state"]]}</td></tr>\n'
        )
    return Markup("".join(out))
