"""The vault's tables (peewee models on the kernel's database proxy) and their migrations.

History is kept as validity intervals: a row holds from ``valid_from`` until ``valid_to``
(``NULL``: still current), so the state *as of* any moment is one indexed query, and nothing
Spotify deletes is ever deleted here. Every change is also one row of ``library_change`` (the
feed). Times are UNIX seconds (floats, UTC), as in the other plugins.
"""

from __future__ import annotations

from typing import Any

import peewee

from soulspot.db import BaseModel
from soulspot.types import Migration

PLUGIN = "library"


class Run(BaseModel):
    """One sync run: its state, progress and outcome."""

    id = peewee.CharField(primary_key=True, max_length=64)
    started_at = peewee.FloatField()
    finished_at = peewee.FloatField(null=True)
    #: running | ok | failed | paused | interrupted
    status = peewee.CharField(max_length=16)
    full = peewee.BooleanField(default=False)
    trigger = peewee.CharField(max_length=16, default="cli")
    message = peewee.TextField(default="")
    requests = peewee.IntegerField(default=0)
    changes = peewee.IntegerField(default=0)
    paused_until = peewee.FloatField(null=True)
    step = peewee.CharField(max_length=255, default="")
    done = peewee.IntegerField(default=0)
    total = peewee.IntegerField(default=0)

    class Meta:
        table_name = "library_run"


class Track(BaseModel):
    """A track, episode or local file as last seen (names change rarely; ids never)."""

    id = peewee.CharField(primary_key=True, max_length=64)
    uri = peewee.TextField()
    kind = peewee.CharField(max_length=16, default="track")
    name = peewee.TextField()
    artists = peewee.TextField(default="[]")  # JSON list of names
    album = peewee.TextField(null=True)
    duration_ms = peewee.IntegerField(null=True)
    is_local = peewee.BooleanField(default=False)
    spotify_url = peewee.TextField(null=True)
    #: Lower-cased "name artists album", for search.
    search = peewee.TextField(default="")
    updated_at = peewee.FloatField()

    class Meta:
        table_name = "library_track"


class Playlist(BaseModel):
    """A playlist's current metadata (older names and descriptions are in the change feed)."""

    id = peewee.CharField(primary_key=True, max_length=64)
    name = peewee.TextField()
    description = peewee.TextField(default="")
    owner_id = peewee.CharField(max_length=255, null=True)
    owner_name = peewee.TextField(null=True)
    snapshot_id = peewee.CharField(max_length=255, null=True)
    #: The snapshot the stored items were read at (``NULL``: never read).
    items_snapshot_id = peewee.CharField(max_length=255, null=True)
    item_count = peewee.IntegerField(default=0)
    readable = peewee.BooleanField(default=True)
    collaborative = peewee.BooleanField(default=False)
    public = peewee.BooleanField(default=False)
    removed = peewee.BooleanField(default=False)
    spotify_url = peewee.TextField(null=True)
    #: Place in the owner's library list (0 = top).
    rank = peewee.IntegerField(default=0)
    first_seen = peewee.FloatField()
    removed_at = peewee.FloatField(null=True)

    class Meta:
        table_name = "library_playlist"


class Entry(BaseModel):
    """One position of one playlist for an interval of time."""

    id = peewee.AutoField()

    playlist_id = peewee.CharField(max_length=64)
    position = peewee.IntegerField()
    track_id = peewee.CharField(max_length=64, null=True)  # NULL: unavailable entry
    added_at = peewee.FloatField(null=True)
    added_by = peewee.CharField(max_length=255, null=True)
    valid_from = peewee.FloatField()
    valid_to = peewee.FloatField(null=True)

    class Meta:
        table_name = "library_entry"
        indexes = ((("playlist_id", "valid_to", "position"), False),)


class Liked(BaseModel):
    """A liked song for an interval: Spotify's own ``added_at`` is kept as it was."""

    id = peewee.AutoField()

    track_id = peewee.CharField(max_length=64)
    added_at = peewee.FloatField()
    valid_from = peewee.FloatField()
    valid_to = peewee.FloatField(null=True)

    class Meta:
        table_name = "library_liked"
        indexes = ((("valid_to", "added_at"), False), (("track_id",), False))


