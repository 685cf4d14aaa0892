"""Synthetic JPKI-like revocation data: CA roots, signed partition CRLs and the ground truth.

Real JPKI revocation data may be given only to registered verifiers, so tests, benchmarks and
demos run on data shaped like it instead:

- two CAs, signing ("JPKI for digital signature") and authentication ("JPKI for user
  authentication"), each with three RSA-2048 key generations (2015, 2019, 2023) that share one
  distinguished name, like the real roots in ``shared/fixtures/jpki/``;
- per CA, one CRL per municipality partition (about 1,900), named by a directory name such as
  ``C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Hokkaido,
  CN=Sapporo-shi-Minami-ku CRLDP`` and sized like real populations;
- serials allocated roughly in sequence, revocation dates over five years, reason codes mixed as
  J-LIS's reasons suggest for each CA (see ``DESIGN.md``);
- ``truth.parquet``: every revoked entry, so a reader can be checked exactly.

numpy draws everything in bulk; the Rust core (``jpki_fast._core.write_crls``) encodes, signs and
writes the CRLs on all cores. Ten million entries take seconds.

Example::

    >>> from jpki_fast import synth
    >>> summary = synth.generate("/tmp/jpki-demo", entries=20_000, partitions=20,
    ...                          now="2026-11-26T00:00:00Z")          # doctest: +SKIP
    >>> summary["files"], summary["entries"]                          # doctest: +SKIP
    (40, 20000)

Reproducibility: with the same ``seed`` and ``now`` the partitions, serials, dates, reasons and
the truth tables are identical across runs. RSA keys are not (``cryptography`` cannot seed RSA key
generation), so CA certificates and CRL signatures differ unless the keys are reused with
``ca_from=`` (PKCS#1 v1.5 signatures are deterministic, so the CRL files are then identical too).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from . import _core

__all__ = [
    "generate", "make_crl", "partition_name", "read_truth", "read_partitions", "read_certs",
    "issue_certificate",
    "CA_KINDS", "GENERATIONS", "PREFECTURES", "REASON_CODES",
]

# --------------------------------------------------------------------------------------------
# Domain tables.

#: RFC 5280 §5.3.1 reason names by code (7 is unused).
REASON_CODES: dict[str, int] = {
    "unspecified": 0,
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "removeFromCRL": 8,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}
_REASON_NAMES = [None] * 11
for _name, _code in REASON_CODES.items():
    _REASON_NAMES[_code] = _name
#: Marks "no reasonCode" in the reason column handed to the Rust encoder.
NO_REASON = 255

#: The CA key generations; CRLs are signed by the newest.
GENERATIONS = (2015, 2019, 2023)
#: First day of each generation's 10-year validity (the real 2015 and 2023 roots start on these
#: days; 2019 is a plausible stand-in).
_GENERATION_START = {2015: (10, 20), 2019: (10, 20), 2023: (7, 16)}
_JLIS = "Japan Agency for Local Authority Information Systems"


@dataclass(frozen=True)
class CaKind:
    """One of the two JPKI CAs and how its revocations look."""

    #: Short name: directory under ``crls/`` and alias prefix (``sign_ca_2023``).
    name: str
    #: The organizational unit that names the CA and its partitions.
    unit: str
    #: Share of all generated entries.
    share: float
    #: Top octet of the first serial (serials are allocated upwards from it).
    serial_top: int
    #: (reason name or None for "no reasonCode", probability); sums to 1.
    reasons: tuple[tuple[str | None, float], ...]

    def alias(self, generation: int) -> str:
        return f"{self.name}_ca_{generation}"


#: The two CAs. Reason mixes follow DESIGN.md: a signing certificate is revoked on any change of
#: name or address (affiliationChanged), so that dominates; an authentication certificate is not,
#: so renewals (superseded) and lost cards (cessationOfOperation, certificateHold) dominate and
#: affiliationChanged means only death or emigration. About 2% carry no reasonCode; a tenth of
#: the keyCompromise entries (0.1% of all) carry an invalidityDate.
CA_KINDS: tuple[CaKind, ...] = (
    CaKind(
        name="sign",
        unit="JPKI for digital signature",
        share=0.6,
        serial_top=0x03,
        reasons=(
            ("affiliationChanged", 0.46),
            ("superseded", 0.24),
            ("cessationOfOperation", 0.15),
            ("certificateHold", 0.10),
            ("unspecified", 0.02),
            ("keyCompromise", 0.01),
            (None, 0.02),
        ),
    ),
    CaKind(
        name="auth",
        unit="JPKI for user authentication",
        share=0.4,
        serial_top=0x05,
        reasons=(
            ("superseded", 0.42),
            ("cessationOfOperation", 0.32),
            ("certificateHold", 0.14),
            ("affiliationChanged", 0.07),
            ("unspecified", 0.02),
            ("keyCompromise", 0.01),
            (None, 0.02),
        ),
    ),
)
_INVALIDITY_SHARE_OF_KEY_COMPROMISE = 0.1

#: The 47 prefectures: romanised name, population (thousands, 2020 census, rounded) and number
#: of CRL partitions (municipalities, with the wards of designated cities and Tokyo's special
#: wards counted one by one), in the official order.
PREFECTURES: tuple[tuple[str, int, int], ...] = (
    ("Hokkaido", 5225, 188), ("Aomori", 1238, 40), ("Iwate", 1211, 33), ("Miyagi", 2302, 39),
    ("Akita", 960, 25), ("Yamagata", 1068, 35), ("Fukushima", 1833, 59), ("Ibaraki", 2867, 44),
    ("Tochigi", 1933, 25), ("Gunma", 1939, 35), ("Saitama", 7345, 72), ("Chiba", 6284, 59),
    ("Tokyo", 14048, 62), ("Kanagawa", 9237, 58), ("Niigata", 2201, 37), ("Toyama", 1035, 15),
    ("Ishikawa", 1133, 19), ("Fukui", 767, 17), ("Yamanashi", 810, 27), ("Nagano", 2048, 77),
    ("Gifu", 1979, 42), ("Shizuoka", 3633, 43), ("Aichi", 7542, 69), ("Mie", 1770, 29),
    ("Shiga", 1414, 19), ("Kyoto", 2578, 36), ("Osaka", 8838, 72), ("Hyogo", 5465, 49),
    ("Nara", 1324, 39), ("Wakayama", 923, 30), ("Tottori", 553, 19), ("Shimane", 671, 19),
    ("Okayama", 1888, 30), ("Hiroshima", 2800, 30), ("Yamaguchi", 1342, 19), ("Tokushima", 720, 24),
    ("Kagawa", 950, 17), ("Ehime", 1335, 20), ("Kochi", 692, 34), ("Fukuoka", 5135, 72),
    ("Saga", 811, 20), ("Nagasaki", 1312, 21), ("Kumamoto", 1738, 49), ("Oita", 1124, 18),
    ("Miyazaki", 1070, 26), ("Kagoshima", 1588, 43), ("Okinawa", 1467, 41),
)

#: Designated cities (政令指定都市) and their number of wards; Tokyo has special wards instead.
_DESIGNATED_CITIES: dict[str, tuple[tuple[str, int], ...]] = {
    "Hokkaido": (("Sapporo", 10),),
    "Miyagi": (("Sendai", 5),),
    "Saitama": (("Saitama", 10),),
    "Chiba": (("Chiba", 6),),
    "Kanagawa": (("Yokohama", 18), ("Kawasaki", 7), ("Sagamihara", 3)),
    "Niigata": (("Niigata", 8),),
    "Shizuoka": (("Hamamatsu", 7), ("Shizuoka", 3)),
    "Aichi": (("Nagoya", 16),),
    "Kyoto": (("Kyoto", 11),),
    "Osaka": (("Osaka", 24), ("Sakai", 7)),
    "Hyogo": (("Kobe", 9),),
    "Okayama": (("Okayama", 4),),
    "Hiroshima": (("Hiroshima", 8),),
    "Fukuoka": (("Fukuoka", 7), ("Kitakyushu", 7)),
    "Kumamoto": (("Kumamoto", 5),),
}
#: Sapporo's wards, Minami first so that even a tiny dataset has the partition of the real
#: sample certificate (``CN=Sapporo-shi-Minami-ku CRLDP``).
_SAPPORO_WARDS = ("Minami", "Chuo", "Kita", "Higashi", "Shiroishi", "Toyohira", "Nishi", "Atsubetsu", "Teine", "Kiyota")
_TOKYO_SPECIAL_WARDS = (
    "Setagaya", "Nerima", "Ota", "Edogawa", "Adachi", "Suginami", "Itabashi", "Koto", "Katsushika",
    "Shinagawa", "Kita", "Shinjuku", "Nakano", "Toshima", "Meguro", "Sumida", "Minato", "Shibuya",
    "Arakawa", "Bunkyo", "Taito", "Chuo", "Chiyoda",
)
_COMMON_WARDS = ("Chuo", "Kita", "Minami", "Higashi", "Nishi", "Naka", "Midori", "Aoba", "Izumi", "Hokubu")
#: Suffixes differ by region: towns are -cho in most prefectures, -machi in some; villages are
#: -son in a few southern and western prefectures.
_MACHI_PREFECTURES = {
    "Yamagata", "Fukushima", "Ibaraki", "Tochigi", "Gunma", "Tokyo", "Kanagawa", "Niigata", "Toyama",
    "Ishikawa", "Nagano", "Fukuoka", "Saga", "Nagasaki", "Kumamoto", "Oita",
}
_SON_PREFECTURES = {"Tottori", "Okayama", "Tokushima", "Miyazaki", "Kagoshima", "Okinawa"}
#: Place-name morphemes: a head and a tail make names like Kitakawa, Matsushima, Toyooka.
_HEADS = (
    "Kita", "Minami", "Higashi", "Nishi", "Naka", "Kami", "Shimo", "Taka", "Yama", "Kawa", "Ishi",
    "Matsu", "Fuji", "Sakura", "Aki", "Asa", "Hiro", "Toyo", "Fuku", "Tomi", "Mizu", "Shira", "Kuro",
    "Aka", "Hana", "Tsuru", "Kame", "Hira", "Naga", "Oka", "Miya", "Ichi", "Mitsu", "Hachi", "Iwa",
    "Kiyo", "Kaga", "Sugi", "Kuma", "Tama", "Ume", "Momo", "Sano", "Ono", "Ina", "Mori", "Shio",
    "Uo", "Kaji", "Tsuki", "Hoshi", "Kane", "Take", "Ashi", "Kiri", "Yoshi", "Tachi", "Haya",
)
_TAILS = (
    "kawa", "yama", "hara", "ta", "da", "no", "saki", "shima", "jima", "mori", "oka", "sawa", "zawa",
    "hashi", "ura", "numa", "ike", "ishi", "matsu", "kura", "gaya", "tani", "hama", "mine", "sato",
    "kubo", "shiro", "gawa", "zu", "tsu", "be", "ki", "o", "ya", "naka", "ide", "numa", "hata",
    "machi", "gasaki", "yoshi", "fuchi",
)
#: Median population of a ward / city / town / village (log-normal around it), and the share of
#: ordinary municipalities that are cities, towns and villages (about 46/43/11 in Japan).
_MEDIAN_POPULATION = {"ward": 150_000, "special_ward": 300_000, "city": 60_000, "town": 12_000, "village": 3_000}
_MUNICIPALITY_TYPES = (("city", 0.46), ("town", 0.43), ("village", 0.11))

#: Revocation dates spread over this long before the CRLs are issued.
_REVOCATION_SPAN_S = 5 * 365 * 86_400
#: thisUpdate is `now` minus this, minus up to `_THIS_UPDATE_JITTER_S` (partitions are issued
#: over half an hour); nextUpdate is thisUpdate plus `_VALIDITY_S`.
_ISSUE_LAG_S = 3 * 3600
_THIS_UPDATE_JITTER_S = 1800
_VALIDITY_S = 48 * 3600
#: Allocated serial range per revoked serial ("about 3x": two of three certificates are good).
_ALLOCATION_FACTOR = 3
_MAX_PARTITIONS = 10_000
#: Random streams, so that e.g. changing --entries leaves the partitions as they are.
_STREAM_PARTITIONS, _STREAM_TIMES, _STREAM_CA, _STREAM_ENTRIES = 1, 2, 3, 10

Progress = Callable[[str], None]


# --------------------------------------------------------------------------------------------
# Names.


def partition_name(kind: CaKind | str, prefecture: str, municipality: str) -> str:
    """The text form of a partition's directory name, as certificates and CRLs carry it.

    >>> partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku")
    'C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Hokkaido, CN=Sapporo-shi-Minami-ku CRLDP'
    """
    unit = _kind(kind).unit
    return f"C=JP, O=JPKI, OU={unit}, OU=CRL Distribution Points, OU={prefecture}, CN={municipality} CRLDP"


def _kind(kind: CaKind | str) -> CaKind:
    if isinstance(kind, CaKind):
        return kind
    for k in CA_KINDS:
        if k.name == kind:
            return k
    raise ValueError(f"unknown CA kind {kind!r}: expected one of {', '.join(k.name for k in CA_KINDS)}")


def _ca_name(kind: CaKind) -> x509.Name:
    # C is a PrintableString and the rest UTF8String, as in the real roots (cryptography's
    # defaults for these attributes).
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, kind.unit),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _JLIS),
        ]
    )


_ATTRIBUTE_OIDS = {
    "C": NameOID.COUNTRY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
}


def _parse_name(text: str) -> x509.Name:
    """Parses the project's name text (RDNs in encoded order, ``, `` between them, ``\\`` escapes)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    attributes = []
    for part in parts:
        key, sep, value = part.partition("=")
        oid = _ATTRIBUTE_OIDS.get(key.strip())
        if not sep or oid is None or not value:
            raise ValueError(
                f"cannot read {part!r} in name {text!r}: expected KEY=VALUE with KEY one of {', '.join(_ATTRIBUTE_OIDS)}"
            )
        attributes.append(x509.NameAttribute(oid, value))
    return x509.Name(attributes)


