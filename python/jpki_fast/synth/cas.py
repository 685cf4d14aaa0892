"""The synthetic CA roots: both CAs in three key generations, like the real roots
(docs/DESIGN.md §2.2), with freshly generated RSA-2048 keys.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .domain import CA_KINDS, GENERATION_START, GENERATIONS, CaKind
from .names import ca_name


@dataclass
class Ca:
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


def make_ca(kind: CaKind, generation: int, serial: int) -> Ca:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    month, day = GENERATION_START[generation]
    not_before = _dt.datetime(generation, month, day, 3, 0, 0, tzinfo=_dt.timezone.utc)
    # Ten years, ending at 23:59:59 JST the day before, as the real roots do.
    not_after = _dt.datetime(generation + 10, month, day, 14, 59, 59, tzinfo=_dt.timezone.utc) - _dt.timedelta(days=1)
    name = ca_name(kind)
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
    return Ca(kind, generation, key, cert)


KEY_PREAMBLE = (
    "# SYNTHETIC TEST KEY made by `jpki-fast synth`: NOT a key of the real JPKI / J-LIS CA.\n"
    "# It signs the synthetic CRLs of this dataset only. Unencrypted PKCS#8 on purpose.\n"
)


def write_cas(cas: Iterable[Ca], out: Path) -> None:
    (out / "trust").mkdir(parents=True, exist_ok=True)
    (out / "keys").mkdir(parents=True, exist_ok=True)
    for ca in cas:
        (out / "trust" / f"{ca.alias}.pem").write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
        key_pem = ca.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (out / "keys" / f"{ca.alias}.pem").write_bytes(KEY_PREAMBLE.encode() + key_pem)


def load_cas(source: Path) -> list[Ca]:
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
            cas.append(Ca(kind, generation, key, cert))
    return cas
