"""The "API tokens" page: the owner makes, sees and revokes personal API tokens. A new token
is shown once, on the answer to the form that made it (``Cache-Control: no-store``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from flask import Blueprint, Response, redirect, render_template, url_for
from pydantic import BaseModel, ConfigDict, Field, field_validator

from soulspot.api import audit, auth_enabled, current_user, has_storage, storage
from soulspot.errors import Problem
from soulspot.validation import PageParams, validate

from . import api_tokens
from .token_gate import checked_token

bp = Blueprint("api_tokens", __name__, template_folder="templates")

#: Expiry choices on the page (days; 0: never).
EXPIRY_CHOICES = (7, 30, 90, 365, 0)


class CreateForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=api_tokens.NAME_MAX)
    scope: Literal["read", "write"] = "read"
    expires_days: int = Field(30, ge=0, le=3650, description="0: never expires.")

    @field_validator("expires_days", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return 0 if isinstance(value, str) and not value.strip() else value


class RevokeForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=16, pattern=r"^[0-9a-f]+$")


def owner() -> tuple[str, str, bool]:
    """``(user id, display name, is owner)`` of who manages tokens here, or a refusal."""
    if checked_token() is not None:
        raise Problem(403, "Not with an API token", "API tokens cannot manage API tokens.")
    if not has_storage():
        raise Problem(409, "No storage", "API tokens need a storage plugin.")
    if not auth_enabled():
        return "owner", "owner", True  # no sign-in plugin: only this machine gets here
    user = current_user()
    if user is None or not user.is_owner:
        raise Problem(403, "Owner only", "Only the owner can manage API tokens.")
    return user.id, user.display_name, True


def _page(new_token: str | None = None, created: api_tokens.TokenInfo | None = None) -> Response:
    html = render_template(
        "security/tokens.html",
        tokens=api_tokens.all_tokens(),
        now=dt.datetime.now(dt.UTC),
        new_token=new_token,
        created=created,
        expiry_choices=EXPIRY_CHOICES,
    )
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/security/tokens")
@validate(query=PageParams)
def tokens_page(query: PageParams) -> Response:
    owner()
    return _page()


@bp.post("/security/tokens")
@validate(form=CreateForm)
def create_token(form: CreateForm) -> Response:
    user_id, display_name, is_owner = owner()
    expires = dt.timedelta(days=form.expires_days) if form.expires_days else None
    try:
        with storage().write_transaction():
            info, token = api_tokens.create(
                form.name,
                form.scope,
                user_id=user_id,
                display_name=display_name,
                is_owner=is_owner,
                expires_in=expires,
            )
    except ValueError as exc:
        raise Problem(422, "Invalid input", str(exc)) from None
    audit("api_token.created", id=info.id, name=info.name, scope=info.scope, via="web")
    return _page(new_token=token, created=info)


@bp.post("/security/tokens/revoke")
@validate(form=RevokeForm)
def revoke_token(form: RevokeForm) -> Any:
    owner()
    with storage().write_transaction():
        info = api_tokens.revoke(form.id)
    if info is None:
        raise Problem(404, "No such token", f"There is no API token with id {form.id}.")
    audit("api_token.revoked", id=info.id, name=info.name, via="web")
    return redirect(url_for("api_tokens.tokens_page"), code=303)
