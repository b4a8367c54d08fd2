"""A sync killed at any moment (SIGKILL, mid-read or between steps) leaves the vault as it was
or with whole steps applied; the next run carries on to the complete library. The CLI shows a
progress bar on a terminal."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask
from library_support import TEST_CONFIG, Owner, in_app, sync, vault

from soulspot import api
from soulspot.testing import deep_merge, to_toml
from support.spotify_webapi import SpotifyWebAPI


def _expected(webapi: SpotifyWebAPI) -> dict[str, list[str | None]]:
    lib = webapi.library("alice")
    return {
        p.id: [e.item.uri if e.item else None for e in p.entries]
        for p in lib.playlists
        if lib.readable(p)
    }


def _check_whole(app: Flask, webapi: SpotifyWebAPI) -> tuple[int, int]:
    """Every list in the vault is empty or exactly Spotify's: never half of one."""
    expected = _expected(webapi)
    lib = webapi.library("alice")
    whole = empty = 0
    v = in_app(app, lambda: vault(app))
    for playlist_id, uris in expected.items():
        got = in_app(app, lambda pid=playlist_id: v.playlist_entries(pid))
        got_uris = [e.track.uri if e.track else None for e in got]
        assert got_uris in ([], uris), playlist_id
        whole += bool(got_uris) and got_uris == uris
        empty += not got_uris
    liked = in_app(app, lambda: [t.track.id for t in v.liked()])
    assert liked in ([], [t.id for t, _ in lib.liked])
    return whole, empty


def _killed_run(
    app: Flask, webapi: SpotifyWebAPI, provider: Any, tmp_path: Path, kill_after: int
) -> bytes:
    """``soulspot library sync`` in a child process (stderr on a terminal), SIGKILLed while
    Spotify answers its ``kill_after``-th call; returns what it drew on the terminal."""
    data_dir = in_app(app, api.data_dir)
    config = deep_merge(TEST_CONFIG, {"plugins": {"spotify": provider.client_config()}})
    config = deep_merge(config, {"kernel": {"data_dir": str(data_dir)}})
    path = tmp_path / "soulspot.toml"
    path.write_text(to_toml(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOULSPOT")}
    soulspot = str(Path(sys.executable).parent / "soulspot")
    seen = {"n": 0}
    child: dict[str, subprocess.Popen[bytes]] = {}

    def maybe_kill(_record: Any) -> None:
        seen["n"] += 1
        if seen["n"] == kill_after and "proc" in child:
            child["proc"].send_signal(signal.SIGKILL)

    webapi.on_request = maybe_kill
    master, slave = pty.openpty()
    output = b""
    try:
        proc = subprocess.Popen(
            [soulspot, "--config", str(path), "library", "sync", "--full"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=slave,
        )
        child["proc"] = proc
        assert proc.wait(timeout=60) == -signal.SIGKILL
        while select.select([master], [], [], 0.2)[0]:
            chunk = os.read(master, 65536)
            if not chunk:
                break
            output += chunk
    finally:
        webapi.on_request = None
        os.close(master)
        os.close(slave)
    return output


def test_a_killed_sync_leaves_whole_steps_and_the_next_run_carries_on(
    app: Flask, owner: Owner, webapi: SpotifyWebAPI, provider: Any, tmp_path: Path
) -> None:
    from soulspot_library.models import Run

    lib = webapi.library("alice")
    output = _killed_run(app, webapi, provider, tmp_path, kill_after=1)  # mid-read, first step
    assert b"playlists" in output and b"[" in output and b"/4" in output  # the progress bar
    assert _check_whole(app, webapi) == (0, len(_expected(webapi)))
    playlist = next(p for p in lib.playlists if lib.readable(p) and len(p.entries) > 2)
    lib.remove_item(playlist.id, 0)  # Spotify changes between the runs
    _killed_run(app, webapi, provider, tmp_path, kill_after=6)  # some playlists read
    _check_whole(app, webapi)
    outcome = sync(app)
    assert outcome.status == "ok", outcome.message
    whole, empty = _check_whole(app, webapi)
    assert empty == sum(1 for uris in _expected(webapi).values() if not uris)
    assert whole == sum(1 for uris in _expected(webapi).values() if uris)
    statuses = in_app(app, lambda: [r.status for r in Run.select().order_by(Run.started_at)])
    assert statuses == ["interrupted", "interrupted", "ok"]
