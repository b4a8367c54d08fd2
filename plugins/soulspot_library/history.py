"""Writing what one step read into the vault, as history: close what ended, open what began,
and log each change. Each function runs inside the caller's write transaction, so a step is
applied whole or not at all."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from soulspot.db import database

from .diff import diff_sequence
from .models import Entry, FollowedArtist, Liked, Playlist, SavedAlbum
from .parse import AlbumRec, ArtistRec, EntryRec, PlaylistRec, SavedRec, TrackRec


@dataclass
class Applied:
    """What a run changed so far (for ``library_synced`` and the run's change count)."""

    changes: int = 0
    track_ids: set[str] = field(default_factory=set)
    playlist_ids: set[str] = field(default_factory=set)
    liked_changed: bool = False
    kinds: Counter[str] = field(default_factory=Counter)


CHANGE_FIELDS = ("playlist_id", "subject_id", "position", "old_position", "old_value", "new_value")


def insert_rows(
    table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], *, replace: bool = False
) -> None:
    """Many rows of our own tables through the DB-API's ``executemany`` on the peewee
    database's documented ``cursor()``: building one peewee query object per row made a
    first sync of a large library spend most of its time generating SQL (see
    docs/architecture.md). Values are plain str/int/float/None, bound as parameters."""
    if not rows:
        return
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    database.cursor().executemany(f'{verb} INTO "{table}" ({names}) VALUES ({marks})', rows)