class SavedAlbum(BaseModel):
    id = peewee.AutoField()
    album_id = peewee.CharField(max_length=64)
    name = peewee.TextField()
    artists = peewee.TextField(default="[]")
    release_date = peewee.CharField(max_length=32, null=True)
    spotify_url = peewee.TextField(null=True)
    added_at = peewee.FloatField(null=True)
    valid_from = peewee.FloatField()
    valid_to = peewee.FloatField(null=True)

    class Meta:
        table_name = "library_album"
        indexes = ((("valid_to",), False), (("album_id",), False))


class FollowedArtist(BaseModel):
    id = peewee.AutoField()
    artist_id = peewee.CharField(max_length=64)
    name = peewee.TextField()
    spotify_url = peewee.TextField(null=True)
    valid_from = peewee.FloatField()
    valid_to = peewee.FloatField(null=True)

    class Meta:
        table_name = "library_artist"
        indexes = ((("valid_to",), False), (("artist_id",), False))


class Change(BaseModel):
    """One change of the library, as the feed shows it."""

    id = peewee.AutoField()

    run_id = peewee.CharField(max_length=64)
    at = peewee.FloatField()
    kind = peewee.CharField(max_length=32)
    playlist_id = peewee.CharField(max_length=64, null=True)
    #: The track, album or artist concerned.
    subject_id = peewee.CharField(max_length=64, null=True)
    position = peewee.IntegerField(null=True)
    old_position = peewee.IntegerField(null=True)
    old_value = peewee.TextField(null=True)
    new_value = peewee.TextField(null=True)

    class Meta:
        table_name = "library_change"
        indexes = ((("at",), False), (("playlist_id", "at"), False), (("kind", "at"), False))


class ListState(BaseModel):
    """Per list (``liked``, ``albums``, ``artists``): its count and when it was last read in
    full, which decides when the next full re-read is due."""

    name = peewee.CharField(primary_key=True, max_length=32)
    item_count = peewee.IntegerField(default=0)
    last_full_at = peewee.FloatField(default=0)

    class Meta:
        table_name = "library_list"


MODELS = [Run, Track, Playlist, Entry, Liked, SavedAlbum, FollowedArtist, Change, ListState]


