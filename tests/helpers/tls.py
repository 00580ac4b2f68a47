"""A certificate authority made in the test, and certificates it signs for loopback."""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


class Authority:
    """A CA of the test's own: `ca` is its certificate, `issue` signs one for loopback."""

    def __init__(self, folder: Path, name: str = "CareLedger test CA") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self._cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(self._key, hashes.SHA256()))
        self.ca = folder / "ca.pem"
        self.ca.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, client: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(self._key, hashes.SHA256()))
        path = self.folder / f"{name}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return Issued(cert=path, key=_write_key(key, self.folder / f"{name}.key"))


#: PostgreSQL's requests to encrypt, sent before anything else (protocol 3.0).
SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


class TlsListener:
    """A TLS listener on loopback that hands each connection, decrypted, to a port.

    It stands in for the servers' own TLS, which the embedded ones lack: Tansu 0.6's
    `--cert` still answers in the clear, and the embedded PostgreSQL is built without
    SSL. Clients speak Kafka, or PostgreSQL (`postgres=True`: the SSLRequest answered
    'S', then the handshake), over TLS to it and verify its certificate against the
    test's CA. Nothing in the clear is let through: `handshakes` counts those that were.
    """

    def __init__(self, target_port: int, issued: Issued, *, postgres: bool = False,
                 port: int = 0) -> None:
        import socket
        import ssl
        import threading

        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(issued.cert, issued.key)
        self._target = target_port
        self._postgres = postgres
        self.handshakes = 0
        self._server = socket.create_server(("127.0.0.1", port))
        self.port: int = self._server.getsockname()[1]
        self._closed = threading.Event()
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while not self._closed.is_set():
            try:
                raw, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: object) -> None:
        import socket
        import ssl

        try:
            if self._postgres and not self._ssl_requested(raw):  # type: ignore[arg-type]
                raw.close()  # type: ignore[attr-defined]
                return
            client = self._context.wrap_socket(raw, server_side=True)  # type: ignore[arg-type]
        except (ssl.SSLError, OSError):
            return  # a client that does not speak TLS, or does not trust us: refused
        self.handshakes += 1
        try:
            upstream = socket.create_connection(("127.0.0.1", self._target))
        except OSError:  # the server behind is gone (stopping): end this one too
            client.close()
            return
        self._open |= {client, upstream}
        # One thread per connection, both directions: an SSL socket must not be read in
        # one thread while another writes it.
        try:
            while not self._closed.is_set():
                readable, _, _ = select.select([client, upstream], [], [], 0.5)
                for source in readable:
                    sink = upstream if source is client else client
                    chunk = source.recv(65536)
                    if not chunk:
                        return
                    sink.sendall(chunk)
                    while source is client and client.pending():  # decrypted, not yet read
                        sink.sendall(client.recv(65536))
        except OSError:
            return
        finally:
            for end in (client, upstream):
                self._open.discard(end)
                with contextlib.suppress(OSError):
                    end.close()

    @staticmethod
    def _ssl_requested(raw: Any) -> bool:
        """Answer PostgreSQL's encryption requests: TLS yes ('S'), GSSAPI no ('N')."""
        while True:
            head = raw.recv(8, socket.MSG_WAITALL)
            if len(head) != 8:
                return False
            length, code = struct.unpack("!II", head)
            if length == 8 and code == GSSENC_REQUEST:
                raw.sendall(b"N")
                continue
            if length == 8 and code == SSL_REQUEST:
                raw.sendall(b"S")
                return True
            return False  # a startup in the clear: refused

    def close(self) -> None:
        """Stop listening and end every connection (their threads see it within 0.5 s)."""
        self._closed.set()
        self._server.close()
        for end in list(self._open):
            with contextlib.suppress(OSError):
                end.close()
