"""The JPKI-like domain of the synthetic data: reason codes, the two CAs and their key generations.

Shaped after docs/DESIGN.md §2: each CA has three key generations (2015, 2019, 2023) sharing one
distinguished name, and the reasons each CA's revocations carry follow what J-LIS says they mean
(§2.4).

>>> kind_of("auth").alias(2023)
'auth_ca_2023'
>>> generation_at(int(_dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc).timestamp()))
2023
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Callable

#: Called with a line of text at each stage of a long run.
Progress = Callable[[str], None]


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


REASON_NAMES = [None] * 11


for _name, _code in REASON_CODES.items():
    REASON_NAMES[_code] = _name


#: Marks "no reasonCode" in the reason column handed to the Rust encoder.
NO_REASON = 255


#: The CA key generations; CRLs are signed by the newest.
GENERATIONS = (2015, 2019, 2023)


#: First day of each generation's 10-year validity (the real 2015 and 2023 roots start on these
#: days; 2019 is a plausible stand-in).
GENERATION_START = {2015: (10, 20), 2019: (10, 20), 2023: (7, 16)}


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


#: The two CAs. Reason mixes follow docs/DESIGN.md §2.4: a signing certificate is revoked on any change of
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


def kind_of(kind: CaKind | str) -> CaKind:
    if isinstance(kind, CaKind):
        return kind
    for k in CA_KINDS:
        if k.name == kind:
            return k
    raise ValueError(f"unknown CA kind {kind!r}: expected one of {', '.join(k.name for k in CA_KINDS)}")


def generation_at(seconds: int) -> int:
    """The CA key generation that issued certificates at this time (the newest already started)."""
    current = GENERATIONS[0]
    for generation in GENERATIONS:
        month, day = GENERATION_START[generation]
        if _dt.datetime(generation, month, day, 3, tzinfo=_dt.timezone.utc).timestamp() <= seconds:
            current = generation
    return current


Progress = Callable[[str], None]