def _name_der(name: x509.Name | str | bytes) -> bytes:
    if isinstance(name, bytes):
        return name
    if isinstance(name, str):
        name = _parse_name(name)
    return name.public_bytes()


# --------------------------------------------------------------------------------------------
# Partitions.


@dataclass(frozen=True)
class _Municipality:
    prefecture: str
    name: str
    #: Expected population: entries are drawn in proportion to it.
    population: float


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Splits `total` in proportion to `weights` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def _municipalities(per_kind: int, rng: np.random.Generator) -> list[_Municipality]:
    """`per_kind` municipalities across the prefectures, with unique romanised names."""
    taken: set[str] = set()

    def fresh(make: Callable[[], str]) -> str:
        for _ in range(1000):
            name = make()
            if name not in taken:
                taken.add(name)
                return name
        raise RuntimeError("ran out of unique municipality names")  # not reachable below 10,000

    def place_name() -> str:
        name = _HEADS[rng.integers(len(_HEADS))] + _TAILS[rng.integers(len(_TAILS))]
        if rng.random() < 0.15:  # a few three-part names: Kamiishihara
            name += _TAILS[rng.integers(len(_TAILS))]
        return name

    def lognormal(kind: str, sigma: float = 0.8) -> float:
        return float(_MEDIAN_POPULATION[kind] * math.exp(sigma * rng.standard_normal()))

    out: list[_Municipality] = []
    counts = _allocate(per_kind, [p[2] for p in PREFECTURES])
    for (prefecture, population, real_count), k in zip(PREFECTURES, counts):
        if k == 0:
            continue
        scale = k / real_count
        local: list[tuple[str, float]] = []
        if prefecture == "Tokyo":
            for ward in _TOKYO_SPECIAL_WARDS[: round(len(_TOKYO_SPECIAL_WARDS) * scale)]:
                local.append((fresh(lambda: f"{ward}-ku"), lognormal("special_ward", 0.5)))
        for city, real_wards in _DESIGNATED_CITIES.get(prefecture, ()):
            n_wards = round(real_wards * scale)
            if city == "Sapporo":
                n_wards = max(1, n_wards)
            elif n_wards < 2:
                continue  # too few partitions here to split the city; it stays one
            wards = _SAPPORO_WARDS if city == "Sapporo" else _COMMON_WARDS
            for i in range(min(n_wards, k - len(local))):
                ward = wards[i] if i < len(wards) else None  # past the list: invented ward names
                local.append((fresh(lambda: f"{city}-shi-{ward or place_name()}-ku"), lognormal("ward", 0.5)))
        types = rng.choice(len(_MUNICIPALITY_TYPES), size=max(k - len(local), 0), p=[p for _, p in _MUNICIPALITY_TYPES])
        town = "machi" if prefecture in _MACHI_PREFECTURES else "cho"
        village = "son" if prefecture in _SON_PREFECTURES else "mura"
        for t in types:
            kind = _MUNICIPALITY_TYPES[t][0]
            suffix = {"city": "shi", "town": town, "village": village}[kind]
            local.append((fresh(lambda: f"{place_name()}-{suffix}"), lognormal(kind)))
        # The prefecture's entries follow its population, however many partitions it has here.
        total = sum(p for _, p in local)
        out.extend(_Municipality(prefecture, name, population * 1000 * p / total) for name, p in local)
    return out


