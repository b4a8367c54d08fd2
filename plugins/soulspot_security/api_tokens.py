"""Personal API tokens: the table, its migration, and create / list / revoke / look up.

A token is ``ssp_`` and 43 random URL-safe characters (256 bits), shown once when it is
made. The store keeps only its sha256: a copy of the database hands out no working token,
and with 256 random bits a slow password hash would add nothing. Each token has a short
public id (for listing and revoking), a name, a scope (``read``: GET/HEAD/OPTIONS only;
``write``: everything its owner may do), an optional expiry and the time it was last used
(written at most once a minute). The ``ssp_`` prefix lets the request gate skip bearer
tokens that belong to someone else (the metrics scrape token) and lets secret scanners
recognise a leaked one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import peewee

from soulspot.db import BaseModel
from soulspot.types import Migration

PLUGIN = "security"
PREFIX = "ssp_"
SCOPES = ("read", "write")
Scope = Literal["read", "write"]
#: ``last_used_at`` is written at most this often per token.
TOUCH_EVERY = 60.0
NAME_MAX = 80


class ApiToken(BaseModel):
    """One personal API token (times are UNIX seconds, UTC)."""

    id = peewee.CharField(primary_key=True, max_length=16)
    token_hash = peewee.CharField(max_length=64, unique=True)
    name = peewee.CharField(max_length=NAME_MAX)
    scope = peewee.CharField(max_length=8)
    user_id = peewee.CharField(max_length=255)
    display_name = peewee.CharField(max_length=255, default="")
    is_owner = peewee.BooleanField(default=True)
    created_at = peewee.FloatField()
    expires_at = peewee.FloatField(null=True)
    last_used_at = peewee.FloatField(null=True)

    class Meta:
        table_name = "security_api_tokens"


#: Schema version 1 as shipped (later model changes never alter what this step creates).
_SCHEMA_1 = (
    'CREATE TABLE "security_api_tokens" ("id" VARCHAR(16) NOT NULL PRIMARY KEY, '
    '"token_hash" VARCHAR(64) NOT NULL, "name" VARCHAR(80) NOT NULL, '
    '"scope" VARCHAR(8) NOT NULL, "user_id" VARCHAR(255) NOT NULL, '
    '"display_name" VARCHAR(255) NOT NULL, "is_owner" INTEGER NOT NULL, '
    '"created_at" REAL NOT NULL, "expires_at" REAL, "last_used_at" REAL)',
    'CREATE UNIQUE INDEX "security_api_tokens_token_hash" ON "security_api_tokens" ("token_hash")',
)


def _upgrade_1(db: Any, migrator: Any) -> None:
    for statement in _SCHEMA_1:
        db.execute_sql(statement)


def _downgrade_1(db: Any, migrator: Any) -> None:
    db.execute_sql('DROP TABLE IF EXISTS "security_api_tokens"')


def migrations() -> list[Migration]:
    return [
        Migration(
            plugin=PLUGIN,
            version=1,
            name="personal API tokens",
            upgrade=_upgrade_1,
            downgrade=_downgrade_1,
        )
    ]


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown of a token (never the token itself)."""

    id: str
    name: str
    scope: Scope
    user_id: str
    display_name: str
    is_owner: bool
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or _now())

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "user_id": self.user_id,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _time(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        scope="write" if row.scope == "write" else "read",
        user_id=row.user_id,
        display_name=row.display_name,
        is_owner=bool(row.is_owner),
        created_at=_time(row.created_at) or _now(),
        expires_at=_time(row.expires_at),
        last_used_at=_time(row.last_used_at),
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > NAME_MAX:
        raise ValueError(f"a token name is 1 to {NAME_MAX} characters, e.g. 'backup script'")
    return name


def create(
    name: str,
    scope: str,
    *,
    user_id: str,
    display_name: str = "",
    is_owner: bool = True,
    expires_in: dt.timedelta | None = None,
) -> tuple[TokenInfo, str]:
    """Make a token; returns its info and the token (the only time it exists in clear)."""
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r}: expected 'read' or 'write'")
    name = check_name(name)
    if expires_in is not None and expires_in <= dt.timedelta(0):
        raise ValueError("an expiry must lie in the future")
    token = PREFIX + secrets.token_urlsafe(32)
    now = _now()
    row = ApiToken.create(
        id=secrets.token_hex(4),
        token_hash=hash_token(token),
        name=name,
        scope=scope,
        user_id=user_id,
        display_name=display_name or user_id,
        is_owner=is_owner,
        created_at=now.timestamp(),
        expires_at=(now + expires_in).timestamp() if expires_in is not None else None,
    )
    return _info(row), token


def all_tokens() -> list[TokenInfo]:
    """Every token, newest first (expired ones included: they can be revoked)."""
    return [_info(r) for r in ApiToken.select().order_by(ApiToken.created_at.desc())]


def revoke(token_id: str) -> TokenInfo | None:
    """Delete the token; returns what it was, or ``None`` when there is no such token."""
    row = ApiToken.get_or_none(ApiToken.id == token_id.strip())
    if row is None:
        return None
    info = _info(row)
    ApiToken.delete().where(ApiToken.id == row.id).execute()
    return info


def lookup(token: str) -> TokenInfo | None:
    """The live token ``token`` is, or ``None`` (not ours, unknown, revoked or expired)."""
    if not token.startswith(PREFIX):
        return None
    row = ApiToken.get_or_none(ApiToken.token_hash == hash_token(token))
    if row is None:
        return None
    info = _info(row)
    return None if info.expired() else info


def touch(info: TokenInfo) -> None:
    """Record a use (at most once a minute per token: a busy script must not write per call)."""
    now = _now()
    if info.last_used_at is not None and (now - info.last_used_at).total_seconds() < TOUCH_EVERY:
        return
    ApiToken.update(last_used_at=now.timestamp()).where(ApiToken.id == info.id).execute()
