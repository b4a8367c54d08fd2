"""Validated inputs: every query string, JSON body and form goes through a pydantic model.

``@validate(query=Q, body=B, form=F, response=R)`` parses the request into the models and
passes them to the view as ``query=``, ``body=`` and ``form=`` keyword arguments; invalid input
raises :class:`soulspot.errors.ValidationFailed` (422 problem+json listing each field error).
The same metadata describes the route in the OpenAPI document at ``/api/openapi.json``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flask import request
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ValidationFailed

F = TypeVar("F", bound=Callable[..., Any])


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
) -> Callable[[F], F]:
    spec = ApiSpec(query, body, form, response, status, summary, dict(errors or {}))

    def decorate(view: F) -> F:
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
                kwargs["form"] = _parse(form, _multi(request.form), "form")
            return view(*args, **kwargs)

        wrapped.soulspot_api = spec  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorate


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
