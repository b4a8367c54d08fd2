"""The plugin manager: discover entry points, block disabled plugins, check manifests.

Order of work (DESIGN.md §3): know which plugins are disabled, ``set_blocked`` them, load the
rest from the ``soulspot.plugins`` entry-point group, read and validate each manifest, then
``check_pending`` so a misspelled hook implementation fails loudly. One manager per app.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from . import __version__, hookspecs
from .exceptions import ConfigError
from .types import EXCLUSIVE_CONCERNS, PluginManifest

if TYPE_CHECKING:  # pragma: no cover - pydantic stays out of `soulspot --help`
    from .config import Settings

ENTRY_POINT_GROUP = "soulspot.plugins"


class PluginError(ConfigError):
    """A plugin problem that stops start-up (exit code 2, like bad config)."""


@dataclass
class PluginInfo:
    """One plugin as ``soulspot plugins`` and ``/api/plugins`` show it."""

    name: str
    version: str
    distribution: str
    enabled: bool
    provides: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    description: str = ""
    manifest: PluginManifest | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "enabled": self.enabled,
            "provides": self.provides,
            "requires": self.requires,
            "hooks": self.hooks,
            "description": self.description,
        }


def discover() -> dict[str, EntryPoint]:
    """Entry points of the plugin group by name (without importing anything)."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found and found[ep.name].value != ep.value:
            raise PluginError(
                f"plugin error: two distributions register a plugin named {ep.name!r} "
                f"({_dist(found[ep.name])[0]} and {_dist(ep)[0]}); uninstall one of them"
            )
        found[ep.name] = ep
    return found


def new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("soulspot")
    pm.add_hookspecs(hookspecs)
    return pm


def load_plugins(
    settings: Settings,
    extra: Iterable[tuple[str, object]] = (),
    *,
    trace: bool = False,
) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """Build a plugin manager for one app and check that the plugins fit together.

    ``extra`` registers ``(name, module_or_object)`` pairs as if they came from entry points
    (tests and :mod:`soulspot.testing` use it).
    """
    pm = new_manager()
    if trace:
        pm.trace.root.setwriter(lambda text: sys.stderr.write(f"[soulspot.plugins] {text}"))
        pm.enable_tracing()

    eps = discover()
    extras = dict(extra)
    known = set(eps) | set(extras)
    for name in sorted(set(settings.plugin_sections) | settings.disabled):
        if name not in known:
            where = settings.where(f"plugins.{name}.enabled")
            for key in settings.plugin_sections.get(name, {}):
                if where != "defaults":
                    break
                where = settings.where(f"plugins.{name}.{key}")  # the env variable, the file
            if where == "defaults" and settings.path is not None:
                where = str(settings.path)
            raise PluginError(
                f"config error in {where}: unknown plugin {name!r} "
                f"(installed plugins: {', '.join(sorted(known)) or 'none'}); "
                "fix the name or install the plugin"
            )

    infos: dict[str, PluginInfo] = {}
    for name in sorted(settings.disabled):
        pm.set_blocked(name)
        dist, version = _dist(eps[name]) if name in eps else ("(test)", __version__)
        infos[name] = PluginInfo(name, version, dist, enabled=False)

    for name, ep in sorted(eps.items()):
        if name in settings.disabled or name in extras:
            continue
        dist, version = _dist(ep)
        try:
            module = ep.load()
        except Exception as exc:  # the plugin's own bug: name it, don't crash with its trace
            raise PluginError(
                f"plugin error: plugin {name!r} (distribution {dist} {version}) failed to "
                f"import: {type(exc).__name__}: {exc}. Disable it with "
                f"[plugins.{name}] enabled = false or SOULSPOT_DISABLE_PLUGINS={name}"
            ) from None
        pm.register(module, name=name)
        infos[name] = PluginInfo(name, version, dist, enabled=True)
    for name, obj in extras.items():
        if name in settings.disabled:
            continue
        pm.register(obj, name=name)
        infos[name] = PluginInfo(name, __version__, "(registered in code)", enabled=True)

    _read_manifests(pm, infos)
    _check_concerns(infos)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or repr(exc.plugin)
        where = f"plugin {name!r}"
        if name in infos:
            where += f" (distribution {infos[name].distribution} {infos[name].version})"
        unknown = sorted(
            caller.name for caller in pm.get_hookcallers(exc.plugin) or [] if not caller.has_spec()
        )
        raise PluginError(
            f"plugin error: {where} implements {', '.join(map(repr, unknown)) or 'a hook'}, "
            "which matches no hook spec (misspelled?); see docs/plugins.md for the hook names"
        ) from None
    for info in infos.values():
        if info.enabled:
            plugin = pm.get_plugin(info.name)
            info.hooks = sorted(
                caller.name
                for caller in pm.get_hookcallers(plugin) or []
                if caller.name != "manifest"
            )
    return pm, [infos[name] for name in sorted(infos)]


