"""The web shell (issue 2, item 6): errors as problem+json under /api/ and HTML elsewhere with
the request id and never a stack trace; loopback-only without auth (said on every page);
maintenance 503 + Retry-After; the login gate with an auth provider; nav and dashboard hooks."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Blueprint, Flask, request
from kernel_support import BUILTINS
from pydantic import BaseModel, Field

from soulspot import hookimpl
from soulspot.api import csrf_exempt, login_required, maintenance, public
from soulspot.errors import Problem
from soulspot.types import DashboardPanel, NavItem, PluginManifest, User
from soulspot.validation import validate

OFF = list(BUILTINS)
LOOPBACK_BANNER = "answers only on this machine"
SECRET_DETAIL = "password=hunter2 in /srv/secret/internals.py"


class Query(BaseModel):
    limit: int = Field(10, ge=1, le=100)


class WebPlugin:
    """Routes that fail in every way, a nav item and a dashboard panel."""

    def __init__(self, template_dir: Path) -> None:
        self.template_dir = template_dir

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="web test plugin")

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        bp = Blueprint("webtest", __name__, template_folder=str(self.template_dir))

        @bp.get("/boom")
        @bp.get("/api/boom")
        def boom() -> str:
            raise RuntimeError(SECRET_DETAIL)

        @bp.get("/busy")
        @bp.get("/api/busy")
        def busy() -> str:
            raise Problem(409, "Backup running", "A backup is running; try again later.")

        @bp.get("/api/items")
        @validate(query=Query)
        def items(query: Query) -> dict[str, int]:
            return {"limit": query.limit}

        @bp.get("/open")
        @public
        def open_view() -> str:
            return "open to all"

        return [bp]

    @hookimpl
    def nav_items(self, app: Flask) -> list[NavItem]:
        return [NavItem("Web test", "webtest.open_view", order=10, public=True)]

    @hookimpl
    def dashboard_panels(self, app: Flask) -> list[DashboardPanel]:
        return [DashboardPanel("Things", "webtest/panel.html", lambda: {"count": 42}, order=5)]


@pytest.fixture
def app(make_app, tmp_path):
    templates = tmp_path / "templates" / "webtest"
    templates.mkdir(parents=True)
    (templates / "panel.html").write_text("<p class='things'>{{ data.count }} things</p>")
    return make_app(plugins=[("webtest", WebPlugin(tmp_path / "templates"))], disable=OFF)


def _no_trace(body: str) -> None:
    for leak in ("Traceback", "RuntimeError", "hunter2", "internals.py", 'File "'):
        assert leak not in body, body


def test_api_error_is_problem_json_with_request_id(app):
    resp = app.test_client().get("/api/boom")
    assert resp.status_code == 500
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == 500 and body["title"] == "Internal Server Error"
    assert body["instance"] == "/api/boom"
    assert re.fullmatch(r"[0-9a-f]{32}|[\w.-]{8,}", body["request_id"]), body
    assert set(body) >= {"type", "title", "status", "detail", "instance", "request_id"}
    _no_trace(resp.get_data(as_text=True))


def test_page_error_is_html_with_request_id(app):
    resp = app.test_client().get("/boom")
    assert resp.status_code == 500
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    match = re.search(r'<code class="request-id">([^<]+)</code>', html)
    assert match, html
    assert len(match.group(1)) >= 8
    assert "Internal Server Error" in html
    _no_trace(html)


def test_client_that_prefers_json_gets_problem_json(app):
    resp = app.test_client().get("/boom", headers={"Accept": "application/json"})
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["request_id"]


def test_problem_is_rendered_both_ways(app):
    client = app.test_client()
    api = client.get("/api/busy")
    assert api.status_code == 409
    assert api.get_json()["title"] == "Backup running"
    assert api.get_json()["detail"] == "A backup is running; try again later."
    page = client.get("/busy")
    assert page.status_code == 409 and page.mimetype == "text/html"
    assert "A backup is running; try again later." in page.get_data(as_text=True)


def test_not_found_both_ways(app):
    client = app.test_client()
    api = client.get("/api/nothing-here")
    assert api.status_code == 404
    assert api.mimetype == "application/problem+json"
    assert api.get_json()["request_id"]
    page = client.get("/nothing-here")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert 'class="request-id"' in page.get_data(as_text=True)
    assert client.post("/api/plugins").status_code == 405


def test_invalid_input_is_422_problem(app):
    client = app.test_client()
    assert client.get("/api/items?limit=5").get_json() == {"limit": 5}
    resp = client.get("/api/items?limit=lots")
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["errors"][0]["loc"] == ["limit"]
    assert body["request_id"]


def test_without_auth_only_loopback_is_served(app):
    client = app.test_client()
    assert client.get("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    for addr in ("192.168.1.20", "10.0.0.7", "fe80::1", "203.0.113.9"):
        page = client.get("/", environ_base={"REMOTE_ADDR": addr})
        assert page.status_code == 403, addr
        assert "Only from this machine" in page.get_data(as_text=True)
        api = client.get("/api/plugins", environ_base={"REMOTE_ADDR": addr})
        assert api.status_code == 403
        assert api.get_json()["title"] == "Only from this machine"
        assert api.get_json()["request_id"]
    # public views and static files stay reachable (a reverse proxy health probe)
    remote = {"REMOTE_ADDR": "192.168.1.20"}
    assert client.get("/open", environ_base=remote).status_code == 200
    assert client.get("/static/soulspot.css", environ_base=remote).status_code == 200


def test_without_auth_every_page_says_so(app):
    client = app.test_client()
    for path in ("/", "/plugins", "/boom", "/nothing-here", "/busy"):
        html = client.get(path).get_data(as_text=True)
        assert LOOPBACK_BANNER in html, path


def test_nav_items_and_dashboard_panels(app):
    html = app.test_client().get("/").get_data(as_text=True)
    assert '<a href="/open">Web test</a>' in html
    # the kernel's own items, ordered: Dashboard (0), Web test (10), Plugins (900)
    assert html.index(">Dashboard<") < html.index(">Web test<") < html.index(">Plugins<")
    assert "<p class='things'>42 things</p>" in html
    assert 'aria-current="page"' in html


def test_maintenance_mode(app):
    client = app.test_client()
    with app.app_context(), maintenance("restoring a backup"):
        page = client.get("/")
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "30"
        assert "restoring a backup" in page.get_data(as_text=True)
        api = client.get("/api/plugins")
        assert api.status_code == 503 and api.headers["Retry-After"] == "30"
        assert api.mimetype == "application/problem+json"
        assert api.get_json()["request_id"]
    assert client.get("/").status_code == 200


class FakeAuth:
    """An auth provider registered in code: the ``X-Test-User`` header signs you in."""

    def current_user(self) -> User | None:
        if request.headers.get("X-Test-User") == "owner":
            return User("owner", "The Owner")
        return None

    def login_url(self, next_url: str) -> str:
        return "/auth/login?next=" + quote(next_url, safe="")


class AuthPlugin:
    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(provides=("auth",))

    @hookimpl
    def auth_provider(self, app: Flask) -> FakeAuth:
        return FakeAuth()

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        bp = Blueprint("fakeauth", __name__)

        @bp.get("/auth/login")
        @public
        def login() -> str:
            return "please sign in"

        @bp.route("/private", methods=["GET", "POST"])
        def private() -> str:
            return "private things"

        @bp.get("/explicit")
        @login_required
        def explicit() -> str:
            return "explicitly guarded"

        return [bp]

    @hookimpl
    def nav_items(self, app: Flask) -> list[NavItem]:
        return [NavItem("Sign in", "fakeauth.login", order=990, public=True)]


@pytest.fixture
def auth_app(make_app):
    return make_app(plugins=[("fakeauth", AuthPlugin())], disable=OFF)


def test_login_gate_redirects_pages_and_refuses_api(auth_app):
    client = auth_app.test_client()
    resp = client.get("/")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/auth/login?next=%2F"
    resp = client.get("/private?x=1")
    assert resp.headers["Location"] == "/auth/login?next=%2Fprivate%3Fx%3D1"
    assert client.get("/explicit").status_code == 302
    api = client.get("/api/plugins")
    assert api.status_code == 401
    assert api.mimetype == "application/problem+json"
    assert api.get_json()["title"] == "Sign-in required"
    assert api.get_json()["request_id"]
    assert client.post("/private").status_code == 401  # no redirect for a form post
    assert client.get("/", headers={"Accept": "application/json"}).status_code == 401
    # public views stay open; signed-out pages show only public nav items, no loopback banner
    login = client.get("/auth/login").get_data(as_text=True)
    assert login == "please sign in"


def test_login_gate_lets_the_signed_in_user_through(auth_app):
    client = auth_app.test_client()
    signed_in = {"X-Test-User": "owner"}
    for path, text in (("/private", "private things"), ("/explicit", "explicitly guarded")):
        resp = client.get(path, headers=signed_in)
        assert resp.status_code == 200 and resp.get_data(as_text=True) == text
    home = client.get("/", headers=signed_in).get_data(as_text=True)
    assert "The Owner" in home
    assert ">Plugins<" in home
    assert LOOPBACK_BANNER not in home
    assert client.get("/api/plugins", headers=signed_in).status_code == 200
    # with auth, a LAN address is not refused as such: it must sign in like anyone
    remote = client.get("/", environ_base={"REMOTE_ADDR": "192.168.1.20"})
    assert remote.status_code == 302
    remote = client.get("/", headers=signed_in, environ_base={"REMOTE_ADDR": "192.168.1.20"})
    assert remote.status_code == 200


def test_signed_out_error_page_shows_only_public_nav(auth_app):
    html = auth_app.test_client().get("/nothing-here").get_data(as_text=True)
    assert "Sign in" in html
    assert ">Plugins<" not in html and ">Dashboard<" not in html


@pytest.mark.parametrize("path", ["/", "/api/plugins", "/open"])
def test_untrusted_host_is_refused_without_rendering(app, path):
    # DNS rebinding: a page on evil.example that resolves to 127.0.0.1 must get nothing.
    resp = app.test_client().get(path, headers={"Host": "evil.example:8765"})
    assert resp.status_code == 400
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert "evil.example" in body["detail"] and body["request_id"]
    _no_trace(resp.get_data(as_text=True))


def test_loopback_names_public_url_and_allowed_hosts_are_trusted(make_app):
    app = make_app(
        {"kernel": {"public_url": "https://music.example.org", "allowed_hosts": ["nas.lan"]}},
        disable=OFF,
    )
    client = app.test_client()
    for host in ("127.0.0.1:8765", "localhost:8765", "music.example.org", "nas.lan:8765"):
        assert client.get("/open", headers={"Host": host}).status_code != 400, host
    assert client.get("/open", headers={"Host": "other.lan:8765"}).status_code == 400


def test_loopback_through_a_proxy_is_not_local(make_app):
    # A reverse proxy on the same host (trusted_proxies unset) makes every client 127.0.0.1,
    # but the client asked for the public name: without auth it must not be served.
    app = make_app({"kernel": {"public_url": "https://music.example.org"}}, disable=OFF)
    client = app.test_client()
    local = {"REMOTE_ADDR": "127.0.0.1"}
    assert (
        client.get("/", environ_base=local, headers={"Host": "127.0.0.1:8765"}).status_code == 200
    )
    proxied = client.get("/", environ_base=local, headers={"Host": "music.example.org"})
    assert proxied.status_code == 403


def test_without_a_csrf_plugin_the_kernel_refuses_cross_site_writes(app):
    # every built-in is off here: nothing provides 'csrf', so the kernel's baseline applies
    client = app.test_client()
    refused = client.post("/open", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert client.post("/open", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    # the app's own origin, and clients that send neither header, reach the view (405 here:
    # /open takes GET only) instead of the refusal
    assert client.post("/open", headers={"Origin": "http://localhost"}).status_code == 405
    assert client.post("/open").status_code == 405


class ReportPlugin:
    """A public POST that other sites may send (a report endpoint), marked with the API's
    marker: both cross-site checks honour it (the kernel's own one ignored it)."""

    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="test: a cross-site report endpoint")

    @hookimpl
    def register_blueprints(self, app: Flask) -> list[Blueprint]:
        bp = Blueprint("reports", __name__)

        @bp.post("/reports/in")
        @public
        @csrf_exempt
        def report_in() -> tuple[str, int]:
            return "", 204

        @bp.post("/reports/unmarked")
        @public
        def report_unmarked() -> tuple[str, int]:
            return "", 204

        return [bp]


@pytest.mark.parametrize("security", [False, True], ids=["kernel check", "security plugin"])
def test_the_csrf_exempt_marker_is_honoured_with_or_without_the_security_plugin(
    make_app, security
):
    off = [p for p in BUILTINS if p != "security"] if security else OFF
    client = make_app(plugins=[("reports", ReportPlugin())], disable=off).test_client()
    cross_site = {"Origin": "https://reporter.example", "Sec-Fetch-Site": "cross-site"}
    assert client.post("/reports/in", headers=cross_site).status_code == 204
    assert client.post("/reports/unmarked", headers=cross_site).status_code == 403


def test_with_the_security_plugin_the_kernel_leaves_csrf_to_it(make_app):
    app = make_app(disable=[p for p in BUILTINS if p != "security"])
    assert app.config["SOULSPOT_BASELINE_CSRF"] is False