# --------------------------------------------------------------------------------------------
# CA roots.


@dataclass
class _Ca:
    kind: CaKind
    generation: int
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def alias(self) -> str:
        return self.kind.alias(self.generation)

    @property
    def key_id(self) -> bytes:
        return self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def _make_ca(kind: CaKind, generation: int, serial: int) -> _Ca:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    month, day = _GENERATION_START[generation]
    not_before = _dt.datetime(generation, month, day, 3, 0, 0, tzinfo=_dt.timezone.utc)
    # Ten years, ending at 23:59:59 JST the day before, as the real roots do.
    not_after = _dt.datetime(generation + 10, month, day, 14, 59, 59, tzinfo=_dt.timezone.utc) - _dt.timedelta(days=1)
    name = _ca_name(kind)
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _Ca(kind, generation, key, cert)


_KEY_PREAMBLE = (
    "# SYNTHETIC TEST KEY made by `jpki-fast synth`: NOT a key of the real JPKI / J-LIS CA.\n"
    "# It signs the synthetic CRLs of this dataset only. Unencrypted PKCS#8 on purpose.\n"
)


def _write_cas(cas: Iterable[_Ca], out: Path) -> None:
    (out / "trust").mkdir(parents=True, exist_ok=True)
    (out / "keys").mkdir(parents=True, exist_ok=True)
    for ca in cas:
        (out / "trust" / f"{ca.alias}.pem").write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
        key_pem = ca.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (out / "keys" / f"{ca.alias}.pem").write_bytes(_KEY_PREAMBLE.encode() + key_pem)


def _load_cas(source: Path) -> list[_Ca]:
    """The six CAs of an earlier dataset, checked to be complete and matching."""
    cas = []
    for kind in CA_KINDS:
        for generation in GENERATIONS:
            alias = kind.alias(generation)
            cert_path, key_path = source / "trust" / f"{alias}.pem", source / "keys" / f"{alias}.pem"
            try:
                cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
                key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            except (OSError, ValueError) as e:
                raise ValueError(
                    f"ca_from={source}: cannot load {alias} ({e}); expected trust/{alias}.pem and keys/{alias}.pem"
                ) from e
            public = cert.public_key().public_numbers()
            if not isinstance(key, rsa.RSAPrivateKey) or key.public_key().public_numbers() != public:
                raise ValueError(f"ca_from={source}: keys/{alias}.pem is not the private key of trust/{alias}.pem")
            cas.append(_Ca(kind, generation, key, cert))
    return cas


