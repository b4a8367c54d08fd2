"""Issue 19, item 1: what a release gives an operator. The image is labelled with the real
version (checked against the wheel at build time) and built for amd64 and arm64; the unit's
``Documentation=`` names docs the wheel installs; the production config example comes with
the wheel; Compose runs as a configurable uid/gid with a bind-mounted /data.

No Docker engine here: the Dockerfile's version check runs as the shell it is, the compose
file is interpolated as Compose does, the workflow is read (actionlint runs in
test_deploy_release.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from deploy_support import REPO
from test_deploy_container import COMPOSE, runtime_stage

import soulspot
from soulspot.cli import cli
from support.build_tree import data_files

RELEASE = REPO / ".github" / "workflows" / "release.yml"
UNITS = [REPO / "deploy" / "systemd" / name for name in ("soulspot.service", "soulspot.socket")]


def test_release_builds_the_image_for_amd64_and_arm64_with_the_version() -> None:
    steps = yaml.safe_load(RELEASE.read_text())["jobs"]["image"]["steps"]
    uses = [str(step.get("uses", "")).split("@")[0] for step in steps]
    assert uses.index("docker/setup-qemu-action") < uses.index("docker/setup-buildx-action")
    builds = [s for s in steps if str(s.get("uses", "")).startswith("docker/build-push")]
    (pushed,) = [b for b in builds if "push" in b["with"]]  # the others are smoke-test loads
    platforms = {p.strip() for p in pushed["with"]["platforms"].split(",")}
    assert platforms == {"linux/amd64", "linux/arm64"}
    for build in builds:
        assert build["with"]["build-args"] == "SOULSPOT_VERSION=${{ needs.wheel.outputs.version }}"


def _version_check() -> str:
    """The shell of the runtime stage's install step that compares the version argument with
    the installed wheel (from `installed=` to the end of its `{ ...; }` group)."""
    (run,) = [args for word, args in runtime_stage() if word == "RUN" and "installed=" in args]
    start = run.index("installed=")
    end = run.index("exit 1; }; }", start) + len("exit 1; }; }")
    return run[start:end]


def test_the_image_label_is_the_version_the_wheel_has(tmp_path: Path) -> None:
    stage = dict(runtime_stage())
    assert stage["ARG"] == "SOULSPOT_VERSION"  # no made-up default such as 0.0.0
    assert 'org.opencontainers.image.version="${SOULSPOT_VERSION}"' in stage["LABEL"]
    script = _version_check()
    # `python` as in the image: one with the wheel installed (this environment's)
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

    def build(version: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", script],
            env={**env, "SOULSPOT_VERSION": version},
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert build(soulspot.__version__).returncode == 0
    assert build("").returncode == 0  # a plain `docker build .`: no label version to check
    wrong = build("9.9.9")
    assert wrong.returncode == 1
    assert f"SOULSPOT_VERSION=9.9.9 but the wheel is {soulspot.__version__}" in wrong.stderr


def test_make_image_passes_the_package_version() -> None:
    done = subprocess.run(
        ["make", "-n", "image"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert f"--build-arg SOULSPOT_VERSION={soulspot.__version__}" in done.stdout


def test_the_units_documentation_is_installed_by_the_wheel() -> None:
    shipped = {Path(p).name for p in data_files()["share/doc/soulspot"]}
    assert {"deployment.md", "runbook.md", "production.example.toml"} <= shipped
    for unit in UNITS:
        uris = [
            uri
            for line in unit.read_text().splitlines()
            if line.startswith("Documentation=")
            for uri in line.removeprefix("Documentation=").split()
        ]
        assert uris, unit
        for uri in uris:
            assert "invalid" not in uri
            match = re.fullmatch(r"file:///opt/soulspot/(?:current/)?share/doc/soulspot/(.+)", uri)
            assert match and match.group(1) in shipped, uri


def test_the_production_example_comes_with_the_wheel() -> None:
    result = CliRunner().invoke(cli, ["config", "example"])
    assert result.exit_code == 0, result.output
    assert result.output == (REPO / "config" / "production.example.toml").read_text()


def _interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """``${VAR:-default}`` and ``${VAR}`` as Docker Compose substitutes them."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return env.get(name) or default

    return re.sub(r"\$\{([A-Z_]+)(:-([^}]*))?\}", substitute, value)


def test_compose_runs_as_a_configurable_user_with_a_bind_mounted_data_dir() -> None:
    raw = yaml.safe_load(COMPOSE.read_text())["services"]["soulspot"]
    default = _interpolate(raw, {})
    assert default["user"] == "10001:10001"  # the image's soulspot user
    assert default["volumes"] == ["soulspot-data:/data"]
    own = _interpolate(raw, {"PUID": "1000", "PGID": "1000", "SOULSPOT_DATA": "./data"})
    assert own["user"] == "1000:1000"
    assert own["volumes"] == ["./data:/data"]  # a path: Compose bind-mounts the folder
    assert own["read_only"] is True and own["cap_drop"] == ["ALL"]  # hardening stays
    docs = (REPO / "docs" / "deployment.md").read_text()
    assert "PUID" in docs and "PGID" in docs and "SOULSPOT_DATA=./data" in docs


def test_a_data_dir_owned_by_someone_else_is_a_clear_error() -> None:
    """What a bind-mounted /data of the wrong owner does: SoulSpot (as another uid, here
    through setpriv) says whose it is and what to do, instead of a traceback."""
    import tempfile

    with tempfile.TemporaryDirectory() as parent:  # pytest's tmp dirs are root's only (0700)
        os.chmod(parent, 0o755)
        data = Path(parent) / "data"
        data.mkdir(mode=0o700)
        stderr = _serve_as_another_user(data)
    assert "not writable by uid 12345 gid 12345" in stderr
    assert "it belongs to 0:0" in stderr and "PUID/PGID" in stderr
    assert "Traceback" not in stderr


def _serve_as_another_user(data: Path) -> str:
    """What checking ``data`` as uid/gid 12345 prints (it must exit 1)."""
    assert os.geteuid() == 0, "the suite runs as root: it can act as another user"
    program = (
        "from pathlib import Path\n"
        "from soulspot.config import KernelConfig, ensure_data_dir\n"
        "from soulspot.exceptions import ConfigError\n"
        "try:\n"
        f"    ensure_data_dir(KernelConfig(data_dir=Path({str(data)!r})))\n"
        "except ConfigError as exc:\n"
        "    raise SystemExit(str(exc))\n"
    )
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is part of every Debian system"
    done = subprocess.run(
        [
            setpriv,
            "--reuid=12345",
            "--regid=12345",
            "--clear-groups",
            sys.executable,
            "-c",
            program,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    return done.stderr
