"""A signed-in request costs at most one indexed look-up (the session by id, served from
memory for ``session_cache_seconds``: the one cache on the sign-in path; the owner is
recorded in the session at sign-in), and no write except the once-a-minute touch."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from spotify_support import Browser


def _record_statements(app: Flask) -> list[str]:
    db = app.extensions["soulspot"].storage.database
    seen: list[str] = []
    previous = db.observer

    def observer(sql: str, params: Any, seconds: float, error: BaseException | None) -> None:
        seen.append(" ".join(sql.split()))
        if previous is not None:
            previous(sql, params, seconds, error)

    db.observer = observer
    return seen


def test_signed_in_api_calls_read_their_session_once_and_write_nothing(
    app: Flask,
) -> None:
    browser = Browser(app)
    assert browser.sign_in().status_code in (302, 303)
    # the sign-in itself touched last_seen just now: the next minute has no writes
    seen = _record_statements(app)
    for _ in range(3):
        resp = browser.get("/api/plugins", headers={"Accept": "application/json"})
        assert resp.status_code == 200
    sessions = [s for s in seen if re.match(r"SELECT .* FROM sessions WHERE id = \?", s)]
    owner = [s for s in seen if "FROM settings WHERE key = ?" in s]
    assert len(sessions) <= 1, seen  # the others come from the session cache
    assert owner == [], seen  # the owner is recorded in the session at sign-in
    assert len(seen) == len(sessions) + len(owner), seen
    assert not [s for s in seen if re.match(r"(INSERT|UPDATE|DELETE)\b", s)]


def test_probes_run_no_statement(app: Flask) -> None:
    seen = _record_statements(app)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/health/live").status_code == 200
    assert seen == []
