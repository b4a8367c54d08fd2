"""Config (issue 2, item 4): every bad-config case exits 2 with one message naming where, key
path, bad value and what was expected — through ``create_app`` and the real ``soulspot`` CLI;
precedence default < file < env; secrets masked; data dir 0700 and key file 0600."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from kernel_support import (
    ALL_BUILTINS_OFF,
    CONFIG_MODEL,
    assert_refused,
    make_dist,
    manifest_plugin,
    run_soulspot,
    unique,
)

from soulspot.config import MASK, ConfigError, load_settings
from soulspot.testing import build_app

# (id, file text or None, env, fragments the one message must contain)
CASES = [
    (
        "unknown-key",
        "[kernel]\nprot = 9000\n",
        {},
        ["{cfg}", "unknown key kernel.prot", "known keys:", "port"],
    ),
    (
        "wrong-type",
        '[kernel]\nport = "eighty"\n',
        {},
        ["{cfg}", "kernel.port = 'eighty'", "expected an integer"],
    ),
    (
        "out-of-range",
        "[kernel]\nport = 70000\n",
        {},
        ["{cfg}", "kernel.port = 70000", "less than or equal to 65535"],
    ),
    (
        "malformed-toml",
        "[kernel\nport = 1\n",
        {},
        ["{cfg}", "malformed TOML", "line 1"],
    ),
    (
        "unknown-section",
        "[server]\nport = 1\n",
        {},
        ["{cfg}", "unknown section [server]", "expected [kernel] or [plugins.<name>]"],
    ),
    (
        "not-a-table",
        "plugins = 3\n",
        {},
        ["{cfg}", "plugins = 3", "expected a table [plugins]"],
    ),
    (
        "bad-env-value",
        "",
        {"SOULSPOT__KERNEL__PORT": "abc"},
        ["environment variable SOULSPOT__KERNEL__PORT", "kernel.port = 'abc'", "an integer"],
    ),
    (
        "bad-env-name",
        "",
        {"SOULSPOT__KERNEL__A__B": "1"},
        ["environment variable SOULSPOT__KERNEL__A__B", "expected SOULSPOT__KERNEL__<KEY>"],
    ),
    (
        "unknown-env-key",
        "",
        {"SOULSPOT__KERNEL__NOPE": "1"},
        ["environment variable SOULSPOT__KERNEL__NOPE", "unknown key kernel.nope"],
    ),
    (
        "env-file-missing",
        "",
        {"SOULSPOT__KERNEL__SECRET_KEY_FILE": "/nonexistent/secret"},
        ["SOULSPOT__KERNEL__SECRET_KEY_FILE", "cannot read /nonexistent/secret", "expected a file"],
    ),
    (
        "bad-choice",
        "[kernel]\nlog_level = 'LOUD'\n",
        {},
        ["{cfg}", "kernel.log_level = 'LOUD'", "expected", "'DEBUG'"],
    ),
]


def _write(tmp_path: Path, text: str | None) -> Path:
    cfg = tmp_path / "soulspot.toml"
    cfg.write_text(text or "")
    return cfg


@pytest.mark.parametrize(
    ("text", "env", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_config_is_refused_by_create_app(tmp_path, text, env, fragments):
    cfg = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        build_app(tmp_path / "data", config_path=cfg, env=env)
    message = str(info.value)
    for fragment in fragments:
        assert fragment.format(cfg=cfg) in message, message
    assert len(message.splitlines()) == 1, message
    assert not (tmp_path / "data").exists(), "nothing may be created from a refused config"


@pytest.mark.parametrize(
    ("text", "env", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_config_exits_2_from_the_cli(tmp_path, text, env, fragments):
    from kernel_support import assert_refused

    cfg = _write(tmp_path, text)
    result = run_soulspot("--config", str(cfg), "config", "check", cwd=tmp_path, env=env)
    stderr = assert_refused(result, *(f.format(cfg=cfg) for f in fragments))
    assert len(stderr.strip().splitlines()) == 1, stderr


def test_secret_value_is_never_echoed_in_an_error(tmp_path):
    cfg = _write(tmp_path, "[kernel]\nsecret_key = 123456789\n")
    with pytest.raises(ConfigError) as info:
        build_app(tmp_path / "data", config_path=cfg)
    assert f"kernel.secret_key = {MASK}" in str(info.value)
    assert "123456789" not in str(info.value)


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [("missing", "no such file"), ("directory", "is a directory"), ("binary", "not UTF-8")],
)
def test_unreadable_config_file(tmp_path, kind, fragment):
    from kernel_support import assert_refused

    cfg = tmp_path / "soulspot.toml"
    if kind == "directory":
        cfg.mkdir()
    elif kind == "binary":
        cfg.write_bytes(b"[kernel]\nhost = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match=fragment):
        build_app(tmp_path / "data", config_path=cfg)
    result = run_soulspot("--config", str(cfg), "config", "check", cwd=tmp_path)
    assert_refused(result, str(cfg), fragment)
    # SOULSPOT_CONFIG names the file the same way
    result = run_soulspot("config", "check", cwd=tmp_path, env={"SOULSPOT_CONFIG": str(cfg)})
    assert_refused(result, str(cfg), fragment)


def test_precedence_default_file_env(tmp_path):
    cfg = _write(tmp_path, "[kernel]\nport = 9000\nthreads = 4\n")
    env = {"SOULSPOT__KERNEL__PORT": "9100", "SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF}
    settings = load_settings(cfg, env=env)
    assert settings.kernel.port == 9100
    assert settings.kernel.threads == 4
    assert settings.kernel.host == "127.0.0.1"
    assert settings.origin("kernel.port") == "env SOULSPOT__KERNEL__PORT"
    assert settings.origin("kernel.threads") == "file"
    assert settings.origin("kernel.host") == "default"

    result = run_soulspot("--config", str(cfg), "config", "show", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    rows = {r["key"]: r for r in json.loads(result.stdout)}
    assert rows["kernel.port"] == {
        "key": "kernel.port",
        "value": 9100,
        "source": "env SOULSPOT__KERNEL__PORT",
    }
    assert rows["kernel.threads"]["value"] == 4 and rows["kernel.threads"]["source"] == "file"
    assert rows["kernel.host"]["value"] == "127.0.0.1"
    assert rows["kernel.host"]["source"] == "default"

    text = run_soulspot("--config", str(cfg), "config", "show", cwd=tmp_path, env=env).stdout
    assert f"# config file: {cfg}" in text
    assert "kernel.port = 9100  # env SOULSPOT__KERNEL__PORT" in text
    assert "kernel.threads = 4  # file" in text


def test_config_option_beats_soulspot_config(tmp_path):
    a = tmp_path / "a.toml"
    a.write_text("[kernel]\nport = 9000\n")
    b = tmp_path / "b.toml"
    b.write_text("[kernel]\nport = 9001\n")
    env = {"SOULSPOT_CONFIG": str(a), "SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF}
    shown = run_soulspot("config", "show", "--json", cwd=tmp_path, env=env)
    assert {r["key"]: r["value"] for r in json.loads(shown.stdout)}["kernel.port"] == 9000
    shown = run_soulspot("--config", str(b), "config", "show", "--json", cwd=tmp_path, env=env)
    assert {r["key"]: r["value"] for r in json.loads(shown.stdout)}["kernel.port"] == 9001


def test_default_config_file_is_the_shipped_one_and_valid(tmp_path):
    """From the repository root, ``config/soulspot.toml`` is read and passes validation."""
    from kernel_support import REPO

    result = run_soulspot("config", "check", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "config ok: config/soulspot.toml" in result.stdout
    # and without a config file at all, defaults apply
    result = run_soulspot("config", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "defaults (no file)" in result.stdout


def _plugin_dist(tmp_path: Path) -> tuple[Path, str]:
    module = unique("cfgplug")
    root = make_dist(
        tmp_path / "site",
        plugin="cfgplug",
        module=module,
        source=manifest_plugin(config_model=f"{module}_config:Config"),
        extra_modules={f"{module}_config": CONFIG_MODEL},
    )
    return root, module


def test_plugin_section_validated_by_its_model(tmp_path, monkeypatch):
    from kernel_support import assert_refused

    root, _module = _plugin_dist(tmp_path)
    monkeypatch.syspath_prepend(str(root))
    env = {"SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF}
    for text, fragments in [
        ("[plugins.cfgplug]\ncolour = 'red'\n", ["unknown key plugins.cfgplug.colour"]),
        ("[plugins.cfgplug]\ntimes = 'often'\n", ["plugins.cfgplug.times = 'often'", "integer"]),
        ("[plugins.cfgplug]\ntimes = 99\n", ["plugins.cfgplug.times = 99", "less than or equal"]),
    ]:
        cfg = _write(tmp_path, text)
        with pytest.raises(ConfigError) as info:
            build_app(tmp_path / "data", config_path=cfg, env=env)
        for fragment in [str(cfg), *fragments]:
            assert fragment in str(info.value)
        result = run_soulspot(
            "--config", str(cfg), "config", "check", cwd=tmp_path, env=env, pythonpath=[root]
        )
        assert_refused(result, str(cfg), *fragments)

    # env overrides reach plugin sections too: SOULSPOT__<PLUGIN>__<KEY>
    cfg = _write(tmp_path, "[plugins.cfgplug]\ngreeting = 'from file'\ntimes = 2\n")
    app = build_app(
        tmp_path / "data",
        config_path=cfg,
        env={**env, "SOULSPOT__CFGPLUG__GREETING": "from env"},
    )
    model = app.extensions["soulspot"].settings.plugins["cfgplug"]
    assert (model.greeting, model.times) == ("from env", 2)
    result = run_soulspot(
        "--config",
        str(cfg),
        "config",
        "check",
        cwd=tmp_path,
        env={**env, "SOULSPOT__CFGPLUG__TIMES": "zero"},
        pythonpath=[root],
    )
    assert_refused(result, "environment variable SOULSPOT__CFGPLUG__TIMES", "'zero'")


def test_secrets_are_masked_in_config_show(tmp_path):
    root, _module = _plugin_dist(tmp_path)
    cfg = _write(tmp_path, "[plugins.cfgplug]\napi_token = 'tok-sekrit-in-file'\n")
    env = {
        "SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF,
        "SOULSPOT__KERNEL__SECRET_KEY": "key-sekrit-in-env",
    }
    text = run_soulspot(
        "--config", str(cfg), "config", "show", cwd=tmp_path, env=env, pythonpath=[root]
    )
    as_json = run_soulspot(
        "--config", str(cfg), "config", "show", "--json", cwd=tmp_path, env=env, pythonpath=[root]
    )
    for result in (text, as_json):
        assert result.returncode == 0, result.stderr
        assert "sekrit" not in result.stdout + result.stderr
    rows = {r["key"]: r for r in json.loads(as_json.stdout)}
    assert rows["kernel.secret_key"] == {
        "key": "kernel.secret_key",
        "value": MASK,
        "source": "env SOULSPOT__KERNEL__SECRET_KEY",
    }
    assert rows["plugins.cfgplug.api_token"]["value"] == MASK
    assert rows["plugins.cfgplug.api_token"]["source"] == "file"
    assert rows["plugins.cfgplug.greeting"]["value"] == "hello"
    assert f'kernel.secret_key = "{MASK}"  # env SOULSPOT__KERNEL__SECRET_KEY' in text.stdout


def test_passwords_inside_urls_are_masked_in_config_show_and_redacted(run_cli, make_app):
    """A URL that carries a password (a Redis rate-limit storage, an OTLP endpoint with user
    info) is a secret in all but type: `config show` (and the Settings page, which shows the
    same rows) masks the password and keeps the rest; log redaction knows it."""
    config = {
        "plugins": {
            "security": {"rate_limit_storage_uri": "redis://:REDIS-sekrit@localhost:6379/0"},
            "tracing": {"endpoint": "https://me:OTLP-sekrit@otel.example.org:4318"},
        }
    }
    shown = run_cli(["config", "show", "--json"], config=config)
    assert shown.exit_code == 0, shown.output
    assert "sekrit" not in shown.output
    rows = {r["key"]: r["value"] for r in json.loads(shown.output)}
    assert rows["plugins.security.rate_limit_storage_uri"] == f"redis://:{MASK}@localhost:6379/0"
    assert rows["plugins.tracing.endpoint"] == f"https://me:{MASK}@otel.example.org:4318"
    from soulspot import api

    app = make_app({"plugins": {"tracing": config["plugins"]["tracing"]}})
    assert "OTLP-sekrit" in api.secret_values(app)


def test_data_dir_0700_and_key_file_0600_on_first_run(make_app, tmp_path):
    data = tmp_path / "fresh" / "data"
    app = make_app(data_dir=data, disable=ALL_BUILTINS_OFF.split(","))
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    key = data / "keys" / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert app.config["SECRET_KEY"] == key.read_text().strip()
    assert len(app.config["SECRET_KEY"]) >= 32
    # the second run reuses the key (sessions survive restarts) ...
    again = make_app(data_dir=data, disable=ALL_BUILTINS_OFF.split(","))
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]
    # ... and a too-open data dir we own is tightened
    data.chmod(0o755)
    make_app(data_dir=data, disable=ALL_BUILTINS_OFF.split(","))
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_configured_secret_key_is_used_and_no_key_file_written(make_app, tmp_path):
    data = tmp_path / "d"
    app = make_app(
        data_dir=data,
        disable=ALL_BUILTINS_OFF.split(","),
        env={"SOULSPOT__KERNEL__SECRET_KEY": "k" * 40},
    )
    assert app.config["SECRET_KEY"] == "k" * 40
    assert not (data / "keys" / "secret_key").exists()


def test_data_dir_is_created_by_the_cli_on_first_run(tmp_path):
    """The documented first run: no config, ``./data`` appears with safe permissions."""
    from kernel_support import FLASK

    result = run_soulspot(
        "--app",
        "soulspot",
        "routes",
        cwd=tmp_path,
        env={"SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF},
        program=FLASK,
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "keys" / "secret_key").stat().st_mode) == 0o600


def test_unwritable_data_dir_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    empty = _write(tmp_path, "")
    with pytest.raises(ConfigError, match=r"kernel.data_dir = .*cannot create or use it"):
        build_app(blocker / "data", config_path=empty, disable=ALL_BUILTINS_OFF.split(","))


def test_an_unknown_plugin_from_the_environment_names_the_variable(tmp_path):
    """Without a config file the error said ``config error in None``."""
    result = run_soulspot("config", "check", cwd=tmp_path, env={"SOULSPOT__HELLO__GREETING": "hi"})
    assert_refused(result, "config error in environment variable SOULSPOT__HELLO__GREETING")
    assert "None" not in result.stderr


def test_a_bad_serve_option_is_a_config_error_of_the_command_line(tmp_path):
    result = run_soulspot(
        "--data-dir", str(tmp_path / "d"), "serve", "--port", "99999", cwd=tmp_path
    )
    assert_refused(result, "config error in the command line: kernel.port = 99999")
