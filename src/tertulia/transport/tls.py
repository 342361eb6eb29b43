"""TLS identity, SSL contexts and certificate fingerprints.

This is the only module in Tertulia that imports :mod:`ssl`; everything above the transport
layer talks about certificates through the helpers here, so TLS policy (protocol versions,
ciphers, options) is decided in exactly one place.

Theory of operation
-------------------

* A server needs an identity. Operators with a CA-signed certificate pass ``cert``/``key`` to
  :func:`ensure_server_identity`; everyone else gets a self-signed ECDSA P-256 certificate that is
  created once in ``<data_dir>/tls/`` and reused on every later start, so its fingerprint stays
  stable and can be published (``tertulia admin fingerprint``).
* Clients that cannot verify a self-signed certificate against a CA *pin* it instead: the
  context from ``client_context(pinned=True)`` lets the handshake finish without chain
  verification, and the caller MUST compare :func:`peer_fingerprint` with the expected value
  right after the handshake and before sending a single byte (see ``tertulia.client.trust``).
* Fingerprints are always handled in one canonical text form, ``SHA256:AB:CD:...`` (uppercase,
  colon separated), the form ``openssl x509 -fingerprint -sha256`` prints, so users can compare
  them by eye with what the operator sees. :func:`parse_fingerprint` accepts the sloppy forms
  people paste.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ipaddress
import logging
import os
import secrets
import socket
import ssl
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tertulia.transport.private_files import private_dir

__all__ = [
    "FINGERPRINT_PREFIX",
    "SPKI_PREFIX",
    "TLS_VERSIONS",
    "ServerIdentity",
    "TLSIdentityError",
    "client_context",
    "ensure_server_identity",
    "fingerprint",
    "integrity_failure",
    "load_cert_fingerprint",
    "parse_fingerprint",
    "parse_pin",
    "peer_certificate",
    "peer_fingerprint",
    "probe_fingerprint",
    "server_context",
    "spki_pin",
]

log = logging.getLogger(__name__)

#: the prefix of every canonical fingerprint
FINGERPRINT_PREFIX = "SHA256:"
#: the prefix of a public-key pin: SHA-256 of the certificate's SubjectPublicKeyInfo
SPKI_PREFIX = "SPKI-SHA256:"
#: accepted values of ``min_version``
TLS_VERSIONS = ("1.2", "1.3")

_VERSION_MAP = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
# Only used when TLS 1.2 is explicitly allowed (TLS 1.3 suites are all AEAD with (EC)DHE
# already and are not affected by set_ciphers): forward secrecy and AEAD, nothing else.
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS"
_SHA256_HEX_LEN = 64
#: a self-signed leaf lives 90 days (what public CAs issue, and what sslyze's "modern" check
#: wants) and is renewed with the same key 30 days before it expires, so SPKI pins hold
_SELF_SIGNED_DAYS = 90
_RENEW_BEFORE = dt.timedelta(days=30)
_TLS_SUBDIR = "tls"
_KEY_NAME = "key.pem"
_CERT_NAME = "cert.pem"


class TLSIdentityError(ValueError):
    """The server's certificate/key cannot be used; the message says which file and why.

    Raised at startup so the operator sees the problem before any client connects.
    """


# --------------------------------------------------------------------------- fingerprints


def fingerprint(der_cert: bytes) -> str:
    """Canonical SHA-256 fingerprint of a DER certificate: ``SHA256:4F:2A:...``.

    The same text ``openssl x509 -noout -fingerprint -sha256`` prints (after ``=``), so a user
    can compare what the client shows with what the operator sees.
    """
    digest = hashlib.sha256(der_cert).hexdigest().upper()
    return FINGERPRINT_PREFIX + ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def parse_fingerprint(text: str) -> str:
    """Canonicalize a user-supplied SHA-256 fingerprint, or raise :class:`ValueError`.

    Accepts ``SHA256:AB:CD:...``, ``ab:cd:...``, ``ABCD...`` (64 hex digits), in any case, with
    surrounding whitespace, and the line ``openssl x509 -fingerprint -sha256`` prints
    (``sha256 Fingerprint=AB:CD:...``) because that is what operators paste. Colons, when
    present, must separate every pair of digits: a half-colonized string is more likely a
    copy-paste accident than a fingerprint. The message of the error says what was expected.
    """
    raw = text.strip()
    body = raw
    label, sep, rest = body.partition("=")
    if sep and label.strip().lower() == "sha256 fingerprint":
        body = rest.strip()
    upper = body.upper()
    if upper.startswith(FINGERPRINT_PREFIX):
        body = body[len(FINGERPRINT_PREFIX) :]
    elif upper.startswith(("SHA1", "MD5", "SHA384", "SHA512", "SHA224")):
        raise ValueError(
            f"{raw!r} is not a SHA-256 fingerprint; Tertulia uses SHA-256 (get it with "
            "`tertulia admin fingerprint` or `openssl x509 -noout -fingerprint -sha256`)"
        )
    if ":" in body:
        pairs = body.split(":")
        if len(pairs) != _SHA256_HEX_LEN // 2 or any(len(p) != 2 for p in pairs):
            raise ValueError(
                f"{raw!r} is not a SHA-256 fingerprint: expected 32 colon-separated pairs of hex "
                "digits, like SHA256:4F:2A:...:9C"
            )
        body = "".join(pairs)
    if len(body) != _SHA256_HEX_LEN:
        raise ValueError(
            f"{raw!r} is not a SHA-256 fingerprint: expected 64 hex digits (optionally prefixed "
            f"with SHA256: and separated by colons), got {len(body)} characters"
        )
    if any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ValueError(
            f"{raw!r} is not a SHA-256 fingerprint: it contains characters other than the hex "
            "digits 0-9 and A-F"
        )
    body = body.upper()
    return FINGERPRINT_PREFIX + ":".join(body[i : i + 2] for i in range(0, len(body), 2))


def spki_pin(der_cert: bytes) -> str:
    """Public-key pin of a DER certificate: ``SPKI-SHA256:`` and the SHA-256 of its
    SubjectPublicKeyInfo, colon-separated hex (the hash HPKP and ``curl --pinnedpubkey`` use).

    It names the key, not the certificate: a certificate renewed with the same key keeps it.
    """
    cert = x509.load_der_x509_certificate(der_cert)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SPKI_PREFIX + fingerprint(spki)[len(FINGERPRINT_PREFIX) :]


def parse_pin(text: str) -> str:
    """Canonicalize a pin: a certificate fingerprint (any form :func:`parse_fingerprint`
    takes) or a public-key pin ``SPKI-SHA256:AB:CD:...`` (case and separators as for
    fingerprints); raise :class:`ValueError` with what was expected."""
    raw = text.strip()
    if raw.upper().startswith(SPKI_PREFIX):
        body = parse_fingerprint(raw[len(SPKI_PREFIX) :])
        return SPKI_PREFIX + body[len(FINGERPRINT_PREFIX) :]
    return parse_fingerprint(raw)


def load_cert_fingerprint(cert_path: Path) -> str:
    """Fingerprint of the first (leaf) certificate in a PEM file.

    The leaf is what the server presents and what clients pin; any chain after it is ignored.
    """
    return fingerprint(_load_leaf(cert_path).public_bytes(serialization.Encoding.DER))


def peer_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> bytes:
    """The DER certificate the peer presented in this (completed) handshake (see
    :func:`peer_fingerprint`); pinning needs it whole, for the public-key pin."""
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        raise ValueError("the peer presented no certificate (is the TLS handshake complete?)")
    return der


def peer_fingerprint(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> str:
    """Fingerprint of the certificate the peer presented in this (completed) handshake.

    Works with ``CERT_NONE`` contexts too: the DER form is available even when OpenSSL did not
    verify it, which is exactly when the caller must check it.
    """
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        raise ValueError("the peer presented no certificate (is the TLS handshake complete?)")
    return fingerprint(der)


# --------------------------------------------------------------------------- integrity

#: OpenSSL's reasons for a record whose authentication tag (AEAD) or MAC did not verify, and
#: for the alert a peer sends when one of ours did not
_INTEGRITY_REASONS = {
    "DECRYPTION_FAILED_OR_BAD_RECORD_MAC": "here",
    "BAD_RECORD_MAC": "here",
    "DECRYPTION_FAILED": "here",
    "SSLV3_ALERT_BAD_RECORD_MAC": "by_peer",
    "TLSV1_ALERT_DECRYPTION_FAILED": "by_peer",
}


def integrity_failure(exc: BaseException) -> str | None:
    """Did ``exc`` end a connection because a TLS record was altered in transit?

    ``"here"``: a record received failed its integrity check (TLS 1.3's AEAD tag, "bad record
    MAC"), so the bytes were changed between the peer and us; ``"by_peer"``: the peer said so of
    a record we sent (its ``bad_record_mac`` alert). None for anything else. TLS never hands
    altered data to the application: the connection ends, and the client reconnects and
    resends (docs/security.md, "Integrity").
    """
    if not isinstance(exc, ssl.SSLError):
        return None
    reason = exc.reason or ""
    if reason in _INTEGRITY_REASONS:
        return _INTEGRITY_REASONS[reason]
    text = str(exc).lower()
    if "bad record mac" in text or "bad_record_mac" in text:
        return "by_peer" if "alert" in text else "here"
    return None


# --------------------------------------------------------------------------- server identity


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """Where the server's certificate and key live, and the certificate's fingerprint.

    ``created`` is true only on the run that generated a new self-signed certificate, so the
    server can announce that clients must learn a new fingerprint; ``renewed`` when this call
    replaced an expiring self-signed certificate with one for the same key (``spki``, the
    public-key pin, is then unchanged while ``fingerprint`` is new).
    """

    cert_path: Path
    key_path: Path
    fingerprint: str
    created: bool
    spki: str = ""
    renewed: bool = False


def ensure_server_identity(
    data_dir: Path,
    *,
    cert: Path | None = None,
    key: Path | None = None,
    hostnames: Sequence[str] = (),
) -> ServerIdentity:
    """Return the server's TLS identity, creating a self-signed one on first run.

    With ``cert`` and ``key`` (an operator-supplied, typically CA-signed certificate, optionally
    followed by its chain) they are checked to load together and used as they are; ``data_dir``
    is not touched. Otherwise ``<data_dir>/tls/{key,cert}.pem`` are reused if present and created
    if not (``data_dir`` mode 0700, key mode 0600 from the moment it exists). ``hostnames``
    (DNS names or IP addresses) are added to the certificate's SANs only when it is created:
    regenerating the certificate would change its fingerprint and break every pinned client.

    Raises :class:`TLSIdentityError` when the files exist but cannot be used together.
    """
    if (cert is None) != (key is None):
        raise TLSIdentityError(
            "a TLS certificate and its private key must be given together "
            f"(got cert={cert}, key={key})"
        )
    if cert is not None and key is not None:
        cert, key = Path(cert), Path(key)
        _check_pair(cert, key)
        der = _load_leaf(cert).public_bytes(serialization.Encoding.DER)
        return ServerIdentity(cert, key, fingerprint(der), created=False, spki=spki_pin(der))

    data_dir = Path(data_dir)
    tls_dir = data_dir / _TLS_SUBDIR
    cert_path, key_path = tls_dir / _CERT_NAME, tls_dir / _KEY_NAME
    if cert_path.exists() and key_path.exists():
        _warn_if_key_exposed(key_path)
        _check_pair(cert_path, key_path)
        leaf = _load_leaf(cert_path)
        renewed = False
        if _expiring(leaf):
            leaf = _self_signed_cert(_load_private_key(key_path), _sans_of(leaf))
            _write_atomically(cert_path, leaf.public_bytes(serialization.Encoding.PEM), mode=0o644)
            renewed = True
        der = leaf.public_bytes(serialization.Encoding.DER)
        if renewed:
            log.warning(
                "renewed the self-signed TLS certificate %s with the same key, valid until %s:"
                " new fingerprint %s, public-key pin unchanged (%s)",
                cert_path,
                leaf.not_valid_after_utc.date(),
                fingerprint(der),
                spki_pin(der),
            )
        return ServerIdentity(
            cert_path, key_path, fingerprint(der), False, spki=spki_pin(der), renewed=renewed
        )
    if cert_path.exists():
        raise TLSIdentityError(
            f"{cert_path} exists but its private key {key_path} is missing. The certificate is "
            f"useless without it: restore the key from a backup, or delete {cert_path} to "
            "generate a new identity (clients will then see a new fingerprint and must "
            "re-trust the server)."
        )

    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_dir(tls_dir)
    if key_path.exists():
        # A previous run died between writing the key and the certificate: the certificate
        # was never served, so finishing the job with the existing key loses nothing.
        _warn_if_key_exposed(key_path)
        private_key = _load_private_key(key_path)
    else:
        private_key = ec.generate_private_key(ec.SECP256R1())
        key_pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_atomically(key_path, key_pem, mode=0o600)
    cert_obj = _self_signed_cert(private_key, hostnames)
    _write_atomically(cert_path, cert_obj.public_bytes(serialization.Encoding.PEM), mode=0o644)
    der = cert_obj.public_bytes(serialization.Encoding.DER)
    fp = fingerprint(der)
    log.info("created a self-signed TLS certificate %s (%s)", cert_path, fp)
    return ServerIdentity(cert_path, key_path, fp, created=True, spki=spki_pin(der))


def _expiring(leaf: x509.Certificate, now: dt.datetime | None = None) -> bool:
    """A self-signed certificate of ours within :data:`_RENEW_BEFORE` of its end?"""
    if leaf.issuer != leaf.subject:
        return False  # someone put a CA-issued certificate into tls/: theirs to renew
    now = now or dt.datetime.now(dt.UTC)
    return leaf.not_valid_after_utc - now < _RENEW_BEFORE


def _sans_of(leaf: x509.Certificate) -> list[str]:
    """The names of an old certificate, so that its renewal names the same hosts."""
    try:
        ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = [str(n) for n in ext.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return names


def _self_signed_cert(
    private_key: ec.EllipticCurvePrivateKey, hostnames: Sequence[str]
) -> x509.Certificate:
    """A 90-day self-signed leaf for ``localhost``, this machine, loopback IPs and ``hostnames``.

    Short-lived like a public CA's, and renewed automatically with the same key (see
    :func:`ensure_server_identity`): clients pin the public key (:func:`spki_pin`), which a
    renewal keeps, so nobody has to re-verify anything.
    """
    dns: list[str] = []
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    for name in ["localhost", socket.gethostname(), *hostnames]:
        name = name.strip().rstrip(".").lower()
        if not name:
            continue
        try:
            ip = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            if name.isascii() and name not in dns:
                dns.append(name)
            elif not name.isascii():
                log.warning("skipping non-ASCII hostname %r in the certificate (use IDNA)", name)
        else:
            if ip not in ips:
                ips.append(ip)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
    sans += [x509.IPAddress(ip) for ip in ips]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    public_key = private_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # Backdated a little so a client whose clock lags slightly still accepts it.
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=_SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    return builder.sign(private_key, hashes.SHA256())


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` via a private temporary file and ``os.replace``.

    The temporary file is created with ``mode`` by ``os.open`` (never chmod-ed later), so a
    private key is not readable by others for even an instant, and a crash never leaves a
    half-written file under the final name.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _warn_if_key_exposed(key_path: Path) -> None:
    """Log (not fail) when the private key is readable by group or others: it is the operator's
    file to fix, and refusing to start would turn a hardening hint into an outage."""
    if os.name != "posix":
        return
    st_mode = key_path.stat().st_mode
    if st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "TLS private key %s is accessible by other users (mode %o); run: chmod 600 %s",
            key_path,
            stat.S_IMODE(st_mode),
            key_path,
        )


def _load_leaf(cert_path: Path) -> x509.Certificate:
    try:
        pem = cert_path.read_bytes()
    except OSError as exc:
        raise TLSIdentityError(f"cannot read TLS certificate {cert_path}: {exc.strerror}") from exc
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TLSIdentityError(
            f"{cert_path} is not a PEM certificate file ({exc}); expected "
            "'-----BEGIN CERTIFICATE-----' blocks, the server's own certificate first"
        ) from exc
    return certs[0]


def _load_private_key(key_path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise TLSIdentityError(f"cannot load TLS private key {key_path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TLSIdentityError(f"{key_path} is not an ECDSA key; delete it to generate a new one")
    return key


def _no_password() -> bytes:
    """Password callback for ``load_cert_chain``: without it OpenSSL would *prompt on the
    terminal* for an encrypted key, hanging a server started by a service manager."""
    raise TLSIdentityError("the private key is encrypted")


def _load_chain(ctx: ssl.SSLContext, cert_path: Path, key_path: Path) -> None:
    """Load cert+key into ``ctx`` and turn OpenSSL's terse errors into actionable ones."""
    for path, what in ((cert_path, "certificate"), (key_path, "private key")):
        if not path.is_file():
            raise TLSIdentityError(f"TLS {what} file {path} does not exist (or is not a file)")
    try:
        ctx.load_cert_chain(cert_path, key_path, password=_no_password)
    except TLSIdentityError:
        raise TLSIdentityError(
            f"TLS private key {key_path} is encrypted; the server needs an unencrypted key "
            f"(e.g. `openssl pkey -in {key_path} -out key-plain.pem`, then chmod 600 it)"
        ) from None
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc).lower():
            raise TLSIdentityError(
                f"TLS private key {key_path} does not belong to certificate {cert_path} "
                "(the key must be the one the certificate was issued for)"
            ) from exc
        raise TLSIdentityError(
            f"cannot load TLS certificate {cert_path} with key {key_path}: {exc.reason or exc}"
        ) from exc
    except OSError as exc:
        raise TLSIdentityError(
            f"cannot read TLS certificate {cert_path} or key {key_path}: {exc.strerror}"
        ) from exc


