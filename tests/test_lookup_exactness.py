"""Exactness of the lookups through the store (issue 9): CRLs signed, ingested, published and
opened, then ``Store.check``, on every serial layout the index has to serve: JPKI-like dense
serials (the bitmap), random 8-octet serials over the whole 64-bit range (the offset table; half
of them 2^63 or more, 9 octets in DER), serials only above 2^63, a dense run at the very top of
the range, clustered runs, a few serials spread 2^63 apart, and 1-20-octet and negative serials.

The oracle is independent of the engine: the serials, dates and reasons the test drew, sorted
with numpy and searched with ``numpy.searchsorted``. Each store is checked on its first call
after ``open_store`` (what the service and the command line pay), then again with the probes in
other forms and with one issuer per row.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from cryptography.hazmat.primitives import serialization

import hostile as h
from jpki_fast import _core, ingest, open_store
from conftest import NOW, NOW_ISO, days_ago, partition_name

EPOCH_NOW = int(NOW.timestamp())
REASONS = np.array([0, 1, 3, 4, 5, 6, 255], np.uint8)
REASON_NAMES = {0: "unspecified", 1: "keyCompromise", 3: "affiliationChanged", 4: "superseded", 5: "cessationOfOperation",
                6: "certificateHold", 255: None}
U64_MAX = (1 << 64) - 1


def draw(layout: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct uint64 serials (fewer if draws collide), sorted."""
    if layout == "random":
        s = rng.integers(0, U64_MAX, n, dtype=np.uint64, endpoint=True)
    elif layout == "high":  # all at or above 2^63: 9 octets in DER
        s = rng.integers(1 << 63, U64_MAX, n, dtype=np.uint64, endpoint=True)
    elif layout == "top":  # dense up to the largest value, u64::MAX included
        s = np.uint64(U64_MAX) - rng.choice(3 * n, n, replace=False).astype(np.uint64)
        s[0] = np.uint64(U64_MAX)
    elif layout == "dense":  # JPKI-like
        s = np.uint64(0x05000000) + rng.choice(3 * n, n, replace=False).astype(np.uint64)
    elif layout == "clustered":  # dense runs of 1,000 at random places of the 64-bit range
        starts = rng.integers(0, U64_MAX - 4000, n // 1000 + 1, dtype=np.uint64)
        s = (starts[:, None] + np.arange(0, 3000, 3, dtype=np.uint64)[None, :]).ravel()[:n]
    elif layout == "two_ends":  # half at the bottom of the range, half at the top
        s = np.concatenate([rng.integers(0, 1 << 40, n // 2, dtype=np.uint64),
                            np.uint64(U64_MAX) - rng.integers(0, 1 << 40, n - n // 2, dtype=np.uint64)])
    else:
        raise ValueError(layout)
    return np.unique(s)


def signed_crl(ca, serials: np.ndarray, times: np.ndarray, reasons: np.ndarray, partition: str, number: int) -> bytes:
    """A CRL of uint64 serials, signed by ``ca`` (the Rust encoder: pyca is too slow for 10^5 entries)."""
    key = ca.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return _core.encode_crl(
        key, ca.name.public_bytes(), EPOCH_NOW - 3 * 3600, EPOCH_NOW + 2 * 86400, serials, times, reason=reasons,
        crl_number=number.to_bytes(4, "big"), authority_key_id=ca.ski.digest,
        distribution_point=partition_name(partition).public_bytes(),
    )


class Truth:
    """What an issuer's CRLs list: sorted serials with their dates and reasons."""

    def __init__(self, serials: np.ndarray, rng: np.random.Generator):
        self.serials = serials
        self.times = (EPOCH_NOW - 3600 - rng.integers(0, 5 * 365 * 86400, len(serials))).astype(np.int64)
        self.reasons = REASONS[rng.integers(0, len(REASONS), len(serials))]

    def write(self, ws, ca, parts: int = 2) -> None:
        """Into ``parts`` partition CRLs, the entries dealt out at random."""
        owner = np.random.default_rng(len(self.serials)).integers(0, parts, len(self.serials))
        for p in range(parts):
            rows = np.flatnonzero(owner == p)
            der = signed_crl(ca, self.serials[rows], self.times[rows], self.reasons[rows], f"{ca.alias}-{p}", p + 1)
            ws.write_crl(f"{ca.alias}/{p}.crl", der)

    def probes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Half listed serials; a quarter their neighbours (s-1, s+1); a quarter anywhere in 64 bits."""
        k = len(self.serials)
        listed = self.serials[rng.integers(0, k, n // 2)]
        near = self.serials[rng.integers(0, k, n // 4)] + rng.choice(np.array([-1, 1], np.int64), n // 4).astype(np.uint64)
        anywhere = rng.integers(0, U64_MAX, n - n // 2 - n // 4, dtype=np.uint64, endpoint=True)
        edges = np.array([0, 1, (1 << 63) - 1, 1 << 63, (1 << 63) + 1, U64_MAX - 1, U64_MAX], np.uint64)
        return rng.permutation(np.concatenate([listed, near, anywhere, edges, self.serials[:3], self.serials[-3:]]))

    def expect(self, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per probe: listed?, and its row in the truth (valid where listed)."""
        at = np.searchsorted(self.serials, probes).clip(0, len(self.serials) - 1)
        return self.serials[at] == probes, at


def revoked_mask(out: pa.Table) -> np.ndarray:
    return pc.equal(out.column("status"), "revoked").to_numpy(zero_copy_only=False)


def assert_exact(out: pa.Table, truth: Truth, probes: np.ndarray, what: str) -> None:
    listed, at = truth.expect(probes)
    revoked = revoked_mask(out)
    wrong = np.flatnonzero(revoked != listed)
    assert not len(wrong), f"{what}: {len(wrong)} wrong statuses, e.g. serial {int(probes[wrong[0]]):#x} " \
                           f"(listed: {bool(listed[wrong[0]])})"
    assert set(out.column("status").cast(pa.string()).unique().to_pylist()) <= {"good", "revoked"}, what
    dates = out.column("revocation_date").cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(dates[listed], truth.times[at[listed]], err_msg=f"{what}: revocation dates")
    assert pc.all(pc.is_null(out.column("revocation_date").filter(pa.array(~listed)))).as_py() in (True, None), what
    reasons = out.column("reason").cast(pa.string()).to_pylist()
    want = [REASON_NAMES[int(r)] for r in truth.reasons[at[listed]]]
    assert [reasons[i] for i in np.flatnonzero(listed)] == want, f"{what}: reasons"


LAYOUTS = [("random", 200_000), ("high", 120_000), ("top", 50_000), ("dense", 100_000), ("clustered", 60_000),
           ("two_ends", 60_000), ("high", 3)]


@pytest.mark.parametrize(("layout", "entries"), LAYOUTS, ids=[f"{lay}-{n}" for lay, n in LAYOUTS])
def test_check_is_exact_on_every_layout(ws, auth_ca, sign_ca, layout, entries):
    rng = np.random.default_rng(entries)
    truths = {}
    for ca in (auth_ca, sign_ca):
        ws.add_ca(ca)
        truths[ca.alias] = Truth(draw(layout, entries, rng), rng)
        truths[ca.alias].write(ws, ca)
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert summary.published and not summary.refused
    store = open_store(ws.store)
    auth = truths[auth_ca.alias]
    n = max(4 * entries, 1000)
    q = auth.probes(n, rng)
    assert_exact(store.check(q, auth_ca.alias, now=NOW), auth, q, "first call after open_store")
    assert_exact(store.check(q, auth_ca.alias, now=NOW), auth, q, "second call")
    # Other input forms of the same serials: Python ints, canonical hex, DER content octets
    # (a leading 00 where the top bit is set: 9 octets for serials of 2^63 and more).
    sample = q[:5000]
    ints = [int(v) for v in sample]
    hexes = [format(v, "X") for v in ints]
    ders = [v.to_bytes(v.bit_length() // 8 + 1, "big") for v in ints]
    for form, serials in (("ints", ints), ("hex", hexes), ("der bytes", ders)):
        assert_exact(store.check(serials, auth_ca.alias, now=NOW), auth, sample, form)
    # One issuer per row, both issuers interleaved (the general path, not the one-issuer one).
    sign = truths[sign_ca.alias]
    q2 = sign.probes(n, rng)[: len(q)]
    q = q[: len(q2)]
    rows = rng.integers(0, 2, len(q))
    mixed = np.where(rows == 0, q, q2)
    issuers = pa.DictionaryArray.from_arrays(pa.array(rows.astype(np.int8)), pa.array([auth_ca.alias, sign_ca.alias]))
    out = store.check(mixed, issuers, now=NOW)
    expect = np.where(rows == 0, auth.expect(mixed)[0], sign.expect(mixed)[0])
    np.testing.assert_array_equal(revoked_mask(out), expect, err_msg="per-row issuers")


@pytest.mark.parametrize(
    "serials",
    [[1, 0x8000000000000001], [0, U64_MAX], [0, 1 << 63], [0, 1, U64_MAX], [5, 1 << 62, 1 << 63, U64_MAX - 1, U64_MAX],
     [i << 61 for i in range(7)], sorted(int(v) for v in np.random.default_rng(7).integers(0, U64_MAX, 7, np.uint64, True))],
    ids=["1-and-2^63+1", "0-and-max", "0-and-2^63", "0-1-max", "five", "seven", "seven-random"],
)
def test_a_few_serials_spread_over_the_whole_range_publish_and_check(ws, auth_ca, serials):
    """Fewer than eight serials 2^63 or more apart: building the offset table once looped for
    ever (issue 9). Ingest and check run in a child process with a time limit (minutes: far
    more than they take), so that a regression fails here instead of hanging the suite."""
    ws.add_ca(auth_ca)
    times = np.full(len(serials), EPOCH_NOW - 86400, np.int64)
    reasons = np.full(len(serials), 1, np.uint8)
    ws.write_crl("p.crl", signed_crl(auth_ca, np.array(serials, np.uint64), times, reasons, "Sapporo", 1))
    probes = sorted({s for v in serials for s in (v, v - 1, v + 1, v ^ (1 << 63)) if 0 <= s <= U64_MAX})
    code = textwrap.dedent(f"""
        import json, jpki_fast
        summary = jpki_fast.ingest({str(ws.trust)!r}, {str(ws.crls)!r}, {str(ws.store)!r}, now={NOW_ISO!r})
        store = jpki_fast.open_store({str(ws.store)!r})
        out = store.check({probes!r}, "auth_ca_2023", now={NOW_ISO!r})
        print(json.dumps({{"published": summary.published, "status": out.column("status").to_pylist()}}))
    """)
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ingest and check of serials {[hex(s) for s in serials]} did not finish")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["published"]
    assert result["status"] == ["revoked" if p in serials else "good" for p in probes]


def test_serials_of_1_to_20_octets_and_negative_ones_beside_a_random_8_octet_index(ws, auth_ca):
    """The long table (over 8 octets, negative) and the offset table of one issuer, side by
    side: every length of DER INTEGER from 1 to 20 octets, both signs, the 8/9-octet edges."""
    ws.add_ca(auth_ca)
    rng = np.random.default_rng(20)
    short = draw("random", 30_000, rng)
    truth = Truth(short, rng)
    truth.write(ws, auth_ca, parts=1)
    odd = {1, 0x7F, 0x80, 0xFF, 0x100, (1 << 56) - 1, 1 << 56, (1 << 63) - 1, 1 << 63, U64_MAX, 1 << 64, (1 << 64) + 1,
           (1 << 72) + 5, (1 << 159) - 1, -1, -128, -129, -(1 << 63), -(1 << 63) - 1, -(1 << 64), -(1 << 159)}
    odd |= {(1 << (8 * k - 1)) - 3 for k in range(1, 21)} | {-(1 << (8 * k - 1)) + 7 for k in range(1, 21)}
    odd -= {int(v) for v in short}
    odd_list = sorted(odd)
    entries = [h.entry(v, days_ago(1 + i % 50), [1, 4, None][i % 3]) for i, v in enumerate(odd_list)]
    ws.write_crl("odd.crl", h.crl(auth_ca, entries, number=9, partition="Odd", this_update=NOW - dt.timedelta(hours=3),
                                  next_update=NOW + dt.timedelta(days=2)))
    summary = ingest(ws.trust, ws.crls, ws.store, now=NOW)
    assert summary.published and not summary.refused, [(f.path, f.message) for f in summary.files]
    store = open_store(ws.store)
    neighbours = sorted({w for v in odd_list for w in (v - 1, v + 1)} - odd - {int(v) for v in short})
    neighbours = [w for w in neighbours if -(1 << 159) <= w < (1 << 159)]
    # Enough short serials that the batch is looked up grouped (the long rows are redone after).
    listed = [int(v) for v in short[rng.integers(0, len(short), 100_000)]]
    anywhere = [int(v) for v in rng.integers(0, U64_MAX, 50_000, np.uint64, True)]
    probes = odd_list + neighbours + listed + anywhere
    perm = rng.permutation(len(probes))
    probes = [probes[i] for i in perm]
    out = store.check(probes, auth_ca.alias, now=NOW).to_pylist()
    by_odd = {v: (days_ago(1 + i % 50), [1, 4, None][i % 3]) for i, v in enumerate(odd_list)}
    short_set = {int(v) for v in short}
    for serial, row in zip(probes, out):
        if serial in by_odd:
            date, reason = by_odd[serial]
            assert (row["status"], row["revocation_date"], row["reason"]) == (
                "revoked", date, {1: "keyCompromise", 4: "superseded", None: None}[reason]), hex(serial)
        else:
            assert row["status"] == ("revoked" if serial in short_set else "good"), hex(serial)


@pytest.mark.parametrize("layout", ["random", "dense"])
def test_reused_output_memory_gives_the_same_answers(ws, auth_ca, layout):
    """Big results' columns go back to the output buffer pool when dropped, and the next big
    check writes over them (jpki_fast.limits.output_buffer_pool): whatever the last batch left
    there (every row revoked, with dates and reasons), the next answers are those of fresh
    memory, exactly."""
    from jpki_fast.limits import output_buffer_pool

    rng = np.random.default_rng(11)
    ws.add_ca(auth_ca)
    truth = Truth(draw(layout, 100_000, rng), rng)
    truth.write(ws, auth_ca)
    assert ingest(ws.trust, ws.crls, ws.store, now=NOW).published
    store = open_store(ws.store)
    n = 4_500_000  # a status column of 4.5 MB: over the pool's 4 MiB floor
    mixed = truth.probes(n, rng)
    every_row_listed = truth.serials[rng.integers(0, len(truth.serials), len(mixed))]
    before = output_buffer_pool()
    try:
        output_buffer_pool(0)
        fresh = store.check(mixed, auth_ca.alias, now=NOW)
        output_buffer_pool(256 << 20)
        first = store.check(every_row_listed, auth_ca.alias, now=NOW)
        assert pc.all(pc.equal(first.column("status"), "revoked")).as_py()
        address = first.column("revocation_date").chunks[0].buffers()[1].address
        del first
        assert output_buffer_pool().held_bytes >= 8 * n, "the dropped result's columns were kept"
        again = store.check(mixed, auth_ca.alias, now=NOW)
        assert again.column("revocation_date").chunks[0].buffers()[1].address == address, "memory reused"
        assert again.equals(fresh)
        assert_exact(again, truth, mixed, "over reused memory")
        del again
        assert output_buffer_pool(0).held_bytes == 0
    finally:
        output_buffer_pool(before.limit_bytes)
