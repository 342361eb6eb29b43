"""Configuration from the environment (TERTULIA__SECTION__KEY[__FILE]) and its printout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tertulia.server.config import ConfigError, load_config
from tertulia.server.config_env import effective_toml, mask_secret


def test_env_overrides_file_and_converts_types(tmp_path: Path) -> None:
    conf = tmp_path / "t.toml"
    conf.write_text('[server]\nport = 1000\nregistration = "open"\n[http]\nport = 9000\n')
    secret = tmp_path / "db_url"
    secret.write_text("postgresql://tertulia:s3cret@db:5432/chat\n")
    env = {
        "TERTULIA__SERVER__PORT": "2000",
        "TERTULIA__SERVER__REUSE_PORT": "yes",
        "TERTULIA__HTTP__ENABLED": "false",
        "TERTULIA__HEARTBEAT__SESSION_GRACE": "2.5",
        "TERTULIA__LIMITS__EXEMPT_NETWORKS": "10.0.0.0/8, ::1/128",
        "TERTULIA__TLS__MIN_VERSION": "1.2",
        "TERTULIA__STORE__URL__FILE": str(secret),
        "TERTULIA__BUS__URL": "redis://:pw@127.0.0.1:6379/0",
        "UNRELATED": "x",
    }
    cfg = load_config(conf, env=env, data_dir=tmp_path / "d")
    assert cfg.port == 2000 and cfg.reuse_port is True
    assert cfg.http.enabled is False and cfg.http.port == 9000  # the file still applies
    assert cfg.heartbeat.session_grace == 2.5
    assert cfg.limits.exempt_networks == ["10.0.0.0/8", "::1/128"]
    assert cfg.tls.min_version == "1.2"  # a string, not the float 1.2
    assert cfg.store.url == "postgresql://tertulia:s3cret@db:5432/chat"  # newline stripped
    assert cfg.data_dir == tmp_path / "d"  # the command line wins over everything

    text = effective_toml(cfg)
    assert "s3cret" not in text and ":pw@" not in text
    assert 'url = "postgresql://tertulia:***@db:5432/chat"' in text
    assert 'url = "redis://:***@127.0.0.1:6379/0"' in text
    assert "\n[limits]\n" in text and "port = 2000" in text
    assert "# cert = (not set)" in text


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"TERTULIA__NOPE__X": "1"}, "unknown config section"),
        ({"TERTULIA__HTTP__PROT": "1"}, "unknown setting"),
        ({"TERTULIA__SERVER__TLS": "1"}, "unknown setting"),
        ({"TERTULIA__HTTP__PORT": "eighty"}, "HTTP__PORT must be a whole number"),
        ({"TERTULIA__HTTP__ENABLED": "maybe"}, "must be true or false, not 'maybe'"),
        ({"TERTULIA__LIMITS__MAX_TEXT": "4k"}, "MAX_TEXT must be a whole number"),
        ({"TERTULIA__LIMITS__LOGIN_TIMEOUT": "soon"}, "must be a number"),
        ({"TERTULIA__LIMITS__EXEMPT_NETWORKS": "[1, 2]"}, "must be a list of quoted strings"),
        ({"TERTULIA__LOG__LEVEL": "verbose"}, 'must be one of "DEBUG"'),
        ({"TERTULIA__PORT": "1"}, "expected"),
        ({"TERTULIA__STORE__URL__FILE": "/nonexistent/secret"}, "cannot read"),
        ({"TERTULIA__STORE__URL": "mysql://x"}, "postgresql"),
        ({"TERTULIA__BUS__URL": "redis://127.0.0.1"}, "shared store"),
        ({"TERTULIA__LOG__FORMAT": "xml"}, 'one of "text", "json"'),
    ],
)
def test_bad_environment_is_a_config_error(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(None, env=env)


def test_mask_secret() -> None:
    assert mask_secret("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert mask_secret("redis://:p@h:6379/0") == "redis://:***@h:6379/0"
    assert mask_secret("postgresql://u@h/db") == "postgresql://u@h/db"
    assert mask_secret("") == ""