def _pkcs8_der(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


# --------------------------------------------------------------------------------------------
# Entries.


def _serial_base(kind: CaKind, serial_bytes: int) -> tuple[int, int]:
    """(first serial, how many serials fit from there in `serial_bytes` octets).

    Every serial keeps `serial_bytes` significant octets (the top octet is never zero), so the
    canonical hex of all serials has the same width.
    """
    base = kind.serial_top << (8 * (serial_bytes - 1))
    return base, (1 << (8 * serial_bytes)) - base


def _serials_be(offsets: np.ndarray, base: int, serial_bytes: int) -> np.ndarray:
    """Big-endian serial octets, shape (n, serial_bytes), for base + offsets."""
    n = len(offsets)
    if serial_bytes <= 8:
        values = np.uint64(base) + offsets.astype(np.uint64)
        return values.astype(">u8").view(np.uint8).reshape(n, 8)[:, 8 - serial_bytes :]
    # Longer serials: the base's top octet, zeros, then the offset in the low eight octets.
    out = np.zeros((n, serial_bytes), dtype=np.uint8)
    out[:, 0] = base >> (8 * (serial_bytes - 1))
    out[:, serial_bytes - 8 :] = offsets.astype(">u8").view(np.uint8).reshape(n, 8)
    return out


#: The two hex digits of each octet value, as a little-endian uint16 (so in memory order).
_HEX_PAIRS = np.array([int.from_bytes(f"{i:02X}".encode(), "little") for i in range(256)], dtype="<u2")


def _hex_column(serial_octets: np.ndarray) -> pa.Array:
    """Uppercase hex of fixed-width big-endian serials, built without a Python loop."""
    n, width = serial_octets.shape
    chars = _HEX_PAIRS[serial_octets].view(np.uint8)
    large = n * 2 * width >= 2**31
    offsets = np.arange(0, (n + 1) * 2 * width, 2 * width, dtype=np.int64 if large else np.int32)
    return pa.Array.from_buffers(
        pa.large_string() if large else pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(chars)]
    )


@dataclass
class _Columns:
    """Entries of all partitions, grouped by partition in CRL order."""

    serial_octets: np.ndarray  # uint8 (n, B): big-endian serials, for the CRLs and the hex
    revocation: np.ndarray  # int64 seconds
    reason: np.ndarray  # uint8, NO_REASON for none
    invalidity: np.ndarray  # int64 seconds, valid where invalidity_mask
    invalidity_mask: np.ndarray  # uint8


def _draw_kind(
    kind: CaKind,
    n: int,
    serial_bytes: int,
    revocation_end: int,
    rng: np.random.Generator,
    cols: _Columns,
    rows: slice,
) -> None:
    """Fills `rows` of `cols` with the `n` entries of one CA, in random serial order; the caller
    cuts the rows into partitions."""
    base, capacity = _serial_base(kind, serial_bytes)
    if n > capacity:
        raise ValueError(
            f"{n:,} {kind.name} entries do not fit in {serial_bytes}-octet serials from "
            f"0x{base:X} (at most {capacity:,}); use more --serial-bytes or fewer --entries"
        )
    allocated = min(_ALLOCATION_FACTOR * n, capacity)
    # A random subset of the allocated range, in random order: consecutive rows go to one
    # partition, so each serial lands in a random partition and each CRL is shuffled.
    offsets = rng.choice(allocated, size=n, replace=False) if n else np.zeros(0, dtype=np.int64)
    cols.serial_octets[rows] = _serials_be(offsets, base, serial_bytes)

    # Serials were issued in order over the span; each was revoked some time after its issue.
    start = revocation_end - _REVOCATION_SPAN_S
    issued = start + (offsets * (_REVOCATION_SPAN_S / max(allocated, 1))).astype(np.int64)
    revocation = issued + (rng.random(n) * (revocation_end - issued)).astype(np.int64)
    cols.revocation[rows] = revocation

    names, probabilities = zip(*kind.reasons)
    codes = np.array([NO_REASON if r is None else REASON_CODES[r] for r in names], dtype=np.uint8)
    reason = codes[np.searchsorted(np.cumsum(probabilities), rng.random(n), side="right").clip(0, len(codes) - 1)]
    cols.reason[rows] = reason

    # invalidityDate: on some keyCompromise entries, up to 30 days before the revocation.
    key_compromise = reason == REASON_CODES["keyCompromise"]
    chosen = np.flatnonzero(key_compromise & (rng.random(n) < _INVALIDITY_SHARE_OF_KEY_COMPROMISE))
    lead = (rng.random(len(chosen)) * np.minimum(30 * 86_400, revocation[chosen] - issued[chosen])).astype(np.int64)
    invalidity = np.zeros(n, dtype=np.int64)
    invalidity[chosen] = revocation[chosen] - lead
    mask = np.zeros(n, dtype=np.uint8)
    mask[chosen] = 1
    cols.invalidity[rows] = invalidity
    cols.invalidity_mask[rows] = mask


# --------------------------------------------------------------------------------------------
# Output.


def _timestamp_array(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    validity = None if valid is None else pa.py_buffer(np.packbits(valid.astype(bool), bitorder="little"))
    nulls = 0 if valid is None else int(len(valid) - np.count_nonzero(valid))
    return pa.Array.from_buffers(
        pa.timestamp("s", tz="UTC"), len(seconds), [validity, pa.py_buffer(np.ascontiguousarray(seconds))], null_count=nulls
    )


def _write_truth(
    path: Path,
    cols: _Columns,
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
            "serial": _hex_column(cols.serial_octets),
            "revocation_date": _timestamp_array(cols.revocation),
            "reason": pa.DictionaryArray.from_arrays(reason_index, pa.array([n or "" for n in _REASON_NAMES])),
            "invalidity_date": _timestamp_array(cols.invalidity, cols.invalidity_mask),
        }
    )
    pq.write_table(table, path, use_dictionary=["issuer", "partition", "reason"], compression="snappy")


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

