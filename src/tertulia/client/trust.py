"""Client-side trust decision: is the server on the other end of this TLS connection the right one?

Most Tertulia servers run with a self-signed certificate, which no CA vouches for, so a client
has four ways to decide (a :class:`TrustPolicy` holds exactly one):

* ``fingerprint``: the user got the fingerprint from the operator out of band (``tertulia admin
  fingerprint``) and the peer certificate must match it exactly.
* ``tofu`` (trust on first use, like SSH): the first certificate seen for ``host:port`` is
  remembered in the *known_servers* file; later connections must present the same one.
* ``cafile``: the server has a certificate signed by a private CA; OpenSSL verifies the chain
  and the hostname.
* default: same, against the system's CAs (a server with a public CA-signed certificate).

How the connect code uses this module, in order:

1. ``ctx = ssl_context_for(policy)`` and open the TLS connection with it;
2. if the handshake raises :class:`ssl.SSLCertVerificationError` (CA or default mode), raise
   ``UntrustedCertificateError(host, port, fp)`` (its text is :func:`explain_verify_failure`);
   ``tertulia.transport.tls.probe_fingerprint`` can fetch ``fp`` to show the user;
3. right after a successful handshake, **before sending anything**, call
   ``verify_peer(policy, host, port, tls.peer_fingerprint(ssl_object))`` and close the
   connection if it raises. In fingerprint and TOFU modes OpenSSL verified nothing
   (``pinned=True`` context): this call *is* the authentication of the server.

Nothing here is ever accepted silently: every refusal is a :class:`TrustError` whose message says
what happened and what the user can do about it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tertulia.transport import tls
from tertulia.transport.private_files import open_private, private_dir

__all__ = [
    "KNOWN_SERVERS_ENV",
    "CertificateChangedError",
    "CertificateMismatchError",
    "CertificateRejectedError",
    "KnownServers",
    "KnownServersError",
    "PromptCallback",
    "TrustError",
    "TrustMode",
    "TrustPolicy",
    "TrustPolicyError",
    "UntrustedCertificateError",
    "default_known_servers_path",
    "explain_verify_failure",
    "server_key",
    "ssl_context_for",
    "verify_peer",
]

#: environment variable overriding the location of the known_servers file
KNOWN_SERVERS_ENV = "TERTULIA_KNOWN_SERVERS"

TrustMode = Literal["fingerprint", "cafile", "tofu", "system"]
#: ``prompt(fingerprint, host, port) -> accept?``: asked on first contact in TOFU mode (GUI).
PromptCallback = Callable[[str, str, int], bool]


# --------------------------------------------------------------------------- errors


class TrustError(Exception):
    """Base of every trust failure; ``str(exc)`` is meant to be shown to the user as is."""


class TrustPolicyError(TrustError, ValueError):
    """The trust options themselves are invalid (conflicting modes, malformed fingerprint)."""


class KnownServersError(TrustError):
    """The known_servers file cannot be read, parsed or written."""


class CertificateMismatchError(TrustError):
    """The server's certificate is not the one pinned with ``--fingerprint``."""

    def __init__(self, host: str, port: int, expected: str, received: str) -> None:
        self.host, self.port = host, port
        self.expected, self.received = expected, received
        super().__init__(
            f"The TLS certificate of {server_key(host, port)} does not match the pinned "
            "fingerprint, so the connection was closed and nothing was sent.\n"
            f"  expected (--fingerprint): {expected}\n"
            f"  received from the server: {received}\n"
            "Either the fingerprint you were given is mistyped or out of date, or someone is "
            "intercepting the connection (an attack). Ask the server operator for the current "
            "fingerprint (they get it with `tertulia admin fingerprint`) and compare it over a "
            "channel you trust; do not connect until they match."
        )


class CertificateChangedError(TrustError):
    """TOFU: the server presents a different certificate from the one remembered earlier."""

    def __init__(
        self, host: str, port: int, expected: str, received: str, known_servers_path: Path
    ) -> None:
        self.host, self.port = host, port
        self.expected, self.received = expected, received
        self.known_servers_path = known_servers_path
        key = server_key(host, port)
        super().__init__(
            f"WARNING: the TLS certificate of {key} HAS CHANGED since you first trusted it.\n"
            f"  expected (remembered): {expected}\n"
            f"  received now:          {received}\n"
            "This may be an attack: someone may be intercepting the connection. The connection "
            "was closed and nothing (no password, no message) was sent.\n"
            "Ask the server operator whether they replaced the certificate, and compare the "
            "received fingerprint with what they see (`tertulia admin fingerprint` on the "
            "server). Only if they really changed it and the fingerprints match: delete the line "
            f"starting with '{key} ' from {known_servers_path} and connect again with --tofu, or "
            f"connect with --fingerprint {received}."
        )