#: Schema version 1 as shipped, written out: later model changes never change what it makes.
_SCHEMA_1 = (
    'CREATE TABLE "library_run" ("id" VARCHAR(64) NOT NULL PRIMARY KEY, "started_at" REAL '
    'NOT NULL, "finished_at" REAL, "status" VARCHAR(16) NOT NULL, "full" INTEGER NOT NULL, '
    '"trigger" VARCHAR(16) NOT NULL, "message" TEXT NOT NULL, "requests" INTEGER NOT NULL, '
    '"changes" INTEGER NOT NULL, "paused_until" REAL, "step" VARCHAR(255) NOT NULL, "done" '
    'INTEGER NOT NULL, "total" INTEGER NOT NULL)',
    'CREATE TABLE "library_track" ("id" VARCHAR(64) NOT NULL PRIMARY KEY, "uri" TEXT NOT '
    'NULL, "kind" VARCHAR(16) NOT NULL, "name" TEXT NOT NULL, "artists" TEXT NOT NULL, '
    '"album" TEXT, "duration_ms" INTEGER, "is_local" INTEGER NOT NULL, "spotify_url" TEXT, '
    '"search" TEXT NOT NULL, "updated_at" REAL NOT NULL)',
    'CREATE TABLE "library_playlist" ("id" VARCHAR(64) NOT NULL PRIMARY KEY, "name" TEXT '
    'NOT NULL, "description" TEXT NOT NULL, "owner_id" VARCHAR(255), "owner_name" TEXT, '
    '"snapshot_id" VARCHAR(255), "items_snapshot_id" VARCHAR(255), "item_count" INTEGER NOT '
    'NULL, "readable" INTEGER NOT NULL, "collaborative" INTEGER NOT NULL, "public" INTEGER '
    'NOT NULL, "removed" INTEGER NOT NULL, "spotify_url" TEXT, "rank" INTEGER NOT NULL, '
    '"first_seen" REAL NOT NULL, "removed_at" REAL)',
    'CREATE TABLE "library_entry" ("id" INTEGER NOT NULL PRIMARY KEY, "playlist_id" '
    'VARCHAR(64) NOT NULL, "position" INTEGER NOT NULL, "track_id" VARCHAR(64), "added_at" '
    'REAL, "added_by" VARCHAR(255), "valid_from" REAL NOT NULL, "valid_to" REAL)',
    'CREATE INDEX "library_entry_playlist_id_valid_to_position" ON "library_entry" '
    '("playlist_id", "valid_to", "position")',
    'CREATE TABLE "library_liked" ("id" INTEGER NOT NULL PRIMARY KEY, "track_id" '
    'VARCHAR(64) NOT NULL, "added_at" REAL NOT NULL, "valid_from" REAL NOT NULL, "valid_to" '
    "REAL)",
    'CREATE INDEX "library_liked_valid_to_added_at" ON "library_liked" ("valid_to", "added_at")',
    'CREATE INDEX "library_liked_track_id" ON "library_liked" ("track_id")',
    'CREATE TABLE "library_album" ("id" INTEGER NOT NULL PRIMARY KEY, "album_id" '
    'VARCHAR(64) NOT NULL, "name" TEXT NOT NULL, "artists" TEXT NOT NULL, "release_date" '
    'VARCHAR(32), "spotify_url" TEXT, "added_at" REAL, "valid_from" REAL NOT NULL, '
    '"valid_to" REAL)',
    'CREATE INDEX "library_album_valid_to" ON "library_album" ("valid_to")',
    'CREATE INDEX "library_album_album_id" ON "library_album" ("album_id")',
    'CREATE TABLE "library_artist" ("id" INTEGER NOT NULL PRIMARY KEY, "artist_id" '
    'VARCHAR(64) NOT NULL, "name" TEXT NOT NULL, "spotify_url" TEXT, "valid_from" REAL NOT '
    'NULL, "valid_to" REAL)',
    'CREATE INDEX "library_artist_valid_to" ON "library_artist" ("valid_to")',
    'CREATE INDEX "library_artist_artist_id" ON "library_artist" ("artist_id")',
    'CREATE TABLE "library_change" ("id" INTEGER NOT NULL PRIMARY KEY, "run_id" VARCHAR(64) '
    'NOT NULL, "at" REAL NOT NULL, "kind" VARCHAR(32) NOT NULL, "playlist_id" VARCHAR(64), '
    '"subject_id" VARCHAR(64), "position" INTEGER, "old_position" INTEGER, "old_value" '
    'TEXT, "new_value" TEXT)',
    'CREATE INDEX "library_change_at" ON "library_change" ("at")',
    'CREATE INDEX "library_change_playlist_id_at" ON "library_change" ("playlist_id", "at")',
    'CREATE INDEX "library_change_kind_at" ON "library_change" ("kind", "at")',
    'CREATE TABLE "library_list" ("name" VARCHAR(32) NOT NULL PRIMARY KEY, "item_count" '
    'INTEGER NOT NULL, "last_full_at" REAL NOT NULL)',
)


def _upgrade_1(db: Any, migrator: Any) -> None:
    for statement in _SCHEMA_1:
        db.execute_sql(statement)


def _downgrade_1(db: Any, migrator: Any) -> None:
    for table in (
        "library_list",
        "library_change",
        "library_artist",
        "library_album",
        "library_liked",
        "library_entry",
        "library_playlist",
        "library_track",
        "library_run",
    ):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')


def migrations() -> list[Migration]:
    return [
        Migration(
            plugin=PLUGIN,
            version=1,
            name="library vault: runs, tracks, playlists, history, change feed",
            upgrade=_upgrade_1,
            downgrade=_downgrade_1,
        )
    ]