_README = """\
SYNTHETIC JPKI-LIKE REVOCATION DATA. Nothing here is real JPKI / J-LIS data.

Made by `jpki-fast synth` (jpki_fast.synth.generate) on {made}
  entries={entries}  partitions per CA={partitions}  serial bytes={serial_bytes}  seed={seed}  now={now}

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
"""


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

    >>> truth = read_truth("/tmp/jpki-synth")                          # doctest: +SKIP
    >>> truth.column("serial")[0].as_py()                              # doctest: +SKIP
    '030016CC'
    """
    return _with_second_timestamps(pq.read_table(Path(out_dir) / "truth.parquet"))


def read_partitions(out_dir: str | os.PathLike[str]) -> pa.Table:
    """One row per CRL file: ``kind``, ``issuer``, ``prefecture``, ``municipality``,
    ``partition``, ``path`` (relative to `out_dir`), ``crl_number``, ``this_update``,
    ``next_update`` (timestamp[s, UTC]), ``entries``.

    >>> read_partitions("/tmp/jpki-synth").num_rows                    # doctest: +SKIP
    40
    """
    return _with_second_timestamps(pq.read_table(Path(out_dir) / "partitions.parquet"))


# --------------------------------------------------------------------------------------------
# The generator.


def _parse_now(now: _dt.datetime | str | None) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, str):
        try:
            now = _dt.datetime.fromisoformat(now.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as e:
            raise ValueError(f"now={now!r} is not an ISO 8601 time such as 2026-11-26T00:00:00Z") from e
    if not isinstance(now, _dt.datetime):
        raise TypeError(f"now must be a datetime, an ISO 8601 string or None, not {type(now).__name__}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=_dt.timezone.utc)  # the project's times are UTC
    return int(now.timestamp())


def _iso(seconds: int) -> str:
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_bytes(n: int) -> bytes:
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


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

    Returns:
        A dict: ``out_dir``, ``entries``, ``files``, ``bytes``, ``seconds``, ``now``,
        ``this_update`` / ``next_update`` (ISO, earliest), ``serial_bytes``, ``seed``, ``certs``
        (``count``, ``revoked``, ``keys``) and
        ``cas``: per CA kind its ``issuer`` alias, ``key_id`` (hex), ``entries`` and
        ``partitions``.

    Example::

        >>> summary = generate("/tmp/jpki-synth", entries=20_000, partitions=20,
        ...                    now="2026-11-26T00:00:00Z")                # doctest: +SKIP
        >>> summary["cas"]["auth"]["issuer"]                              # doctest: +SKIP
        'auth_ca_2023'
    """
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    _check_arguments(entries, partitions, serial_bytes, seed)
    _check_cert_arguments(certs, cert_keys)
    now_s = _parse_now(now)
    out = Path(out_dir).resolve()  # so that "." has a name and a parent to build beside
    cas = _load_cas(Path(ca_from)) if ca_from is not None else None
    build = _prepare_output(out)
    try:
        summary = _generate_into(build, entries, partitions, serial_bytes, seed, now_s, cas, say, certs, cert_keys)
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
    ca: _Ca
    municipality: _Municipality
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
            "crl_number": _int_bytes(self.crl_number),
            "distribution_point": _name_der(self.name),
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


def _make_cas(seed: int) -> list[_Ca]:
    serial_rng = np.random.default_rng((seed, _STREAM_CA))
    # Serial 1 for the first generation, like the real 2015 roots; random 4 octets after.
    return [
        _make_ca(kind, generation, 1 if i == 0 else int(serial_rng.integers(0x01000000, 0x7FFFFFFF)))
        for kind in CA_KINDS
        for i, generation in enumerate(GENERATIONS)
    ]


def _write_crl_files(
    out: Path, partitions: list[_Partition], signers: list[dict[str, Any]], cols: _Columns, say: Progress
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
    cas: list[_Ca] | None,
    say: Progress,
    certs: int = 0,
    cert_keys: int | None = None,
) -> dict[str, Any]:
    if cas is None:
        say("generating CA keys (6 x RSA-2048)")
        cas = _make_cas(seed)
    _write_cas(cas, out)
    signing = [next(ca for ca in cas if ca.kind == kind and ca.generation == GENERATIONS[-1]) for kind in CA_KINDS]
    signers = [
        {"private_key": _pkcs8_der(ca.key), "issuer": ca.cert.subject.public_bytes(), "authority_key_id": ca.key_id}
        for ca in signing
    ]

    # The same municipalities for both CAs, each CA with its own entry counts.
    municipalities = _municipalities(partitions_per_kind, np.random.default_rng((seed, _STREAM_PARTITIONS)))
    weights = np.array([m.population for m in municipalities])
    weights /= weights.sum()
    jitter = np.random.default_rng((seed, _STREAM_TIMES)).integers(
        0, _THIS_UPDATE_JITTER_S, size=(len(CA_KINDS), len(municipalities))
    )
    this_update = now_s - _ISSUE_LAG_S - jitter
    revocation_end = int(this_update.min()) - 60

    per_kind = _allocate(entries, [k.share for k in CA_KINDS])
    cols = _Columns(
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
        _draw_kind(kind, n, serial_bytes, revocation_end, rng, cols, rows)
        issuer_index[rows] = k
        partition_index[rows] = np.repeat(np.arange(len(partitions), len(partitions) + len(municipalities)), counts)
        for m, (municipality, count) in enumerate(zip(municipalities, counts.tolist())):
            partitions.append(_Partition(kind, k, signing[k], municipality, int(this_update[k, m]), row, count))
            row += count

    total_bytes = _write_crl_files(out, partitions, signers, cols, say)
    cert_summary = _issue_end_entities(
        out, cas, cols, issuer_index, partition_index, partitions, weights, per_kind, serial_bytes, now_s, certs,
        cert_keys, seed, say,
    )

    say("writing truth.parquet and partitions.parquet")
    issuers = [ca.alias for ca in signing]
    _write_truth(out / "truth.parquet", cols, issuer_index, issuers, partition_index, [p.name for p in partitions])
    pq.write_table(pa.Table.from_pylist([p.row() for p in partitions], schema=_PARTITIONS_SCHEMA), out / "partitions.parquet")
    (out / "README.txt").write_text(
        _README.format(
            made=_iso(int(time.time())), entries=f"{entries:,}", partitions=f"{partitions_per_kind:,}",
            serial_bytes=serial_bytes, seed=seed, now=_iso(now_s), certs=f"{cert_summary['count']:,}",
            cert_keys=cert_summary["keys"],
        )
    )
    return {
        "entries": entries,
        "files": len(partitions),
        "bytes": total_bytes,
        "serial_bytes": serial_bytes,
        "seed": seed,
        "now": _iso(now_s),
        "this_update": _iso(int(this_update.min())),
        "next_update": _iso(int(this_update.min()) + _VALIDITY_S),
        "cas": {
            kind.name: {"issuer": ca.alias, "key_id": ca.key_id.hex().upper(), "entries": n, "partitions": len(municipalities)}
            for kind, ca, n in zip(CA_KINDS, signing, per_kind)
        },
        "certs": cert_summary,
    }


# --------------------------------------------------------------------------------------------
# One CRL from Python values (for tests).

_FROM_CERT = object()
_HEX_SERIAL = re.compile(r"[0-9A-Fa-f]+")


def _load_key(key: Any) -> rsa.RSAPrivateKey:
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    data = Path(key).read_bytes() if isinstance(key, (str, os.PathLike)) else key
    if not isinstance(data, bytes):
        raise TypeError(f"ca_key must be an RSA private key, a path or bytes, not {type(key).__name__}")
    if b"-----BEGIN" in data:
        loaded = serialization.load_pem_private_key(data, password=None)
    else:
        loaded = serialization.load_der_private_key(data, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"ca_key is a {type(loaded).__name__}, not an RSA private key")
    return loaded


def _load_cert(cert: Any) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    data = Path(cert).read_bytes() if isinstance(cert, (str, os.PathLike)) else cert
    if not isinstance(data, bytes):
        raise TypeError(f"issuer_cert must be a certificate, a path or bytes, not {type(cert).__name__}")
    return (x509.load_pem_x509_certificate if b"-----BEGIN" in data else x509.load_der_x509_certificate)(data)


def _seconds(value: Any, what: str) -> int:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(value.timestamp())
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"{what} must be a datetime or seconds since 1970, not {type(value).__name__}")


