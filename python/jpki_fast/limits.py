"""Resource limits of the library (README "Resource limits", docs/DESIGN.md §6.4).

Whatever a CRL directory or a caller holds, one run never takes more memory or time than these
bounds allow: a CRL file over ``max_crl_bytes`` is refused before it is read, one listing more
than ``max_crl_entries`` entries is refused while its entries are walked (each with the error
kind ``limit_exceeded``, naming the file and the limit), and an ingest of more than
``max_files`` files is refused before anything is read. The defaults fit a national JPKI day
(3,800 partition CRLs of about 100 KB, 10 million entries) with a wide margin; lower them for a
smaller machine. A certificate over :data:`CERTIFICATE_CEILING` (64 KiB; JPKI's are about
1.5 KB) is ``malformed`` wherever certificates are read; that bound is fixed.

Memory kept between calls: the columns of a big result (a ``Store.check`` of millions of rows)
go back to a bounded pool when the result is dropped, and the next big result reuses them
instead of asking the kernel for fresh pages, which it would clear first (a tenth of a
10-million-row check). :func:`output_buffer_pool` reads or sets the pool's limit, 256 MiB by
default; 0 turns it off. Only buffers of 4 MiB or more are kept.

>>> Limits().max_crl_bytes
1073741824
>>> Limits(max_files=10).check_files(12, "crls")
Traceback (most recent call last):
jpki_fast.limits.LimitExceeded: crls: 12 CRL files exceed the limit of 10 files per ingest (max_files)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from . import _core
from .errors import JpkiFastError

#: The largest certificate read anywhere (rust/core/src/cert.rs MAX_CERTIFICATE_SIZE), fixed.
CERTIFICATE_CEILING = 64 * 1024


class LimitExceeded(JpkiFastError, ValueError):
    """A run would exceed a resource limit; nothing was done. The message names what and the limit."""


@dataclass(frozen=True)
class Limits:
    """Resource limits; every field has a safe default (see the module docstring)."""

    #: Largest CRL file ingested, in bytes (1 GiB).
    max_crl_bytes: int = 1 << 30
    #: Most revoked entries in one CRL (30 million).
    max_crl_entries: int = 30_000_000
    #: Most CRL files in one ingest (100,000; JPKI publishes about 3,800 a day).
    max_files: int = 100_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"limits: {f.name} must be a positive integer, not {value!r}")

    def check_files(self, count: int, where: str) -> None:
        """Raises :class:`LimitExceeded` when ``count`` files exceed ``max_files``."""
        if count > self.max_files:
            raise LimitExceeded(f"{where}: {count:,} CRL files exceed the limit of {self.max_files:,} files per ingest (max_files)")


DEFAULT = Limits()


@dataclass(frozen=True)
class BufferPool:
    """The output buffer pool's state: bytes it holds now, and the most it keeps."""

    held_bytes: int
    limit_bytes: int


def output_buffer_pool(limit_bytes: int | None = None) -> BufferPool:
    """Reads, or with ``limit_bytes`` sets, the limit of the pool big results' memory returns to
    (see the module docstring); lowering it frees the oldest buffers beyond it at once.

    >>> output_buffer_pool().limit_bytes
    268435456
    >>> output_buffer_pool(0).held_bytes
    0
    >>> output_buffer_pool(256 << 20).limit_bytes
    268435456
    """
    if limit_bytes is not None and (isinstance(limit_bytes, bool) or not isinstance(limit_bytes, int) or limit_bytes < 0):
        raise ValueError(f"output_buffer_pool: limit_bytes must be a non-negative integer, not {limit_bytes!r}")
    held, limit = _core.buffer_pool(limit_bytes)
    return BufferPool(held, limit)