def resolve_config_model(info: PluginInfo) -> Any:
    """The plugin's pydantic config model (importing a ``"module:attr"`` reference)."""
    model = info.manifest.config_model if info.manifest else None
    if isinstance(model, str):
        module_name, _, attr = model.partition(":")
        try:
            model = getattr(importlib.import_module(module_name), attr)
        except Exception as exc:
            raise PluginError(
                f"plugin error: plugin {info.name!r} (distribution {info.distribution}): its "
                f"config model {info.manifest.config_model!r} cannot be loaded: "  # type: ignore[union-attr]
                f"{type(exc).__name__}: {exc}"
            ) from None
    return model


def _read_manifests(pm: pluggy.PluginManager, infos: dict[str, PluginInfo]) -> None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    answered: set[str] = set()
    for impl in pm.hook.manifest.get_hookimpls():
        info = infos[impl.plugin_name]
        where = f"plugin {info.name!r} (distribution {info.distribution} {info.version})"
        try:
            manifest = impl.function()
        except Exception as exc:
            raise PluginError(
                f"plugin error: {where}: its manifest hook raised {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(manifest, PluginManifest):
            raise PluginError(
                f"plugin error: {where}: the manifest hook returned {manifest!r}; "
                "expected a soulspot.types.PluginManifest"
            )
        try:
            spec = SpecifierSet(manifest.kernel)
        except InvalidSpecifier:
            raise PluginError(
                f"plugin error: {where}: kernel = {manifest.kernel!r} is not a version "
                "range (expected something like '>=0.1,<1.0')"
            ) from None
        if __version__ not in spec:
            raise PluginError(
                f"plugin error: {where} needs kernel {manifest.kernel}, but this is SoulSpot "
                f"{__version__}; upgrade or downgrade the plugin, or disable it with "
                f"[plugins.{info.name}] enabled = false"
            )
        info.manifest = manifest
        info.provides = sorted(manifest.provides)
        info.requires = sorted(manifest.requires)
        info.description = manifest.description
        answered.add(info.name)
    for info in infos.values():
        if info.enabled and info.name not in answered:
            raise PluginError(
                f"plugin error: plugin {info.name!r} (distribution {info.distribution}) has no "
                "manifest hook; every plugin must implement `manifest()` (see docs/plugins.md)"
            )


def _check_concerns(infos: dict[str, PluginInfo]) -> None:
    enabled = [i for i in infos.values() if i.enabled]
    providers: dict[str, list[str]] = {}
    for info in enabled:
        for concern in info.provides:
            providers.setdefault(concern, []).append(info.name)
    for concern in sorted(EXCLUSIVE_CONCERNS):
        names = providers.get(concern, [])
        if len(names) > 1:
            raise PluginError(
                f"plugin error: concern {concern!r} is exclusive, but plugins "
                f"{' and '.join(repr(n) for n in sorted(names))} both provide it; disable all "
                f"but one (e.g. [plugins.{sorted(names)[-1]}] enabled = false)"
            )
    for info in sorted(enabled, key=lambda i: i.name):
        for concern in info.requires:
            if concern in providers:
                continue
            # A disabled plugin is never imported, so we cannot know what it would provide:
            # name the disabled ones as candidates.
            idle = sorted(i.name for i in infos.values() if not i.enabled)
            hint = (
                f"enable the plugin that provides it (disabled now: {', '.join(idle)}) "
                if idle
                else "install and enable a plugin that provides it "
            )
            raise PluginError(
                f"plugin error: plugin {info.name!r} requires concern {concern!r}, which no "
                f"enabled plugin provides; {hint}or disable {info.name!r} too "
                f"(SOULSPOT_DISABLE_PLUGINS={info.name})"
            )


def _dist(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "(unknown)", "0"
    return dist.metadata["Name"] or "(unknown)", dist.version