def _serial_octets(value: Any, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        octets = bytes(value)
    elif isinstance(value, str):
        text = value.strip().replace(":", "")
        text = text[2:] if text[:2].lower() == "0x" else text
        if not _HEX_SERIAL.fullmatch(text):
            raise ValueError(f"{what}: {value!r} is not a hexadecimal serial (digits 0-9/A-F, optional 0x and ':')")
        octets = _int_bytes(int(text, 16))
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{what}: serial {value} is negative")
        octets = _int_bytes(int(value))
    else:
        raise TypeError(f"{what}: serial must be an int, hex string or bytes, not {type(value).__name__}")
    significant = octets.lstrip(b"\0")
    if len(significant) > 20:
        raise ValueError(f"{what}: serial has {len(significant)} octets; RFC 5280 allows at most 20")
    return significant or b"\0"


def _oid_content(oid: str | bytes | x509.ObjectIdentifier) -> bytes:
    """DER content octets of an OBJECT IDENTIFIER given dotted (``"2.5.29.20"``) or as bytes."""
    if isinstance(oid, bytes):
        return oid
    dotted = oid.dotted_string if isinstance(oid, x509.ObjectIdentifier) else oid
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError:
        raise ValueError(f"{dotted!r} is not a dotted OID such as 2.5.29.20") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40) or min(arcs) < 0:
        raise ValueError(f"{dotted!r} is not a valid OID")
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def make_crl(
    ca_key: Any,
    issuer_cert: Any,
    entries: Iterable[Sequence[Any] | dict[str, Any]],
    this_update: _dt.datetime | int,
    next_update: _dt.datetime | int | None,
    crl_number: int | None,
    partition_name: str | x509.Name | bytes | None,
    extra_extensions: Iterable[tuple[str | bytes | x509.ObjectIdentifier, bool, bytes]] = (),
    *,
    authority_key_id: Any = _FROM_CERT,
) -> bytes:
    """Builds one signed DER CRL from Python values, through the Rust encoder (small CRLs, tests).

    Args:
        ca_key: the signing key: an ``RSAPrivateKey``, or a path to / bytes of a PEM or DER key.
            Sign with another key than the certificate's to make a CRL whose signature fails.
        issuer_cert: the CA certificate (object, path, PEM or DER bytes): its subject becomes the
            CRL issuer, its subject key identifier the authority key identifier.
        entries: rows ``(serial, revocation_date[, reason[, invalidity_date]])`` or dicts with
            those keys. serial: int, hex string or big-endian bytes; dates: datetime (naive is
            UTC) or seconds; reason: RFC 5280 name, code, or None.
        this_update, next_update: datetimes or seconds (next_update None omits it).
        crl_number: the cRLNumber, or None to omit it.
        partition_name: the issuing distribution point's directory name (text such as
            ``partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku")``, an ``x509.Name`` or
            Name DER), or None for no issuingDistributionPoint.
        extra_extensions: ``(oid, critical, value_der)`` appended to crlExtensions, e.g.
            ``("2.5.29.27", True, b"\\x02\\x01\\x01")`` for a delta CRL indicator.
        authority_key_id: override the key identifier (bytes), or None to leave AKI out.

    Example::

        >>> der = make_crl("OUT/keys/auth_ca_2023.pem", "OUT/trust/auth_ca_2023.pem",
        ...                [(0x054CFCD8, datetime(2026, 1, 5), "superseded")],
        ...                datetime(2026, 11, 26), datetime(2026, 11, 28), 20261126,
        ...                partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku"))  # doctest: +SKIP
        >>> x509.load_der_x509_crl(der).get_revoked_certificate_by_serial_number(0x054CFCD8)  # doctest: +SKIP
    """
    if crl_number is not None and (not isinstance(crl_number, int) or isinstance(crl_number, bool) or crl_number < 0):
        raise ValueError(f"crl_number must be a non-negative integer or None, not {crl_number!r}")
    key = _load_key(ca_key)
    cert = _load_cert(issuer_cert)
    if authority_key_id is _FROM_CERT:
        try:
            authority_key_id = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            authority_key_id = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest

    serials: list[bytes] = []
    revocation: list[int] = []
    reasons: list[int] = []
    invalidity: list[int] = []
    mask: list[int] = []
    for i, entry in enumerate(entries):
        what = f"entry #{i}"
        if isinstance(entry, dict):
            unknown = set(entry) - {"serial", "revocation_date", "reason", "invalidity_date"}
            if unknown or "serial" not in entry or "revocation_date" not in entry:
                raise ValueError(
                    f"{what}: expected keys serial, revocation_date[, reason, invalidity_date], got {sorted(entry)}"
                )
            fields = (entry["serial"], entry["revocation_date"], entry.get("reason"), entry.get("invalidity_date"))
        else:
            if not 2 <= len(entry) <= 4:
                raise ValueError(
                    f"{what}: expected (serial, revocation_date[, reason[, invalidity_date]]), got {len(entry)} items"
                )
            fields = (*entry, None, None)[:4]
        serial, revoked_at, reason, invalid_since = fields
        serials.append(_serial_octets(serial, what))
        revocation.append(_seconds(revoked_at, f"{what}: revocation_date"))
        if reason is None:
            reasons.append(NO_REASON)
        elif isinstance(reason, str):
            if reason not in REASON_CODES:
                raise ValueError(f"{what}: unknown reason {reason!r}; expected one of {', '.join(REASON_CODES)}")
            reasons.append(REASON_CODES[reason])
        elif isinstance(reason, int) and not isinstance(reason, bool) and 0 <= reason < NO_REASON:
            reasons.append(reason)  # any code, so tests can make CRLs with undefined ones
        else:
            raise ValueError(f"{what}: reason must be an RFC 5280 name or a code 0..254, not {reason!r}")
        invalidity.append(0 if invalid_since is None else _seconds(invalid_since, f"{what}: invalidity_date"))
        mask.append(0 if invalid_since is None else 1)

    width = max((len(s) for s in serials), default=1)
    serial_buffer = b"".join(s.rjust(width, b"\0") for s in serials)
    return _core.encode_crl(
        _pkcs8_der(key),
        cert.subject.public_bytes(),
        _seconds(this_update, "this_update"),
        None if next_update is None else _seconds(next_update, "next_update"),
        serial_buffer,
        np.array(revocation, dtype=np.int64),
        serial_width=width,
        reason=np.array(reasons, dtype=np.uint8),
        invalidity_time=np.array(invalidity, dtype=np.int64),
        invalidity_mask=np.array(mask, dtype=np.uint8),
        crl_number=None if crl_number is None else _int_bytes(crl_number),
        authority_key_id=authority_key_id,
        distribution_point=None if partition_name is None else _name_der(partition_name),
        extra_extensions=[(_oid_content(oid), bool(critical), bytes(value)) for oid, critical, value in extra_extensions],
    )