def _check_pair(cert_path: Path, key_path: Path) -> None:
    _load_leaf(cert_path)  # a clearer message for a non-PEM file than OpenSSL's
    _load_chain(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), cert_path, key_path)


# --------------------------------------------------------------------------- contexts


def _apply_common(ctx: ssl.SSLContext, min_version: str) -> None:
    if min_version not in _VERSION_MAP:
        allowed = ", ".join(repr(v) for v in TLS_VERSIONS)
        raise ValueError(f"min_version must be one of {allowed}, not {min_version!r}")
    ctx.minimum_version = _VERSION_MAP[min_version]
    ctx.options |= ssl.OP_NO_COMPRESSION  # CRIME
    ctx.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    if min_version == "1.2":
        ctx.set_ciphers(_TLS12_CIPHERS)


def server_context(identity: ServerIdentity, *, min_version: str = "1.3") -> ssl.SSLContext:
    """Server-side context: TLS 1.3 only unless ``min_version="1.2"`` is an explicit opt-in.

    With 1.2 allowed only ECDHE key exchange with AEAD ciphers is offered. No client
    certificates are requested: users authenticate with passwords inside the TLS channel.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _apply_common(ctx, min_version)
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.verify_mode = ssl.CERT_NONE
    _load_chain(ctx, identity.cert_path, identity.key_path)
    return ctx


def client_context(
    *, cafile: Path | None = None, pinned: bool = False, min_version: str = "1.3"
) -> ssl.SSLContext:
    """Client-side context, either CA-verifying or for fingerprint pinning.

    ``pinned=False``: OpenSSL verifies the chain against ``cafile`` (or the system CAs when
    ``cafile`` is None) and the hostname. ``pinned=True``: OpenSSL verifies nothing
    (``CERT_NONE``) because the caller compares :func:`peer_fingerprint` with the pinned value
    immediately after the handshake, before sending anything; using this context without that
    check would be insecure.
    """
    if pinned and cafile is not None:
        raise ValueError("client_context: pass either cafile or pinned=True, not both")
    if pinned:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        if cafile is not None and not Path(cafile).is_file():
            raise FileNotFoundError(f"CA file {cafile} does not exist (or is not a file)")
        ctx = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=None if cafile is None else os.fspath(cafile)
        )
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    _apply_common(ctx, min_version)
    return ctx


async def probe_fingerprint(
    host: str, port: int, *, timeout: float = 10.0, server_hostname: str | None = None
) -> str:
    """Connect, complete a TLS handshake without verification, and return the server's
    fingerprint; nothing is sent over the connection.

    Used to *show* a user which certificate a server presents after CA verification failed, so
    they can compare it with the operator's ``tertulia admin fingerprint``. The result is
    unauthenticated: never trust it without that out-of-band comparison.
    """
    ctx = client_context(pinned=True, min_version="1.2")
    _reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ctx, server_hostname=server_hostname or host),
        timeout,
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            raise ValueError("the connection has no TLS layer")
        return peer_fingerprint(ssl_object)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), timeout)
