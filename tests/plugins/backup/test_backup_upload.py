"""Restoring an uploaded archive from the Backups page (issue 19): every check a restore makes
applies, the upload is size-capped and confirmed, and the page's messages say what to do on
the page, not which command-line flag to pass."""

from __future__ import annotations

import html as html_lib
import io
import re
from pathlib import Path
from typing import Any

from backup_support import DISABLE, RowsPlugin, all_rows, csrf_from, insert_rows
from flask import Flask
from flask.testing import FlaskClient

from soulspot_backup.service import service

CLI_ADVICE = re.compile(r"--[a-z]|`soulspot |soulspot backup ")


def _app(make_app: Any, data: Path, **backup: Any) -> Flask:
    config = {"plugins": {"backup": backup}} if backup else None
    app: Flask = make_app(config, plugins=[("rows", RowsPlugin())], disable=DISABLE, data_dir=data)
    return app


def _banners(client: FlaskClient) -> list[str]:
    page = client.get("/backups").get_data(as_text=True)
    flashes = re.findall(r'<p class="banner (?:ok|error)"[^>]*>(.*?)</p>', page)
    return [html_lib.unescape(m) for m in flashes]


def _upload(client: FlaskClient, data: bytes, name: str, **fields: str) -> Any:
    token = csrf_from(client.get("/backups").get_data(as_text=True))
    form: dict[str, Any] = {"csrf_token": token, "confirm": "restore", **fields}
    form["archive"] = (io.BytesIO(data), name)
    return client.post("/backups/upload", data=form, content_type="multipart/form-data")


def test_upload_restores_checks_and_words_errors_for_the_page(
    make_app: Any, tmp_path: Path
) -> None:
    here = _app(make_app, tmp_path / "here", upload_max_bytes=2_097_152)
    other = _app(make_app, tmp_path / "other")
    insert_rows(here, 10)
    insert_rows(other, 30)
    with here.app_context():
        own = service(here).create("manual")
    with other.app_context():
        foreign = service(other).create("manual")
    insert_rows(here, 5, start=10)
    client = here.test_client()

    # An archive of this install restores; the page says so.
    done = _upload(client, own.path.read_bytes(), own.path.name)
    assert done.status_code == 302
    assert len(all_rows(here)) == 10
    assert any("was restored" in b and "pre-restore" in b for b in _banners(client))

    # A tampered copy (one byte changed in a member) is refused with what is wrong.
    tampered = bytearray(own.path.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    insert_rows(here, 5, start=10)
    _upload(client, bytes(tampered), own.path.name)
    (refusal,) = [b for b in _banners(client) if b.startswith("Not restored")]
    assert "damaged" in refusal and not CLI_ADVICE.search(refusal), refusal
    assert len(all_rows(here)) == 15

    # Another machine's archive cannot be authenticated here: refused, and the page names
    # its own control (not --force-unsigned); ticked, it restores with the warning.
    _upload(client, foreign.path.read_bytes(), foreign.path.name)
    (refusal,) = [b for b in _banners(client) if b.startswith("Not restored")]
    assert "key this install does not have" in refusal, refusal
    assert "ticked" in refusal and not CLI_ADVICE.search(refusal), refusal
    assert len(all_rows(here)) == 15
    _upload(client, foreign.path.read_bytes(), foreign.path.name, force_unsigned="true")
    (ok,) = _banners(client)
    assert "could not be authenticated" in ok, ok
    assert len(all_rows(here)) == 30

    # Bounded and confirmed: nothing changes without the word or past the cap.
    token = csrf_from(client.get("/backups").get_data(as_text=True))
    unconfirmed = client.post(
        "/backups/upload",
        data={"csrf_token": token, "confirm": "", "archive": (io.BytesIO(b"x"), "a.tar")},
        content_type="multipart/form-data",
    )
    assert unconfirmed.status_code == 422
    forged = client.post(
        "/backups/upload",
        data={"confirm": "restore", "archive": (io.BytesIO(own.path.read_bytes()), "a.tar")},
        content_type="multipart/form-data",
    )
    assert forged.status_code == 403  # no CSRF token
    too_big = _upload(client, b"\0" * 2_200_000, own.path.name)
    assert too_big.status_code == 413
    # ... while a body over the app-wide 1 MiB (max_body_bytes) reaches the restore's checks
    junk = _upload(client, b"\0" * 1_500_000, own.path.name)
    assert junk.status_code == 302
    assert any(b.startswith("Not restored") for b in _banners(client))
    empty = _upload(client, b"", "soulspot.tar")
    assert empty.status_code == 422 and "Choose a backup archive" in empty.get_data(as_text=True)
    assert len(all_rows(here)) == 30
    leftovers = [p.name for p in service(here).dir.iterdir() if p.name.startswith(".upload-")]
    assert leftovers == []


def test_missing_backup_and_passphrase_errors_carry_no_cli_advice(
    make_app: Any, tmp_path: Path
) -> None:
    app = _app(make_app, tmp_path / "d")
    with app.app_context():
        info = service(app).create("manual", "a passphrase 12")
    client = app.test_client()
    missing = client.get("/backups/20990101T000000Z-manual-ffff/download")
    text = missing.get_data(as_text=True)
    assert missing.status_code == 404 and not CLI_ADVICE.search(text), text
    page = client.get("/backups").get_data(as_text=True)
    assert re.search(r'<a href="https?://[^"]+/backup\.md"', page)  # the guide, as a link
    token = csrf_from(page)
    client.post(f"/backups/{info.id}/verify", data={"csrf_token": token})
    (needs,) = _banners(client)
    assert "passphrase box" in needs and not CLI_ADVICE.search(needs), needs


def test_upload_cap_holds_without_the_security_plugin(make_app: Any, tmp_path: Path) -> None:
    app: Flask = make_app(
        {"plugins": {"backup": {"upload_max_bytes": 1_048_576}}},
        disable=[*DISABLE, "security"],
        data_dir=tmp_path / "d",
    )
    client = app.test_client()
    form = {"confirm": "restore", "archive": (io.BytesIO(b"\0" * 1_200_000), "soulspot.tar")}
    resp = client.post("/backups/upload", data=form, content_type="multipart/form-data")
    assert resp.status_code == 413
    assert not [p for p in service(app).dir.iterdir() if p.name.startswith(".upload-")]
