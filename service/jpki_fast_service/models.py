"""Every request and response body of the service, in one place, so that the OpenAPI schema
(``/openapi.json``, browsable at ``/docs``) documents each endpoint exactly.

Batch status bodies (``POST /v1/status``) are documented by :class:`StatusRequest` and
:class:`StatusResponse` but never built as these models: they go from the request bytes to the
response bytes through :mod:`jpki_fast.wire`, without a Python object per item.

Times are ISO 8601 UTC strings (``2026-11-26T09:00:00Z``); ``now`` may also be given as epoch
seconds. Binary values (certificates, challenges, signatures, documents) are base64; a
certificate may also be PEM text.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, RootModel, StrictBool

SerialStatus = Literal["good", "revoked", "stale", "unknown", "malformed"]
CertStatus = Literal[
    "good", "revoked", "stale", "unknown", "expired", "not_yet_valid", "untrusted", "bad_signature", "wrong_usage", "malformed"
]
Reason = Literal[
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "removeFromCRL",
    "privilegeWithdrawn",
    "aACompromise",
]
Kind = Literal["authentication", "signing"]
Hash = Literal["sha256", "sha384", "sha512", "sha1"]
Purpose = Literal["login", "signature"]

def _text_only(value):
    """Dates and times are ISO 8601 strings in this API, never numbers (pydantic would read a
    number as epoch seconds)."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("expected an ISO 8601 date/time string (2026-11-26T09:00:00Z)")
    return value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _whole_number(value):
    """A JSON integer: a number without a fraction (22 or 22.0), never a string or boolean."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("expected a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("expected a whole number")
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]

#: An ISO 8601 instant (``2026-11-26T09:00:00Z``; without an offset, UTC).
Instant = Annotated[dt.datetime, BeforeValidator(_text_only)]
Day = Annotated[dt.date, BeforeValidator(_text_only)]
Now = Annotated[
    Instant | None, Field(description="judge freshness and validity at this instant (ISO 8601; default: the current time)")
]
#: Standard base64 (RFC 4648 alphabet), padding optional.
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$"
Base64 = Annotated[str, Field(description="base64 (standard alphabet, padding optional)", max_length=1 << 26, pattern=BASE64_PATTERN)]
CertificateText = Annotated[
    str,
    Field(
        description="a certificate: base64 DER, or PEM text",
        min_length=1,
        max_length=1 << 20,
        pattern=r"^(?:-----BEGIN [\x00-\x7f]*|" + BASE64_PATTERN[1:-1] + r")$",
    ),
]
#: A SHA-256 digest in base64: 32 bytes.
Sha256Digest = Annotated[
    str, Field(description="the SHA-256 digest of the document (32 bytes), base64", pattern=r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=?$")
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------
# Errors


class ErrorItem(_Model):
    location: str | None = Field(description="where: a JSON pointer into the body (/items/3/serial), header/NAME, query/NAME")
    message: str


class ErrorResponse(_Model):
    status: int
    error: str = Field(
        description="malformed_body, unauthorized, forbidden, too_large, unsupported_media_type, invalid_field, not_ready, ..."
    )
    message: str
    location: str | None
    errors: list[ErrorItem]


# --------------------------------------------------------------------------------------------
# POST /v1/status


#: A serial: a hex string (054CFCD8, 0x54cfcd8, 05:4C:FC:D8), up to 20 octets. Any other value
#: (bad hex, a number, null, an object) is not refused but answered ``malformed`` with a detail,
#: so that one bad item never fails a batch: the schema therefore admits any JSON value.
Serial = Annotated[
    JsonValue,
    Field(description="a hex string, up to 20 octets; any other value is answered malformed", examples=["054CFCD8"]),
]


class StatusItem(_Model):
    issuer: str = Field(description="the CA key: its alias (auth_ca_2023) or key identifier (hex)")
    serial: Serial


class StatusSerialsRequest(_Model):
    """One issuer for every serial."""

    issuer: str = Field(description="the CA key: its alias (auth_ca_2023) or key identifier (hex)")
    serials: list[Serial] = Field(min_length=1, description="hex serials; a malformed one is answered per item")
    now: Now = None
    provenance: StrictBool | None = Field(False, description="add partition, crl_number, this_update, next_update")


class StatusItemsRequest(_Model):
    """An issuer per item."""

    items: list[StatusItem] = Field(min_length=1)
    now: Now = None
    provenance: StrictBool | None = Field(False, description="add partition, crl_number, this_update, next_update")


class StatusRequest(RootModel[StatusSerialsRequest | StatusItemsRequest]):
    """``{"issuer", "serials"}`` or ``{"items"}``, with optional ``now`` and ``provenance``."""


class StatusResult(BaseModel):
    serial: str | None = Field(description="canonical uppercase hex; null when the input was malformed")
    issuer: str | None
    status: SerialStatus
    reason: Reason | None
    revocation_date: str | None
    detail: str | None = Field(None, description="why an item is malformed")
    partition: str | None = None
    crl_number: str | None = None
    this_update: str | None = None
    next_update: str | None = None


class StatusResponse(BaseModel):
    generation: int = Field(description="the snapshot generation every answer comes from")
    checked_at: str = Field(description="the instant freshness was judged at")
    results: list[StatusResult]


# --------------------------------------------------------------------------------------------
# Certificates, logins, signatures, age checks


class BasicFourFacts(BaseModel):
    """基本4情報: personal data, given only to keys with the personal_data role that ask for it."""

    name: str | None
    name_substitute: str | None
    sex: str | None
    date_of_birth: str | None
    address: str | None
    address_substitute: str | None


class CertificateResult(BaseModel):
    status: CertStatus
    detail: str | None = Field(description="why, for anything but good (never personal data)")
    reason: Reason | None
    revocation_date: str | None
    invalidity_date: str | None
    issuer: str | None = Field(description="alias of the issuing CA key")
    kind: Kind | None
    serial: str | None
    partition: str | None = Field(description="the certificate's CRL distribution point")
    not_before: str | None
    not_after: str | None
    crl_number: str | None = None
    this_update: str | None = None
    next_update: str | None = None
    basic_four_facts: BasicFourFacts | None = None


class CertificateStatusRequest(_Model):
    certificates: list[CertificateText] = Field(min_length=1)
    purpose: Purpose | None = Field(None, description="login, signature, or null to judge each by its CA's kind")
    now: Now = None
    personal_data: StrictBool = Field(False, description="include the basic 4 facts (needs the personal_data role)")
    allow_test_hierarchy: StrictBool = False
    provenance: StrictBool = Field(False, description="add crl_number, this_update, next_update")


class CertificateStatusResponse(BaseModel):
    generation: int
    checked_at: str
    results: list[CertificateResult]


class LoginItem(_Model):
    certificate: CertificateText
    challenge: Base64 = Field(description="the challenge the server sent, base64")
    signature: Base64 = Field(description="the card's signature over the challenge, base64")


class LoginRequest(LoginItem):
    """One login: the authentication certificate, the server's challenge and the card's signature."""

    hash: Hash = "sha256"
    now: Now = None


class LoginBatchRequest(_Model):
    logins: list[LoginItem] = Field(min_length=1)
    hash: Hash = "sha256"
    now: Now = None


class LoginResult(CertificateResult):
    decision: Literal["allow", "deny"] = Field(description="allow only for a valid signature by a good authentication certificate")
    signature_valid: bool


class LoginResponse(LoginResult):
    generation: int
    checked_at: str


class LoginBatchResponse(BaseModel):
    generation: int
    checked_at: str
    results: list[LoginResult]


class SignatureDocumentRequest(_Model):
    """A signed document: the signing certificate, the document and the signature."""

    certificate: CertificateText
    document: Base64 = Field(description="the signed bytes, base64")
    signature: Base64
    hash: Hash = "sha256"
    now: Now = None


class SignatureDigestRequest(_Model):
    """The same with the document's SHA-256 digest instead of the document."""

    certificate: CertificateText
    digest: Sha256Digest
    signature: Base64
    now: Now = None


