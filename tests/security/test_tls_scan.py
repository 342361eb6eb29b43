"""TLS configuration: Mozilla "modern" compliance by sslyze, key-exchange groups, the
``intermediate`` opt-in, and certificate reload on SIGHUP -- against ``tertulia server``
processes on 127.0.0.1.

sslyze pins ``cryptography<47`` while Tertulia runs on newer releases, so it lives in its own
virtual environment, ``.venv-sslyze`` at the repository root, created on first use (from PyPI)
and reused afterwards (it is git-ignored; delete it to upgrade).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tertulia.proto import messages as m
from tertulia_testkit import SCALE, RawClient, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
SSLYZE_VENV = ROOT / ".venv-sslyze"
SSLYZE_VERSION = "6.3.1"


def _sslyze() -> Path:
    exe = SSLYZE_VENV / "bin" / "sslyze"
    if exe.exists():
        return exe
    lock = ROOT / ".venv-sslyze.lock"
    with open(lock, "w") as fh:
        import fcntl

        fcntl.flock(fh, fcntl.LOCK_EX)  # parallel test runs install it once
        if not exe.exists():
            subprocess.run([sys.executable, "-m", "venv", str(SSLYZE_VENV)], check=True)
            subprocess.run(
                [str(SSLYZE_VENV / "bin" / "pip"), "install", "-q", f"sslyze=={SSLYZE_VERSION}"],
                check=True,
                timeout=600,
            )
    return exe


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_leaf(directory: Path, *, days: int = 30) -> tuple[Path, Path, Path]:
    """A test CA and a leaf it signed for 127.0.0.1/localhost, ECDSA P-256, ``days`` long."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Tertulia Test CA"))
        .issuer_name(_name("Tertulia Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return ca_path, cert_path, key_path


@pytest.fixture
def ca_server(
    tmp_path: Path, server_proc_factory: Callable[..., ServerProcess]
) -> tuple[ServerProcess, Path]:
    ca, cert, key = make_ca_and_leaf(tmp_path / "pki")
    srv = server_proc_factory("srv", extra_toml=f'[tls]\ncert = "{cert}"\nkey = "{key}"\n')
    return srv, ca


@pytest.mark.slow
def test_sslyze_mozilla_modern(ca_server: tuple[ServerProcess, Path]) -> None:
    srv, ca = ca_server
    assert srv.host == "127.0.0.1"  # scan our own loopback server only
    proc = subprocess.run(
        [
            str(_sslyze()),
            "--mozilla_config=modern",
            f"--certinfo_ca_file={ca}",
            f"{srv.host}:{srv.port}",
        ],
        capture_output=True,
        text=True,
        timeout=180 * SCALE,
    )
    report = proc.stdout[proc.stdout.find("COMPLIANCE AGAINST") :]
    print(report)
    assert "OK - Compliant" in report and "Not compliant" not in report, proc.stdout[-3000:]
    assert proc.returncode == 0


def _client_ctx(**settings: Any) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for key, value in settings.items():
        if key == "curve":
            ctx.set_ecdh_curve(value)
        elif key == "ciphers":
            ctx.set_ciphers(value)
        else:
            setattr(ctx, key, value)
    return ctx


async def _handshake(srv: ServerProcess, ctx: ssl.SSLContext) -> str:
    client = await RawClient.connect(srv.host, srv.port, ssl_ctx=ctx)
    try:
        version = client.writer.get_extra_info("ssl_object").version()
        await client.hello()
        return str(version)
    finally:
        await client.close()


async def test_only_modern_groups_are_accepted(
    server_proc_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_proc_factory("srv")
    for curve in ("X25519", "prime256v1", "secp384r1"):
        assert await _handshake(srv, _client_ctx(curve=curve)) == "TLSv1.3"
    for curve in ("secp521r1", "X448"):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await _handshake(srv, _client_ctx(curve=curve))
    with pytest.raises((ssl.SSLError, ConnectionError)):  # modern: TLS 1.3 only
        await _handshake(srv, _client_ctx(maximum_version=ssl.TLSVersion.TLSv1_2))


async def test_intermediate_profile_allows_tls12_aead_only(
    server_proc_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_proc_factory("srv", extra_toml='[tls]\nmin_version = "1.2"\n')
    tls12 = ssl.TLSVersion.TLSv1_2
    ctx = _client_ctx(maximum_version=tls12, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    assert await _handshake(srv, ctx) == "TLSv1.2"
    ctx = _client_ctx(maximum_version=tls12, ciphers="ECDHE-ECDSA-CHACHA20-POLY1305")
    assert await _handshake(srv, ctx) == "TLSv1.2"
    for cbc in ("ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA"):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await _handshake(srv, _client_ctx(maximum_version=tls12, ciphers=cbc))


async def test_sighup_reloads_the_certificate(
    tmp_path: Path, server_proc_factory: Callable[..., ServerProcess]
) -> None:
    _, cert, key = make_ca_and_leaf(tmp_path / "pki1")
    srv = server_proc_factory("srv", extra_toml=f'[tls]\ncert = "{cert}"\nkey = "{key}"\n')
    old_fp = srv.fingerprint
    before = await RawClient.connect(srv.host, srv.port, fingerprint=old_fp)
    await before.login("alice", register=True)
    _, cert2, key2 = make_ca_and_leaf(tmp_path / "pki2")  # the operator renews in place
    os.replace(cert2, cert)
    os.replace(key2, key)
    assert srv.proc is not None
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10 * SCALE
    new_fp = old_fp
    while new_fp == old_fp and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        client = await RawClient.connect(srv.host, srv.port)
        new_fp = client.fingerprint
        await client.close()
    assert new_fp != old_fp
    await before.request(m.Ping(id=before.next_id()))  # the open connection carries on
    await before.close()
