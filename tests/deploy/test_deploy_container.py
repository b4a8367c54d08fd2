"""Container and service artefacts: Dockerfile, compose file, .dockerignore, systemd unit.

There is no Docker engine on the test machine, so the image is checked by lint (hadolint), by
reading its instructions, and by running SoulSpot exactly as the image would — same
environment, an empty working directory, a Python audit hook that reports any write outside
the data volume and /tmp (what a read-only root filesystem would refuse) — and probing it with
the image's own HEALTHCHECK command.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from deploy_support import BIN, REPO, SOULSPOT, http_get, run, serving

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / "deploy" / "soulspot.env.example"
UNIT = REPO / "deploy" / "systemd" / "soulspot.service"


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def runtime_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    return ins[last_from:]


def env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def healthcheck_command() -> list[str]:
    args = dict(runtime_stage())["HEALTHCHECK"]
    return list(json.loads(args[args.index("CMD") + 3 :].strip()))


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_image_is_multi_stage_non_root_with_data_volume() -> None:
    ins = instructions()
    froms = [args for word, args in ins if word == "FROM"]
    assert len(froms) == 2 and froms[0].endswith("AS build"), froms
    stage = runtime_stage()
    words = [word for word, _ in stage]
    assert "USER" in words
    user = dict(stage)["USER"].split(":")[0]
    assert user not in ("0", "root") and user.isdigit() and int(user) >= 1000
    assert json.loads(dict(stage)["VOLUME"]) == ["/data"]
    env = " ".join(args for word, args in stage if word == "ENV")
    assert "SOULSPOT__KERNEL__DATA_DIR=/data" in env
    assert "SOULSPOT__KERNEL__HOST=0.0.0.0" in env
    # Wheels only, no compilers or source tree in the runtime stage.
    assert not any(word == "COPY" for word in words), "runtime stage copies files directly"
    run_steps = " ".join(args for word, args in stage if word == "RUN")
    assert "--no-index" in run_steps and "apt-get" not in run_steps
    assert "curl" not in run_steps and "wget" not in run_steps
    assert healthcheck_command()[0] == "python"
    assert dict(stage)["ENTRYPOINT"] == '["soulspot"]' and dict(stage)["CMD"] == '["serve"]'


def test_no_secret_is_baked_into_the_image() -> None:
    secretish = re.compile(r"SECRET|TOKEN|PASSWORD|PASSPHRASE|_KEY\b|KEY=", re.I)
    for word, args in instructions():
        if word in ("ENV", "ARG", "LABEL"):
            assert not secretish.search(args), f"{word} {args}"
        if word in ("COPY", "ADD"):
            assert "data" not in args.split() and "keys" not in args and ".env" not in args


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes; a directory pattern
    covers everything below it."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        hit = any(fnmatch.fnmatchcase(p, pat) for p in prefixes)
        if pat.startswith("**/"):
            hit = hit or any(fnmatch.fnmatchcase(part, pat[3:]) for part in parts)
        if hit:
            ignored = not negate
    return ignored


def test_dockerignore_sends_only_what_the_wheel_needs() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = ["pyproject.toml", "README.md", "LICENSE"]
    # every source the Dockerfile copies from the context (a missing one fails the build)
    for line in (REPO / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            needed += [w.rstrip("/") for w in words[1:-1] if not w.startswith("--")]
    needed += [str(p.relative_to(REPO)) for p in (REPO / "kernel").rglob("*") if p.is_file()]
    needed += [str(p.relative_to(REPO)) for p in (REPO / "plugins").rglob("*.py")]
    needed = [p for p in needed if "__pycache__" not in p and ".egg-info" not in p]
    for path in needed:
        assert not _ignored(path, patterns), f"{path} would be missing from the build context"
    for secret in [
        "data/keys/secret_key",
        "data/soulspot.db",
        ".venv/bin/python",
        ".git/config",
        "deploy/soulspot.env",
        "config/soulspot.toml",
        "kernel/soulspot/__pycache__/app.cpython-311.pyc",
        "test-artifacts/screenshots/a.png",
    ]:
        assert _ignored(secret, patterns), f"{secret} would be sent to the Docker daemon"


def test_compose_runs_read_only_without_privileges() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    svc = compose["services"]["soulspot"]
    assert svc["read_only"] is True
    assert any(t.startswith("/tmp") for t in svc["tmpfs"])
    assert svc["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in svc["security_opt"]
    # the named volume unless SOULSPOT_DATA names a host folder (test_deploy_release_artefacts)
    assert "${SOULSPOT_DATA:-soulspot-data}:/data" in svc["volumes"]
    assert "soulspot-data" in compose["volumes"]
    assert svc["ports"] == ["127.0.0.1:8765:8765"]
    files = [e["path"] for e in svc["env_file"]]
    assert "deploy/soulspot.env.example" in files
    assert (REPO / files[0]).is_file()
    assert "/health/live" in " ".join(svc["healthcheck"]["test"])
    assert svc["healthcheck"]["test"][0] == "CMD"


def test_env_example_is_valid_config_and_holds_no_secret(tmp_path: Path) -> None:
    values = env_file()
    assert values["SOULSPOT__KERNEL__DATA_DIR"] == "/data"
    assert not any(re.search("SECRET|TOKEN|PASSWORD", k) for k in values)
    result = run([SOULSPOT, "config", "check"], cwd=tmp_path, env=values)
    assert result.returncode == 0, result.stderr
    assert "config ok" in result.stdout


@pytest.mark.slow
def test_runs_as_the_image_does_without_writing_outside_data_and_tmp(tmp_path: Path) -> None:
    """Same environment as the image (data in /data -> a temp dir, empty working dir, no
    HOME): serve, probe with the image's HEALTHCHECK and compose's healthcheck, stop with
    SIGTERM; no write outside the data dir and /tmp, clean exit."""
    app_dir, data, tmp = tmp_path / "app", tmp_path / "data", tmp_path / "tmp"
    for d in (app_dir, data, tmp):
        d.mkdir()
    env = {k: v for word, args in runtime_stage() if word == "ENV" for k, v in _env(args)}
    env.update(
        SOULSPOT__KERNEL__DATA_DIR=str(data),
        TMPDIR=str(tmp),
        HOME="/nonexistent",
        SOULSPOT__KERNEL__HOST="127.0.0.1",
    )
    guard = str(Path(__file__).with_name("readonly_guard.py"))
    from deploy_support import free_port

    port = free_port()
    env["SOULSPOT__KERNEL__PORT"] = str(port)
    cmd = [sys.executable, guard, f"{data}:{tmp}", "serve"]
    with serving(app_dir, env, args=cmd, port=port) as (base, proc):
        status, _body, _h = http_get(f"{base}/health/live")
        assert status == 200
        probe = run(healthcheck_command(), cwd=app_dir, env=env, timeout=30)
        assert probe.returncode == 0, probe.stderr
        compose_test = yaml.safe_load(COMPOSE.read_text())["services"]["soulspot"]
        compose_cmd = [
            a.replace("8765", str(port)) for a in compose_test["healthcheck"]["test"][1:]
        ]
        assert run(compose_cmd, cwd=app_dir, env=env).returncode == 0
        http_get(f"{base}/")
        assert http_get(f"{base}/health/ready")[0] == 200
        # The overdue backup taken at start-up also writes only inside the data dir.
        deadline = time.monotonic() + 30
        while not any((data / "backups").glob("*.tar*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any((data / "backups").glob("*.tar*")), "no start-up backup was written"
    _out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert "READONLY-VIOLATION" not in err, err
    assert list(app_dir.iterdir()) == []


def _env(args: str) -> list[tuple[str, str]]:
    return [tuple(item.split("=", 1)) for item in shlex.split(args)]  # type: ignore[misc]


def test_systemd_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: run scripts/install-system-deps.sh"
    text = UNIT.read_text()
    for setting in (
        "User=soulspot",
        "StateDirectory=soulspot",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "Environment=SOULSPOT__KERNEL__DATA_DIR=/var/lib/soulspot",
        # SIGTERM to serve alone: Litestream is stopped by serve after the drain, so it ships
        # what the drained requests wrote (with the default, it got SIGTERM at once too)
        "KillMode=mixed",
    ):
        assert setting in text, setting
    unit = tmp_path / "soulspot.service"
    unit.write_text(text.replace("/opt/soulspot/bin/soulspot", SOULSPOT))
    verify = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stderr
    assert "soulspot.service" not in verify.stderr, verify.stderr
    security = subprocess.run(
        [analyze, "security", "--offline=true", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert security.returncode == 0, security.stdout[-2000:]
    assert "OK" in security.stdout


@pytest.mark.slow
def test_the_build_context_alone_builds_a_complete_wheel(tmp_path: Path) -> None:
    """Stage 1 of the Dockerfile sees only what .dockerignore lets through: that must be
    enough to build the wheel, with every module, template and static file inside."""
    import zipfile

    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    from support.build_tree import build_inputs

    context = tmp_path / "context"
    for top in ("kernel", "plugins", *build_inputs()):
        source = REPO / top
        for path in [source] if source.is_file() else source.rglob("*"):
            rel = str(path.relative_to(REPO))
            if path.is_file() and not _ignored(rel, patterns):
                (context / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, context / rel)
    out = tmp_path / "wheels"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = out.glob("soulspot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(p.relative_to(REPO / top_dir))
        for top_dir in ("kernel", "plugins")
        for p in (REPO / top_dir).rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.suffix in (".py", ".html", ".css", ".js", ".svg")
    }
    missing = sorted(expected - names)
    assert not missing, f"missing from the wheel built in the Docker context: {missing}"


def test_the_image_smoke_script_is_sound_and_the_release_runs_it_on_both_architectures() -> None:
    """``scripts/image-smoke.sh`` needs a Docker engine, which the suite does not have (it was
    run by hand against one: docs/deployment.md "Checking an image"); here its syntax, the
    checks it makes, and that the release workflow runs it on each image before pushing."""
    script = REPO / "scripts" / "image-smoke.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    for check in ("--read-only", "--cap-drop ALL", "--user 1234:1234", "no-new-privileges:true"):
        assert check in text, check
    assert "backup restore --latest --yes" in text and "not writable by uid 1234" in text
    release = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    steps = release["jobs"]["image"]["steps"]
    runs = [s.get("run", "") for s in steps]
    for arch in ("amd64", "arm64"):
        assert f"bash scripts/image-smoke.sh soulspot:smoke-{arch}" in runs, arch
    push = next(i for i, s in enumerate(steps) if s.get("with", {}).get("push"))
    smokes = [i for i, r in enumerate(runs) if "image-smoke.sh" in r]
    assert smokes and max(smokes) < push  # nothing is pushed before both pass
