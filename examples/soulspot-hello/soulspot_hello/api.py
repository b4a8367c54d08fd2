"""The JSON API: ``POST /api/hello/greetings`` stores a greeting (201), ``GET`` lists them.

Input and output are pydantic models: ``@validate`` answers 422 for bad input, serialises the
returned model with the declared ``status=201``, and describes both in ``/api/openapi.json``.
"""

from __future__ import annotations

from flask import Blueprint, current_app
from pydantic import BaseModel, ConfigDict, Field

from soulspot.api import audit, has_storage, storage
from soulspot.errors import Problem
from soulspot.validation import validate

from . import models
from .state import state

api_bp = Blueprint("hello_api", __name__, url_prefix="/api/hello")


class GreetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=40, description="Whom to greet.")


class GreetingOut(BaseModel):
    id: int
    name: str
    greeted_at: float = Field(description="UNIX seconds, UTC.")


class GreetingList(BaseModel):
    greetings: list[GreetingOut]


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(20, ge=1, le=100, description="How many, newest first.")


NO_STORE = {409: "No storage plugin is enabled."}


def _require_store() -> None:
    if not has_storage():
        raise Problem(409, "No storage", "Enable a storage plugin to keep greetings.")


def _out(greeting: models.Greeting) -> GreetingOut:
    return GreetingOut(id=greeting.id, name=greeting.name, greeted_at=greeting.greeted_at)


@api_bp.post("/greetings")
@validate(
    body=GreetingIn, response=GreetingOut, status=201, summary="Greet someone", errors=NO_STORE
)
def greet(body: GreetingIn) -> GreetingOut:
    _require_store()
    with storage().write_transaction():
        greeting = models.record(body.name)
    audit("hello.greeted", greeting=greeting.id)  # the name is the user's data: not audited
    state(current_app).greetings.inc()
    return _out(greeting)


@api_bp.get("/greetings")
@validate(
    query=ListQuery, response=GreetingList, summary="Greetings, newest first", errors=NO_STORE
)
def greetings(query: ListQuery) -> GreetingList:
    _require_store()
    return GreetingList(greetings=[_out(g) for g in models.latest(query.limit)])