# --------------------------------------------------------------------------------------------
# End-entity certificates (login and signing flows, end to end).

#: OCSP responders written into synthetic certificates: the authentication one is the real
#: sample certificate's; the signing one is named by analogy (an assumption, not J-LIS's word).
OCSP_URLS = {"auth": "http://ocspauthnorm.jpki.go.jp", "sign": "http://ocspsignnorm.jpki.go.jp"}
#: Certificate policies: the real authentication certificate's; the signing one by analogy.
POLICIES = {"auth": "1.2.392.200149.8.5.1.3.30", "sign": "1.2.392.200149.8.5.1.1.30"}
_CPS_URL = "http://www.jpki.go.jp/cps.html"
#: The issuerAltName of the real certificates: C=JP, O=公的個人認証サービス.
_ISSUER_ALT_ORGANIZATION = "公的個人認証サービス"
#: JPKI's subjectAltName otherNames for the basic 4 facts: arc .1 to .6, in this order, with
#: the DER string type each value is written as.
BASIC_FOUR_FACTS_ARC = "1.2.392.200149.8.5.5"
_FACTS = (
    ("name", 0x0C),  # UTF8String
    ("name_substitute", 0x0C),
    ("sex", 0x13),  # PrintableString
    ("date_of_birth", 0x13),
    ("address", 0x0C),
    ("address_substitute", 0x0C),
)
_KEY_USAGE_FIELDS = {
    "digitalSignature": "digital_signature", "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment", "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement", "keyCertSign": "key_cert_sign", "cRLSign": "crl_sign",
}
_DEFAULT_KEY_USAGE = {"auth": ("digitalSignature",), "sign": ("digitalSignature", "nonRepudiation")}
_DEFAULT_EKU = {"auth": ("clientAuth",), "sign": None}
_EKU_OIDS = {"clientAuth": "1.3.6.1.5.5.7.3.2", "serverAuth": "1.3.6.1.5.5.7.3.1", "emailProtection": "1.3.6.1.5.5.7.3.4"}
#: JPKI end-entity certificates live about five years.
_EE_VALIDITY_S = 5 * 365 * 86_400
_REVOKED_CERT_SHARE = 0.25
_DEFAULT_CERT_KEYS = 8
_STREAM_CERTS = 4
_DEFAULT = object()
#: Synthetic holders (kanji names so that decoding is exercised; none is a real person's).
_SURNAMES = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")
_GIVEN_NAMES = ("太郎", "花子", "一郎", "さくら", "健", "陽菜", "翔", "美咲", "大輔", "結衣")

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


def _der_string(tag: int, text: str) -> bytes:
    body = text.encode("utf-8")
    out = bytearray([tag])
    _push_der_length(out, len(body))
    return bytes(out + body)


def _push_der_length(out: bytearray, n: int) -> None:
    if n < 0x80:
        out.append(n)
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        out.append(0x80 | len(octets))
        out.extend(octets)


def _facts_value(facts: Any, field: str) -> str | None:
    return facts.get(field) if isinstance(facts, dict) else getattr(facts, field, None)


