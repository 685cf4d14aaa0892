"""A whole synthetic JPKI day: CA roots, one signed CRL per partition and CA, end-entity
certificates, and the ground truth to check a reader against (``jpki-fast synth``).

numpy draws everything in bulk; the Rust core (``jpki_fast._core.write_crls``) encodes, signs and
writes the CRLs on all cores. Ten million entries take seconds.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.hazmat.primitives import serialization

from .. import _core
from .cas import KEY_PREAMBLE, Ca, load_cas, make_ca, write_cas
from .certificates import issue_certificate
from .domain import CA_KINDS, GENERATIONS, NO_REASON, REASON_NAMES, CaKind, Progress, generation_at
from .entries import ALLOCATION_FACTOR, SERIAL_LAYOUTS, Columns, draw_kind, hex_column, serial_base
from .municipalities import Municipality, allocate, draw_municipalities
from .names import name_der, partition_name
from .responders import KEY_TYPES as RESPONDER_KEY_TYPES
from .responders import write_responders
from .values import int_bytes, iso_utc, parse_now, pem, pkcs8_der


#: thisUpdate is `now` minus this, minus up to `_THIS_UPDATE_JITTER_S` (partitions are issued
#: over half an hour); nextUpdate is thisUpdate plus `_VALIDITY_S`.
_ISSUE_LAG_S = 3 * 3600


_THIS_UPDATE_JITTER_S = 1800


_VALIDITY_S = 48 * 3600


_MAX_PARTITIONS = 10_000


#: Random streams, so that e.g. changing --entries leaves the partitions as they are.
_STREAM_PARTITIONS, _STREAM_TIMES, _STREAM_CA, _STREAM_ENTRIES = 1, 2, 3, 10


#: JPKI end-entity certificates live about five years.
_EE_VALIDITY_S = 5 * 365 * 86_400


_REVOKED_CERT_SHARE = 0.25


_DEFAULT_CERT_KEYS = 8


_STREAM_CERTS = 4


#: Synthetic holders (kanji names so that decoding is exercised; none is a real person's).
_SURNAMES = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")


_GIVEN_NAMES = ("太郎", "花子", "一郎", "さくら", "健", "陽菜", "翔", "美咲", "大輔", "結衣")


_PARTITIONS_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("issuer", pa.string()),
        ("prefecture", pa.string()),
        ("municipality", pa.string()),
        ("partition", pa.string()),
        ("path", pa.string()),
        ("crl_number", pa.int64()),
        ("this_update", pa.timestamp("s", tz="UTC")),
        ("next_update", pa.timestamp("s", tz="UTC")),
        ("entries", pa.int64()),
    ]
)


_CERTS_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("kind", pa.string()),
        ("issuer", pa.string()),
        ("serial", pa.string()),
        ("partition", pa.string()),
        ("revoked", pa.bool_()),
        ("reason", pa.string()),
        ("revocation_date", pa.timestamp("s", tz="UTC")),
        ("not_before", pa.timestamp("s", tz="UTC")),
        ("not_after", pa.timestamp("s", tz="UTC")),
        ("key_path", pa.string()),
    ]
)


_README = """\
SYNTHETIC JPKI-LIKE REVOCATION DATA. Nothing here is real JPKI / J-LIS data.

Made by `jpki-fast synth` (jpki_fast.synth.generate) on {made}
  entries={entries}  partitions per CA={partitions}  serial bytes={serial_bytes}  serials={serials}  seed={seed}  now={now}

