"""``@validate`` keeps the OpenAPI document's promise (issue 18, items 1 and 5): a returned
response model is serialised with the declared status, a plain body gets that status, apps
built by ``soulspot.testing`` refuse an answer that breaks the document, and the kernel's own
CSRF form field never reaches a form model with ``extra="forbid"``."""

from __future__ import annotations

from flask import Blueprint, jsonify
from pydantic import BaseModel, ConfigDict

from soulspot import hookimpl
from soulspot.types import PluginManifest
from soulspot.validation import NoParams, validate


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


class NoteOut(BaseModel):
    id: int
    text: str


class NoteForm(BaseModel):
    model_config = ConfigDict(extra="forbid")  # the style docs/plugins.md prescribes
    text: str


bp = Blueprint("notes", __name__)
NOTES: list[str] = []


@bp.post("/api/notes")
@validate(body=NoteIn, response=NoteOut, status=201, summary="Add a note")
def add(body: NoteIn) -> NoteOut:
    NOTES.append(body.text)
    return NoteOut(id=len(NOTES), text=body.text)


@bp.post("/api/notes-dict")
@validate(body=NoteIn, response=NoteOut, status=201)
def add_dict(body: NoteIn) -> dict[str, object]:
    return {"id": 7, "text": body.text}


@bp.get("/api/broken-shape")
@validate(query=NoParams, response=NoteOut)
def broken_shape(query: NoParams) -> dict[str, object]:
    return {"id": "not a number"}


@bp.get("/api/broken-status")
@validate(query=NoParams, response=NoteOut, status=201)
def broken_status(query: NoParams) -> object:
    return jsonify({"id": 1, "text": "x"})  # a Response of its own: status 200


@bp.post("/notes")
@validate(form=NoteForm)
def add_form(form: NoteForm) -> str:
    return f"noted {form.text}"


class Notes:
    @hookimpl
    def manifest(self) -> PluginManifest:
        return PluginManifest(description="notes")

    @hookimpl
    def register_blueprints(self) -> list[Blueprint]:
        return [bp]


def notes_app(make_app, **kwargs):
    return make_app(plugins=[("notes", Notes())], only=[], **kwargs)


def test_a_returned_model_is_serialised_with_the_declared_status(make_app):
    client = notes_app(make_app).test_client()
    resp = client.post("/api/notes", json={"text": "milk"})
    assert resp.status_code == 201
    assert resp.mimetype == "application/json"
    assert resp.get_json() == {"id": len(NOTES), "text": "milk"}
    resp = client.post("/api/notes-dict", json={"text": "eggs"})
    assert (resp.status_code, resp.get_json()) == (201, {"id": 7, "text": "eggs"})


def test_the_document_says_what_the_answer_does(make_app):
    doc = notes_app(make_app).test_client().get("/api/openapi.json").get_json()
    responses = doc["paths"]["/api/notes"]["post"]["responses"]
    assert "201" in responses and "200" not in responses


def test_in_tests_an_answer_that_breaks_the_document_fails_loudly(make_app):
    client = notes_app(make_app).test_client()
    resp = client.get("/api/broken-shape")
    assert resp.status_code == 500
    problem = resp.get_json()
    assert problem["title"] == "Answer does not match its response model"
    assert "NoteOut" in problem["detail"] and "id" in problem["detail"]
    resp = client.get("/api/broken-status")
    assert resp.status_code == 500
    assert "answered 200; @validate documents 201" in resp.get_json()["detail"]


def test_outside_tests_the_answer_is_not_checked(make_app):
    app = notes_app(make_app)
    app.config["SOULSPOT_CHECK_RESPONSES"] = False  # as create_app builds it for `serve`
    assert app.test_client().get("/api/broken-shape").status_code == 200


def test_the_csrf_field_never_reaches_a_forbid_form_model(make_app):
    client = notes_app(make_app).test_client()
    resp = client.post("/notes", data={"text": "bread", "csrf_token": "abc"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_data(as_text=True) == "noted bread"
    # any other unknown field is still refused
    resp = client.post(
        "/notes", data={"text": "bread", "colour": "red"}, headers={"Accept": "application/json"}
    )
    assert resp.status_code == 422
    assert [e["loc"] for e in resp.get_json()["errors"]] == [["colour"]]
