"""What a status and a revocation reason tell a verifier, and what to do next.

J-LIS revokes JPKI certificates for reasons with a JPKI-specific meaning (docs/DESIGN.md §2.4):
``affiliationChanged`` means death or emigration (for a signing certificate also a change of the
basic 4 facts: name, address, date of birth, sex), ``cessationOfOperation`` a lost card or
emigration, ``superseded`` a renewal, ``certificateHold`` a lost card (in JPKI a hold is never
released). The other reasons mean what RFC 5280 §5.3.1 says.

:func:`explain` turns the status, reason and certificate kind columns of a check into three
dictionary-encoded columns, ``meaning_ja``, ``meaning_en`` and ``action``, by one table lookup
per row in numpy (no per-row Python):

>>> import pyarrow as pa
>>> cols = explain(pa.array(["revoked", "good"]), pa.array(["superseded", None]), pa.array(["signing", "signing"]))
>>> cols["meaning_en"].to_pylist()
['certificate renewed (a new serial exists)', 'not revoked; the revocation data is fresh']
>>> cols["action"].to_pylist()[0]
'collect the renewed certificate'
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: Every status a sweep can give: the store's four, the certificate-level ones, and malformed.
STATUSES = (
    "good",
    "revoked",
    "stale",
    "unknown",
    "expired",
    "not_yet_valid",
    "untrusted",
    "bad_signature",
    "wrong_usage",
    "malformed",
)

#: RFC 5280 reason names in code order (7 is unused); a revoked entry may carry none.
REASONS = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "",
    "removeFromCRL",
    "privilegeWithdrawn",
    "aACompromise",
)
NO_REASON = len(REASONS)  # revoked without a reason code, or not revoked

#: Certificate kinds (the issuing CA's): a signing certificate carries the basic 4 facts.
KINDS = ("authentication", "signing")
NO_KIND = len(KINDS)

# (reason, kind or None for any kind) -> (meaning_ja, meaning_en)
_REVOCATION_MEANINGS: dict[tuple[str, str | None], tuple[str, str]] = {
    ("affiliationChanged", "signing"): (
        "「死亡」、「海外転出」又は基本4情報（氏名・住所・生年月日・性別）の変更",
        "death, emigration, or a change of the basic 4 facts (name, address, date of birth, sex)",
    ),
    ("affiliationChanged", None): ("「死亡」又は「海外転出」", "death or emigration"),
    ("cessationOfOperation", None): ("「カードの紛失」又は「海外転出」", "card lost, or emigration"),
    ("superseded", None): ("電子証明書の更新（新しいシリアル番号あり）", "certificate renewed (a new serial exists)"),
    ("certificateHold", None): ("カードの紛失（一時保留。JPKIでは解除されない）", "card lost (in JPKI a hold is never released)"),
    ("keyCompromise", None): ("秘密鍵の危殆化（漏えいのおそれ）", "private key compromised"),
    ("cACompromise", None): ("認証局の秘密鍵の危殆化", "the certification authority's key compromised"),
    ("aACompromise", None): ("属性認証局の危殆化", "the attribute authority compromised"),
    ("privilegeWithdrawn", None): ("利用資格の取消し", "privilege to use the certificate withdrawn"),
    ("unspecified", None): ("失効（理由の指定なし）", "revoked, reason unspecified"),
    ("removeFromCRL", None): ("失効の取消し（差分CRLのみ）", "removed from the CRL (delta CRLs only)"),
    ("", None): ("失効（失効理由の記載なし）", "revoked; the CRL gives no reason"),
}

_STATUS_MEANINGS: dict[str, tuple[str, str]] = {
    "good": ("失効していない（失効情報は有効期間内）", "not revoked; the revocation data is fresh"),
    "stale": (
        "失効情報が古い又は欠落しているため状態を確認できない",
        "status not known: the revocation data is missing or past its nextUpdate",
    ),
    "unknown": ("発行者が信頼ストアにない", "the issuer is not in the trust store"),
    "expired": ("電子証明書の有効期間満了", "the certificate has expired"),
    "not_yet_valid": ("電子証明書の有効期間開始前", "the certificate is not yet valid"),
    "untrusted": ("信頼する認証局の鍵で発行されていない", "not issued by a trusted JPKI CA key"),
    "bad_signature": ("認証局の署名を検証できない（改ざん又は偽造）", "the CA's signature does not verify (tampered or forged)"),
    "wrong_usage": ("用途が異なる電子証明書", "not usable for this purpose (signing vs authentication)"),
    "malformed": ("入力行を読み取れない", "the input row could not be read"),
}

# (status, reason or None, kind or None) -> action; the most specific entry applies.
_ACTIONS: dict[tuple[str, str | None, str | None], str] = {
    ("good", None, None): "none",
    ("revoked", "superseded", None): "collect the renewed certificate",
    ("revoked", "affiliationChanged", "signing"): (
        "contact the customer: confirm death or emigration, or collect the new basic 4 facts and a new signing certificate"
    ),
    ("revoked", "affiliationChanged", None): "contact the customer: confirm death or emigration; stop using this certificate",
    ("revoked", "cessationOfOperation", None): "stop using this certificate; ask for the certificate of a reissued card",
    ("revoked", "certificateHold", None): "stop using this certificate (card lost); ask for the certificate of a reissued card",
    ("revoked", "keyCompromise", None): "block at once; review what was signed or logged in with this certificate",
    ("revoked", "cACompromise", None): "block at once; escalate to security",
    ("revoked", "aACompromise", None): "block at once; escalate to security",
    ("revoked", None, None): "treat as revoked: ask the customer for a current certificate",
    ("stale", None, None): "re-check after the next CRL update; do not treat as good",
    ("unknown", None, None): "check the issuer: it is not in the store's trust store",
    ("expired", None, None): "ask the customer for a current certificate",
    ("not_yet_valid", None, None): "check the certificate's validity period and the clock",
    ("untrusted", None, None): "refuse: not issued by a trusted JPKI CA key",
    ("bad_signature", None, None): "refuse: tampered or forged certificate",
    ("wrong_usage", None, None): "use a certificate of the right kind (signing or authentication)",
    ("malformed", None, None): "correct the input row (see detail)",
}


def meaning(status: str, reason: str | None = None, kind: str | None = None) -> tuple[str, str]:
    """(meaning_ja, meaning_en) of one status, reason and certificate kind.

    >>> meaning("revoked", "affiliationChanged", "authentication")[1]
    'death or emigration'
    """
    if status == "revoked":
        reason = reason or ""
        return _REVOCATION_MEANINGS.get((reason, kind)) or _REVOCATION_MEANINGS[(reason, None)]
    return _STATUS_MEANINGS[status]


def action(status: str, reason: str | None = None, kind: str | None = None) -> str:
    """The recommended next step for one status, reason and certificate kind.

    >>> action("stale")
    're-check after the next CRL update; do not treat as good'
    """
    for key in ((status, reason, kind), (status, reason, None), (status, None, None)):
        if key in _ACTIONS:
            return _ACTIONS[key]
    raise KeyError(status)


def _build_tables() -> tuple[dict[str, pa.Array], dict[str, np.ndarray]]:
    """Dictionaries of the distinct texts, and per (status, reason, kind) code the index of
    each column's text."""
    size = len(STATUSES) * (NO_REASON + 1) * (NO_KIND + 1)
    texts: dict[str, dict[str, int]] = {"meaning_ja": {}, "meaning_en": {}, "action": {}}
    lookup = {name: np.zeros(size, dtype=np.int8) for name in texts}
    for s, status in enumerate(STATUSES):
        for r in range(NO_REASON + 1):
            reason = REASONS[r] if r < NO_REASON else None
            for k in range(NO_KIND + 1):
                kind = KINDS[k] if k < NO_KIND else None
                ja, en = meaning(status, reason, kind)
                code = (s * (NO_REASON + 1) + r) * (NO_KIND + 1) + k
                for name, text in (("meaning_ja", ja), ("meaning_en", en), ("action", action(status, reason, kind))):
                    lookup[name][code] = texts[name].setdefault(text, len(texts[name]))
    dictionaries = {name: pa.array(list(values), pa.string()) for name, values in texts.items()}
    return dictionaries, lookup


