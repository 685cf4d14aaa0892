"""Exceptions raised by jpki_fast. Every message names the file, field or item at fault."""

from __future__ import annotations


class JpkiFastError(Exception):
    """Base class of every jpki_fast error."""


class TrustStoreError(JpkiFastError):
    """A trust directory or CA certificate cannot be used."""


class SerialFormatError(JpkiFastError, ValueError):
    """A serial number is not a valid RFC 5280 serial (names the item index)."""


class StoreError(JpkiFastError):
    """A store is missing, locked, or damaged."""


class StoreCorruptedError(StoreError):
    """A published generation fails its integrity checks."""


class IngestRefused(JpkiFastError):
    """An ingest run published nothing because input was refused.

    ``summary`` holds the full :class:`~jpki_fast.ingest.IngestSummary`, with every refused
    file and its cause.
    """

    def __init__(self, message: str, summary) -> None:
        super().__init__(message)
        self.summary = summary
