"""diff_counts: the counts of a diff, straight from the merge, equal to summarize(diff())."""

from __future__ import annotations

import random

from cryptography import x509

from jpki_fast import ingest
from jpki_fast.history import diff, diff_counts, summarize
from conftest import NOW, days_ago, make_crl

R = x509.ReasonFlags


def _without_generations(counts: dict) -> dict:
    return {k: v for k, v in counts.items() if k not in ("from_generation", "to_generation")}


def test_counts_equal_the_summary_of_the_full_diff(ws, auth_ca, sign_ca):
    ws.add_ca(auth_ca)
    ws.add_ca(sign_ca)
    rng = random.Random(7)
    reasons = [R.superseded, R.key_compromise, R.certificate_hold, R.affiliation_changed, None]

    def entries(serials):
        return [(s, days_ago(s % 400 + 1), reasons[s % len(reasons)], None) for s in sorted(serials)]

    a1, s1 = set(rng.sample(range(1, 40_000), 3000)), set(rng.sample(range(1, 40_000), 2000))
    ws.write_crl("auth/a.crl", make_crl(auth_ca, entries(a1), partition="A", number=1))
    ws.write_crl("sign/c.crl", make_crl(sign_ca, entries(s1), partition="C", number=1))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    a2 = (a1 - set(rng.sample(sorted(a1), 400))) | set(rng.sample(range(50_000, 60_000), 600))
    moved = {s: (days_ago(2), R.cessation_of_operation, None) for s in rng.sample(sorted(a2 & a1), 50)}
    rows = [(e[0], *moved[e[0]]) if e[0] in moved else e for e in entries(a2)]
    ws.write_crl("auth/a.crl", make_crl(auth_ca, rows, partition="A", number=2))
    ws.write_crl("sign/c.crl", make_crl(sign_ca, entries(s1 | {99_999}), partition="C", number=2))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)

    counts = diff_counts(ws.store)
    assert _without_generations(counts) == summarize(diff(ws.store))
    assert counts["by_change"] == {"added": 601, "removed": 400, "changed": 50}
    assert counts["by_change_and_reason"]["changed"] == {"cessationOfOperation": 50}
    assert (counts["from_generation"], counts["to_generation"]) == (1, 2)
    backwards = diff_counts(ws.store, 2, 1)
    assert backwards["by_change"] == {"added": 400, "removed": 601, "changed": 50}
    assert _without_generations(backwards) == summarize(diff(ws.store, 2, 1))


def test_no_change_counts_nothing(ws, auth_ca):
    ws.add_ca(auth_ca)
    ws.write_crl("a.crl", make_crl(auth_ca, [(5, days_ago(3), R.superseded, None)], partition="A", number=1))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    ws.write_crl("a.crl", make_crl(auth_ca, [(5, days_ago(3), R.superseded, None)], partition="A", number=2))
    ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert diff_counts(ws.store) == {"total": 0, "by_change": {}, "by_change_and_reason": {}, "from_generation": 1, "to_generation": 2}
