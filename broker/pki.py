"""A small certificate authority for one Streetwatch installation: the broker's certificate and, when
devices use them, one client certificate per device with the device id as its common name.

Everything lives in one directory (``[broker] pki_dir``)::

    ca.key  ca.crt            the CA (the key never leaves this directory; mode 0600)
    server.key  server.crt    the broker's TLS certificate, signed by the CA
    issued/<ID>.key  .crt     client certificates (the key goes to the device, then may be deleted here)
    revoked.txt               serial numbers revoked by `pki revoke`, one per line with the CN
    crl.pem                   the CRL the broker checks, rewritten on every revocation and config run

>>> ca = Pki.init(Path("/var/lib/streetwatch/pki"), server_names=["broker.city.example"], now=now)  # doctest: +SKIP
>>> ca.issue("CG-1", now=now)                                                                          # doctest: +SKIP
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 825
DEVICE_DAYS = 825
# A CRL past its next update makes OpenSSL refuse every client certificate: it is re-signed on each
# `broker config` run, and this margin covers a year without one.
CRL_DAYS = 365


class PkiError(Exception):
    """A CA directory, key or certificate that cannot be used; the message names the file."""


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    common_name: str
    serial: int
    key_path: Path
    cert_path: Path
    not_after: datetime


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        if secret:
            os.fchmod(out.fileno(), 0o600)
        out.write(data)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PkiError(f"{what} {path}: not found (run `streetwatch pki init` first)") from None
    except OSError as exc:
        raise PkiError(f"{what} {path}: cannot be read ({exc.strerror})") from None


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Streetwatch"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alt_names(names: Iterable[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def load_certificate(path: Path, what: str = "certificate") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path, what))
    except ValueError:
        raise PkiError(f"{what} {path}: not a PEM certificate") from None


def load_private_key(path: Path, what: str = "private key") -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path, what), password=None)
    except (ValueError, TypeError):
        raise PkiError(f"{what} {path}: not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{what} {path}: not an EC key made by `streetwatch pki`")
    return key


class Pki:
    """The CA in ``root``. :meth:`init` makes one; the constructor only names the files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca_key_path = root / "ca.key"
        self.ca_cert_path = root / "ca.crt"
        self.server_key_path = root / "server.key"
        self.server_cert_path = root / "server.crt"
        self.crl_path = root / "crl.pem"
        self.revoked_path = root / "revoked.txt"
        self.issued_dir = root / "issued"

    @classmethod
    def init(cls, root: Path, *, server_names: Iterable[str], now: datetime) -> Pki:
        """Make a CA, the broker's certificate for ``server_names`` and an empty CRL. Refuses to overwrite a CA."""
        pki = cls(root)
        if pki.ca_key_path.exists():
            raise PkiError(f"CA key {pki.ca_key_path}: exists already; a new CA would invalidate every certificate")
        names = list(server_names) or ["localhost", "127.0.0.1"]
        key = ec.generate_private_key(ec.SECP256R1())
        ca = (x509.CertificateBuilder().subject_name(_name("Streetwatch CA")).issuer_name(_name("Streetwatch CA"))
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=CA_DAYS))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                           crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
              .sign(key, hashes.SHA256()))
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        _write(pki.ca_key_path, _key_pem(key), secret=True)
        _write(pki.ca_cert_path, ca.public_bytes(serialization.Encoding.PEM))
        pki._sign(names[0], pki.server_key_path, pki.server_cert_path, now=now, days=SERVER_DAYS,
                  usage=ExtendedKeyUsageOID.SERVER_AUTH, alt_names=names)
        pki.write_crl(now=now)
        return pki

    def _ca(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        return load_private_key(self.ca_key_path, "CA key"), load_certificate(self.ca_cert_path, "CA certificate")

    def _sign(self, common_name: str, key_path: Path, cert_path: Path, *, now: datetime, days: int,
              usage: x509.ObjectIdentifier, alt_names: Iterable[str] = ()) -> IssuedCertificate:
        ca_key, ca_cert = self._ca()
        key = ec.generate_private_key(ec.SECP256R1())
        not_after = now + timedelta(days=days)
        builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        alt = _alt_names(alt_names)
        if alt:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write(key_path, _key_pem(key), secret=True)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return IssuedCertificate(common_name, cert.serial_number, key_path, cert_path, not_after)

    def issue(self, common_name: str, *, now: datetime, days: int = DEVICE_DAYS) -> IssuedCertificate:
        """A client certificate whose CN is ``common_name`` (a device id, or ``~gateway``); replaces an older one."""
        if not common_name or "/" in common_name or common_name.startswith("."):
            raise PkiError(f"{common_name!r} cannot name a certificate file")
        return self._sign(common_name, self.issued_dir / f"{common_name}.key", self.issued_dir / f"{common_name}.crt",
                          now=now, days=days, usage=ExtendedKeyUsageOID.CLIENT_AUTH)

    def issued(self) -> dict[str, x509.Certificate]:
        """The newest certificate issued to each CN, by CN."""
        found: dict[str, x509.Certificate] = {}
        for path in sorted(self.issued_dir.glob("*.crt")):
            found[path.stem] = load_certificate(path)
        return found

    def revoked(self) -> dict[int, str]:
        """Serial numbers revoked by :meth:`revoke`, with the CN they were issued to."""
        if not self.revoked_path.exists():
            return {}
        entries: dict[int, str] = {}
        for line in self.revoked_path.read_text().splitlines():
            serial, _, name = line.partition(" ")
            if serial:
                entries[int(serial, 16)] = name
        return entries

    def revoke(self, common_name: str, *, now: datetime) -> int:
        """Revoke the certificate issued to ``common_name`` and rewrite the CRL; returns its serial."""
        cert = self.issued().get(common_name)
        if cert is None:
            raise PkiError(f"no certificate was issued to {common_name!r} (see {self.issued_dir})")
        entries = self.revoked()
        if cert.serial_number not in entries:
            with self.revoked_path.open("a") as out:
                out.write(f"{cert.serial_number:x} {common_name}\n")
        self.write_crl(now=now)
        return cert.serial_number

    def write_crl(self, *, now: datetime, also_revoke: Iterable[int] = ()) -> Path:
        """Sign a CRL of the revoked serials plus ``also_revoke`` (certificates of retired devices)."""
        ca_key, ca_cert = self._ca()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
                   .last_update(now - timedelta(minutes=5)).next_update(now + timedelta(days=CRL_DAYS)))
        for serial in sorted({*self.revoked(), *also_revoke}):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
        _write(self.crl_path, builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        return self.crl_path
