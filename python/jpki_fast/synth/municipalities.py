"""Municipality partitions: about 1,900 per CA, named and sized like Japan's.

J-LIS partitions its CRLs by municipality (docs/DESIGN.md §2.3); the synthetic partitions follow
the 47 prefectures, their designated cities' wards and Tokyo's special wards, with invented
(but plausible) names elsewhere and entry counts in proportion to real populations.

>>> import numpy as np
>>> [m.name for m in draw_municipalities(1900, np.random.default_rng((0, 1)))][:2]
['Sapporo-shi-Minami-ku', 'Sapporo-shi-Chuo-ku']
>>> allocate(10, [1, 1, 2])
[3, 2, 5]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np


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


@dataclass(frozen=True)
class Municipality:
    prefecture: str
    name: str
    #: Expected population: entries are drawn in proportion to it.
    population: float


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Splits `total` in proportion to `weights` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def draw_municipalities(per_kind: int, rng: np.random.Generator) -> list[Municipality]:
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

    out: list[Municipality] = []
    counts = allocate(per_kind, [p[2] for p in PREFECTURES])
    for (prefecture, population, real_count), k in zip(PREFECTURES, counts):
        if k == 0:
            continue
        scale = k / real_count
        local: list[tuple[str, float]] = []
        if prefecture == "Tokyo":
            for ward in _TOKYO_SPECIAL_WARDS[: round(len(_TOKYO_SPECIAL_WARDS) * scale)]:
                local.append((fresh(lambda ward=ward: f"{ward}-ku"), lognormal("special_ward", 0.5)))
        for city, real_wards in _DESIGNATED_CITIES.get(prefecture, ()):
            n_wards = round(real_wards * scale)
            if city == "Sapporo":
                n_wards = max(1, n_wards)
            elif n_wards < 2:
                continue  # too few partitions here to split the city; it stays one
            wards = _SAPPORO_WARDS if city == "Sapporo" else _COMMON_WARDS
            for i in range(min(n_wards, k - len(local))):
                ward = wards[i] if i < len(wards) else None  # past the list: invented ward names
                local.append((fresh(lambda city=city, ward=ward: f"{city}-shi-{ward or place_name()}-ku"), lognormal("ward", 0.5)))
        types = rng.choice(len(_MUNICIPALITY_TYPES), size=max(k - len(local), 0), p=[p for _, p in _MUNICIPALITY_TYPES])
        town = "machi" if prefecture in _MACHI_PREFECTURES else "cho"
        village = "son" if prefecture in _SON_PREFECTURES else "mura"
        for t in types:
            kind = _MUNICIPALITY_TYPES[t][0]
            suffix = {"city": "shi", "town": town, "village": village}[kind]
            local.append((fresh(lambda suffix=suffix: f"{place_name()}-{suffix}"), lognormal(kind)))
        # The prefecture's entries follow its population, however many partitions it has here.
        total = sum(p for _, p in local)
        out.extend(Municipality(prefecture, name, population * 1000 * p / total) for name, p in local)
    return out
