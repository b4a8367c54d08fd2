"""The plugin's own tables (peewee models on the kernel's database proxy) and migrations.

Times are UNIX seconds (floats, UTC) so no driver ever has to guess a time zone.
"""

from __future__ import annotations

from typing import Any

import peewee

from soulspot.db import BaseModel
from soulspot.types import Migration

PLUGIN = "spotify"


class SpotifyToken(BaseModel):
    """One Spotify account's tokens, encrypted (Fernet); NULL after a purge."""

    user_id = peewee.CharField(primary_key=True, max_length=255)
    display_name = peewee.CharField(max_length=255, default="")
    access_token = peewee.TextField(null=True)
    refresh_token = peewee.TextField(null=True)
    scope = peewee.TextField(default="")
    expires_at = peewee.FloatField(default=0)
    #: First consent of this grant: Spotify refresh tokens die 6 months after it.
    consented_at = peewee.FloatField(null=True)
    updated_at = peewee.FloatField(default=0)
    #: Set when the tokens were purged (``invalid_grant``, decrypt failure, disconnect).
    reauth_needed = peewee.BooleanField(default=False)
    reauth_reason = peewee.CharField(max_length=64, null=True)

    class Meta:
        table_name = "spotify_tokens"


class OAuthPending(BaseModel):
    """A sign-in in flight: state and PKCE verifier kept server-side, single use, 10 min."""

    #: sha256 of the ``state`` sent to the provider.
    state_hash = peewee.CharField(primary_key=True, max_length=64)
    #: The PKCE code verifier, encrypted.
    code_verifier = peewee.TextField()
    #: sha256 of the browser-binding cookie set when the sign-in started.
    browser_hash = peewee.CharField(max_length=64)
    next_url = peewee.TextField(default="/")
    created_at = peewee.FloatField()
    expires_at = peewee.FloatField(index=True)

    class Meta:
        table_name = "spotify_oauth_pending"


MODELS = [SpotifyToken, OAuthPending]


#: Schema version 1 as it was shipped: written out, so that later changes to the models above
#: never change what this step creates (a new step alters the tables instead).
_SCHEMA_1 = (
    'CREATE TABLE "spotify_tokens" ("user_id" VARCHAR(255) NOT NULL PRIMARY KEY, '
    '"display_name" VARCHAR(255) NOT NULL, "access_token" TEXT, "refresh_token" TEXT, '
    '"scope" TEXT NOT NULL, "expires_at" REAL NOT NULL, "consented_at" REAL, '
    '"updated_at" REAL NOT NULL, "reauth_needed" INTEGER NOT NULL, "reauth_reason" VARCHAR(64))',
    'CREATE TABLE "spotify_oauth_pending" ("state_hash" VARCHAR(64) NOT NULL PRIMARY KEY, '
    '"code_verifier" TEXT NOT NULL, "browser_hash" VARCHAR(64) NOT NULL, '
    '"next_url" TEXT NOT NULL, "created_at" REAL NOT NULL, "expires_at" REAL NOT NULL)',
    'CREATE INDEX "spotify_oauth_pending_expires_at" ON "spotify_oauth_pending" ("expires_at")',
)


def _upgrade_1(db: Any, migrator: Any) -> None:
    for statement in _SCHEMA_1:
        db.execute_sql(statement)


def _downgrade_1(db: Any, migrator: Any) -> None:
    db.execute_sql('DROP TABLE IF EXISTS "spotify_oauth_pending"')
    db.execute_sql('DROP TABLE IF EXISTS "spotify_tokens"')


def migrations() -> list[Migration]:
    return [
        Migration(
            plugin=PLUGIN,
            version=1,
            name="spotify tokens and pending sign-ins",
            upgrade=_upgrade_1,
            downgrade=_downgrade_1,
        )
    ]
