"""``soulspot serve --host/--port/--threads`` are configuration given on the command line:
the Settings page (and ``config show``'s rows behind it) show the values serve really uses,
as numbers, with "command line" as where they came from (they said "default", and the port
as a string, once the server had bound)."""

from __future__ import annotations

import re
import signal
import urllib.request
from pathlib import Path

from kernel_support import BUILTINS, SOULSPOT, Process, clean_env, settings_rows


def test_serve_options_are_shown_as_command_line_values(tmp_path: Path) -> None:
    env = {
        "SOULSPOT_DISABLE_PLUGINS": ",".join(BUILTINS),  # no auth: this machine is the owner
        "SOULSPOT__KERNEL__DATA_DIR": str(tmp_path / "data"),
    }
    args = [SOULSPOT, "serve", "--host", "127.0.0.1", "--port", "0", "--threads", "3"]
    proc = Process(args, cwd=tmp_path, env=clean_env(env))
    try:
        line = proc.wait_for("SoulSpot listening on ")
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        port = match.group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/settings", timeout=10) as answer:
            rows = settings_rows(answer.read().decode())
        proc.proc.send_signal(signal.SIGTERM)
        code, output = proc.finish()
    finally:
        proc.kill()
    assert code == 0, output
    assert rows["port"] == (port, "command line")  # the bound port, a number: no quotes
    assert rows["threads"] == ("3", "command line")
    assert rows["host"] == ('"127.0.0.1"', "command line")
