"""The Backups page, its forms and the dashboard panel, through real HTTP requests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from backup_support import DISABLE, RowsPlugin, all_rows, csrf_from, insert_rows
from flask import Flask

from soulspot_backup.service import service


def _app(make_app: Any, tmp_path: Path) -> Flask:
    plugins = [("rows", RowsPlugin())]
    app: Flask = make_app(plugins=plugins, disable=DISABLE, data_dir=tmp_path / "d")
    return app


def test_page_lists_backups_with_size_age_trigger_and_state(make_app: Any, tmp_path: Path) -> None:
    app = _app(make_app, tmp_path)
    with app.app_context():
        info = service(app).create("manual")
    client = app.test_client()
    page = client.get("/backups")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert info.id in html and "manual" in html and "verified" in html
    assert re.search(r'<td data-label="Age">\d+s</td>', html)  # age
    assert re.search(r'<td data-label="Size" title="\d+ bytes">\d+\.\d+ MB</td>', html)  # size
    assert 'data-confirm-text="restore"' in html
    assert "<script>" not in html and 'style="' not in html and "<style" not in html
    # every input has a label
    for input_id in re.findall(r'<input id="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    nav = client.get("/").get_data(as_text=True)
    assert 'href="/backups"' in nav and "Last verified backup" in nav and info.id in nav
    listing = client.get("/api/backups").get_json()
    assert [b["id"] for b in listing["backups"]] == [info.id]


def test_create_download_restore_delete_through_the_page(make_app: Any, tmp_path: Path) -> None:
    app = _app(make_app, tmp_path)
    insert_rows(app, 50)
    client = app.test_client()
    token = csrf_from(client.get("/backups").get_data(as_text=True))
    created = client.post("/backups/create", data={"csrf_token": token})
    assert created.status_code == 302
    (info,) = service(app).backups()
    assert info.trigger == "manual" and info.verified
    download = client.get(f"/backups/{info.id}/download")
    assert download.status_code == 200
    assert download.data == info.path.read_bytes()
    assert f"{info.path.name}" in download.headers["Content-Disposition"]
    insert_rows(app, 25, start=50)
    wrong = client.post(
        f"/backups/{info.id}/restore", data={"csrf_token": token, "confirm": "yes please"}
    )
    assert wrong.status_code == 422
    assert len(all_rows(app)) == 75  # nothing changed without the typed confirmation
    done = client.post(
        f"/backups/{info.id}/restore", data={"csrf_token": token, "confirm": "restore"}
    )
    assert done.status_code == 302
    assert len(all_rows(app)) == 50
    page = client.get("/backups").get_data(as_text=True)
    assert "restored" in page and "pre-restore" in page
    deleted = client.post(f"/backups/{info.id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 302
    assert info.id not in {b.id for b in service(app).backups()}
    assert client.get(f"/backups/{info.id}/download").status_code == 404
    assert client.get("/backups/..%2F..%2Fetc%2Fpasswd/download").status_code == 404


def test_forms_need_the_csrf_token(make_app: Any, tmp_path: Path) -> None:
    app = _app(make_app, tmp_path)
    client = app.test_client()
    client.get("/backups")
    refused = client.post("/backups/create", data={})
    assert refused.status_code == 403
    assert service(app).backups() == []


def test_verify_button_reports_damage(make_app: Any, tmp_path: Path) -> None:
    app = _app(make_app, tmp_path)
    with app.app_context():
        info = service(app).create("manual")
    info.path.write_bytes(info.path.read_bytes()[:1000])
    client = app.test_client()
    token = csrf_from(client.get("/backups").get_data(as_text=True))
    client.post(f"/backups/{info.id}/verify", data={"csrf_token": token})
    html = client.get("/backups").get_data(as_text=True)
    assert "damaged" in html
    assert service(app).backups()[0].verified is False


@pytest.mark.slow
def test_encrypted_backup_from_the_page_and_a_wrong_passphrase(
    make_app: Any, tmp_path: Path
) -> None:
    app = _app(make_app, tmp_path)
    insert_rows(app, 10)
    client = app.test_client()
    token = csrf_from(client.get("/backups").get_data(as_text=True))
    client.post("/backups/create", data={"csrf_token": token, "passphrase": "page secret 12"})
    (info,) = service(app).backups()
    assert info.encrypted and info.verified
    insert_rows(app, 5, start=10)
    wrong = client.post(
        f"/backups/{info.id}/restore",
        data={"csrf_token": token, "confirm": "restore", "passphrase": "nope"},
        follow_redirects=True,
    )
    assert "wrong passphrase" in wrong.get_data(as_text=True)
    assert len(all_rows(app)) == 15
    client.post(
        f"/backups/{info.id}/restore",
        data={"csrf_token": token, "confirm": "restore", "passphrase": "page secret 12"},
    )
    assert len(all_rows(app)) == 10


def test_backup_api_refuses_unknown_query_parameters(make_app: Any, tmp_path: Path) -> None:
    app = make_app(disable=["spotify", "library", "collection"], data_dir=tmp_path / "data")
    client = app.test_client()
    assert client.get("/api/backups").status_code == 200
    resp = client.get("/api/backups?x=1")
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