trust/              CA roots: for each CA (sign = "JPKI for digital signature", auth = "JPKI for
                    user authentication") three key generations 2015, 2019, 2023 that share one
                    distinguished name with the real roots, but with freshly generated RSA-2048
                    keys. Identify a CA by its key identifier, never by its name.
keys/               Their private keys (unencrypted PKCS#8 PEM): synthetic, for this data only.
crls/<ca>/<Prefecture>/<Municipality>.crl
                    One DER CRL per municipality partition, signed by the 2023 key of its CA.
                    Municipality names are invented (except the designated cities and Tokyo's
                    special wards); entry counts follow real populations.
truth.parquet       Every revoked entry, in CRL order: issuer, partition, serial (uppercase hex),
                    revocation_date, reason (RFC 5280 name or null), invalidity_date (or null).
                    Times are UTC at whole seconds (stored in Parquet's millisecond unit).
partitions.parquet  One row per CRL file: kind, issuer, prefecture, municipality, partition,
                    path, crl_number, this_update, next_update, entries.
certs/<ca>/<SERIAL>.der
                    {certs} end-entity certificates (authentication and signing, half each),
                    issued by the CA key generation current at their notBefore, with the
                    JPKI-like fields: CRL distribution point = their partition's directory
                    name, OCSP URL, policies, key usage; the signing ones carry synthetic
                    basic 4 facts (name, sex, date of birth, address). About a quarter are
                    revoked: their serial, partition, date and reason are entries of the CRLs.
certs/keys/key-NNNN.pem
                    Their private keys (unencrypted PKCS#8 PEM): a pool of {cert_keys} keys shared
                    by the certificates, because RSA key generation dominates the run time.
certs/certs.parquet One row per certificate: path, kind, issuer, serial, partition, revoked,
                    reason, revocation_date, not_before, not_after, key_path.
ocsp/<alias>.pem, ocsp/<alias>.key.pem
                    With --ocsp-responders: a delegated OCSP responder (id-kp-OCSPSigning,
                    id-pkix-ocsp-nocheck) issued by each CA key valid at now, and its key
                    (unencrypted PKCS#8 PEM), for `jpki-fast serve --ocsp-cert --ocsp-key`.
"""


def _timestamp_array(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    validity = None if valid is None else pa.py_buffer(np.packbits(valid.astype(bool), bitorder="little"))
    nulls = 0 if valid is None else int(len(valid) - np.count_nonzero(valid))
    return pa.Array.from_buffers(
        pa.timestamp("s", tz="UTC"), len(seconds), [validity, pa.py_buffer(np.ascontiguousarray(seconds))], null_count=nulls
    )


def _write_truth(
    path: Path,
    cols: Columns,
    issuer_index: np.ndarray,
    issuers: list[str],
    partition_index: np.ndarray,
    partitions: list[str],
) -> None:
    reason_valid = cols.reason != NO_REASON
    reason_index = pa.array(cols.reason.astype(np.int8), mask=~reason_valid)
    table = pa.table(
        {
            "issuer": pa.DictionaryArray.from_arrays(pa.array(issuer_index), pa.array(issuers)),
            "partition": pa.DictionaryArray.from_arrays(pa.array(partition_index), pa.array(partitions)),
            "serial": hex_column(cols.serial_octets),
            "revocation_date": _timestamp_array(cols.revocation),
            "reason": pa.DictionaryArray.from_arrays(reason_index, pa.array([n or "" for n in REASON_NAMES])),
            "invalidity_date": _timestamp_array(cols.invalidity, cols.invalidity_mask),
        }
    )
    pq.write_table(table, path, use_dictionary=["issuer", "partition", "reason"], compression="snappy")


def _with_second_timestamps(table: pa.Table) -> pa.Table:
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp("s", tz="UTC")))
    return table


def read_truth(out_dir: str | os.PathLike[str]) -> pa.Table:
    """The ground truth of a dataset, one row per revoked entry, in CRL order.

    Columns: ``issuer`` (alias of the signing CA key, e.g. ``auth_ca_2023``), ``partition``
    (directory-name text), ``serial`` (uppercase hex, even number of digits), ``revocation_date``
    (timestamp[s, UTC]), ``reason`` (RFC 5280 name or null), ``invalidity_date``
    (timestamp[s, UTC] or null). Parquet has no seconds unit, so the file stores milliseconds;
    this reads them back as the exact seconds they are.

    >>> truth = read_truth(synth_dir)
    >>> truth.num_rows, truth.column("serial")[0].as_py(), truth.column("issuer")[0].as_py()
    (2000, '03000609', 'sign_ca_2023')
    """
    return _with_second_timestamps(pq.read_table(Path(out_dir) / "truth.parquet"))


def read_partitions(out_dir: str | os.PathLike[str]) -> pa.Table:
    """One row per CRL file: ``kind``, ``issuer``, ``prefecture``, ``municipality``,
    ``partition``, ``path`` (relative to `out_dir`), ``crl_number``, ``this_update``,
    ``next_update`` (timestamp[s, UTC]), ``entries``.

    >>> partitions = read_partitions(synth_dir)
    >>> partitions.num_rows, partitions.column("path")[0].as_py()
    (8, 'crls/sign/Hokkaido/Sapporo-shi-Minami-ku.crl')
    """
    return _with_second_timestamps(pq.read_table(Path(out_dir) / "partitions.parquet"))


def read_certs(out_dir: str | os.PathLike[str]) -> pa.Table:
    """The end-entity certificates of a dataset (``certs/certs.parquet``), one row each:
    ``path`` and ``key_path`` (relative to `out_dir`), ``kind`` (auth / sign), ``issuer`` (alias of
    the issuing CA key), ``serial`` (hex), ``partition``, ``revoked``, ``reason``,
    ``revocation_date``, ``not_before``, ``not_after``.

    >>> certs = read_certs(synth_dir)
    >>> certs.num_rows, certs.column("revoked").to_pylist(), certs.column("kind").to_pylist()
    (8, [True, False, False, False, True, False, False, False], ['sign', 'sign', 'sign', 'sign', 'auth', 'auth', 'auth', 'auth'])
    """
    return _with_second_timestamps(pq.read_table(Path(out_dir) / "certs" / "certs.parquet"))


def _check_arguments(entries: int, partitions: int, serial_bytes: int, seed: int) -> None:
    for name, value in (("entries", entries), ("partitions", partitions), ("serial_bytes", serial_bytes), ("seed", seed)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    if entries < 0:
        raise ValueError(f"entries must be 0 or more, not {entries}")
    if not 1 <= partitions <= _MAX_PARTITIONS:
        raise ValueError(f"partitions (per CA) must be 1..{_MAX_PARTITIONS:,}, not {partitions}")
    if not 1 <= serial_bytes <= 20:
        raise ValueError(f"serial_bytes must be 1..20 (RFC 5280 allows 20 octets), not {serial_bytes}")
    if seed < 0:
        raise ValueError(f"seed must be 0 or more, not {seed}")


def _check_cert_arguments(certs: int, cert_keys: int | None) -> None:
    for name, value in (("certs", certs), ("cert_keys", cert_keys)):
        if value is None and name == "cert_keys":
            continue
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
        if value < 0 or (name == "cert_keys" and value == 0):
            raise ValueError(f"{name} must be {'1' if name == 'cert_keys' else '0'} or more, not {value}")


def _prepare_output(out: Path) -> Path:
    """A fresh sibling directory to build in; `out` itself is replaced only at the end."""
    if out == out.parent:
        raise ValueError(f"{out} cannot hold a dataset: give a directory below it")
    if out.exists():
        if not out.is_dir():
            raise ValueError(f"{out} exists and is not a directory")
        if any(out.iterdir()) and not (out / "README.txt").is_file():
            raise ValueError(f"{out} is not empty and not a dataset made by `jpki-fast synth`; choose another directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))


def _publish(build: Path, out: Path) -> None:
    """Swaps the finished dataset into place (a previous synth dataset there is removed)."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "dataset")
    os.replace(build, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def generate(
    out_dir: str | os.PathLike[str],
    entries: int = 1_000_000,
    partitions: int = 1900,
    serial_bytes: int = 4,
    seed: int = 0,
    now: _dt.datetime | str | None = None,
    *,
    ca_from: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    certs: int = 200,
    cert_keys: int | None = None,
    serials: str = "sequential",
    ocsp_responders: str | None = None,
) -> dict[str, Any]:
    """Writes a synthetic JPKI-like dataset to `out_dir` and returns a summary.

    Args:
        out_dir: where the dataset goes (see the layout in ``OUT/README.txt``): ``trust/``,
            ``keys/``, ``crls/<sign|auth>/<Prefecture>/<Municipality>.crl``, ``truth.parquet``,
            ``partitions.parquet``. It is built beside `out_dir` and swapped in at the end, so a
            failed run leaves an existing dataset as it was. A non-empty directory that is not
            a synth dataset is refused.
        entries: revoked entries in all (about 60% signing CA, 40% authentication CA).
        partitions: municipality partitions (CRL files) per CA.
        serial_bytes: octets per serial, 1..20 (4 like JPKI today); every serial uses all of them.
        seed: makes partitions and entries reproducible (not the RSA keys; see `ca_from`).
        now: the issuing time (datetime, ISO 8601 string, or None for the current time); naive
            datetimes are UTC. thisUpdate is 3 to 3.5 hours before it, nextUpdate 48 hours
            after thisUpdate, revocations fall in the five years before.
        ca_from: an earlier dataset whose CA certificates and keys to reuse (may be `out_dir`
            itself), e.g. to make the next day's CRLs under the same trust store.
        progress: called with a line of text at each stage (the CLI prints them to stderr).
        certs: end-entity certificates to issue under ``certs/`` (half authentication, half
            signing; about a quarter revoked on the CRLs); 0 for none. See
            :func:`issue_certificate` and :func:`read_certs`.
        cert_keys: size of the pool of RSA keys the certificates share (default
            ``min(certs, 8)``; ``certs`` gives every certificate its own key).
        serials: how the revoked serials lie in the serial space: ``"sequential"`` (roughly in
            sequence, as JPKI allocates them), ``"clustered"`` (dense runs at random places) or
            ``"random"`` (uniform, as RFC 5280 / CA/Browser Forum rules produce; use 8 or more
            ``serial_bytes``). See :data:`jpki_fast.synth.entries.SERIAL_LAYOUTS`.
        ocsp_responders: also write a delegated OCSP responder certificate and key for every CA
            key valid at ``now`` under ``ocsp/`` (``"ecdsa-p256"`` or ``"rsa-2048"``; see
            :func:`jpki_fast.synth.write_responders`); None (default) for none.

    Returns:
        A dict: ``out_dir``, ``entries``, ``files``, ``bytes``, ``seconds``, ``now``,
        ``this_update`` / ``next_update`` (ISO, earliest), ``serial_bytes``, ``serials``, ``seed``, ``certs``
        (``count``, ``revoked``, ``keys``), ``ocsp_responders`` (the aliases given a responder) and
        ``cas``: per CA kind its ``issuer`` alias, ``key_id`` (hex), ``entries`` and
        ``partitions``.

    Example::

        >>> summary = generate(tmp / "synth-certs-doc", entries=20_000, partitions=20, now="2026-11-26T00:00:00Z",
        ...                    ca_from=synth_dir, certs=4, cert_keys=1)
        >>> summary["files"], summary["cas"]["auth"]["issuer"], summary["certs"]
        (40, 'auth_ca_2023', {'count': 4, 'revoked': 0, 'keys': 1})
    """
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    _check_arguments(entries, partitions, serial_bytes, seed)
    if serials not in SERIAL_LAYOUTS:
        raise ValueError(f"serials must be one of {', '.join(SERIAL_LAYOUTS)}, not {serials!r}")
    _check_cert_arguments(certs, cert_keys)
    if ocsp_responders is not None and ocsp_responders not in RESPONDER_KEY_TYPES:
        raise ValueError(f"ocsp_responders must be one of {', '.join(RESPONDER_KEY_TYPES)} or None, not {ocsp_responders!r}")
    now_s = parse_now(now)
    out = Path(out_dir).resolve()  # so that "." has a name and a parent to build beside
    cas = load_cas(Path(ca_from)) if ca_from is not None else None
    build = _prepare_output(out)
    try:
        summary = _generate_into(build, entries, partitions, serial_bytes, seed, now_s, cas, say, certs, cert_keys, serials)
        responders = []
        if ocsp_responders is not None:
            say(f"OCSP responders: {ocsp_responders} pairs under ocsp/")
            when = _dt.datetime.fromtimestamp(now_s, _dt.timezone.utc)
            responders = write_responders(build, ocsp_responders, when, out=build / "ocsp")
        summary["ocsp_responders"] = [r["alias"] for r in responders]
        _publish(build, out)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    summary["out_dir"] = str(out)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


@dataclass(frozen=True)
class _Partition:
    """One CRL file: a municipality under one CA, and its rows in the entry columns."""

    kind: CaKind
    signer: int
    ca: Ca
    municipality: Municipality
    this_update: int
    start: int
    entries: int

    @property
    def name(self) -> str:
        return partition_name(self.kind, self.municipality.prefecture, self.municipality.name)

    @property
    def path(self) -> str:
        return f"crls/{self.kind.name}/{self.municipality.prefecture}/{self.municipality.name}.crl"

    @property
    def crl_number(self) -> int:
        """The issuing day as YYYYMMDD: increases from one day's CRLs to the next."""
        return int(_dt.datetime.fromtimestamp(self.this_update, _dt.timezone.utc).strftime("%Y%m%d"))

    def job(self, out: Path) -> dict[str, Any]:
        """The `_core.write_crls` job that writes this partition's CRL under `out`."""
        return {
            "path": str(out / self.path),
            "signer": self.signer,
            "start": self.start,
            "end": self.start + self.entries,
            "this_update": self.this_update,
            "next_update": self.this_update + _VALIDITY_S,
            "crl_number": int_bytes(self.crl_number),
            "distribution_point": name_der(self.name),
        }

    def row(self) -> dict[str, Any]:
        """This partition's row of partitions.parquet."""
        return {
            "kind": self.kind.name,
            "issuer": self.ca.alias,
            "prefecture": self.municipality.prefecture,
            "municipality": self.municipality.name,
            "partition": self.name,
            "path": self.path,
            "crl_number": self.crl_number,
            "this_update": self.this_update,
            "next_update": self.this_update + _VALIDITY_S,
            "entries": self.entries,
        }


def _make_cas(seed: int) -> list[Ca]:
    serial_rng = np.random.default_rng((seed, _STREAM_CA))
    # Serial 1 for the first generation, like the real 2015 roots; random 4 octets after.
    return [
        make_ca(kind, generation, 1 if i == 0 else int(serial_rng.integers(0x01000000, 0x7FFFFFFF)))
        for kind in CA_KINDS
        for i, generation in enumerate(GENERATIONS)
    ]


def _write_crl_files(
    out: Path, partitions: list[_Partition], signers: list[dict[str, Any]], cols: Columns, say: Progress
) -> int:
    """Writes every partition's CRL; returns the bytes written. Works in batches of about a tenth
    of the entries so that progress can be shown (each batch still runs on all cores)."""
    entries = len(cols.revocation)
    columns = {
        "serial_width": cols.serial_octets.shape[1],
        "reason": cols.reason,
        "invalidity_time": cols.invalidity,
        "invalidity_mask": cols.invalidity_mask,
    }
    total_bytes = 0
    batch_start = 0
    step = max(entries // 10, 1)
    for i, p in enumerate(partitions):
        done = p.start + p.entries
        if done - partitions[batch_start].start >= step or i == len(partitions) - 1:
            jobs = [q.job(out) for q in partitions[batch_start : i + 1]]
            total_bytes += sum(_core.write_crls(signers, jobs, cols.serial_octets, cols.revocation, **columns))
            say(f"CRLs: {i + 1:,}/{len(partitions):,} files, {done:,}/{entries:,} entries, {total_bytes / 1e6:,.0f} MB")
            batch_start = i + 1
    return total_bytes


def _generate_into(
    out: Path,
    entries: int,
    partitions_per_kind: int,
    serial_bytes: int,
    seed: int,
    now_s: int,
    cas: list[Ca] | None,
    say: Progress,
    certs: int = 0,
    cert_keys: int | None = None,
    layout: str = "sequential",
) -> dict[str, Any]:
    if cas is None:
        say("generating CA keys (6 x RSA-2048)")
        cas = _make_cas(seed)
    write_cas(cas, out)
    signing = [next(ca for ca in cas if ca.kind == kind and ca.generation == GENERATIONS[-1]) for kind in CA_KINDS]
    signers = [
        {"private_key": pkcs8_der(ca.key), "issuer": ca.cert.subject.public_bytes(), "authority_key_id": ca.key_id}
        for ca in signing
    ]

    # The same municipalities for both CAs, each CA with its own entry counts.
    municipalities = draw_municipalities(partitions_per_kind, np.random.default_rng((seed, _STREAM_PARTITIONS)))
    weights = np.array([m.population for m in municipalities])
    weights /= weights.sum()
    jitter = np.random.default_rng((seed, _STREAM_TIMES)).integers(
        0, _THIS_UPDATE_JITTER_S, size=(len(CA_KINDS), len(municipalities))
    )
    this_update = now_s - _ISSUE_LAG_S - jitter
    revocation_end = int(this_update.min()) - 60

    per_kind = allocate(entries, [k.share for k in CA_KINDS])
    cols = Columns(
        serial_octets=np.zeros((entries, serial_bytes), np.uint8),
        revocation=np.zeros(entries, np.int64),
        reason=np.zeros(entries, np.uint8),
        invalidity=np.zeros(entries, np.int64),
        invalidity_mask=np.zeros(entries, np.uint8),
    )
    issuer_index = np.zeros(entries, np.int8)
    partition_index = np.zeros(entries, np.int32)
    partitions: list[_Partition] = []
    row = 0
    for k, (kind, n) in enumerate(zip(CA_KINDS, per_kind)):
        say(f"drawing {n:,} {kind.name} entries over {len(municipalities):,} partitions")
        rng = np.random.default_rng((seed, _STREAM_ENTRIES + k))
        counts = rng.multinomial(n, weights)
        rows = slice(row, row + n)
        draw_kind(kind, n, serial_bytes, revocation_end, rng, cols, rows, layout)
        issuer_index[rows] = k
        partition_index[rows] = np.repeat(np.arange(len(partitions), len(partitions) + len(municipalities)), counts)
        for m, (municipality, count) in enumerate(zip(municipalities, counts.tolist())):
            partitions.append(_Partition(kind, k, signing[k], municipality, int(this_update[k, m]), row, count))
            row += count

    total_bytes = _write_crl_files(out, partitions, signers, cols, say)
    cert_summary = _issue_end_entities(
        out, cas, cols, issuer_index, partition_index, partitions, weights, per_kind, serial_bytes, now_s, certs,
        cert_keys, seed, say, layout,
    )

    say("writing truth.parquet and partitions.parquet")
    issuers = [ca.alias for ca in signing]
    _write_truth(out / "truth.parquet", cols, issuer_index, issuers, partition_index, [p.name for p in partitions])
    pq.write_table(pa.Table.from_pylist([p.row() for p in partitions], schema=_PARTITIONS_SCHEMA), out / "partitions.parquet")
    (out / "README.txt").write_text(
        _README.format(
            made=iso_utc(int(time.time())), entries=f"{entries:,}", partitions=f"{partitions_per_kind:,}",
            serial_bytes=serial_bytes, serials=layout, seed=seed, now=iso_utc(now_s), certs=f"{cert_summary['count']:,}",
            cert_keys=cert_summary["keys"],
        )
    )
    return {
        "entries": entries,
        "files": len(partitions),
        "bytes": total_bytes,
        "serial_bytes": serial_bytes,
        "serials": layout,
        "seed": seed,
        "now": iso_utc(now_s),
        "this_update": iso_utc(int(this_update.min())),
        "next_update": iso_utc(int(this_update.min()) + _VALIDITY_S),
        "cas": {
            kind.name: {"issuer": ca.alias, "key_id": ca.key_id.hex().upper(), "entries": n, "partitions": len(municipalities)}
            for kind, ca, n in zip(CA_KINDS, signing, per_kind)
        },
        "certs": cert_summary,
    }


def _synthetic_facts(rng: np.random.Generator, prefecture: str, municipality: str, now_s: int) -> dict[str, str]:
    """A made-up holder: kanji name, sex code, date of birth (YYYYMMDD), romanised address."""
    born = now_s - int(rng.integers(18 * 365, 90 * 365)) * 86_400
    y, m, d = _dt.datetime.fromtimestamp(born, _dt.timezone.utc).timetuple()[:3]
    return {
        "name": f"{_SURNAMES[rng.integers(len(_SURNAMES))]}　{_GIVEN_NAMES[rng.integers(len(_GIVEN_NAMES))]}",
        "name_substitute": "",
        "sex": str(int(rng.integers(1, 3))),
        "date_of_birth": f"{y:04d}{m:02d}{d:02d}",
        "address": f"{prefecture} {municipality} {int(rng.integers(1, 10))}-{int(rng.integers(1, 30))}-{int(rng.integers(1, 20))}",
        "address_substitute": "",
    }


def _unlisted_successors(octets: np.ndarray, n: int, rng: np.random.Generator) -> list[int]:
    """Up to ``n`` serials that no CRL lists: successors of random revoked serials (``octets``,
    big-endian rows of one CA) that are not revoked themselves and keep the serials' width."""
    if n == 0 or len(octets) == 0:
        return []
    width = octets.shape[1]
    low_width = min(width, 8)  # serials_be varies only the low 8 octets
    low = np.zeros((len(octets), 8), np.uint8)
    low[:, 8 - low_width:] = octets[:, width - low_width:]
    low_values = low.view(">u8").ravel().astype(np.uint64)
    listed = np.sort(low_values)
    top = (1 << (8 * low_width)) - 1
    found: list[int] = []
    for row in rng.integers(0, len(octets), size=4 * n + 16).tolist():
        successor = int(low_values[row]) + 1
        if successor > top:
            continue
        at = int(np.searchsorted(listed, np.uint64(successor)))
        serial = int.from_bytes(octets[row].tobytes(), "big") + 1
        if (at == len(listed) or int(listed[at]) != successor) and serial not in found:
            found.append(serial)
            if len(found) == n:
                break
    return found


def _issue_end_entities(
    out: Path,
    cas: list[Ca],
    cols: Columns,
    issuer_index: np.ndarray,
    partition_index: np.ndarray,
    partitions: list[_Partition],
    weights: np.ndarray,
    per_kind: list[int],
    serial_bytes: int,
    now_s: int,
    count: int,
    cert_keys: int | None,
    seed: int,
    say: Progress,
    layout: str = "sequential",
) -> dict[str, Any]:
    """Issues `count` end-entity certificates under ``out/certs`` and indexes them in
    ``certs.parquet``. Revoked ones reuse CRL entries (serial, partition, date, reason); good
    ones take serials no CRL lists: above the range allocated for revocations (the most
    recently issued certificates) for sequential serials, else the unlisted successors of
    revoked serials."""
    if count == 0:
        return {"count": 0, "revoked": 0, "keys": 0}
    rng = np.random.default_rng((seed, _STREAM_CERTS))
    n_keys = min(count, cert_keys or _DEFAULT_CERT_KEYS)
    say(f"certificates: generating {n_keys} RSA-2048 subject keys")
    pool = _core.generate_rsa_keys(n_keys)
    (out / "certs" / "keys").mkdir(parents=True)
    public_keys = [serialization.load_der_public_key(spki) for _, spki in pool]
    key_paths = []
    for i, (pkcs8, _) in enumerate(pool):
        path = f"certs/keys/key-{i:04d}.pem"
        (out / path).write_bytes(KEY_PREAMBLE.encode() + pem("PRIVATE KEY", pkcs8))
        key_paths.append(path)
    by_alias = {ca.alias: ca for ca in cas}
    municipalities = len(partitions) // len(CA_KINDS)
    rows: list[dict[str, Any]] = []
    for k, (kind, n_kind) in enumerate(zip(CA_KINDS, allocate(count, [1] * len(CA_KINDS)))):
        (out / "certs" / kind.name).mkdir(parents=True)
        kind_rows = np.flatnonzero(issuer_index == k)
        n_revoked = min(round(n_kind * _REVOKED_CERT_SHARE), len(kind_rows))
        chosen = rng.choice(kind_rows, size=n_revoked, replace=False) if n_revoked else np.zeros(0, np.int64)
        plan: list[tuple] = []  # (serial int, partition, revocation row or None, not_before)
        # A revoked certificate stays on the CRL until it expires, so it is still valid at now:
        # issued within its lifetime before now, and before its revocation.
        earliest = now_s - _EE_VALIDITY_S + 86_400
        for row in chosen.tolist():
            revoked_at = int(cols.revocation[row])
            drawn = revoked_at - int(rng.integers(30 * 86_400, 3 * 365 * 86_400))
            not_before = min(max(drawn, earliest), revoked_at - 3600)
            plan.append((int.from_bytes(cols.serial_octets[row].tobytes(), "big"), partitions[partition_index[row]], row, not_before))
        # Good certificates: serials no CRL lists, in a random partition.
        wanted = n_kind - n_revoked
        base, capacity = serial_base(kind, serial_bytes)
        allocated = min(ALLOCATION_FACTOR * per_kind[k], capacity)
        if layout == "sequential":  # above the range allocated for revocations: the newest ones
            unlisted, n_good = None, min(wanted, capacity - allocated)
        else:  # the unlisted successors of revoked serials
            unlisted = _unlisted_successors(cols.serial_octets[kind_rows], wanted, rng)
            n_good = len(unlisted)
        if n_good < wanted:
            say(f"certificates: only {n_good} good {kind.name} serials fit in {serial_bytes} octets")
        gap = max(1, min((capacity - allocated) // max(n_good, 1), 1000))
        for i, m in enumerate(rng.choice(municipalities, size=n_good, p=weights).tolist()):
            serial = unlisted[i] if unlisted is not None else base + allocated + i * gap + int(rng.integers(0, gap))
            not_before = now_s - int(rng.integers(86_400, 4 * 365 * 86_400))
            plan.append((serial, partitions[k * municipalities + m], None, not_before))
        for serial, part, row, not_before in plan:
            ca = by_alias[kind.alias(generation_at(not_before))]
            key_slot = len(rows) % n_keys
            facts = (
                _synthetic_facts(rng, part.municipality.prefecture, part.municipality.name, now_s)
                if kind.name == "sign"
                else None
            )
            der = issue_certificate(
                kind.name, ca.key, ca.cert, public_keys[key_slot], serial, part.name,
                not_before, not_before + _EE_VALIDITY_S, facts=facts,
            )
            serial_hex = int_bytes(serial).hex().upper()
            path = f"certs/{kind.name}/{serial_hex}.der"
            (out / path).write_bytes(der)
            reason = None if row is None else REASON_NAMES[cols.reason[row]] if cols.reason[row] != NO_REASON else None
            rows.append(
                {
                    "path": path, "kind": kind.name, "issuer": ca.alias, "serial": serial_hex,
                    "partition": part.name, "revoked": row is not None, "reason": reason,
                    "revocation_date": None if row is None else int(cols.revocation[row]),
                    "not_before": not_before, "not_after": not_before + _EE_VALIDITY_S,
                    "key_path": key_paths[key_slot],
                }
            )
        say(f"certificates: {len(rows):,}/{count:,} issued")
    table = pa.Table.from_arrays(
        [
            pa.array([r[f.name] for r in rows], pa.int64()).cast(f.type)
            if pa.types.is_timestamp(f.type)
            else pa.array([r[f.name] for r in rows], f.type)
            for f in _CERTS_SCHEMA
        ],
        schema=_CERTS_SCHEMA,
    )
    pq.write_table(table, out / "certs" / "certs.parquet")
    revoked = sum(r["revoked"] for r in rows)
    return {"count": len(rows), "revoked": revoked, "keys": n_keys}