class History:
    def __init__(self, run_id: str, applied: Applied) -> None:
        self.run_id = run_id
        self.applied = applied
        self._pending: list[tuple[Any, ...]] = []

    def log(self, at: float, kind: str, **values: Any) -> None:
        """Note a change; written by :meth:`flush` (each ``apply_*`` ends with it)."""
        self._pending.append((self.run_id, at, kind, *(values.get(name) for name in CHANGE_FIELDS)))
        self.applied.changes += 1
        self.applied.kinds[kind] += 1

    def flush(self) -> None:
        rows, self._pending = self._pending, []
        insert_rows("library_change", ("run_id", "at", "kind", *CHANGE_FIELDS), rows)

    # --- tracks ----------------------------------------------------------------------------

    def upsert_tracks(self, tracks: Iterable[TrackRec], now: float) -> None:
        unique = {t.id: t for t in tracks}
        rows = [
            (
                t.id,
                t.uri,
                t.kind,
                t.name,
                json.dumps(list(t.artists)),
                t.album,
                t.duration_ms,
                int(t.is_local),
                t.spotify_url,
                " ".join([t.name, *t.artists, t.album or ""]).lower(),
                now,
            )
            for t in unique.values()
        ]
        columns = (
            "id",
            "uri",
            "kind",
            "name",
            "artists",
            "album",
            "duration_ms",
            "is_local",
            "spotify_url",
            "search",
            "updated_at",
        )
        insert_rows("library_track", columns, rows, replace=True)

    # --- playlists -------------------------------------------------------------------------

    def apply_playlists(self, listed: Sequence[PlaylistRec], now: float) -> None:
        """The complete ``/me/playlists`` list: new, renamed, re-described, gone, back."""
        known = {p.id: p for p in Playlist.select()}
        seen: set[str] = set()
        for rank, rec in enumerate(listed):
            seen.add(rec.id)
            row = known.get(rec.id)
            values = {
                "name": rec.name,
                "description": rec.description,
                "owner_id": rec.owner_id,
                "owner_name": rec.owner_name,
                "snapshot_id": rec.snapshot_id,
                "collaborative": rec.collaborative,
                "public": rec.public,
                "spotify_url": rec.spotify_url,
                "rank": rank,
            }
            if row is None:
                Playlist.create(id=rec.id, first_seen=now, item_count=rec.total, **values)
                self.log(now, "playlist_created", playlist_id=rec.id, new_value=rec.name)
                self.applied.playlist_ids.add(rec.id)
                continue
            if row.removed:
                values.update(removed=False, removed_at=None)
                self.log(now, "playlist_restored", playlist_id=rec.id, new_value=rec.name)
                self.applied.playlist_ids.add(rec.id)
            if row.name != rec.name:
                self.log(
                    now,
                    "playlist_renamed",
                    playlist_id=rec.id,
                    old_value=row.name,
                    new_value=rec.name,
                )
                self.applied.playlist_ids.add(rec.id)
            if row.description != rec.description:
                self.log(
                    now,
                    "playlist_description",
                    playlist_id=rec.id,
                    old_value=row.description,
                    new_value=rec.description,
                )
                self.applied.playlist_ids.add(rec.id)
            Playlist.update(**values).where(Playlist.id == rec.id).execute()
        for pid, row in known.items():
            if pid not in seen and not row.removed:
                Playlist.update(removed=True, removed_at=now).where(Playlist.id == pid).execute()
                self.log(now, "playlist_removed", playlist_id=pid, old_value=row.name)
                self.applied.playlist_ids.add(pid)
        self.flush()

    def mark_unreadable(self, playlist_id: str, snapshot_id: str, count: int) -> None:
        Playlist.update(readable=False, items_snapshot_id=snapshot_id, item_count=count).where(
            Playlist.id == playlist_id
        ).execute()

    def apply_entries(
        self, playlist_id: str, snapshot_id: str, entries: Sequence[EntryRec], now: float
    ) -> None:
        """A playlist's complete item list, read at ``snapshot_id``."""
        self.upsert_tracks((e.track for e in entries if e.track is not None), now)
        current = list(
            Entry.select()
            .where((Entry.playlist_id == playlist_id) & Entry.valid_to.is_null())
            .order_by(Entry.position)
        )
        new_keys = [(e.track.id if e.track else None, e.added_at, e.added_by) for e in entries]
        old_keys = [(r.track_id, r.added_at, r.added_by) for r in current]
        for change in diff_sequence([k[0] for k in old_keys], [k[0] for k in new_keys]):
            self.log(
                now,
                f"item_{change.kind}",
                playlist_id=playlist_id,
                subject_id=change.track_id,
                position=change.position,
                old_position=change.old_position,
            )
            if change.track_id is not None:
                self.applied.track_ids.add(change.track_id)
            self.applied.playlist_ids.add(playlist_id)
        by_position = {r.position: r for r in current}
        closing: list[int] = []
        opening: list[dict[str, object]] = []
        for position in range(max(len(old_keys), len(new_keys))):
            old = old_keys[position] if position < len(old_keys) else None
            new = new_keys[position] if position < len(new_keys) else None
            if old == new:
                continue
            if old is not None:
                closing.append(by_position[position].id)
            if new is not None:
                opening.append(
                    {
                        "playlist_id": playlist_id,
                        "position": position,
                        "track_id": new[0],
                        "added_at": new[1],
                        "added_by": new[2],
                        "valid_from": now,
                    }
                )
        for start in range(0, len(closing), 500):
            Entry.update(valid_to=now).where(Entry.id.in_(closing[start : start + 500])).execute()
        columns = ("playlist_id", "position", "track_id", "added_at", "added_by", "valid_from")
        insert_rows("library_entry", columns, [tuple(row.values()) for row in opening])
        Playlist.update(
            items_snapshot_id=snapshot_id, item_count=len(entries), readable=True
        ).where(Playlist.id == playlist_id).execute()
        self.flush()

    # --- liked songs, albums, artists ----------------------------------------------------

    def apply_liked(self, saved: Sequence[SavedRec], now: float) -> None:
        self.upsert_tracks((s.track for s in saved), now)
        current = {r.track_id: r for r in Liked.select().where(Liked.valid_to.is_null())}
        new = {s.track.id: s.added_at for s in saved}
        closing: list[int] = []
        opening: list[tuple[Any, ...]] = []
        for track_id, row in current.items():
            if track_id not in new or new[track_id] != row.added_at:
                closing.append(row.id)
                self.log(now, "unliked", subject_id=track_id)
                self.applied.track_ids.add(track_id)
        for track_id, added_at in new.items():
            old = current.get(track_id)
            if old is None or old.added_at != added_at:
                opening.append((track_id, added_at, now))
                self.log(now, "liked", subject_id=track_id, new_value=_iso(added_at))
                self.applied.track_ids.add(track_id)
        for start in range(0, len(closing), 500):
            Liked.update(valid_to=now).where(Liked.id.in_(closing[start : start + 500])).execute()
        insert_rows("library_liked", ("track_id", "added_at", "valid_from"), opening)
        if closing or opening:
            self.applied.liked_changed = True
        self.flush()

    def apply_albums(self, albums: Sequence[AlbumRec], now: float) -> None:
        current = {r.album_id: r for r in SavedAlbum.select().where(SavedAlbum.valid_to.is_null())}
        new = {a.id: a for a in albums}
        for album_id, row in current.items():
            if album_id not in new:
                SavedAlbum.update(valid_to=now).where(SavedAlbum.id == row.id).execute()
                self.log(now, "album_removed", subject_id=album_id, old_value=row.name)
        for album_id, rec in new.items():
            if album_id not in current:
                SavedAlbum.create(
                    album_id=album_id,
                    name=rec.name,
                    artists=json.dumps(list(rec.artists)),
                    release_date=rec.release_date,
                    spotify_url=rec.spotify_url,
                    added_at=rec.added_at,
                    valid_from=now,
                )
                self.log(now, "album_saved", subject_id=album_id, new_value=rec.name)
        self.flush()

    def apply_artists(self, artists: Sequence[ArtistRec], now: float) -> None:
        current = {
            r.artist_id: r for r in FollowedArtist.select().where(FollowedArtist.valid_to.is_null())
        }
        new = {a.id: a for a in artists}
        for artist_id, row in current.items():
            if artist_id not in new:
                FollowedArtist.update(valid_to=now).where(FollowedArtist.id == row.id).execute()
                self.log(now, "artist_unfollowed", subject_id=artist_id, old_value=row.name)
        for artist_id, rec in new.items():
            if artist_id not in current:
                FollowedArtist.create(
                    artist_id=artist_id, name=rec.name, spotify_url=rec.spotify_url, valid_from=now
                )
                self.log(now, "artist_followed", subject_id=artist_id, new_value=rec.name)
        self.flush()


def _iso(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