class SignatureResponse(LoginResult):
    valid: bool = Field(description="the signature verifies and the signing certificate is good")
    generation: int
    checked_at: str


class AgeCheckRequest(_Model):
    certificates: list[CertificateText] = Field(min_length=1, description="signing certificates")
    age: WholeNumber = Field(ge=0, le=150, description="the threshold age in years")
    date: Day | None = Field(None, description="the day to judge the age on (default: today in Japan, UTC+9)")
    now: Now = None
    personal_data: StrictBool = Field(False, description="include the date of birth (needs the personal_data role)")


class AgeResult(BaseModel):
    reached: bool | None = Field(
        description="whether the holder has reached the age on the date; null unless the certificate is good and carries a date of birth"
    )
    status: CertStatus
    detail: str | None
    issuer: str | None
    serial: str | None
    date_of_birth: str | None = None


class AgeCheckResponse(BaseModel):
    generation: int
    checked_at: str
    age: int
    date: str
    results: list[AgeResult]


# --------------------------------------------------------------------------------------------
# Snapshot metadata


class IssuerSummary(BaseModel):
    alias: str
    key_id: str
    kind: Kind | None
    entries: int
    by_reason: dict[str, int] = Field(description="revoked entries by reason ('none' without a reason code)")
    revoked: bool = Field(description="the CA key itself is revoked by an authority revocation list")


class FreshnessSummary(BaseModel):
    partitions: int
    fresh: int
    stale: int
    oldest_next_update: str | None = Field(description="the earliest nextUpdate among the partitions")
    oldest_this_update: str | None


class SnapshotResponse(BaseModel):
    generation: int
    published_at: str | None
    checked_at: str
    entries: int
    issuers: list[IssuerSummary]
    freshness: FreshnessSummary


class PartitionRow(BaseModel):
    issuer: str
    partition: str = Field(description="the issuing distribution point's name ('' for a full CRL)")
    kind: Literal["crl", "arl"]
    crl_number: str
    this_update: str
    next_update: str | None
    entries: int
    fresh: bool


class PartitionsResponse(BaseModel):
    generation: int
    checked_at: str
    partitions: list[PartitionRow]


# --------------------------------------------------------------------------------------------
# Health, admin


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    generation: int | None
    reason: str | None = Field(description="why not ready")
    stale_partitions: int
    stale_grace_seconds: float
    reload_error: str | None = Field(None, description=(
        "which published generation is not served and the error's type (still ready on the current one); "
        "the reason itself is in the service log and on the console"))


class ReloadResponse(BaseModel):
    generation: int
    previous: int
    changed: bool


class UsageRow(BaseModel):
    tenant: str | None
    key_id: str | None
    endpoint: str
    kind: Kind | Literal["unknown"] | None = Field(description="certificate kind, from the issuing CA")
    status: str = Field(description="the answer's status (good, revoked, ..., or allow/deny for decisions)")
    count: int


class RequestCount(BaseModel):
    tenant: str | None
    key_id: str | None
    endpoint: str
    requests: int
    items: int
    errors: int = Field(description="requests answered 4xx/5xx")


class UsageResponse(BaseModel):
    from_: str | None = Field(alias="from")
    to: str | None
    tenant: str | None = Field(description="the tenant the counts are limited to (null: all tenants)")
    requests: list[RequestCount]
    items: list[UsageRow]

    model_config = ConfigDict(populate_by_name=True)
