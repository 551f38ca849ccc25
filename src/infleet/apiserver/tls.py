"""Self-signed serving certificates for the embedded API server.

A CA and a server certificate (SANs 127.0.0.1, ::1 and localhost) are generated once per data
directory and reused, so a kubeconfig written earlier keeps working after a restart.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infleet.apiserver.private_files import private_directory, write_private


@dataclass(frozen=True)
class ServingCertificate:
    ca_path: Path
    cert_path: Path
    key_path: Path

    def ca_pem(self) -> bytes:
        return self.ca_path.read_bytes()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ensure_serving_certificate(directory: Path) -> ServingCertificate:
    """Create (once) and return the CA and server certificate stored in ``directory``."""
    private_directory(directory)
    paths = ServingCertificate(directory / "ca.crt", directory / "apiserver.crt", directory / "apiserver.key")
    if paths.ca_path.exists() and paths.cert_path.exists() and paths.key_path.exists():
        return paths
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("infleet-ca"))
        .issuer_name(_name("infleet-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("infleet-apiserver"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(paths.key_path, key_pem)  # never readable by others, not even for a moment
    paths.cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return paths
