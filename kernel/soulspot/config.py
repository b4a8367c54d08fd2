"""Settings: one TOML file, overridden by environment variables, validated by pydantic.

Precedence, lowest first: model defaults, the TOML file (``--config``, ``SOULSPOT_CONFIG`` or
``config/soulspot.toml``), then ``SOULSPOT__<SECTION>__<KEY>`` environment variables (a
``_FILE`` suffix reads the value from a file, for Docker secrets). Sections are ``[kernel]``
and ``[plugins.<name>]``; each plugin validates its own section with the model its manifest
names. Every mistake becomes a :class:`ConfigError` whose message names where the value came
from, the key path, the bad value and what was expected; the CLI prints it and exits 2.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .exceptions import ConfigError as ConfigError

DEFAULT_CONFIG_PATH = Path("config/soulspot.toml")
ENV_PREFIX = "SOULSPOT__"
MASK = "********"


class KernelConfig(BaseModel):
    """The ``[kernel]`` section."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address `soulspot serve` binds to.")
    port: int = Field(
        8765,
        ge=0,
        le=65535,
        description="Port `soulspot serve` listens on (0: any free port; the log says which).",
    )
    threads: int = Field(8, ge=1, le=64, description="Worker threads of the WSGI server.")
    data_dir: Path = Field(
        Path("./data"),
        description="Holds the database, keys (0600), backups, profiles and logs; created 0700.",
    )
    public_url: str = Field(
        "",
        description=(
            "The URL people use when SoulSpot sits behind an HTTPS reverse proxy, e.g. "
            "https://music.example.org. An https URL turns on HSTS and Secure cookies. "
            "Empty: plain http on loopback."
        ),
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Host names SoulSpot answers to besides loopback (127.0.0.1, localhost), "
            "the host of public_url and a non-wildcard `host`; e.g. a LAN name. A request "
            "for any other Host gets 400: this stops DNS-rebinding pages reaching the app."
        ),
    )
    trusted_proxies: int = Field(
        0,
        ge=0,
        le=5,
        description="How many reverse proxies in front set X-Forwarded-* headers (0: none).",
    )
    secret_key: SecretStr | None = Field(
        None,
        description=(
            "Signs session and CSRF cookies. Unset: generated once into "
            "<data_dir>/keys/secret_key (0600)."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log level written."
    )
    compress: bool = Field(
        True,
        description=(
            "Compress text responses (HTML, CSS, JavaScript, JSON, plain text) with brotli or "
            "gzip, whichever the client accepts. Binary downloads are never compressed."
        ),
    )
    drain_seconds: float = Field(
        10.0,
        ge=0,
        le=300,
        description=(
            "On SIGTERM, `soulspot serve` stops accepting and lets in-flight requests finish "
            "for at most this long before it exits (0: exit at once). Keep it below systemd's "
            "TimeoutStopSec."
        ),
    )

    @field_validator("public_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


def trusted_hosts(kernel: KernelConfig) -> list[str]:
    """Host names the app answers to (Flask's ``TRUSTED_HOSTS``)."""
    from urllib.parse import urlsplit

    # IPv6 literals cannot be listed: werkzeug compares names with the port cut at the first
    # colon. Serve on 127.0.0.1 (the default) or give the machine a name.
    hosts = ["127.0.0.1", "localhost", *kernel.allowed_hosts]
    if kernel.public_url:
        hosts.append(urlsplit(kernel.public_url).hostname or "")
    if kernel.host and not _is_wildcard(kernel.host):
        hosts.append(kernel.host)
    return [h for h in dict.fromkeys(hosts) if h]


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


class PluginSection(BaseModel):
    """Fields every ``[plugins.<name>]`` section may carry, whatever the plugin."""

    enabled: bool = Field(True, description="false disables the plugin (it is not even loaded).")


@dataclass
class Settings:
    """Effective configuration, with where each value came from."""

    path: Path | None
    kernel: KernelConfig
    #: Raw ``[plugins.<name>]`` sections (``enabled`` removed), validated per plugin later.
    plugin_sections: dict[str, dict[str, Any]]
    disabled: set[str]
    #: ``"kernel.port" -> "default" | "file" | "env SOULSPOT__KERNEL__PORT"``
    sources: dict[str, str]
    #: Validated plugin configs, filled in by the plugin loader.
    plugins: dict[str, BaseModel] = field(default_factory=dict)

    def origin(self, key_path: str) -> str:
        return self.sources.get(key_path, "default")

    def where(self, key_path: str) -> str:
        """Human wording of where ``key_path`` was set, for error messages."""
        origin = self.origin(key_path)
        if origin.startswith("env "):
            return f"environment variable {origin[4:]}"
        if origin == "file" and self.path is not None:
            return str(self.path)
        if origin.startswith("override"):
            return "test configuration"
        if origin == "command line":
            return "the command line"
        return "defaults"


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    command_line: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the file, apply env overrides, then ``command_line`` (``soulspot --data-dir``),
    then ``overrides`` (for tests); validate ``[kernel]``."""
    env = os.environ if env is None else env
    cfg_path = _resolve_path(path, env)
    raw: dict[str, Any] = _read_toml(cfg_path) if cfg_path is not None else {}
    sources: dict[str, str] = {}
    _mark(raw, "", "file", sources)

    for top in raw:
        if top not in ("kernel", "plugins"):
            raise ConfigError(
                f"config error in {cfg_path}: unknown section [{top}] "
                "(expected [kernel] or [plugins.<name>])"
            )
    _expect_table(raw, "kernel", cfg_path)
    _expect_table(raw, "plugins", cfg_path)
    for name, section in raw.get("plugins", {}).items():
        if not isinstance(section, dict):
            raise ConfigError(
                f"config error in {cfg_path}: plugins.{name} = {section!r}: "
                f"expected a table [plugins.{name}]"
            )

    _apply_env(raw, env, sources)
    if command_line:
        _merge(raw, command_line, "", "command line", sources)
    if overrides:
        _merge(raw, overrides, "", "override", sources)

    kernel_raw = _resolve_file_refs(raw.get("kernel", {}), "kernel", KernelConfig, sources)
    try:
        kernel = KernelConfig.model_validate(kernel_raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, "kernel", kernel_raw, sources, cfg_path)) from None

    disabled: set[str] = set()
    sections: dict[str, dict[str, Any]] = {}
    for name, section in raw.get("plugins", {}).items():
        section = dict(section)
        enabled = section.pop("enabled", True)
        if not isinstance(enabled, bool):
            enabled = str(enabled).strip().lower() not in ("false", "0", "no", "off")
        if not enabled:
            disabled.add(name)
        sections[name] = section
    for name in env.get("SOULSPOT_DISABLE_PLUGINS", "").split(","):
        if name.strip():
            disabled.add(name.strip())
            sources[f"plugins.{name.strip()}.enabled"] = "env SOULSPOT_DISABLE_PLUGINS"

    return Settings(cfg_path, kernel, sections, disabled, sources)


def validate_plugin_config(settings: Settings, name: str, model: type[BaseModel] | None) -> None:
    """Validate ``[plugins.<name>]`` with the plugin's model and keep the result."""
    section = _resolve_file_refs(
        settings.plugin_sections.get(name, {}), f"plugins.{name}", model, settings.sources
    )
    if model is None:
        if section:
            key = next(iter(section))
            raise ConfigError(
                f"config error in {settings.where(f'plugins.{name}.{key}')}: unknown key "
                f"plugins.{name}.{key} (plugin {name!r} takes no settings besides 'enabled')"
            )
        return
    try:
        settings.plugins[name] = model.model_validate(section)
    except ValidationError as exc:
        raise ConfigError(
            _explain(exc, f"plugins.{name}", section, settings.sources, settings.path, model)
        ) from None


def masked(model: BaseModel) -> dict[str, Any]:
    """A model as plain data with every secret replaced by a mask (for showing config): the
    secret fields, and the password of any URL that carries one
    (``redis://:password@host/0`` as a rate-limit storage, an OTLP endpoint with user info)."""
    out: dict[str, Any] = {}
    for key in type(model).model_fields:
        value = getattr(model, key)
        if isinstance(value, SecretStr):
            out[key] = MASK if value.get_secret_value() else ""
        elif isinstance(value, BaseModel):
            out[key] = masked(value)
        elif isinstance(value, Path):
            out[key] = str(value)
        elif isinstance(value, str):
            out[key] = url_password_masked(value)
        else:
            out[key] = value
    return out


def url_password(value: str) -> str | None:
    """The password in a URL's user info (``scheme://user:password@host``), if any."""
    if "://" not in value or "@" not in value:
        return None
    try:
        return urllib.parse.urlsplit(value).password or None
    except ValueError:  # not a URL after all (a bad port, brackets)
        return None


def url_password_masked(value: str) -> str:
    """``value`` with the password of its URL user info replaced by the mask."""
    password = url_password(value)
    if password is None:
        return value
    scheme, rest = value.split("://", 1)
    userinfo, _, host = rest.partition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:{MASK}@{host}"


def secret_values(settings: Settings) -> set[str]:
    """Every configured secret's value (for log redaction)."""
    found: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, SecretStr):
            if value.get_secret_value():
                found.add(value.get_secret_value())
        elif isinstance(value, str):
            password = url_password(value)
            if password is not None:
                found.add(password)  # a URL's password is redacted from logs too
        elif isinstance(value, BaseModel):
            walk(value)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:  # list[SecretStr]: e.g. old token keys kept for rotation
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    def walk(model: BaseModel) -> None:
        for key in type(model).model_fields:
            visit(getattr(model, key))

    walk(settings.kernel)
    for model in settings.plugins.values():
        walk(model)
    return found


def ensure_data_dir(kernel: KernelConfig) -> Path:
    """Create the data directory 0700 (tightening an existing one we own)."""
    data_dir = kernel.data_dir.expanduser().resolve()
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if data_dir.stat().st_uid == os.getuid():
            data_dir.chmod(0o700)
    except OSError as exc:
        raise ConfigError(
            f"config error: kernel.data_dir = '{kernel.data_dir}': cannot create or use it "
            f"({exc.strerror}); expected a writable directory"
        ) from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        # e.g. a folder bind-mounted into the container that belongs to someone else
        owner = data_dir.stat()
        raise ConfigError(
            f"config error: kernel.data_dir = '{kernel.data_dir}': not writable by uid "
            f"{os.getuid()} gid {os.getgid()}, which SoulSpot runs as (it belongs to "
            f"{owner.st_uid}:{owner.st_gid}). Give it to that user (chown -R "
            f"{os.getuid()}:{os.getgid()} on the folder), or run SoulSpot as its owner (in "
            "Docker Compose: PUID/PGID in .env, docs/deployment.md)"
        )
    return data_dir


def write_secret_file(path: Path, value: str) -> None:
    """Create ``path`` 0600 (its folder 0700) holding ``value``; never replaces a file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
        fh.flush()
        os.fsync(fh.fileno())


def require_data_dir(settings: Settings) -> None:
    """Refuse a data directory that does not exist (read-only commands create nothing)."""
    data_dir = settings.kernel.data_dir.expanduser()
    if not data_dir.is_dir():
        where = settings.sources.get("kernel.data_dir", "default")
        raise ConfigError(
            f"no SoulSpot data in {data_dir.resolve()} (from {where}): the directory does not "
            "exist, so it has no database. Is --data-dir (or [kernel] data_dir) right? "
            "Nothing was created."
        )


def ensure_secret_key(kernel: KernelConfig, data_dir: Path, *, create: bool = True) -> str:
    """The secret key from config, else from ``<data_dir>/keys/secret_key`` (made on first run;
    with ``create=False``, a missing file gives a throw-away key and nothing is written)."""
    if kernel.secret_key is not None and kernel.secret_key.get_secret_value():
        return kernel.secret_key.get_secret_value()
    path = data_dir / "keys" / "secret_key"
    if not path.exists() and not create:
        return secrets.token_urlsafe(48)
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            write_secret_file(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


# --- internals -----------------------------------------------------------------------------


def _resolve_path(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    if path is not None:
        return Path(path)
    if env.get("SOULSPOT_CONFIG"):
        return Path(env["SOULSPOT_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config error: {path}: no such file (expected a TOML config file)"
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"config error: {path}: is a directory (expected a TOML config file)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config error: {path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config error: {path}: not UTF-8 text at byte {exc.start} (expected a TOML file)"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config error: {path}: malformed TOML: {exc}") from None


def _expect_table(raw: dict[str, Any], key: str, path: Path | None) -> None:
    if key in raw and not isinstance(raw[key], dict):
        raise ConfigError(f"config error in {path}: {key} = {raw[key]!r}: expected a table [{key}]")


def _mark(data: Mapping[str, Any], prefix: str, origin: str, sources: dict[str, str]) -> None:
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and prefix.count(".") < 2:
            _mark(value, path + ".", origin, sources)
        else:
            sources[path] = origin


def _merge(
    raw: dict[str, Any], extra: Mapping[str, Any], prefix: str, origin: str, sources: dict[str, str]
) -> None:
    for key, value in extra.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and prefix.count(".") < 2:
            node = raw.setdefault(key, {})
            if not isinstance(node, dict):
                node = raw[key] = {}
            _merge(node, value, path + ".", origin, sources)
        else:
            raw[key] = value
            sources[path] = origin


def _apply_env(raw: dict[str, Any], env: Mapping[str, str], sources: dict[str, str]) -> None:
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in var[len(ENV_PREFIX) :].split("__")]
        if parts[0] == "kernel" and len(parts) == 2:
            path = ["kernel", parts[1]]
        elif parts[0] == "plugins" and len(parts) == 3:
            path = parts
        elif parts[0] not in ("kernel", "plugins") and len(parts) == 2:
            path = ["plugins", *parts]
        else:
            raise ConfigError(
                f"config error in environment variable {var}: expected "
                "SOULSPOT__KERNEL__<KEY> or SOULSPOT__<PLUGIN>__<KEY>"
            )
        value: Any = env[var]
        if path[-1].endswith("_file") and len(path[-1]) > 5:
            # Decided when the section's model is known (see _resolve_file_refs).
            value = FileRef(var, value)
        elif value.strip().startswith(("[", "{")):
            with contextlib.suppress(json.JSONDecodeError):  # else validation explains
                value = json.loads(value)
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        sources[".".join(path)] = f"env {var}"


@dataclass(frozen=True)
class FileRef:
    """``SOULSPOT__..._FILE=<path>`` before its section's model is known: it names a file
    holding the value of the key without ``_file``, unless the model has a key that really
    ends in ``_file`` (``log_file``), which then gets the value as it is."""

    var: str
    value: str


def _resolve_file_refs(
    section: dict[str, Any], prefix: str, model: type[BaseModel] | None, sources: dict[str, str]
) -> dict[str, Any]:
    """``section`` with every :class:`FileRef` replaced: by the file's content under the key
    without ``_file`` when only that key exists in ``model``, else by the plain value (a real
    ``*_file`` key; an unknown key is then refused by validation under its own name)."""
    if not any(isinstance(v, FileRef) for v in section.values()):
        return section
    fields = model.model_fields if model is not None else {}
    out: dict[str, Any] = {}
    for key, value in section.items():
        if not isinstance(value, FileRef):
            out.setdefault(key, value)
            continue
        base = key[: -len("_file")]
        if key in fields or base not in fields:
            out[key] = value.value
            continue
        try:
            out[base] = Path(value.value).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"config error in environment variable {value.var}: cannot read {value.value} "
                f"({exc.strerror}); expected a file holding the value"
            ) from None
        sources[f"{prefix}.{base}"] = f"env {value.var}"
    return out


def _explain(
    exc: ValidationError,
    prefix: str,
    section: Mapping[str, Any],
    sources: Mapping[str, str],
    path: Path | None,
    model: type[BaseModel] | None = None,
) -> str:
    model = model or KernelConfig
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        key_path = f"{prefix}.{loc}" if loc else prefix
        origin = sources.get(key_path, "default")
        if origin.startswith("env "):
            where = f"environment variable {origin[4:]}"
        elif origin.startswith("override"):
            where = "test configuration"
        elif origin == "command line":
            where = "the command line"
        else:
            where = str(path) if path is not None else "defaults"
        if err["type"] == "extra_forbidden":
            known = ", ".join(sorted(model.model_fields)) or "none"
            lines.append(f"config error in {where}: unknown key {key_path} (known keys: {known})")
            continue
        expected = _expected(model, err["loc"])
        value = err.get("input")
        shown = MASK if _is_secret(model, err["loc"]) else repr(value)
        lines.append(
            f"config error in {where}: {key_path} = {shown}: expected {expected} ({err['msg']})"
        )
    return "\n".join(lines)


def _field(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    if loc and isinstance(loc[0], str) and loc[0] in model.model_fields:
        return model.model_fields[loc[0]]
    return None


def _expected(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    info = _field(model, loc)
    if info is None:
        return "a valid value"
    text = str(info.annotation).replace("typing.", "").replace("pathlib.", "")
    text = text.replace("<class '", "").replace("'>", "")
    return {"int": "an integer", "bool": "true or false", "str": "a string"}.get(text, text)


def _is_secret(model: type[BaseModel], loc: tuple[Any, ...]) -> bool:
    info = _field(model, loc)
    return info is not None and "SecretStr" in str(info.annotation)