def issue_certificate(
    kind: str,
    ca_key: Any,
    ca_cert: Any,
    public_key: Any,
    serial: int | str | bytes,
    partition: str | x509.Name | None,
    not_before: _dt.datetime | int,
    not_after: _dt.datetime | int,
    *,
    subject_id: str | None = None,
    facts: Any = None,
    key_usage: Any = _DEFAULT,
    extended_key_usage: Any = _DEFAULT,
    ocsp_url: Any = _DEFAULT,
    policies: Any = _DEFAULT,
    authority_key_id: Any = _FROM_CERT,
    is_ca: bool = False,
    signing_key: Any = None,
    extra_extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
) -> bytes:
    """Issues one JPKI-like end-entity certificate (DER), built by pyca/cryptography.

    Shaped like the real authentication certificate in ``shared/fixtures/jpki``: subject
    ``C=JP, CN=<opaque id>``; keyUsage (critical), extendedKeyUsage, certificatePolicies
    (critical, with the CPS URL), issuerAltName, cRLDistributionPoints (the partition's directory
    name), authorityInfoAccess (OCSP), authorityKeyIdentifier (key id, issuer name and serial of
    the CA certificate) and subjectKeyIdentifier; a signing certificate with ``facts`` also
    carries them as subjectAltName otherNames 1.2.392.200149.8.5.5.1-.6.

    Args:
        kind: ``"auth"`` (authentication: digitalSignature, clientAuth) or ``"sign"`` (signing:
            digitalSignature and nonRepudiation).
        ca_key, ca_cert: the issuing CA's private key and certificate (objects, paths or bytes).
        public_key: the subject's public key (cryptography object, or SubjectPublicKeyInfo DER).
        serial: int, hex string or big-endian bytes (at most 20 octets).
        partition: the CRL partition's directory name (text as :func:`partition_name` gives it,
            or an ``x509.Name``), or None for no cRLDistributionPoints.
        not_before, not_after: datetimes or seconds since 1970.
        subject_id: the subject CN (default: an opaque id made from the serial).
        facts: the basic 4 facts, a dict or object with ``name``, ``name_substitute``, ``sex``,
            ``date_of_birth``, ``address``, ``address_substitute`` (None values are left out).
        key_usage: names such as ``("digitalSignature",)``, or None to leave keyUsage out.
        extended_key_usage: names (``clientAuth``) or dotted OIDs, or None to leave it out.
        ocsp_url, policies: override (None leaves the extension out).
        authority_key_id: override the AKI key identifier (bytes), or None to leave AKI out.
        is_ca: add basicConstraints cA=TRUE (a certificate that must be refused as end entity).
        signing_key: sign with this key instead of ``ca_key`` (a certificate whose signature fails).
        extra_extensions: ``(extension, critical)`` pairs appended, e.g. an
            ``x509.UnrecognizedExtension`` marked critical (a certificate that must be refused).

    >>> der = issue_certificate("auth", "OUT/keys/auth_ca_2023.pem", "OUT/trust/auth_ca_2023.pem",
    ...                         spki_der, 0x054CFCD8,
    ...                         partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku"),
    ...                         datetime(2026, 1, 1), datetime(2031, 1, 1))      # doctest: +SKIP
    """
    k = _kind(kind).name
    key = _load_key(ca_key)
    ca = _load_cert(ca_cert)
    if isinstance(public_key, (bytes, bytearray)):
        public_key = serialization.load_der_public_key(bytes(public_key))
    serial_int = int.from_bytes(_serial_octets(serial, "serial"), "big")
    if serial_int == 0 or serial_int >= 1 << 159:
        raise ValueError(f"serial: {serial_int:#x} must be positive and below 2**159 (20 DER octets)")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject_id or f"SYNTH{serial_int:018X}"),
        ]
    )
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(public_key)
        .serial_number(serial_int)
        .not_valid_before(_dt.datetime.fromtimestamp(_seconds(not_before, "not_before"), _dt.timezone.utc))
        .not_valid_after(_dt.datetime.fromtimestamp(_seconds(not_after, "not_after"), _dt.timezone.utc))
    )
    usages = _DEFAULT_KEY_USAGE[k] if key_usage is _DEFAULT else key_usage
    if usages is not None:
        unknown = set(usages) - set(_KEY_USAGE_FIELDS)
        if unknown:
            raise ValueError(f"key_usage: unknown {sorted(unknown)}; expected names from {', '.join(_KEY_USAGE_FIELDS)}")
        flags = {field: name in usages for name, field in _KEY_USAGE_FIELDS.items()}
        b = b.add_extension(x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True)
    ekus = _DEFAULT_EKU[k] if extended_key_usage is _DEFAULT else extended_key_usage
    if ekus:
        b = b.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(_EKU_OIDS.get(e, e)) for e in ekus]), critical=False
        )
    policy = POLICIES[k] if policies is _DEFAULT else policies
    if policy is not None:
        b = b.add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(policy), [_CPS_URL])]), critical=True
        )
    b = b.add_extension(
        x509.IssuerAlternativeName(
            [
                x509.DirectoryName(
                    x509.Name(
                        [
                            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ISSUER_ALT_ORGANIZATION),
                        ]
                    )
                )
            ]
        ),
        critical=False,
    )
    if partition is not None:
        if isinstance(partition, str):
            name = _parse_name(partition)
        elif isinstance(partition, x509.Name):
            name = partition
        else:
            raise TypeError(f"partition must be name text or an x509.Name, not {type(partition).__name__}")
        b = b.add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint(full_name=[x509.DirectoryName(name)], relative_name=None, reasons=None, crl_issuer=None)]
            ),
            critical=False,
        )
    url = OCSP_URLS[k] if ocsp_url is _DEFAULT else ocsp_url
    if url is not None:
        b = b.add_extension(
            x509.AuthorityInformationAccess(
                [x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url))]
            ),
            critical=False,
        )
    if authority_key_id is _FROM_CERT:
        try:
            kid = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            kid = x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest
    else:
        kid = authority_key_id
    if kid is not None:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier(kid, [x509.DirectoryName(ca.subject)], ca.serial_number), critical=False
        )
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if is_ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    if facts is not None:
        names = [
            x509.OtherName(x509.ObjectIdentifier(f"{BASIC_FOUR_FACTS_ARC}.{i}"), _der_string(tag, value))
            for i, (field, tag) in enumerate(_FACTS, start=1)
            if (value := _facts_value(facts, field)) is not None
        ]
        if names:
            b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    for extension, critical in extra_extensions:
        b = b.add_extension(extension, critical=critical)
    cert = b.sign(_load_key(signing_key) if signing_key is not None else key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


def _pem(label: str, der: bytes) -> bytes:
    """PEM text (RFC 7468) of DER bytes: 64 base64 characters a line."""
    import base64

    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode("ascii")


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


def _generation_at(seconds: int) -> int:
    """The CA key generation that issued certificates at this time (the newest already started)."""
    current = GENERATIONS[0]
    for generation in GENERATIONS:
        month, day = _GENERATION_START[generation]
        if _dt.datetime(generation, month, day, 3, tzinfo=_dt.timezone.utc).timestamp() <= seconds:
            current = generation
    return current


def _check_cert_arguments(certs: int, cert_keys: int | None) -> None:
    for name, value in (("certs", certs), ("cert_keys", cert_keys)):
        if value is None and name == "cert_keys":
            continue
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
        if value < 0 or (name == "cert_keys" and value == 0):
            raise ValueError(f"{name} must be {'1' if name == 'cert_keys' else '0'} or more, not {value}")


def _issue_end_entities(
    out: Path,
    cas: list[_Ca],
    cols: _Columns,
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
) -> dict[str, Any]:
    """Issues `count` end-entity certificates under ``out/certs`` and indexes them in
    ``certs.parquet``. Revoked ones reuse CRL entries (serial, partition, date, reason); good
    ones take serials above the range allocated for revocations (the most recently issued
    certificates), so no CRL lists them."""
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
        (out / path).write_bytes(_KEY_PREAMBLE.encode() + _pem("PRIVATE KEY", pkcs8))
        key_paths.append(path)
    by_alias = {ca.alias: ca for ca in cas}
    municipalities = len(partitions) // len(CA_KINDS)
    rows: list[dict[str, Any]] = []
    for k, (kind, n_kind) in enumerate(zip(CA_KINDS, _allocate(count, [1] * len(CA_KINDS)))):
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
        # Good certificates: serials above the allocated range, in a random partition.
        base, capacity = _serial_base(kind, serial_bytes)
        allocated = min(_ALLOCATION_FACTOR * per_kind[k], capacity)
        n_good = min(n_kind - n_revoked, capacity - allocated)
        if n_good < n_kind - n_revoked:
            say(f"certificates: only {n_good} good {kind.name} serials fit in {serial_bytes} octets")
        gap = max(1, min((capacity - allocated) // max(n_good, 1), 1000))
        for i, m in enumerate(rng.choice(municipalities, size=n_good, p=weights).tolist()):
            serial = base + allocated + i * gap + int(rng.integers(0, gap))
            not_before = now_s - int(rng.integers(86_400, 4 * 365 * 86_400))
            plan.append((serial, partitions[k * municipalities + m], None, not_before))
        for serial, part, row, not_before in plan:
            ca = by_alias[kind.alias(_generation_at(not_before))]
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
            serial_hex = _int_bytes(serial).hex().upper()
            path = f"certs/{kind.name}/{serial_hex}.der"
            (out / path).write_bytes(der)
            reason = None if row is None else _REASON_NAMES[cols.reason[row]] if cols.reason[row] != NO_REASON else None
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


def read_certs(out_dir: str | os.PathLike[str]) -> pa.Table:
    """The end-entity certificates of a dataset (``certs/certs.parquet``), one row each:
    ``path`` and ``key_path`` (relative to `out_dir`), ``kind`` (auth / sign), ``issuer`` (alias of
    the issuing CA key), ``serial`` (hex), ``partition``, ``revoked``, ``reason``,
    ``revocation_date``, ``not_before``, ``not_after``.

    >>> certs = read_certs("/tmp/jpki-synth")                          # doctest: +SKIP
    >>> certs.filter(pc.field("revoked")).num_rows                      # doctest: +SKIP
    50
    """
    return _with_second_timestamps(pq.read_table(Path(out_dir) / "certs" / "certs.parquet"))
