"""One sync run: read what changed on Spotify, write it into the vault as history.

The run is a sequence of *steps* — the playlist list, each playlist's items, liked songs,
albums, artists. A step reads everything it needs first, checks it (a complete read: every
page, as many items as Spotify counts), and only then writes, in one transaction. So a run
killed at any moment leaves whole steps applied, and a read cut short is never mistaken for
removals. The next run carries on: a playlist whose stored items are not at its current
``snapshot_id`` is read again.

Incremental: a playlist whose ``snapshot_id`` did not change costs no item request; liked
songs, albums and artists cost one page when the count and the newest page agree with the
vault, and are re-read in full when they do not, on ``--full`` and every ``full_sync_days``.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from soulspot import api

from .config import LibraryConfig
from .history import Applied, History
from .models import FollowedArtist, Liked, ListState, Playlist, Run, SavedAlbum
from .parse import AlbumRec, ArtistRec, EntryRec, Malformed, PlaylistRec, Reader, SavedRec
from .webapi import PAGE, NotReadable, StepFailed, WebAPI

log = logging.getLogger("soulspot.library")

DAY = 86400.0
Progress = Callable[[str, int, int], None]


@dataclass
class Outcome:
    run_id: str
    status: str  # ok | failed | paused
    message: str
    requests: int
    changes: int
    failures: list[str]
    applied: Applied
    paused_until: float | None = None


class Syncer:
    def __init__(
        self,
        webapi: WebAPI,
        config: LibraryConfig,
        owner_id: str,
        *,
        full: bool = False,
        run_id: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.webapi = webapi
        self.config = config
        self.owner_id = owner_id
        self.full = full
        self.run_id = run_id or uuid.uuid4().hex
        self.progress = progress
        self.applied = Applied()
        self.history = History(self.run_id, self.applied)
        self.failures: list[str] = []
        self.done = 0
        self.total = 4

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> list[str]:
        """Every step; returns the failures (each a message naming endpoint and field).
        :class:`~soulspot_library.webapi.RunStopped` ends the run early."""
        listed = self._step("playlists", self.sync_playlist_list)
        if listed is not None:
            self.total = 4 + len(listed)
            for rec in listed:
                self._step(
                    f"playlist {rec.name}",
                    functools.partial(self.sync_items, rec),
                    what="playlist",
                    **{"soulspot.playlist_id": rec.id},
                )
        self._step("liked songs", self.sync_liked)
        self._step("albums", self.sync_albums)
        self._step("artists", self.sync_artists)
        return self.failures

    def _step(
        self, label: str, work: Callable[[], Any], *, what: str = "", **attributes: str
    ) -> Any:
        """One step; with tracing, a span ``library.sync <what>`` whose children are the
        pages it read (``library.page``) and their HTTP calls."""
        self._report(label)
        try:
            with api.span(f"library.sync {what or label}", **attributes):
                return work()
        except Malformed as exc:
            self._fail(str(exc))
        except StepFailed as exc:
            self._fail(str(exc))
        finally:
            self.done += 1
        return None

    def _fail(self, message: str) -> None:
        self.failures.append(message)
        log.warning("library sync step failed", extra={"run": self.run_id, "error": message})

    def _report(self, label: str) -> None:
        if self.progress is not None:
            self.progress(label, self.done, self.total)

    # --- reading ---------------------------------------------------------------------------

    def read_all(
        self,
        endpoint: str,
        path: str,
        reader: Reader,
        params: dict[str, Any] | None = None,
        first: Any = None,
        wrapper: str | None = None,
    ) -> tuple[list[Any], int]:
        """Every page of a list; fails unless the read is complete."""
        data = (
            first
            if first is not None
            else self.webapi.get(endpoint, path, {"limit": PAGE, **(params or {})})
        )
        page = reader.page(data, wrapper)
        items, total = list(page.items), page.total
        while page.next:
            data = self.webapi.get(endpoint, page.next)
            page = reader.page(data, wrapper)
            if page.total != total:
                raise StepFailed(
                    f"GET {endpoint}: the list changed while it was read ({total} then "
                    f"{page.total} items); it is read again next run"
                )
            items.extend(page.items)
        if len(items) != total:
            raise StepFailed(
                f"GET {endpoint}: read {len(items)} items of {total}; incomplete, nothing taken"
            )
        return items, total

    # --- steps -----------------------------------------------------------------------------

    def sync_playlist_list(self) -> list[PlaylistRec]:
        reader = Reader("GET /me/playlists")
        items, _ = self.read_all("/me/playlists", "/me/playlists", reader)
        listed = [reader.playlist(item, f"items[{i}]") for i, item in enumerate(items)]
        with api.storage().write_transaction():
            self.history.apply_playlists(listed, time.time())
        return listed

    def sync_items(self, rec: PlaylistRec) -> None:
        row = Playlist.get_or_none(Playlist.id == rec.id)
        if row is None:
            return
        readable = rec.owner_id == self.owner_id or rec.collaborative
        if not readable:
            if row.readable or row.items_snapshot_id != rec.snapshot_id:
                with api.storage().write_transaction():
                    self.history.mark_unreadable(rec.id, rec.snapshot_id, rec.total)
            return
        up_to_date = (
            row.readable
            and row.items_snapshot_id == rec.snapshot_id
            and row.item_count == rec.total
        )
        if up_to_date and not self.full:
            return
        entries: list[EntryRec] = []
        if rec.total > 0:
            endpoint = "/playlists/{id}/items"
            reader = Reader(f"GET /playlists/{rec.id}/items")
            try:
                items, _ = self.read_all(endpoint, f"/playlists/{rec.id}/items", reader)
            except NotReadable:
                with api.storage().write_transaction():
                    self.history.mark_unreadable(rec.id, rec.snapshot_id, rec.total)
                return
            entries = [reader.entry(item, f"items[{i}]") for i, item in enumerate(items)]
        with api.storage().write_transaction():
            self.history.apply_entries(rec.id, rec.snapshot_id, entries, time.time())

    def _due_full(self, name: str) -> tuple[bool, ListState | None]:
        state = ListState.get_or_none(ListState.name == name)
        if self.full or state is None:
            return True, state
        return time.time() - state.last_full_at >= self.config.full_sync_days * DAY, state

    def _incremental(
        self,
        name: str,
        endpoint: str,
        reader: Reader,
        wrapper: str | None,
        current: Callable[[], set[tuple[str, float | None]]],
        key: Callable[[Any, str], tuple[str, float | None]],
    ) -> tuple[list[Any], int] | None:
        """``None`` when one page shows nothing changed; else the complete list."""
        due, state = self._due_full(name)
        first = self.webapi.get(endpoint, endpoint, {"limit": PAGE, **_extra(endpoint)})
        page = reader.page(first, wrapper)
        if not due and state is not None and page.total == state.item_count:
            newest = {key(item, f"items[{i}]") for i, item in enumerate(page.items)}
            if newest <= current():
                return None
        return self.read_all(endpoint, endpoint, reader, first=first, wrapper=wrapper)

    def _finish_list(self, name: str, count: int) -> None:
        ListState.insert(name=name, item_count=count, last_full_at=time.time()).on_conflict(
            conflict_target=[ListState.name],
            update={ListState.item_count: count, ListState.last_full_at: time.time()},
        ).execute()

    def sync_liked(self) -> None:
        reader = Reader("GET /me/tracks")

        def current() -> set[tuple[str, float | None]]:
            rows = Liked.select(Liked.track_id, Liked.added_at).where(Liked.valid_to.is_null())
            return {(r.track_id, r.added_at) for r in rows}

        def key(item: Any, where: str) -> tuple[str, float | None]:
            rec = reader.saved_track(item, where)
            return rec.track.id, rec.added_at

        read = self._incremental("liked", "/me/tracks", reader, None, current, key)
        if read is None:
            return
        items, total = read
        saved: Sequence[SavedRec] = [
            reader.saved_track(item, f"items[{i}]") for i, item in enumerate(items)
        ]
        with api.storage().write_transaction():
            self.history.apply_liked(saved, time.time())
            self._finish_list("liked", total)

    def sync_albums(self) -> None:
        reader = Reader("GET /me/albums")

        def current() -> set[tuple[str, float | None]]:
            rows = SavedAlbum.select().where(SavedAlbum.valid_to.is_null())
            return {(r.album_id, r.added_at) for r in rows}

        def key(item: Any, where: str) -> tuple[str, float | None]:
            rec = reader.saved_album(item, where)
            return rec.id, rec.added_at

        read = self._incremental("albums", "/me/albums", reader, None, current, key)
        if read is None:
            return
        items, total = read
        albums: list[AlbumRec] = [
            reader.saved_album(item, f"items[{i}]") for i, item in enumerate(items)
        ]
        with api.storage().write_transaction():
            self.history.apply_albums(albums, time.time())
            self._finish_list("albums", total)

    def sync_artists(self) -> None:
        reader = Reader("GET /me/following")

        def current() -> set[tuple[str, float | None]]:
            rows = FollowedArtist.select().where(FollowedArtist.valid_to.is_null())
            return {(r.artist_id, None) for r in rows}

        def key(item: Any, where: str) -> tuple[str, float | None]:
            return reader.artist(item, f"artists.{where}").id, None

        read = self._incremental("artists", "/me/following", reader, "artists", current, key)
        if read is None:
            return
        items, total = read
        artists: list[ArtistRec] = [
            reader.artist(item, f"artists.items[{i}]") for i, item in enumerate(items)
        ]
        with api.storage().write_transaction():
            self.history.apply_artists(artists, time.time())
            self._finish_list("artists", total)


def _extra(endpoint: str) -> dict[str, str]:
    return {"type": "artist"} if endpoint == "/me/following" else {}


def update_run(run_id: str, **values: Any) -> None:
    with api.storage().write_transaction():
        Run.update(**values).where(Run.id == run_id).execute()
