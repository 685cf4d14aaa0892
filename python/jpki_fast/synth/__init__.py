"""Synthetic JPKI-like revocation data: CA roots, signed partition CRLs, certificates and the
ground truth. Not part of the engine: nothing under ``jpki_fast`` imports this package except the
``jpki-fast synth`` command, the demo, tests and benchmarks.

Real JPKI revocation data may be given only to registered verifiers, so tests, benchmarks and
demos run on data shaped like it instead (docs/DESIGN.md §2):

- two CAs, signing ("JPKI for digital signature") and authentication ("JPKI for user
  authentication"), each with three RSA-2048 key generations (2015, 2019, 2023) that share one
  distinguished name, like the real roots in ``shared/fixtures/jpki/``;
- per CA, one CRL per municipality partition (about 1,900), named by a directory name such as
  ``C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Hokkaido,
  CN=Sapporo-shi-Minami-ku CRLDP`` and sized like real populations;
- serials allocated roughly in sequence, revocation dates over five years, reason codes mixed as
  J-LIS's reasons suggest for each CA (docs/DESIGN.md §2.4);
- ``truth.parquet``: every revoked entry, so a reader can be checked exactly.

Modules: :mod:`.dataset` (:func:`generate` and the readers of what it wrote), :mod:`.crl`
(:func:`make_crl`: one CRL from Python values), :mod:`.certificates` (:func:`issue_certificate`),
:mod:`.cas` (the CA roots), :mod:`.responders` (delegated OCSP
responders for the CAs), :mod:`.entries` (drawing revoked entries), :mod:`.municipalities`
(the partitions), :mod:`.names` (distinguished names), :mod:`.domain` (CA kinds, reasons, key
generations), :mod:`.values` (accepted inputs and encodings), :mod:`.cli` (``jpki-fast synth``,
also ``python -m jpki_fast.synth``).

>>> from jpki_fast import synth
>>> summary = synth.generate(tmp / "synth-doc", entries=2_000, partitions=4, now="2026-11-26T00:00:00Z",
...                          ca_from=synth_dir, certs=0)
>>> summary["files"], summary["entries"], summary["cas"]["auth"]["issuer"]
(8, 2000, 'auth_ca_2023')
>>> synth.read_truth(tmp / "synth-doc").num_rows
2000

Reproducibility: with the same ``seed`` and ``now`` the partitions, serials, dates, reasons and
the truth tables are identical across runs. RSA keys are not (``cryptography`` cannot seed RSA key
generation), so CA certificates and CRL signatures differ unless the keys are reused with
``ca_from=`` (PKCS#1 v1.5 signatures are deterministic, so the CRL files are then identical too).
"""

from .certificates import BASIC_FOUR_FACTS_ARC, OCSP_URLS, POLICIES, issue_certificate
from .crl import make_crl
from .dataset import generate, read_certs, read_partitions, read_truth
from .domain import CA_KINDS, GENERATIONS, NO_REASON, REASON_CODES, CaKind
from .municipalities import PREFECTURES
from .names import partition_name
from .responders import issue_responder, write_responders

__all__ = [
    "BASIC_FOUR_FACTS_ARC",
    "CA_KINDS",
    "GENERATIONS",
    "NO_REASON",
    "OCSP_URLS",
    "POLICIES",
    "PREFECTURES",
    "REASON_CODES",
    "CaKind",
    "generate",
    "issue_certificate",
    "issue_responder",
    "make_crl",
    "partition_name",
    "read_certs",
    "read_partitions",
    "read_truth",
    "write_responders",
]
