"""Validated inputs: every query string, JSON body and form goes through a pydantic model.

``@validate(query=Q, body=B, form=F, response=R, status=201)`` parses the request into the
models and passes them to the view as ``query=``, ``body=`` and ``form=`` keyword arguments;
invalid input raises :class:`soulspot.errors.ValidationFailed` (422 problem+json listing each
field error). The same metadata describes the route in the OpenAPI document at
``/api/openapi.json``, and the answer keeps the document's promise: a view may return an
instance of ``response`` (serialised as JSON), and a body it returns without a status of its
own gets ``status``. Apps built by :mod:`soulspot.testing` also check every 2xx answer against
the document (its status, and its JSON against ``response``), so a test sees a broken promise.

The kernel's CSRF form field (``csrf_token``, rendered by the ``csrf_token()`` template global
and checked by the plugin that provides the ``csrf`` concern) is removed from the form before
the form model sees it, unless the model declares that field itself: a form model with
``extra="forbid"`` needs no field for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar, cast, overload

from flask import current_app, make_response, request
from pydantic import BaseModel, ConfigDict, ValidationError
from werkzeug.wrappers import Response

from .errors import Problem, ValidationFailed

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")


class Validated(Protocol):
    """What ``@validate(...)`` returns, for type checkers: a view that returns a pydantic
    model becomes a view returning a ``Response`` (what Flask's ``route`` accepts); any other
    view keeps its type."""

    @overload
    def __call__(self, view: Callable[P, BaseModel]) -> Callable[P, Response]: ...
    @overload
    def __call__(self, view: F) -> F: ...


#: The form field that carries the CSRF token (the kernel's ``csrf_token()`` template global).
CSRF_FIELD = "csrf_token"
#: Flask config key: check every validated view's 2xx answer against its declared response
#: model and status (set by :func:`soulspot.testing.build_app`; off in production).
CHECK_RESPONSES = "SOULSPOT_CHECK_RESPONSES"


class NoParams(BaseModel):
    """An API route that takes no query parameters (unknown ones are refused with 422)."""

    model_config = ConfigDict(extra="forbid")


class PageParams(BaseModel):
    """A page that reads no query parameters (unknown ones, like tracking tags, are ignored)."""

    model_config = ConfigDict(extra="ignore")


@dataclass(frozen=True)
class ApiSpec:
    """What a validated view takes and returns (read by the OpenAPI generator)."""

    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    form: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    summary: str = ""
    #: Extra documented responses: status -> description.
    errors: Mapping[int, str] = field(default_factory=dict)


def validate(
    *,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    summary: str = "",
    errors: Mapping[int, str] | None = None,
) -> Validated:
    """Validate the request into ``query``/``body``/``form`` models, describe the route in the
    OpenAPI document, and answer as it says: a returned model is serialised as JSON, a body
    returned without a status of its own gets ``status``."""
    spec = ApiSpec(query, body, form, response, status, summary, dict(errors or {}))

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if query is not None:
                kwargs["query"] = _parse(query, _multi(request.args), "query string")
            if body is not None:
                data = request.get_json(silent=True)
                if data is None:
                    raise ValidationFailed(
                        [
                            {
                                "loc": ["body"],
                                "msg": "expected a JSON object (Content-Type: application/json)",
                                "type": "json_invalid",
                            }
                        ],
                        "request body",
                    )
                kwargs["body"] = _parse(body, data, "request body")
            if form is not None:
                # A view's own cap (soulspot.api.body_limit) bounds the form while Werkzeug
                # reads it, with or without the plugin that enforces the app-wide one.
                limit = getattr(wrapped, "soulspot_body_limit", None)
                if callable(limit):
                    request.max_content_length = int(limit())
                fields = _multi(request.form)
                if CSRF_FIELD not in form.model_fields:
                    fields.pop(CSRF_FIELD, None)
                kwargs["form"] = _parse(form, fields, "form")
            return _answer(spec, view(*args, **kwargs))

        wrapped.soulspot_api = spec  # type: ignore[attr-defined]
        return wrapped

    return cast(Validated, decorate)


def _answer(spec: ApiSpec, rv: Any) -> Any:
    """The view's return value as the document describes it: a returned model serialised,
    the declared status applied to a body without a status of its own."""
    if isinstance(rv, BaseModel):
        if spec.response is not None and not isinstance(rv, spec.response):
            rv = spec.response.model_validate(rv.model_dump())
        rv = current_app.response_class(
            rv.model_dump_json(by_alias=True) + "\n", mimetype="application/json"
        )
        rv.status_code = spec.status
    elif spec.status != 200 and not isinstance(rv, Response | tuple):
        rv = make_response(rv)
        rv.status_code = spec.status
    if current_app.config.get(CHECK_RESPONSES):
        rv = make_response(rv)
        _check(spec, rv)
    return rv


def _check(spec: ApiSpec, resp: Response) -> None:
    """In tests: a 2xx answer must have the documented status and fit the response model."""
    if not 200 <= resp.status_code < 300:
        return
    if resp.status_code != spec.status and resp.status_code not in spec.errors:
        raise Problem(
            500,
            "Answer does not match its documented status",
            f"{request.endpoint} answered {resp.status_code}; @validate documents "
            f"{spec.status} (pass status= or return the body without a status).",
        )
    if spec.response is None or resp.is_streamed or not resp.is_json:
        return
    try:
        spec.response.model_validate_json(resp.get_data())
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        raise Problem(
            500,
            "Answer does not match its response model",
            f"{request.endpoint} answered JSON that is not a valid "
            f"{spec.response.__name__}: {fields}",
        ) from None


def _multi(values: Any) -> dict[str, Any]:
    """A MultiDict as a dict: repeated keys become lists, single keys stay scalars."""
    out: dict[str, Any] = {}
    for key in values:
        items = values.getlist(key)
        out[key] = items if len(items) > 1 else items[0]
    return out


def _parse(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            [
                {
                    "loc": [str(p) for p in err["loc"]],
                    "msg": err["msg"],
                    "type": err["type"],
                }
                for err in exc.errors()
            ],
            where,
        ) from None
