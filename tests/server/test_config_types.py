"""Config values of the wrong type: a one-line ConfigError with the right spelling, no TypeError."""

from __future__ import annotations

from pathlib import Path

import pytest

from tertulia.server.config import ConfigError, load_config


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[server]\nport = "abc"\n', '[server] port must be a whole number, not the string "abc"'),
        ("[server]\nport = true\n", "[server] port must be a whole number, not the boolean true"),
        ('[limits]\nmax_text = "4000"\n', "(for example: max_text = 4000)"),
        ('[limits]\nlogin_timeout = "20"\n', "login_timeout must be a number"),
        ("[limits]\nexempt_networks = [1]\n", "exempt_networks must be a list of quoted strings"),
        (
            "[tls]\ncert = 5\n",
            'cert must be a quoted path, not the number 5 (for example: cert = "...")',
        ),
        ('[server]\nregistration = "maybe"\n', 'registration must be one of "open", "closed"'),
        ("[http]\nport = 1.5\n", "[http] port must be a whole number, not the number 1.5"),
        ("server = 5\n", "[server] must be a table"),
        ("[limits]\nbogus = 1\n", "unknown setting [limits] 'bogus'"),
    ],
)
def test_wrong_types_name_the_file_setting_and_fix(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    text = str(info.value)
    assert text.startswith(f"config file {path}: ") and message in text
    assert "\n" not in text


def test_right_types_load_and_ints_are_floats_where_floats_are_due(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        '[server]\nport = 7000\ndata_dir = "~/chat"\n[limits]\nlogin_timeout = 20\n'
        '[tls]\nmin_version = "1.2"\n[log]\nlevel = "DEBUG"\n'
    )
    cfg = load_config(path, env={})
    assert cfg.port == 7000 and cfg.data_dir == Path("~/chat").expanduser()
    assert cfg.limits.login_timeout == 20.0 and isinstance(cfg.limits.login_timeout, float)
    assert cfg.tls.min_version == "1.2" and cfg.log.level == "DEBUG"


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_bytes(b'# ok\n[server]\nregistration = "caf\xe9"\n')
    with pytest.raises(
        ConfigError, match=r"is not UTF-8 text \(byte 0xe9 on line 3\): save it as UTF-8"
    ):
        load_config(path, env={})
