"""``examples/soulspot-hello`` as a real third-party distribution: pip installs it (once per
test session, shared by the xdist workers) into a target directory; with that directory on
PYTHONPATH the real ``soulspot`` discovers it, serves its page, validates its config, runs its
command, and lets it be disabled — with no kernel change."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from kernel_support import (
    ALL_BUILTINS_OFF,
    BUILTINS,
    REPO,
    SOULSPOT,
    Process,
    assert_refused,
    clean_env,
    run_soulspot,
)

from soulspot.testing import run_jobs

EXAMPLE = REPO / "examples" / "soulspot-hello"
# pages on loopback without signing in
NO_AUTH = {"SOULSPOT_DISABLE_PLUGINS": "spotify,library,collection"}
OFF = {"SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF}


@pytest.fixture(scope="session")
def hello_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install --no-deps --no-build-isolation --target <dir>`` of a copy of the example,
    done once for all workers (a lock file in the shared base temp dir)."""
    base = tmp_path_factory.getbasetemp()
    # under xdist each worker's base temp is <session>/popen-gwN: share <session>
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target = shared / "hello-site"
    with open(shared / "hello-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "soulspot_hello" / "plugin.py").exists():
            source = shared / "hello-src"
            shutil.rmtree(source, ignore_errors=True)
            shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-deps",
                    "--no-build-isolation",
                    "--target",
                    str(target),
                    str(source),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
    return target


def test_installed_files(hello_site):
    assert (hello_site / "soulspot_hello" / "templates" / "hello" / "index.html").is_file()
    [info] = hello_site.glob("soulspot_hello-0.1.0.dist-info")
    assert "hello = soulspot_hello.plugin" in (info / "entry_points.txt").read_text()


def test_discovered(tmp_path, hello_site):
    result = run_soulspot("plugins", "--json", cwd=tmp_path, env=NO_AUTH, pythonpath=[hello_site])
    assert result.returncode == 0, result.stderr
    hello = {p["name"]: p for p in json.loads(result.stdout)}["hello"]
    assert hello["distribution"] == "soulspot-hello"
    assert hello["version"] == "0.1.0"
    assert hello["enabled"] is True
    assert hello["hooks"] == [
        "dashboard_panels",
        "health_checks",
        "jobs",
        "metrics",
        "migrations",
        "nav_items",
        "register_blueprints",
        "register_commands",
    ]


def test_serves_its_page(tmp_path, hello_site):
    proc = Process(
        [SOULSPOT, "serve", "--port", "0"],
        cwd=tmp_path,
        env=clean_env({**NO_AUTH, "SOULSPOT__HELLO__GREETING": "Ahoy"}, [hello_site]),
    )
    try:
        line = proc.wait_for("SoulSpot listening on ")
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line
        with urllib.request.urlopen(url.group(0) + "/hello", timeout=60) as resp:  # loopback
            page = resp.read().decode()
        assert resp.status == 200
        assert "<h1>Ahoy, world!</h1>" in page
        assert 'href="/hello"' in page  # its nav item
        proc.proc.send_signal(signal.SIGTERM)
        code, output = proc.finish()
    finally:
        proc.kill()
    assert code == 0, output


def test_validates_its_config(tmp_path, hello_site):
    cfg = tmp_path / "soulspot.toml"
    cfg.write_text("[plugins.hello]\ninterval_minutes = 0\n")
    result = run_soulspot(
        "--config", str(cfg), "config", "check", cwd=tmp_path, env=OFF, pythonpath=[hello_site]
    )
    assert_refused(
        result, str(cfg), "plugins.hello.interval_minutes = 0", "greater than or equal to 1"
    )
    cfg.write_text("[plugins.hello]\ngreting = 'typo'\n")
    result = run_soulspot(
        "--config", str(cfg), "config", "check", cwd=tmp_path, env=OFF, pythonpath=[hello_site]
    )
    assert_refused(result, "unknown key plugins.hello.greting", "greeting")
    result = run_soulspot(
        "config",
        "check",
        cwd=tmp_path,
        env={**OFF, "SOULSPOT__HELLO__NAME": ""},
        pythonpath=[hello_site],
    )
    assert_refused(result, "environment variable SOULSPOT__HELLO__NAME", "plugins.hello.name")


def test_its_command_runs(tmp_path, hello_site):
    env = {**OFF, "SOULSPOT__HELLO__GREETING": "Ahoy"}
    result = run_soulspot(
        "hello", "greet", "--name", "Ada", cwd=tmp_path, env=env, pythonpath=[hello_site]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "Ahoy, Ada!"
    result = run_soulspot("hello", "greet", cwd=tmp_path, env=OFF, pythonpath=[hello_site])
    assert result.stdout.strip().splitlines()[-1] == "Hello, world!"


def test_can_be_disabled(tmp_path, hello_site):
    for env, cfg_text in (
        ({"SOULSPOT_DISABLE_PLUGINS": ALL_BUILTINS_OFF + ",hello"}, ""),
        (OFF, "[plugins.hello]\nenabled = false\n"),
    ):
        cfg = tmp_path / "soulspot.toml"
        cfg.write_text(cfg_text)
        listed = run_soulspot(
            "--config",
            str(cfg),
            "plugins",
            "--json",
            cwd=tmp_path,
            env=env,
            pythonpath=[hello_site],
        )
        hello = {p["name"]: p for p in json.loads(listed.stdout)}["hello"]
        assert hello["enabled"] is False
        assert hello["distribution"] == "soulspot-hello"
        gone = run_soulspot(
            "--config", str(cfg), "hello", "greet", cwd=tmp_path, env=env, pythonpath=[hello_site]
        )
        assert gone.returncode == 2 and "No such command 'hello'" in gone.stderr


def test_job_and_health_check_in_process(make_app, monkeypatch, hello_site):
    monkeypatch.syspath_prepend(str(hello_site))
    app = make_app({"plugins": {"hello": {"interval_minutes": 5}}}, disable=BUILTINS)
    run_jobs(app, "hello.count")
    page = app.test_client().get("/hello").get_data(as_text=True)
    assert '<strong class="hello-runs">1</strong>' in page
    hook = app.extensions["soulspot"].hook
    with app.app_context():
        [check] = [c for group in hook.health_checks(app=app) for c in group if c.name == "hello"]
        assert check.check().status == "ok"
    from soulspot.scheduler import collect_jobs

    [job] = [j for j in collect_jobs(app) if j.id == "hello.count"]
    assert (job.trigger, dict(job.trigger_args)) == ("interval", {"minutes": 5})
    # disabled: no page
    off = make_app(disable=[*BUILTINS, "hello"])
    assert off.test_client().get("/hello").status_code == 404


@pytest.mark.slow
def test_the_examples_own_tests_pass(tmp_path, hello_site):
    """The tests shipped for authors to copy run green against the installed plugin."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "soulspot.testing",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-c",
            "/dev/null",
            str(EXAMPLE / "tests"),
        ],
        cwd=tmp_path,
        env=clean_env({}, [hello_site]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout
