"""The plugin's tables (peewee models on the kernel's database proxy) and migrations.

Times are UNIX seconds (floats, UTC). A file's row is never deleted when the file goes away:
it is marked absent, so the owner's decisions naming it keep their meaning if it comes back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import peewee

from soulspot.db import BaseModel
from soulspot.types import Migration

PLUGIN = "collection"


class LocalFile(BaseModel):
    """One audio file under a music folder, with the tags read when it last changed."""

    id = peewee.AutoField()

    path = peewee.TextField(unique=True)
    size = peewee.BigIntegerField()
    mtime_ns = peewee.BigIntegerField()
    present = peewee.BooleanField(default=True, index=True)
    title = peewee.TextField(null=True)
    artist = peewee.TextField(null=True)
    album = peewee.TextField(null=True)
    duration = peewee.FloatField(null=True)
    #: A Spotify track id found in the tags (comment, URL or custom field).
    spotify_id = peewee.CharField(max_length=64, null=True, index=True)
    #: Where artist/title came from: "tags", "filename" or "none".
    source = peewee.CharField(max_length=16, default="tags")
    #: Why the file could not be read (it stays listed; the scan goes on).
    error = peewee.TextField(null=True)
    scanned_at = peewee.FloatField()
    #: When size, mtime or presence last changed (what a rematch looks at).
    changed_at = peewee.FloatField(index=True)

    class Meta:
        table_name = "collection_files"


class Scan(BaseModel):
    """One scan run: what it saw, read, found new, changed and removed."""

    id = peewee.AutoField()

    started_at = peewee.FloatField()
    finished_at = peewee.FloatField(null=True)
    status = peewee.CharField(max_length=16)  # running | ok | failed
    full = peewee.BooleanField(default=False)
    files_seen = peewee.IntegerField(default=0)
    files_read = peewee.IntegerField(default=0)
    files_new = peewee.IntegerField(default=0)
    files_changed = peewee.IntegerField(default=0)
    files_removed = peewee.IntegerField(default=0)
    unreadable = peewee.IntegerField(default=0)
    error = peewee.TextField(null=True)

    class Meta:
        table_name = "collection_scans"


class TrackMatch(BaseModel):
    """Where one Spotify track stands: matched, review, missing or not_wanted."""

    track_id = peewee.CharField(primary_key=True, max_length=64)
    status = peewee.CharField(max_length=16, index=True)
    file_id = peewee.IntegerField(null=True, index=True)
    score = peewee.FloatField(null=True)
    #: "tag" (Spotify id in the file), "fuzzy", "owner" (a decision), or null.
    method = peewee.CharField(max_length=16, null=True)
    updated_at = peewee.FloatField()

    class Meta:
        table_name = "collection_matches"


class Candidate(BaseModel):
    """A file proposed for a track, with its score (kept for review and for rematching)."""

    track_id = peewee.CharField(max_length=64)
    file_id = peewee.IntegerField(index=True)
    score = peewee.FloatField()

    class Meta:
        table_name = "collection_candidates"
        primary_key = peewee.CompositeKey("track_id", "file_id")


class Decision(BaseModel):
    """An owner's decision about a track: accept/choose pin a file, reject rules one out,
    not_wanted takes the track off the missing lists. Never touched by scans or syncs."""

    id = peewee.AutoField()

    track_id = peewee.CharField(max_length=64, index=True)
    kind = peewee.CharField(max_length=16)  # accept | choose | reject | not_wanted
    file_id = peewee.IntegerField(null=True)
    decided_at = peewee.FloatField()
    actor = peewee.CharField(max_length=255, null=True)

    class Meta:
        table_name = "collection_decisions"


def rows(query: Any) -> Iterable[tuple[Any, ...]]:
    """The rows of a peewee query as plain tuples (typed for callers)."""
    return cast(Iterable[tuple[Any, ...]], query.tuples())


MODELS = [LocalFile, Scan, TrackMatch, Candidate, Decision]

#: Schema version 1 as shipped, written out so later model changes never change this step.
_SCHEMA_1 = (
    'CREATE TABLE "collection_candidates" ("track_id" VARCHAR(64) NOT NULL, "file_id" '
    'INTEGER NOT NULL, "score" REAL NOT NULL, PRIMARY KEY ("track_id", "file_id"))',
    'CREATE INDEX "collection_candidates_file_id" ON "collection_candidates" ("file_id")',
    'CREATE TABLE "collection_decisions" ("id" INTEGER NOT NULL PRIMARY KEY, "track_id" '
    'VARCHAR(64) NOT NULL, "kind" VARCHAR(16) NOT NULL, "file_id" INTEGER, "decided_at" '
    'REAL NOT NULL, "actor" VARCHAR(255))',
    'CREATE INDEX "collection_decisions_track_id" ON "collection_decisions" ("track_id")',
    'CREATE TABLE "collection_files" ("id" INTEGER NOT NULL PRIMARY KEY, "path" TEXT NOT '
    'NULL, "size" INTEGER NOT NULL, "mtime_ns" INTEGER NOT NULL, "present" INTEGER NOT '
    'NULL, "title" TEXT, "artist" TEXT, "album" TEXT, "duration" REAL, "spotify_id" '
    'VARCHAR(64), "source" VARCHAR(16) NOT NULL, "error" TEXT, "scanned_at" REAL NOT '
    'NULL, "changed_at" REAL NOT NULL)',
    'CREATE UNIQUE INDEX "collection_files_path" ON "collection_files" ("path")',
    'CREATE INDEX "collection_files_present" ON "collection_files" ("present")',
    'CREATE INDEX "collection_files_spotify_id" ON "collection_files" ("spotify_id")',
    'CREATE INDEX "collection_files_changed_at" ON "collection_files" ("changed_at")',
    'CREATE TABLE "collection_scans" ("id" INTEGER NOT NULL PRIMARY KEY, "started_at" '
    'REAL NOT NULL, "finished_at" REAL, "status" VARCHAR(16) NOT NULL, "full" INTEGER NOT '
    'NULL, "files_seen" INTEGER NOT NULL, "files_read" INTEGER NOT NULL, "files_new" '
    'INTEGER NOT NULL, "files_changed" INTEGER NOT NULL, "files_removed" INTEGER NOT '
    'NULL, "unreadable" INTEGER NOT NULL, "error" TEXT)',
    'CREATE TABLE "collection_matches" ("track_id" VARCHAR(64) NOT NULL PRIMARY KEY, '
    '"status" VARCHAR(16) NOT NULL, "file_id" INTEGER, "score" REAL, "method" '
    'VARCHAR(16), "updated_at" REAL NOT NULL)',
    'CREATE INDEX "collection_matches_status" ON "collection_matches" ("status")',
    'CREATE INDEX "collection_matches_file_id" ON "collection_matches" ("file_id")',
)


def _upgrade_1(db: Any, migrator: Any) -> None:
    for statement in _SCHEMA_1:
        db.execute_sql(statement)


def _downgrade_1(db: Any, migrator: Any) -> None:
    for table in (
        "collection_decisions",
        "collection_candidates",
        "collection_matches",
        "collection_scans",
        "collection_files",
    ):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')


def migrations() -> list[Migration]:
    return [
        Migration(
            plugin=PLUGIN,
            version=1,
            name="collection files, scans, matches, candidates and decisions",
            upgrade=_upgrade_1,
            downgrade=_downgrade_1,
        )
    ]