class CertificateRejectedError(TrustError):
    """TOFU: the user was asked about an unknown server's certificate and declined."""

    def __init__(self, host: str, port: int, received: str) -> None:
        self.host, self.port, self.received = host, port, received
        super().__init__(
            f"You did not accept the TLS certificate of {server_key(host, port)} "
            f"({received}); the connection was closed and nothing was sent. To connect, check "
            "the fingerprint with the server operator (`tertulia admin fingerprint`) and accept "
            "it, or pass --fingerprint with the value they give you."
        )


class UntrustedCertificateError(TrustError):
    """CA verification failed (default or ``cafile`` mode); see :func:`explain_verify_failure`."""

    def __init__(self, host: str, port: int, fp: str | None, *, reason: str | None = None) -> None:
        self.host, self.port, self.fingerprint, self.reason = host, port, fp, reason
        super().__init__(explain_verify_failure(host, port, fp, reason=reason))


# --------------------------------------------------------------------------- policy


def default_known_servers_path(env: Mapping[str, str] | None = None) -> Path:
    """``$TERTULIA_KNOWN_SERVERS``, else ``$XDG_CONFIG_HOME/tertulia/known_servers``, else
    ``~/.config/tertulia/known_servers``. ``env`` defaults to :data:`os.environ` (tests pass
    their own). A relative ``XDG_CONFIG_HOME`` is ignored, as the XDG spec requires."""
    env = os.environ if env is None else env
    override = env.get(KNOWN_SERVERS_ENV)
    if override:
        return Path(override).expanduser()
    xdg = env.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "tertulia" / "known_servers"


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """How to authenticate the server: at most one of ``fingerprint``, ``cafile``, ``tofu``.

    With none of them the system CAs are used. ``fingerprint`` is a certificate fingerprint
    (``SHA256:...``) or a public-key pin (``SPKI-SHA256:...``, kept across certificate renewals),
    canonicalized on construction (:func:`tertulia.transport.tls.parse_pin`), so a
    malformed one fails here, at argument-parsing time, not after connecting. ``min_version``
    is the lowest TLS version the client accepts ("1.3" unless the server opted into 1.2).
    """

    fingerprint: str | None = None
    cafile: Path | None = None
    tofu: bool = False
    known_servers_path: Path = field(default_factory=default_known_servers_path)
    min_version: str = "1.3"
    #: plaintext TCP, for a server started with ``--insecure-no-tls`` (local debugging only)
    insecure_no_tls: bool = False

    def __post_init__(self) -> None:
        chosen = [
            name
            for name, on in (
                ("--fingerprint", self.fingerprint is not None),
                ("--cafile", self.cafile is not None),
                ("--tofu", self.tofu),
                ("--insecure-no-tls", self.insecure_no_tls),
            )
            if on
        ]
        if len(chosen) > 1:
            raise TrustPolicyError(
                f"choose one way to trust the server, not {' and '.join(chosen)}: "
                "--fingerprint pins one certificate, --tofu remembers the first one seen, "
                "--cafile verifies against your own CA"
            )
        if self.fingerprint is not None:
            try:
                canonical = tls.parse_pin(self.fingerprint)
            except ValueError as exc:
                raise TrustPolicyError(str(exc)) from None
            object.__setattr__(self, "fingerprint", canonical)
        if self.cafile is not None:
            object.__setattr__(self, "cafile", Path(self.cafile))
        object.__setattr__(self, "known_servers_path", Path(self.known_servers_path))
        if self.min_version not in tls.TLS_VERSIONS:
            raise TrustPolicyError(
                f"min_version must be one of {', '.join(tls.TLS_VERSIONS)}, "
                f"not {self.min_version!r}"
            )

    @property
    def mode(self) -> TrustMode:
        """Which of the four modes this policy is in."""
        if self.fingerprint is not None:
            return "fingerprint"
        if self.cafile is not None:
            return "cafile"
        if self.tofu:
            return "tofu"
        return "system"

    @property
    def pinned(self) -> bool:
        """True when the application, not OpenSSL, authenticates the server (see verify_peer)."""
        return self.mode in ("fingerprint", "tofu")