_DICTIONARIES, _LOOKUP = _build_tables()
STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
REASON_CODE = {r: i for i, r in enumerate(REASONS) if r}
KIND_CODE = {k: i for i, k in enumerate(KINDS)}


def _codes(column: pa.Array, codes: dict[str, int], missing: int, what: str) -> np.ndarray:
    """Per row, the code of a (dictionary or string) column's value; nulls get ``missing``."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_dictionary(column.type):
        import pyarrow.compute as pc

        column = pc.dictionary_encode(column)
    values = column.dictionary.to_pylist()
    unknown = [v for v in values if v is not None and v not in codes]
    if unknown:
        raise ValueError(f"{what}: unexpected value {unknown[0]!r}")
    mapping = np.array([codes.get(v, missing) if v is not None else missing for v in values] + [missing], dtype=np.int64)
    indices = column.indices.to_numpy(zero_copy_only=False) if len(column) else np.empty(0, np.int64)
    if column.null_count:
        indices = np.where(column.is_null().to_numpy(zero_copy_only=False), len(values), indices)
    return mapping[indices.astype(np.int64)]


def explain_codes(status: np.ndarray, reason: np.ndarray, kind: np.ndarray | int = NO_KIND) -> dict[str, pa.DictionaryArray]:
    """:func:`explain` on integer codes: indexes into :data:`STATUSES`, :data:`REASONS`
    (:data:`NO_REASON` for none) and :data:`KINDS` (:data:`NO_KIND` for not known)."""
    code = (status.astype(np.int16) * (NO_REASON + 1) + reason) * (NO_KIND + 1) + kind
    return {
        name: pa.DictionaryArray.from_arrays(pa.array(_LOOKUP[name][code], pa.int8()), _DICTIONARIES[name])
        for name in ("meaning_ja", "meaning_en", "action")
    }


def explain(status: pa.Array, reason: pa.Array, kind: pa.Array | None = None) -> dict[str, pa.DictionaryArray]:
    """``meaning_ja``, ``meaning_en`` and ``action`` columns (dictionary-encoded) for the status,
    reason and (optional) certificate kind columns of a check; ``kind`` may also be null per row."""
    status_code = _codes(status, STATUS_CODE, -1, "status")
    if len(status_code) and status_code.min() < 0:
        raise ValueError("status: missing (null) value")
    reason_code = _codes(reason, REASON_CODE, NO_REASON, "reason")
    kind_code = _codes(kind, KIND_CODE, NO_KIND, "kind") if kind is not None else NO_KIND
    return explain_codes(status_code, reason_code, kind_code)


def table() -> list[dict[str, str | None]]:
    """Every (status, reason, kind) combination with its meanings and action, for documentation
    and reports: one dict per distinct row."""
    rows = []
    for status in STATUSES:
        reasons = [r for r in REASONS if r and r != "removeFromCRL"] + [""] if status == "revoked" else [None]
        for reason in reasons:
            by_kind = {kind: (*meaning(status, reason, kind), action(status, reason or None, kind)) for kind in KINDS}
            kinds = KINDS if len(set(by_kind.values())) > 1 else (None,)
            for kind in kinds:
                ja, en, act = by_kind[kind or KINDS[0]]
                rows.append({"status": status, "reason": reason, "kind": kind, "meaning_ja": ja, "meaning_en": en, "action": act})
    return rows
