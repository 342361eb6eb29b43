"""The self-signed certificate is short-lived and renewed without breaking pins (issue 12,
item 14): a 90-day leaf, renewed with the same key when 30 days are left (at start, on SIGHUP
and twice a day); clients pin the public key (SPKI), and a TOFU entry holding an old
certificate fingerprint is upgraded to the public-key pin the next time it matches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import signal
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tertulia.client import Client, TrustError, TrustPolicy
from tertulia_testkit import PASSWORD, SCALE, ServerProcess


def _colons(digest: bytes) -> str:
    text = digest.hex().upper()
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def pins(cert_path: Path) -> tuple[str, str, x509.Certificate]:
    """(certificate fingerprint, public-key pin, certificate), computed here independently."""
    cert = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    der = cert.public_bytes(serialization.Encoding.DER)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fp = "SHA256:" + _colons(hashlib.sha256(der).digest())
    return fp, "SPKI-SHA256:" + _colons(hashlib.sha256(spki).digest()), cert


def resign(data_dir: Path, days_left: int) -> None:
    """Replace tls/cert.pem by a self-signed one for the same key ending in ``days_left``."""
    key = serialization.load_pem_private_key((data_dir / "tls/key.pem").read_bytes(), None)
    old = x509.load_pem_x509_certificates((data_dir / "tls/cert.pem").read_bytes())[0]
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(old.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=300))
        .not_valid_after(now + dt.timedelta(days=days_left))
    )
    for ext in old.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    cert = builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    (data_dir / "tls/cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


async def can_connect(srv: ServerProcess, user: str, trust: TrustPolicy) -> None:
    client = Client(srv.host, srv.port, user, PASSWORD, trust=trust, connect_timeout=10 * SCALE)
    try:
        await client.register()
    finally:
        await client.close()


def wait_log(srv: ServerProcess, text: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout * SCALE
    while time.monotonic() < deadline:
        log = srv.stderr_path.read_text()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in the log:\n{srv.stderr_path.read_text()[-3000:]}")


async def test_short_leaf_renewed_with_same_key_keeps_public_key_pins(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    srv = ServerProcess(data)
    srv.log_args = ["--log-level", "INFO"]
    srv.start()
    try:
        fp0, spki, cert0 = pins(data / "tls/cert.pem")
        life = cert0.not_valid_after_utc - cert0.not_valid_before_utc
        assert life <= dt.timedelta(days=91), f"the default leaf lives {life.days} days"
        srv.terminate()

        # an older installation's certificate, pinned by its fingerprint in known_servers
        resign(data, days_left=200)
        legacy_fp, legacy_spki, _ = pins(data / "tls/cert.pem")
        assert legacy_spki == spki
        srv.start()
        known = tmp_path / "known_servers"
        known.write_text(f"127.0.0.1:{srv.port} {legacy_fp}\n")
        tofu = TrustPolicy(tofu=True, known_servers_path=known)
        await can_connect(srv, "tofu1", tofu)  # the old pin matches...
        assert spki in known.read_text()  # ...and is upgraded to the public-key pin
        assert legacy_fp not in known.read_text()

        # 10 days left: the running server renews on SIGHUP (as its twice-daily check does)
        resign(data, days_left=10)
        expiring_fp, _, _ = pins(data / "tls/cert.pem")
        assert srv.proc is not None
        srv.proc.send_signal(signal.SIGHUP)
        log = wait_log(srv, "renewed the self-signed TLS certificate")
        new_fp, new_spki, new_cert = pins(data / "tls/cert.pem")
        assert new_spki == spki and new_fp not in (fp0, legacy_fp, expiring_fp)
        assert new_cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=80)
        assert "public-key pin unchanged" in log

        await can_connect(srv, "tofu2", tofu)  # the upgraded TOFU entry still matches
        await can_connect(srv, "pinned", TrustPolicy(fingerprint=spki))  # --fingerprint SPKI-...
        await can_connect(srv, "byfp", TrustPolicy(fingerprint=new_fp))  # today's fingerprint
        # a certificate fingerprint pinned by hand names one certificate: that one breaks
        with pytest.raises(TrustError):
            await can_connect(srv, "stale", TrustPolicy(fingerprint=legacy_fp))
        assert f"Public-key pin (kept across renewals): {spki}" in log
    finally:
        srv.stop()