def ssl_context_for(policy: TrustPolicy) -> ssl.SSLContext:
    """The client SSL context for ``policy``.

    Pinned modes (fingerprint, TOFU) get a non-verifying context: the connect code MUST call
    :func:`verify_peer` after the handshake and before sending anything.
    """
    if policy.pinned:
        return tls.client_context(pinned=True, min_version=policy.min_version)
    try:
        return tls.client_context(cafile=policy.cafile, min_version=policy.min_version)
    except (OSError, ssl.SSLError) as exc:
        raise TrustPolicyError(
            f"cannot use CA file {policy.cafile}: {exc}; pass a PEM file with the CA "
            "certificate(s) that signed the server's certificate"
        ) from exc


def verify_peer(
    policy: TrustPolicy,
    host: str,
    port: int,
    der_or_fp: bytes | str,
    *,
    prompt: PromptCallback | None = None,
) -> None:
    """Decide, right after the handshake, whether this server may be talked to; raise if not.

    ``der_or_fp`` is the peer certificate (DER, ``getpeercert(binary_form=True)``: then both
    its fingerprint and its public-key pin are known) or only its fingerprint. A pin matches
    when it is either: a certificate fingerprint (pins made before public-key pinning, and what
    operators publish) or an ``SPKI-SHA256:`` pin, which still matches after the server renewed
    its certificate with the same key. Fingerprint mode: the pin must match, else
    :class:`CertificateMismatchError`. TOFU: an unknown ``host:port`` is remembered -- by its
    public-key pin -- if ``prompt(fp, host, port)`` returns true (or unconditionally when
    ``prompt`` is None: the CLI ``--tofu`` flag *is* the user's consent),
    :class:`CertificateRejectedError` if it returns false; a known one must match, else
    :class:`CertificateChangedError`; a known certificate fingerprint that matches is upgraded
    to the public-key pin in place (the migration path: the next renewal keeps working). CA
    and system modes: OpenSSL has already verified chain and hostname, nothing more to do.
    """
    spki: str | None = None
    if isinstance(der_or_fp, bytes | bytearray | memoryview):
        received = tls.fingerprint(bytes(der_or_fp))
        if policy.pinned:
            try:
                spki = tls.spki_pin(bytes(der_or_fp))
            except ValueError:  # not a certificate we can parse: only its fingerprint counts
                spki = None
    else:
        try:
            received = tls.parse_fingerprint(der_or_fp)
        except ValueError as exc:
            raise TrustPolicyError(str(exc)) from None
    matches = {received} if spki is None else {received, spki}
    mode = policy.mode
    if mode == "fingerprint":
        if policy.fingerprint not in matches:
            raise CertificateMismatchError(host, port, policy.fingerprint or "", received)
        return
    if mode != "tofu":
        return
    known = KnownServers(policy.known_servers_path)
    expected = known.lookup(host, port)
    if expected is None:
        if prompt is not None and not prompt(received, host, port):
            raise CertificateRejectedError(host, port, received)
        known.remember(host, port, spki or received)
    elif expected not in matches:
        raise CertificateChangedError(host, port, expected, received, known.path)
    elif spki is not None and expected != spki:
        known.remember(host, port, spki)


