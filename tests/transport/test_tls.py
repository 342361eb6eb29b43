"""tertulia.transport.tls: fingerprints, server identity, and contexts over real TLS handshakes."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ipaddress
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tertulia.transport import tls

CANONICAL = re.compile(r"^SHA256:([0-9A-F]{2}:){31}[0-9A-F]{2}$")
FP = "SHA256:" + ":".join(["4F", "2A"] * 16)

# --------------------------------------------------------------------------- helpers


@dataclass
class Pki:
    ca_cert: Path
    leaf_cert: Path
    leaf_key: Path
    chain: Path
    leaf_der: bytes


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(directory: Path) -> Pki:
    """A test CA and a localhost/127.0.0.1 server certificate it signs."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Tertulia Test CA"))
        .issuer_name(_name("Tertulia Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pki = Pki(
        ca_cert=directory / "ca.pem",
        leaf_cert=directory / "server.pem",
        leaf_key=directory / "server.key",
        chain=directory / "fullchain.pem",
        leaf_der=leaf.public_bytes(serialization.Encoding.DER),
    )
    pki.ca_cert.write_bytes(ca.public_bytes(pem))
    pki.leaf_cert.write_bytes(leaf.public_bytes(pem))
    pki.chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    pki.leaf_key.write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return pki


class EchoServer:
    """A real TLS echo server on 127.0.0.1 (random port) that records what it received."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        self.received = bytearray()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> EchoServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ctx)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while data := await reader.read(4096):
                self.received += data
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def connect(
    port: int, ctx: ssl.SSLContext, server_hostname: str | None = "localhost"
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=server_hostname),
        5,
    )
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 5)


def ssl_object(writer: asyncio.StreamWriter) -> ssl.SSLObject:
    obj = writer.get_extra_info("ssl_object")
    assert isinstance(obj, ssl.SSLObject)
    return obj


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_is_uppercase_colon_separated_sha256() -> None:
    der = b"not really a certificate"
    fp = tls.fingerprint(der)
    assert CANONICAL.match(fp)
    assert fp.removeprefix("SHA256:").replace(":", "") == hashlib.sha256(der).hexdigest().upper()


@pytest.mark.parametrize(
    "text",
    [
        FP,
        FP.lower(),
        FP.removeprefix("SHA256:"),
        FP.removeprefix("SHA256:").replace(":", ""),
        FP.replace(":", "").lower().replace("sha256", "sha256:"),
        "  " + FP + "\n",
        "sha256:" + FP.removeprefix("SHA256:").lower(),
        "sha256 Fingerprint=" + FP.removeprefix("SHA256:"),  # openssl x509 -fingerprint output
        "SHA256 Fingerprint=" + FP.removeprefix("SHA256:"),  # (OpenSSL 1.1 spelling)
    ],
)
def test_parse_fingerprint_accepts_common_forms(text: str) -> None:
    assert tls.parse_fingerprint(text) == FP


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "64 hex digits"),
        ("SHA256:", "64 hex digits"),
        (FP[:-3], "32 colon-separated pairs"),
        (FP + ":00", "32 colon-separated pairs"),
        (FP.replace("4F:2A", "4F2A", 1), "32 colon-separated pairs"),
        (FP.replace("4F", "4G", 1), "hex digits 0-9"),
        ("Z" * 64, "hex digits 0-9"),
        ("A" * 63, "got 63 characters"),
        ("SHA1:" + ":".join(["AB"] * 20), "Tertulia uses SHA-256"),
        ("MD5:" + ":".join(["AB"] * 16), "Tertulia uses SHA-256"),
    ],
)
def test_parse_fingerprint_rejects_with_clear_message(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match="not a SHA-256 fingerprint") as info:
        tls.parse_fingerprint(text)
    assert needle in str(info.value)


# --------------------------------------------------------------------------- self-signed identity


def test_identity_is_created_private_and_well_formed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    identity = tls.ensure_server_identity(data_dir, hostnames=["chat.example.org", "192.0.2.7"])

    assert identity.created
    assert identity.key_path == data_dir / "tls" / "key.pem"
    assert identity.cert_path == data_dir / "tls" / "cert.pem"
    assert mode_of(data_dir) == 0o700
    assert mode_of(data_dir / "tls") == 0o700
    assert mode_of(identity.key_path) == 0o600
    assert [p.name for p in (data_dir / "tls").iterdir() if p.name.endswith(".tmp")] == []

    key_pem = identity.key_path.read_bytes()
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8, unencrypted
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"

    cert = x509.load_pem_x509_certificate(identity.cert_path.read_bytes())
    assert identity.fingerprint == tls.fingerprint(cert.public_bytes(serialization.Encoding.DER))
    assert CANONICAL.match(identity.fingerprint)
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = san.get_values_for_type(x509.DNSName)
    assert "localhost" in dns
    assert "chat.example.org" in dns
    assert socket.gethostname().lower().rstrip(".") in dns
    assert set(san.get_values_for_type(x509.IPAddress)) >= {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("192.0.2.7"),
    }
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    # 90 days, renewed with the same key 30 days before the end (public-key pins hold)
    assert dt.timedelta(days=89) < lifetime <= dt.timedelta(days=91)
    cert_key = cert.public_key()
    assert isinstance(cert_key, ec.EllipticCurvePublicKey)
    assert cert_key.public_numbers() == key.public_key().public_numbers()


def test_key_is_created_0600_without_chmod_and_regardless_of_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key must never exist with looser permissions, even for an instant."""

    def no_chmod(*args: object, **kwargs: object) -> None:
        raise AssertionError("permissions must be set at creation, not with chmod")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    old = os.umask(0)
    try:
        identity = tls.ensure_server_identity(tmp_path / "data")
    finally:
        os.umask(old)
    assert mode_of(identity.key_path) == 0o600
    assert mode_of(tmp_path / "data") == 0o700
    assert mode_of(tmp_path / "data" / "tls") == 0o700


def test_identity_is_reused_with_a_stable_fingerprint(tmp_path: Path) -> None:
    first = tls.ensure_server_identity(tmp_path)
    key_bytes = first.key_path.read_bytes()
    second = tls.ensure_server_identity(tmp_path, hostnames=["ignored.example"])
    assert not second.created
    assert second.fingerprint == first.fingerprint
    assert second.key_path.read_bytes() == key_bytes
    assert tls.load_cert_fingerprint(second.cert_path) == first.fingerprint


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")
def test_fingerprint_equals_openssl_cli(tmp_path: Path) -> None:
    identity = tls.ensure_server_identity(tmp_path)
    out = subprocess.run(
        ["openssl", "x509", "-in", str(identity.cert_path), "-noout", "-fingerprint", "-sha256"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert out.split("=", 1)[1] == identity.fingerprint.removeprefix("SHA256:")
    assert tls.parse_fingerprint(out) == identity.fingerprint


def test_missing_key_with_existing_cert_is_an_error(tmp_path: Path) -> None:
    identity = tls.ensure_server_identity(tmp_path)
    identity.key_path.unlink()
    with pytest.raises(tls.TLSIdentityError, match=r"private key .* is missing"):
        tls.ensure_server_identity(tmp_path)


def test_half_written_identity_is_completed_with_the_existing_key(tmp_path: Path) -> None:
    identity = tls.ensure_server_identity(tmp_path)
    key_bytes = identity.key_path.read_bytes()
    identity.cert_path.unlink()
    again = tls.ensure_server_identity(tmp_path)
    assert again.created
    assert again.key_path.read_bytes() == key_bytes
    tls.server_context(again)  # the new cert matches the old key


# --------------------------------------------------------------------------- operator certificates


def test_operator_cert_and_key_are_used_as_given(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    data_dir = tmp_path / "data"
    identity = tls.ensure_server_identity(data_dir, cert=pki.chain, key=pki.leaf_key)
    assert identity == tls.ServerIdentity(
        pki.chain,
        pki.leaf_key,
        tls.fingerprint(pki.leaf_der),
        created=False,
        spki=tls.spki_pin(pki.leaf_der),
    )
    assert not data_dir.exists()  # nothing generated


def test_operator_cert_errors_are_explicit(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    other = make_pki(tmp_path / "other")
    with pytest.raises(tls.TLSIdentityError, match="must be given together"):
        tls.ensure_server_identity(tmp_path, cert=pki.leaf_cert)
    with pytest.raises(tls.TLSIdentityError, match="does not belong to certificate"):
        tls.ensure_server_identity(tmp_path, cert=pki.leaf_cert, key=other.leaf_key)
    with pytest.raises(tls.TLSIdentityError, match="does not exist"):
        tls.ensure_server_identity(tmp_path, cert=pki.leaf_cert, key=tmp_path / "nope.key")
    with pytest.raises(tls.TLSIdentityError, match="not a PEM certificate"):
        tls.ensure_server_identity(tmp_path, cert=pki.leaf_key, key=pki.leaf_key)

    key = serialization.load_pem_private_key(pki.leaf_key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    # must fail at once instead of prompting for a passphrase on the terminal
    with pytest.raises(tls.TLSIdentityError, match="is encrypted"):
        tls.ensure_server_identity(tmp_path, cert=pki.leaf_cert, key=encrypted)


# --------------------------------------------------------------------------- contexts


def test_context_settings(tmp_path: Path) -> None:
    identity = tls.ensure_server_identity(tmp_path)
    server = tls.server_context(identity)
    assert server.minimum_version == ssl.TLSVersion.TLSv1_3
    assert server.options & ssl.OP_NO_COMPRESSION
    assert server.options & ssl.OP_NO_RENEGOTIATION
    assert server.verify_mode == ssl.CERT_NONE
    assert tls.server_context(identity, min_version="1.2").minimum_version == (
        ssl.TLSVersion.TLSv1_2
    )
    with pytest.raises(ValueError, match="min_version"):
        tls.server_context(identity, min_version="1.1")

    verifying = tls.client_context()
    assert verifying.verify_mode == ssl.CERT_REQUIRED and verifying.check_hostname
    assert verifying.minimum_version == ssl.TLSVersion.TLSv1_3
    pinned = tls.client_context(pinned=True)
    assert pinned.verify_mode == ssl.CERT_NONE and not pinned.check_hostname
    assert pinned.minimum_version == ssl.TLSVersion.TLSv1_3
    with pytest.raises(ValueError, match="not both"):
        tls.client_context(cafile=identity.cert_path, pinned=True)
    with pytest.raises(FileNotFoundError):
        tls.client_context(cafile=tmp_path / "missing.pem")


# --------------------------------------------------------------------------- real handshakes


async def test_pinned_handshake_negotiates_tls13_and_exposes_fingerprint(tmp_path: Path) -> None:
    identity = tls.ensure_server_identity(tmp_path)
    async with (
        EchoServer(tls.server_context(identity)) as server,
        connect(server.port, tls.client_context(pinned=True)) as (reader, writer),
    ):
        obj = ssl_object(writer)
        assert obj.version() == "TLSv1.3"
        assert tls.peer_fingerprint(obj) == identity.fingerprint
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
        assert await tls.probe_fingerprint("127.0.0.1", server.port) == identity.fingerprint


async def test_default_context_rejects_self_signed_certificate(tmp_path: Path) -> None:
    identity = tls.ensure_server_identity(tmp_path)
    async with EchoServer(tls.server_context(identity)) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(server.port, tls.client_context()):
                pass
    assert server.received == b""


async def test_operator_cert_verified_by_client_with_cafile(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    identity = tls.ensure_server_identity(tmp_path / "data", cert=pki.chain, key=pki.leaf_key)
    client = tls.client_context(cafile=pki.ca_cert)
    async with EchoServer(tls.server_context(identity)) as server:
        for name in ("localhost", "127.0.0.1"):
            async with connect(server.port, client, server_hostname=name) as (_, writer):
                assert ssl_object(writer).version() == "TLSv1.3"
                assert tls.peer_fingerprint(ssl_object(writer)) == tls.fingerprint(pki.leaf_der)
        with pytest.raises(ssl.SSLCertVerificationError, match=r"[Hh]ostname mismatch"):
            async with connect(server.port, client, server_hostname="wrong.example"):
                pass
        # a different CA does not vouch for this server
        stranger = make_pki(tmp_path / "stranger")
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(server.port, tls.client_context(cafile=stranger.ca_cert)):
                pass


async def test_tls12_only_when_opted_in(tmp_path: Path) -> None:
    identity = tls.ensure_server_identity(tmp_path)
    old_client = tls.client_context(pinned=True, min_version="1.2")
    old_client.maximum_version = ssl.TLSVersion.TLSv1_2

    async with EchoServer(tls.server_context(identity)) as server:
        # the server refuses: a protocol_version alert, or a reset before it is read
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            async with connect(server.port, old_client):
                pass

    async with (
        EchoServer(tls.server_context(identity, min_version="1.2")) as server,
        connect(server.port, old_client) as (_, writer),
    ):
        obj = ssl_object(writer)
        assert obj.version() == "TLSv1.2"
        cipher = obj.cipher()
        assert cipher is not None
        assert cipher[0].startswith("ECDHE-")
        assert "GCM" in cipher[0] or "CHACHA20" in cipher[0]
