"""Plugin manager (issue 2, item 2): every start-up refusal with its message, through
``create_app`` and the real ``soulspot`` CLI; disabling; built-ins one at a time; a
third-party plugin that needs no kernel change; ``plugins --json`` == ``/api/plugins``; tracing."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from kernel_support import (
    ALL_BUILTINS_OFF,
    BUILTINS,
    FLASK,
    assert_refused,
    make_dist,
    manifest_plugin,
    run_soulspot,
    unique,
)

from soulspot import __version__, hookimpl
from soulspot.config import ConfigError
from soulspot.plugins import PluginError
from soulspot.testing import build_app
from soulspot.types import PluginManifest

OFF = {"SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF}


def _cfg(tmp_path: Path, text: str = "") -> Path:
    cfg = tmp_path / "soulspot.toml"
    cfg.write_text(text)
    return cfg


def assert_refused_both_ways(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    roots: list[Path],
    fragments: list[str],
    *,
    cfg_text: str = "",
    env: dict[str, str] | None = None,
) -> str:
    """Assert ``create_app`` raises a PluginError and ``soulspot`` exits 2, both with every
    fragment; return the message."""
    env = {**OFF, **(env or {})}
    cfg = _cfg(tmp_path, cfg_text)
    for root in roots:
        monkeypatch.syspath_prepend(str(root))
    with pytest.raises(PluginError) as info:
        build_app(tmp_path / "data", config_path=cfg, env=env)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert len(message.splitlines()) == 1, message
    # the real command refuses the same way; ``serve`` stands for every command that builds
    # the app (``config check`` and ``plugins`` refuse through the same loader)
    result = run_soulspot(
        "--config", str(cfg), "serve", "--port", "0", cwd=tmp_path, env=env, pythonpath=roots
    )
    assert_refused(result, *fragments)
    return message


def test_unknown_plugin_name_in_config(tmp_path, monkeypatch):
    assert_refused_both_ways(
        tmp_path,
        monkeypatch,
        [],
        [
            str(tmp_path / "soulspot.toml"),
            "unknown plugin 'sqlight'",
            "installed plugins:",
            "sqlite",
        ],
        cfg_text="[plugins.sqlight]\nenabled = true\n",
    )
    assert_refused_both_ways(
        tmp_path,
        monkeypatch,
        [],
        ["environment variable SOULSPOT_DISABLE_PLUGINS", "unknown plugin 'nosuch'"],
        env={"SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF + ",nosuch"},
    )


def test_missing_required_concern(tmp_path, monkeypatch):
    module = unique("needy")
    root = make_dist(
        tmp_path / "site",
        plugin="needy",
        module=module,
        source=manifest_plugin(requires=("widgets",)),
    )
    assert_refused_both_ways(
        tmp_path,
        monkeypatch,
        [root],
        [
            "plugin 'needy' requires concern 'widgets'",
            "which no enabled plugin provides",
            "SOULSPOT_DISABLE_PLUGINS=needy",
        ],
    )


def test_two_providers_of_an_exclusive_concern(tmp_path, monkeypatch):
    roots = []
    for name in ("store_a", "store_b"):
        roots.append(
            make_dist(
                tmp_path / name,
                plugin=name,
                module=unique(name),
                source=manifest_plugin(provides=("storage",)),
            )
        )
    assert_refused_both_ways(
        tmp_path,
        monkeypatch,
        roots,
        [
            "concern 'storage' is exclusive",
            "plugins 'store_a' and 'store_b' both provide it",
            "[plugins.store_b] enabled = false",
        ],
    )


def test_incompatible_kernel_version(tmp_path, monkeypatch):
    root = make_dist(
        tmp_path / "site",
        plugin="future",
        module=unique("future"),
        dist="future-plugin",
        version="3.1",
        source=manifest_plugin(kernel=">=2.0"),
    )
    assert_refused_both_ways(
        tmp_path,
        monkeypatch,
        [root],
        [
            "plugin 'future' (distribution future-plugin 3.1) needs kernel >=2.0",
            f"this is SoulSpot {__version__}",
            "[plugins.future] enabled = false",
        ],
    )


def test_kernel_range_that_is_not_a_range(tmp_path, monkeypatch):
    root = make_dist(
        tmp_path / "site",
        plugin="sloppy",
        module=unique("sloppy"),
        source=manifest_plugin(kernel="version two"),
    )
    assert_refused_both_ways(
        tmp_path, monkeypatch, [root], ["plugin 'sloppy'", "'version two' is not a version range"]
    )


def test_plugin_that_fails_to_import_is_named_and_can_be_disabled(tmp_path, monkeypatch):
    module = unique("broken")
    root = make_dist(
        tmp_path / "site",
        plugin="broken",
        module=module,
        dist="soulspot-broken",
        version="0.3",
        source="raise RuntimeError('database driver missing')\n",
    )
    assert_refused_both_ways(
        tmp_path,
        monkeypatch,
        [root],
        [
            "plugin 'broken' (distribution soulspot-broken 0.3) failed to import",
            "RuntimeError: database driver missing",
            "[plugins.broken] enabled = false",
            "SOULSPOT_DISABLE_PLUGINS=broken",
        ],
    )
    # Disabled, it is never imported and the app starts (both ways of disabling).
    cfg = _cfg(tmp_path, "[plugins.broken]\nenabled = false\n")
    app = build_app(tmp_path / "data", config_path=cfg, env=OFF)
    assert module not in sys.modules
    info = {p.name: p for p in app.extensions["soulspot"].plugins}["broken"]
    assert (info.enabled, info.distribution, info.version) == (False, "soulspot-broken", "0.3")
    result = run_soulspot(
        "--config", str(cfg), "config", "check", cwd=tmp_path, env=OFF, pythonpath=[root]
    )
    assert result.returncode == 0, result.stderr
    env = {"SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF + ",broken"}
    result = run_soulspot("plugins", "--json", cwd=tmp_path, env=env, pythonpath=[root])
    assert result.returncode == 0, result.stderr
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    assert listed["broken"]["enabled"] is False


def test_misspelled_hookimpl_fails_loudly(tmp_path, monkeypatch):
    body = """

    @hookimpl
    def startupp(app):
        pass
    """
    root = make_dist(
        tmp_path / "site", plugin="typo", module=unique("typo"), source=manifest_plugin(body=body)
    )
    assert_refused_both_ways(
        tmp_path,
        monkeypatch,
        [root],
        ["plugin 'typo'", "startupp", "matches no hook spec", "docs/plugins.md"],
    )


def test_plugin_without_manifest(tmp_path, monkeypatch):
    source = "from soulspot import hookimpl\n\n\n@hookimpl\ndef startup(app):\n    pass\n"
    root = make_dist(tmp_path / "site", plugin="bare", module=unique("bare"), source=source)
    assert_refused_both_ways(
        tmp_path, monkeypatch, [root], ["plugin 'bare'", "has no manifest hook", "manifest()"]
    )


def test_broken_manifest_hook(make_app):
    class Raises:
        @hookimpl
        def manifest(self) -> PluginManifest:
            raise ValueError("oops")

    class WrongType:
        @hookimpl
        def manifest(self) -> object:
            return {"provides": ["x"]}

    off = ALL_BUILTINS_OFF.split(",")
    with pytest.raises(
        PluginError, match=r"plugin 'raises'.*manifest hook raised ValueError: oops"
    ):
        make_app(plugins=[("raises", Raises())], disable=off)
    with pytest.raises(
        PluginError, match=r"plugin 'wrong'.*expected a soulspot.types.PluginManifest"
    ):
        make_app(plugins=[("wrong", WrongType())], disable=off)


def test_provider_whose_hook_returns_nothing(make_app):
    class EmptyStore:
        @hookimpl
        def manifest(self) -> PluginManifest:
            return PluginManifest(provides=("storage",))

    with pytest.raises(
        PluginError, match=r"plugin 'empty' provides 'storage' but its storage hook"
    ):
        make_app(plugins=[("empty", EmptyStore())], disable=ALL_BUILTINS_OFF.split(","))


def test_registration_is_closed_after_start(make_app):
    app = make_app(disable=ALL_BUILTINS_OFF.split(","))
    with pytest.raises(RuntimeError, match="registration is closed"):
        app.extensions["soulspot"].pm.register(object(), name="late")


def test_plugin_errors_are_config_errors():
    """The CLI catches ConfigError; PluginError must be one to get exit code 2."""
    assert issubclass(PluginError, ConfigError)


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_can_be_disabled_alone(make_app, name):
    """The app starts without it, or refuses with the dependency message; then disabling
    the plugins named by the message makes it start."""
    disabled = [name]
    for _ in range(len(BUILTINS)):
        try:
            app = make_app(disable=disabled)
        except PluginError as exc:
            message = str(exc)
            match = re.search(r"plugin '(\w+)' requires concern '(\w+)'.*disable '\1' too", message)
            assert match, f"refused without the dependency message: {message}"
            assert name in message, message
            disabled.append(match.group(1))
            continue
        state = app.extensions["soulspot"]
        enabled = {p.name for p in state.plugins if p.enabled}
        assert name not in enabled
        assert enabled == set(BUILTINS) - set(disabled)
        assert state.pm.get_plugin(name) is None
        assert state.pm.is_blocked(name)
        assert app.test_client().get("/plugins").status_code in (200, 302, 401)
        return
    raise AssertionError(f"never started: {disabled}")


def test_builtins_are_entry_points_like_any_plugin(tmp_path):
    result = run_soulspot("plugins", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    assert set(BUILTINS) <= set(listed)
    for name in BUILTINS:
        assert listed[name]["distribution"] == "soulspot"
        assert listed[name]["version"] == __version__
        assert listed[name]["enabled"] is True
        assert set(listed[name]) == {
            "name",
            "version",
            "distribution",
            "enabled",
            "provides",
            "requires",
            "hooks",
            "description",
        }


def test_plugins_json_and_api_plugins_agree(tmp_path, make_app, monkeypatch):
    """Same plugins, same fields, same values — CLI and web. (``spotify`` is the auth concern:
    it is disabled here so the API answers without signing in, on loopback.)"""
    root = make_dist(
        tmp_path / "site",
        plugin="extra",
        module=unique("extra"),
        dist="soulspot-extra",
        version="2.5",
        source=manifest_plugin(provides=("greetings",)),
    )
    monkeypatch.syspath_prepend(str(root))
    env = {"SOULSPOT_DISABLE_PLUGINS": "spotify,library,collection"}
    result = run_soulspot("plugins", "--json", cwd=tmp_path, env=env, pythonpath=[root])
    assert result.returncode == 0, result.stderr
    from_cli = json.loads(result.stdout)
    app = make_app(disable=["spotify", "library", "collection"])
    response = app.test_client().get("/api/plugins")
    assert response.status_code == 200
    assert response.json == from_cli
    extra = {p["name"]: p for p in from_cli}["extra"]
    assert extra["distribution"] == "soulspot-extra"
    assert extra["version"] == "2.5"
    assert extra["provides"] == ["greetings"]
    # the human listing says the same
    text = run_soulspot("plugins", cwd=tmp_path, env=env, pythonpath=[root]).stdout
    assert "[on ] extra 2.5 (soulspot-extra)" in text
    assert "[off] spotify" in text
    # and so does the HTML page
    page = app.test_client().get("/plugins").get_data(as_text=True)
    assert "soulspot-extra" in page and "greetings" in page


def test_third_party_plugin_needs_no_kernel_change(tmp_path, make_app, monkeypatch):
    """Install (put on the path) a distribution with a page, a nav item and config: the kernel
    finds it through its entry point and serves it."""
    module = unique("thirdparty")
    body = """

    @hookimpl
    def register_blueprints(app):
        from flask import Blueprint
        from soulspot.api import config_for

        bp = Blueprint("thirdparty", __name__)

        @bp.get("/thirdparty")
        def page():
            return config_for("thirdparty").greeting

        return [bp]


    @hookimpl
    def nav_items(app):
        from soulspot.types import NavItem

        return [NavItem("Third party", "thirdparty.page", order=50)]
    """
    root = make_dist(
        tmp_path / "site",
        plugin="thirdparty",
        module=module,
        source=manifest_plugin(config_model=f"{module}_config:Config", body=body),
        extra_modules={f"{module}_config": __import__("kernel_support").CONFIG_MODEL},
    )
    monkeypatch.syspath_prepend(str(root))
    app = make_app(
        {"plugins": {"thirdparty": {"greeting": "hi from a third party"}}},
        disable=ALL_BUILTINS_OFF.split(","),
    )
    client = app.test_client()
    assert client.get("/thirdparty").get_data(as_text=True) == "hi from a third party"
    home = client.get("/").get_data(as_text=True)
    assert 'href="/thirdparty"' in home and "Third party" in home
    info = {p.name: p for p in app.extensions["soulspot"].plugins}["thirdparty"]
    assert info.hooks == ["nav_items", "register_blueprints"]


def test_trace_plugins_prints_hook_calls(make_app, capsys, tmp_path):
    class Traced:
        @hookimpl
        def manifest(self) -> PluginManifest:
            return PluginManifest()

        @hookimpl
        def startup(self, app: object) -> None:
            pass

    make_app(plugins=[("traced", Traced())], disable=ALL_BUILTINS_OFF.split(","))
    assert "[soulspot.plugins]" not in capsys.readouterr().err
    make_app(
        plugins=[("traced", Traced())],
        disable=ALL_BUILTINS_OFF.split(","),
        env={"SOULSPOT_TRACE_PLUGINS": "1"},
    )
    err = capsys.readouterr().err
    for hook in ("init_app", "register_blueprints", "storage", "auth_provider", "startup"):
        assert f"[soulspot.plugins]   {hook} [hook]" in err, err
    assert "finish startup --> [] [hook]" in err

    result = run_soulspot(
        "--app",
        "soulspot",
        "routes",
        cwd=tmp_path,
        env={**OFF, "SOULSPOT_TRACE_PLUGINS": "1"},
        program=FLASK,
    )
    assert result.returncode == 0, result.stderr
    assert "[soulspot.plugins]   startup [hook]" in result.stderr