def explain_verify_failure(
    host: str, port: int, fp: str | None, *, reason: str | None = None
) -> str:
    """The hard-error text for a server whose certificate failed CA verification.

    ``fp`` is the fingerprint the server presented, if the caller fetched it (unauthenticated,
    hence the instruction to compare it with the operator's); ``reason`` is OpenSSL's
    ``verify_message`` (e.g. "self-signed certificate", "Hostname mismatch ...").
    """
    key = server_key(host, port)
    fp_arg = fp if fp is not None else "SHA256:<fingerprint from the operator>"
    why = (reason or "").lower()
    if "hostname" in why:
        cause = (
            "the certificate is not issued for this name; connect with the name the server's "
            "certificate lists, or someone may be intercepting the connection."
        )
    elif "expired" in why or "not yet valid" in why:
        cause = (
            "the certificate is outside its validity period (check this computer's clock); "
            "the server operator may need to renew it."
        )
    else:
        cause = (
            "no certificate authority this computer trusts vouches for it. Tertulia servers "
            "often use a self-signed certificate, which is normal, but it may also be someone "
            "intercepting the connection."
        )
    lines = [
        f"Cannot verify the TLS certificate of {key}"
        + (f" ({reason})" if reason else "")
        + f": {cause} Nothing was sent to the server.",
    ]
    if fp is not None:
        lines.append(f"The server presented the certificate {fp}")
    lines += [
        "To connect, choose one:",
        f"  --fingerprint {fp_arg}",
        "      after checking that it is exactly what the server operator sees with "
        "`tertulia admin fingerprint` (or in the server's startup output);",
        "  --tofu",
        "      to trust the certificate seen on the first connection and remember it "
        "(any later change is refused);",
        "  --cafile PATH",
        "      if the server's certificate is signed by your own certificate authority.",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- known_servers


def server_key(host: str, port: int) -> str:
    """``host:port`` as written in known_servers: lowercase names, IPv6 in brackets.

    IP addresses are normalized (``::0001`` and ``::1`` are the same server); a trailing dot on
    a DNS name is dropped.
    """
    h = host.strip().strip("[]").rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return f"{h}:{port}"
    return f"[{ip.compressed}]:{port}" if ip.version == 6 else f"{ip.compressed}:{port}"


class KnownServers:
    """The TOFU file: one ``host:port SHA256:...`` per line, ``#`` comments allowed.

    The file is re-read on every call (it is tiny) so edits by the user or by another client
    process are seen. A malformed line is an error, not skipped: skipping it would make that
    server look unknown and have TOFU accept whatever certificate it presents next.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_known_servers_path()

    def __repr__(self) -> str:
        return f"<KnownServers {self.path}>"

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise KnownServersError(f"cannot read known servers file {self.path}: {exc}") from exc

    def _parse(self, lines: list[str]) -> list[tuple[int, str, str]]:
        """``(line index, key, fingerprint)`` for every entry line."""
        entries = []
        for i, line in enumerate(lines):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.split()
            problem = None
            if len(parts) != 2:
                problem = "expected 'host:port SHA256:...'"
            else:
                key, fp = parts
                host, sep, port = key.rpartition(":")
                if not sep or not host or not port.isdigit():
                    problem = f"{key!r} is not host:port"
                else:
                    try:
                        fp = tls.parse_pin(fp)
                    except ValueError as exc:
                        problem = str(exc)
            if problem is not None:
                raise KnownServersError(
                    f"line {i + 1} of the known servers file {self.path} is malformed "
                    f"({problem}); fix or delete that line"
                )
            entries.append((i, server_key(host, int(port)), fp))
        return entries

    def entries(self) -> dict[str, str]:
        """All remembered servers, ``{"host:port": fingerprint}`` (first entry wins)."""
        result: dict[str, str] = {}
        for _, key, fp in self._parse(self._lines()):
            result.setdefault(key, fp)
        return result

    def lookup(self, host: str, port: int) -> str | None:
        """The remembered fingerprint of ``host:port``, or None if it was never seen."""
        return self.entries().get(server_key(host, port))

    def remember(self, host: str, port: int, fp: str) -> None:
        """Record (or replace) the fingerprint of ``host:port``; comments are preserved."""
        key = server_key(host, port)
        entry = f"{key} {tls.parse_pin(fp)}"
        lines = self._lines()
        matching = [i for i, k, _ in self._parse(lines) if k == key]
        if matching:
            lines[matching[0]] = entry
            drop = set(matching[1:])
            lines = [line for i, line in enumerate(lines) if i not in drop]
        else:
            if not lines:
                lines.append("# Tertulia known servers (trust on first use): host:port SHA256:...")
            lines.append(entry)
        self._write(lines)

    def forget(self, host: str, port: int) -> bool:
        """Remove every entry for ``host:port``; True if there was one (e.g. a GUI "forget")."""
        key = server_key(host, port)
        lines = self._lines()
        drop = {i for i, k, _ in self._parse(lines) if k == key}
        if drop:
            self._write([line for i, line in enumerate(lines) if i not in drop])
        return bool(drop)

    def _write(self, lines: list[str]) -> None:
        """Atomic replace: a temp file created 0600 in the same directory, then os.replace, so
        a crash or a concurrent reader never sees a truncated file."""
        data = "\n".join(lines) + "\n"
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            private_dir(self.path.parent, tighten=False)
            try:
                with open_private(tmp, exclusive=True) as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                raise
        except OSError as exc:
            raise KnownServersError(
                f"cannot write known servers file {self.path}: {exc.strerror or exc}"
            ) from exc
