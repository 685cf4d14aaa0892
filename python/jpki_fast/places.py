"""Where a partition is: the prefecture and municipality its name says.

J-LIS partitions its CRLs by municipality (docs/DESIGN.md §2.3). A partition is named by the
directory name of its CRL's issuingDistributionPoint, which names the prefecture in its last
``OU`` and the municipality in its ``CN``, followed by ``CRLDP``:

    C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Hokkaido, CN=Sapporo-shi-Minami-ku CRLDP

:func:`partition_places` reads both out of a whole column of names at once (Arrow compute, no
per-row Python), for operators' views of the ~3,800 partitions grouped by prefecture;
:func:`partition_place` does the same for one name. :data:`PREFECTURES` lists the 47 prefectures
in the official order (JIS X 0401 codes 01-47) with their names in Japanese.

>>> partition_place("C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, "
...                 "OU=Hokkaido, CN=Sapporo-shi-Minami-ku CRLDP")
Place(prefecture='Hokkaido', municipality='Sapporo-shi-Minami-ku')
>>> prefecture_code("Tokyo"), prefecture_ja("Tokyo")
(13, '東京都')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc

#: The 47 prefectures in the official order (the index + 1 is the JIS X 0401 code): the
#: romanised name as JPKI's partition names spell it, and the name in Japanese.
PREFECTURES: tuple[tuple[str, str], ...] = (
    ("Hokkaido", "北海道"), ("Aomori", "青森県"), ("Iwate", "岩手県"), ("Miyagi", "宮城県"),
    ("Akita", "秋田県"), ("Yamagata", "山形県"), ("Fukushima", "福島県"), ("Ibaraki", "茨城県"),
    ("Tochigi", "栃木県"), ("Gunma", "群馬県"), ("Saitama", "埼玉県"), ("Chiba", "千葉県"),
    ("Tokyo", "東京都"), ("Kanagawa", "神奈川県"), ("Niigata", "新潟県"), ("Toyama", "富山県"),
    ("Ishikawa", "石川県"), ("Fukui", "福井県"), ("Yamanashi", "山梨県"), ("Nagano", "長野県"),
    ("Gifu", "岐阜県"), ("Shizuoka", "静岡県"), ("Aichi", "愛知県"), ("Mie", "三重県"),
    ("Shiga", "滋賀県"), ("Kyoto", "京都府"), ("Osaka", "大阪府"), ("Hyogo", "兵庫県"),
    ("Nara", "奈良県"), ("Wakayama", "和歌山県"), ("Tottori", "鳥取県"), ("Shimane", "島根県"),
    ("Okayama", "岡山県"), ("Hiroshima", "広島県"), ("Yamaguchi", "山口県"), ("Tokushima", "徳島県"),
    ("Kagawa", "香川県"), ("Ehime", "愛媛県"), ("Kochi", "高知県"), ("Fukuoka", "福岡県"),
    ("Saga", "佐賀県"), ("Nagasaki", "長崎県"), ("Kumamoto", "熊本県"), ("Oita", "大分県"),
    ("Miyazaki", "宮崎県"), ("Kagoshima", "鹿児島県"), ("Okinawa", "沖縄県"),
)

_CODES = {name.lower(): i + 1 for i, (name, _) in enumerate(PREFECTURES)}
# Long-vowel spellings some romanisations use (Hokkaidō, Hyōgo, Ōsaka, Kyōto, Kōchi, Ōita, Tōkyō).
_CODES.update({"hokkaidō": 1, "hyōgo": 28, "ōsaka": 27, "kyōto": 26, "kōchi": 39, "ōita": 44, "tōkyō": 13})

# The last OU before the CN is the prefecture; the CN ends with " CRLDP".
_PATTERN = r"OU=(?P<prefecture>[^,]+), CN=(?P<municipality>.+?) CRLDP$"


@dataclass(frozen=True)
class Place:
    prefecture: str
    municipality: str


def partition_place(name: str | None) -> Place | None:
    """The prefecture and municipality a partition's name gives, or None for a name without them
    (a full CRL, an authority revocation list, a name of another shape).

    >>> partition_place("C=JP, O=JPKI, OU=JPKI for digital signature, OU=CRL Distribution Points, "
    ...                 "OU=Tokyo, CN=Setagaya-ku CRLDP").municipality
    'Setagaya-ku'
    >>> partition_place("") is None
    True
    """
    row = partition_places([name]).to_pylist()[0]
    return None if row["prefecture"] is None else Place(row["prefecture"], row["municipality"])


def partition_places(names: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> pa.Table:
    """For each partition name, ``prefecture``, ``municipality`` (null where the name has none)
    and ``prefecture_code`` (JIS X 0401, 1-47; null for a prefecture not among the 47), in one
    vectorised pass.

    >>> names = ["C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Okinawa, CN=Naha-shi CRLDP", ""]
    >>> partition_places(names).to_pylist()
    [{'prefecture': 'Okinawa', 'municipality': 'Naha-shi', 'prefecture_code': 47},
     {'prefecture': None, 'municipality': None, 'prefecture_code': None}]
    """
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks()
    if not isinstance(names, pa.Array):
        names = pa.array(list(names), pa.string())
    if pa.types.is_dictionary(names.type):
        names = names.cast(pa.string())
    if not pa.types.is_string(names.type):
        names = names.cast(pa.string())
    if len(names) == 0:
        empty = pa.array([], pa.string())
        return pa.table({"prefecture": empty, "municipality": empty, "prefecture_code": pa.array([], pa.int8())})
    matched = pc.match_substring_regex(names, _PATTERN)
    # extract_regex may fail on a row that does not match: such rows get a placeholder that does,
    # and are nulled after.
    parts = pc.extract_regex(pc.if_else(matched, names, pa.scalar("OU=-, CN=- CRLDP")), _PATTERN)
    none = pa.scalar(None, pa.string())
    prefecture = pc.if_else(matched, pc.utf8_trim_whitespace(parts.field("prefecture")), none)
    municipality = pc.if_else(matched, pc.utf8_trim_whitespace(parts.field("municipality")), none)
    keys = pa.array(list(_CODES), pa.string())
    codes = pa.array(list(_CODES.values()), pa.int8())
    index = pc.index_in(pc.utf8_lower(prefecture), value_set=keys)
    return pa.table({"prefecture": prefecture, "municipality": municipality, "prefecture_code": pc.take(codes, index)})


def prefecture_code(prefecture: str) -> int | None:
    """The JIS X 0401 code (1-47) of a prefecture's romanised name, or None.

    >>> prefecture_code("hyogo"), prefecture_code("Atlantis")
    (28, None)
    """
    return _CODES.get(prefecture.strip().lower())


def prefecture_ja(prefecture: str) -> str | None:
    """A prefecture's name in Japanese (北海道, 東京都, 大阪府, 青森県, ...), or None.

    >>> prefecture_ja("Osaka")
    '大阪府'
    """
    code = prefecture_code(prefecture)
    return None if code is None else PREFECTURES[code - 1][1]
