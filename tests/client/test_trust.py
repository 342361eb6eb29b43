"""tertulia.client.trust: policies, the known_servers file, and trust decisions over real TLS."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tertulia.client import trust
from tertulia.client.trust import (
    CertificateChangedError,
    CertificateMismatchError,
    CertificateRejectedError,
    KnownServers,
    KnownServersError,
    TrustError,
    TrustPolicy,
    TrustPolicyError,
    UntrustedCertificateError,
)
from tertulia.transport import tls

FP_A = "SHA256:" + ":".join(["AA"] * 32)
FP_B = "SHA256:" + ":".join(["BB"] * 32)
HOST = "127.0.0.1"

# --------------------------------------------------------------------------- helpers


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.asynccontextmanager
async def tls_server(identity: tls.ServerIdentity, port: int = 0) -> AsyncIterator[Server]:
    server = Server(identity, port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class Server:
    """A real TLS server on 127.0.0.1 that records every byte a client sends."""

    def __init__(self, identity: tls.ServerIdentity, port: int) -> None:
        self.ctx = tls.server_context(identity)
        self.port = port
        self.received = bytearray()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, HOST, self.port, ssl=self.ctx)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
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
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()


async def connect(
    policy: TrustPolicy,
    port: int,
    *,
    prompt: trust.PromptCallback | None = None,
    server_hostname: str = "localhost",
) -> str:
    """Connect the way the client library must: handshake, verify_peer, only then send."""
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(
            HOST, port, ssl=trust.ssl_context_for(policy), server_hostname=server_hostname
        ),
        5,
    )
    try:
        obj = writer.get_extra_info("ssl_object")
        assert isinstance(obj, ssl.SSLObject)
        der = obj.getpeercert(binary_form=True)
        assert der is not None
        trust.verify_peer(policy, HOST, port, der, prompt=prompt)
        writer.write(b"hello")
        await writer.drain()
        return str(obj.version())
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 5)


def make_ca_signed(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): a test CA and a 127.0.0.1/localhost leaf it signs."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Trust Test CA"))
        .issuer_name(name("Trust Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def known_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "tertulia" / "known_servers"


# --------------------------------------------------------------------------- policy


def test_default_known_servers_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert trust.default_known_servers_path({}) == (
        tmp_path / "home" / ".config" / "tertulia" / "known_servers"
    )
    assert trust.default_known_servers_path({"XDG_CONFIG_HOME": "/xdg"}) == Path(
        "/xdg/tertulia/known_servers"
    )
    # relative XDG_CONFIG_HOME is invalid per the spec and ignored
    assert trust.default_known_servers_path({"XDG_CONFIG_HOME": "rel"}).parts[-3] == ".config"
    env = {"XDG_CONFIG_HOME": "/xdg", "TERTULIA_KNOWN_SERVERS": "/etc/ks"}
    assert trust.default_known_servers_path(env) == Path("/etc/ks")

    monkeypatch.setenv("TERTULIA_KNOWN_SERVERS", str(tmp_path / "ks"))
    assert TrustPolicy().known_servers_path == tmp_path / "ks"


def test_policy_modes_and_validation() -> None:
    assert TrustPolicy().mode == "system"
    assert TrustPolicy(tofu=True).mode == "tofu"
    assert TrustPolicy(cafile=Path("ca.pem")).mode == "cafile"
    pinned = TrustPolicy(fingerprint=FP_A.lower().removeprefix("sha256:").replace(":", ""))
    assert pinned.mode == "fingerprint"
    assert pinned.fingerprint == FP_A  # canonicalized
    assert pinned.pinned and TrustPolicy(tofu=True).pinned and not TrustPolicy().pinned

    with pytest.raises(TrustPolicyError, match="--fingerprint and --tofu"):
        TrustPolicy(fingerprint=FP_A, tofu=True)
    with pytest.raises(TrustPolicyError, match="not --cafile and --tofu"):
        TrustPolicy(cafile=Path("ca.pem"), tofu=True)
    with pytest.raises(TrustPolicyError, match="not a SHA-256 fingerprint"):
        TrustPolicy(fingerprint="SHA256:12:34")
    with pytest.raises(ValueError):  # also a ValueError, for argparse-style callers
        TrustPolicy(fingerprint="nope")
    with pytest.raises(TrustPolicyError, match="min_version"):
        TrustPolicy(min_version="1.0")
    with pytest.raises(TrustPolicyError, match="cannot use CA file"):
        trust.ssl_context_for(TrustPolicy(cafile=Path("/nonexistent/ca.pem")))


def test_contexts_per_mode(tmp_path: Path) -> None:
    for policy in (TrustPolicy(fingerprint=FP_A), TrustPolicy(tofu=True)):
        ctx = trust.ssl_context_for(policy)
        assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    ctx = trust.ssl_context_for(TrustPolicy())
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3


# --------------------------------------------------------------------------- known_servers


def test_known_servers_file_format_and_permissions(known_path: Path) -> None:
    known = KnownServers(known_path)
    assert known.lookup(HOST, 7443) is None
    known.remember(HOST, 7443, FP_A.lower())
    known.remember("::1", 7443, FP_B)
    known.remember("Chat.Example.org.", 7443, FP_A)

    assert mode_of(known_path) == 0o600
    assert mode_of(known_path.parent) == 0o700
    entries = [ln for ln in known_path.read_text().splitlines() if not ln.startswith("#")]
    assert entries == [
        f"127.0.0.1:7443 {FP_A}",
        f"[::1]:7443 {FP_B}",
        f"chat.example.org:7443 {FP_A}",
    ]
    assert known.lookup("[::1]", 7443) == FP_B
    assert known.lookup("0:0::1", 7443) == FP_B
    assert known.lookup("CHAT.example.org", 7443) == FP_A
    assert known.lookup(HOST, 7444) is None
    assert [p.name for p in known_path.parent.iterdir()] == ["known_servers"]  # no temp left


def test_known_servers_keeps_comments_and_replaces_entries(known_path: Path) -> None:
    known_path.parent.mkdir(parents=True)
    known_path.write_text(f"# mine\n\n{HOST}:1 {FP_A}\n# keep me\n{HOST}:1 {FP_A}\n")
    known = KnownServers(known_path)
    known.remember(HOST, 1, FP_B)
    assert known_path.read_text() == f"# mine\n\n{HOST}:1 {FP_B}\n# keep me\n"
    assert known.entries() == {f"{HOST}:1": FP_B}
    assert known.forget(HOST, 1)
    assert not known.forget(HOST, 1)
    assert known.lookup(HOST, 1) is None
    assert "# keep me" in known_path.read_text()


@pytest.mark.parametrize(
    "line",
    ["localhost 7443 " + FP_A, "localhost:http " + FP_A, "localhost:7443 SHA256:12", "garbage"],
)
def test_malformed_known_servers_line_is_an_error_not_skipped(known_path: Path, line: str) -> None:
    known_path.parent.mkdir(parents=True)
    known_path.write_text(f"# ok\n{line}\n")
    with pytest.raises(KnownServersError, match=r"line 2 of the known servers file .* malformed"):
        KnownServers(known_path).lookup("localhost", 7443)


# --------------------------------------------------------------------------- verify_peer (no I/O)


def test_fingerprint_mode_requires_exact_match() -> None:
    policy = TrustPolicy(fingerprint=FP_A)
    trust.verify_peer(policy, HOST, 7443, FP_A.lower())
    with pytest.raises(CertificateMismatchError) as info:
        trust.verify_peer(policy, HOST, 7443, FP_B)
    msg = str(info.value)
    assert FP_A in msg and FP_B in msg and "127.0.0.1:7443" in msg
    assert "attack" in msg and "tertulia admin fingerprint" in msg
    assert isinstance(info.value, TrustError)


def test_tofu_prompt_accept_decline_and_change(known_path: Path) -> None:
    policy = TrustPolicy(tofu=True, known_servers_path=known_path)
    asked: list[tuple[str, str, int]] = []

    def decline(fp: str, host: str, port: int) -> bool:
        asked.append((fp, host, port))
        return False

    with pytest.raises(CertificateRejectedError, match="did not accept"):
        trust.verify_peer(policy, HOST, 7443, FP_A, prompt=decline)
    assert asked == [(FP_A, HOST, 7443)]
    assert KnownServers(known_path).lookup(HOST, 7443) is None

    trust.verify_peer(policy, HOST, 7443, FP_A, prompt=lambda *a: True)
    assert KnownServers(known_path).lookup(HOST, 7443) == FP_A

    def must_not_ask(fp: str, host: str, port: int) -> bool:
        raise AssertionError("a known server must not prompt")

    trust.verify_peer(policy, HOST, 7443, FP_A, prompt=must_not_ask)
    with pytest.raises(CertificateChangedError) as info:
        trust.verify_peer(policy, HOST, 7443, FP_B, prompt=must_not_ask)
    err = info.value
    assert (err.expected, err.received) == (FP_A, FP_B)
    msg = str(err)
    assert FP_A in msg and FP_B in msg and "attack" in msg
    assert str(known_path) in msg and "'127.0.0.1:7443 '" in msg and "delete the line" in msg
    assert KnownServers(known_path).lookup(HOST, 7443) == FP_A  # never silently replaced


def test_ca_modes_add_no_check_and_write_nothing(known_path: Path) -> None:
    for policy in (
        TrustPolicy(known_servers_path=known_path),
        TrustPolicy(cafile=Path("ca.pem"), known_servers_path=known_path),
    ):
        trust.verify_peer(policy, HOST, 7443, b"whatever OpenSSL verified")
    assert not known_path.exists()


def test_explain_verify_failure_tells_what_to_do() -> None:
    text = trust.explain_verify_failure("chat.example.org", 7443, FP_A, reason="self-signed")
    assert "chat.example.org:7443" in text and "self-signed" in text
    assert f"--fingerprint {FP_A}" in text
    assert "tertulia admin fingerprint" in text
    assert "--tofu" in text and "--cafile" in text
    assert "SHA256:<fingerprint" in trust.explain_verify_failure("::1", 1, None)
    assert "not issued for this name" in trust.explain_verify_failure(
        "h", 1, None, reason="Hostname mismatch, certificate is not valid for 'h'."
    )
    assert "[::1]:1" in trust.explain_verify_failure("::1", 1, None)
    err = UntrustedCertificateError("h", 1, FP_A)
    assert isinstance(err, TrustError) and str(err) == trust.explain_verify_failure("h", 1, FP_A)


# --------------------------------------------------------------------------- real TLS handshakes


async def test_pinned_fingerprint_over_tls(tmp_path: Path) -> None:
    identity = tls.ensure_server_identity(tmp_path / "srv")
    async with tls_server(identity) as server:
        version = await connect(TrustPolicy(fingerprint=identity.fingerprint), server.port)
        assert version == "TLSv1.3"
        await asyncio.sleep(0.05)
        assert server.received == b"hello"

        server.received.clear()
        with pytest.raises(CertificateMismatchError):
            await connect(TrustPolicy(fingerprint=FP_A), server.port)
        await asyncio.sleep(0.05)
        assert server.received == b""  # rejected before anything was sent


async def test_tofu_over_tls_first_use_then_accept_then_changed(
    tmp_path: Path, known_path: Path
) -> None:
    first = tls.ensure_server_identity(tmp_path / "first")
    policy = TrustPolicy(tofu=True, known_servers_path=known_path)
    async with tls_server(first) as server:
        port = server.port
        await connect(policy, port)  # first use: accepted (CLI --tofu) and remembered
        # by its public key: a renewal of the certificate with the same key keeps the pin
        assert KnownServers(known_path).lookup(HOST, port) == first.spki
        await connect(policy, port)  # second use: same certificate, accepted

    replaced = tls.ensure_server_identity(tmp_path / "replaced")
    async with tls_server(replaced, port) as server:
        with pytest.raises(CertificateChangedError) as info:
            await connect(policy, port)
        assert info.value.expected == first.spki
        assert info.value.received == replaced.fingerprint
        await asyncio.sleep(0.05)
        assert server.received == b""
    assert KnownServers(known_path).lookup(HOST, port) == first.spki


async def test_default_mode_fails_on_self_signed_with_actionable_error(tmp_path: Path) -> None:
    identity = tls.ensure_server_identity(tmp_path / "srv")
    async with tls_server(identity) as server:
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            await connect(TrustPolicy(), server.port)
        fp = await tls.probe_fingerprint(HOST, server.port)
        assert fp == identity.fingerprint
        err = UntrustedCertificateError(HOST, server.port, fp, reason=info.value.verify_message)
        assert f"--fingerprint {identity.fingerprint}" in str(err)
        assert "self-signed" in str(err)
        assert server.received == b""


async def test_cafile_mode_over_tls(tmp_path: Path, known_path: Path) -> None:
    ca, cert, key = make_ca_signed(tmp_path / "pki")
    identity = tls.ensure_server_identity(tmp_path / "srv", cert=cert, key=key)
    policy = TrustPolicy(cafile=ca, known_servers_path=known_path)
    async with tls_server(identity) as server:
        assert await connect(policy, server.port) == "TLSv1.3"
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect(policy, server.port, server_hostname="evil.example")
    assert not known_path.exists()
