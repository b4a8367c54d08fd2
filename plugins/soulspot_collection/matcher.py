"""Match Spotify tracks to local files: tag id first, then fuzzy artist + title (+ album).

Candidates come from an inverted index, never from all files: for a track, the postings of
its two rarest title words and its primary artist's rarest word (words no file has are
skipped, so one typo does not lose the track). Only those files are scored with rapidfuzz,
so the work grows with tracks x candidates, not tracks x files.

Scores are 0-100. A track is **matched** automatically only when title, artist and duration
(±3 s) agree and no different song scores close to the best; it needs **review** when the
best candidate is plausible but not certain; otherwise it is **missing**.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from .normalize import album_key, artists_key, split_artists, title_key, tokens

Status = Literal["matched", "review", "missing"]

AUTO_SCORE = 90.0
AUTO_TITLE = 85.0
AUTO_ARTIST = 80.0
REVIEW_SCORE = 65.0
DURATION_TOLERANCE = 3.0
#: Another song within this many points of the best makes the best one uncertain.
AMBIGUITY_MARGIN = 4.0
MAX_CANDIDATES_KEPT = 5
#: A candidate whose title is less alike than this is not scored further.
MIN_TITLE = 40.0
#: A word this common ("love", "song") is used only when the track has no rarer word.
MAX_POSTING = 3000
#: Postings up to this size are taken whole; larger ones only where another key agrees.
SMALL_POSTING = 300


@dataclass(frozen=True)
class FileEntry:
    id: int
    title: str | None
    artist: str | None
    album: str | None
    duration: float | None
    spotify_id: str | None = None


@dataclass(frozen=True)
class TrackEntry:
    id: str
    name: str
    artists: tuple[str, ...]
    album: str | None
    duration_ms: int | None


@dataclass(frozen=True)
class Scored:
    file_id: int
    score: float
    title: float
    artist: float | None
    album: float | None
    duration_delta: float | None


@dataclass(frozen=True)
class MatchResult:
    track_id: str
    status: Status
    file_id: int | None
    score: float | None
    method: str | None  # "tag" | "fuzzy" | None
    candidates: tuple[Scored, ...]


@dataclass(frozen=True)
class _Prepared:
    title: str
    #: The title's words sorted: ``ratio`` on these is rapidfuzz's ``token_sort_ratio``.
    title_sorted: str
    artists: tuple[str, ...]
    artists_joined: str
    album: str
    duration: float | None


def _prepared(
    title: str, artists: tuple[str, ...], album: str, duration: float | None
) -> _Prepared:
    return _Prepared(
        title, " ".join(sorted(title.split())), artists, " ".join(sorted(artists)), album, duration
    )


def prepare_file(entry: FileEntry) -> _Prepared | None:
    if not entry.title:
        return None
    artists = tuple(split_artists(entry.artist)) if entry.artist else ()
    album = album_key(entry.album) if entry.album else ""
    return _prepared(title_key(entry.title), artists, album, entry.duration)


def prepare_track(track: TrackEntry) -> _Prepared:
    artists = tuple(artists_key(track.artists))
    album = album_key(track.album) if track.album else ""
    seconds = track.duration_ms / 1000 if track.duration_ms else None
    return _prepared(title_key(track.name), artists, album, seconds)


def track_words(track: TrackEntry) -> set[str]:
    """Every index word of a track: which tracks a changed file may concern."""
    prepared = prepare_track(track)
    words = set(tokens(prepared.title))
    if prepared.artists:
        words.update(tokens(prepared.artists[0]))
    return words


def file_words(entry: FileEntry) -> set[str]:
    prepared = prepare_file(entry)
    if prepared is None:
        return set()
    words = set(tokens(prepared.title))
    for artist in prepared.artists[:1]:
        words.update(tokens(artist))
    return words


def title_score(track: _Prepared, file: _Prepared) -> float:
    # ratio of the sorted words is token_sort_ratio, at a tenth of its cost
    return max(
        fuzz.ratio(track.title, file.title), fuzz.ratio(track.title_sorted, file.title_sorted)
    )


def score(
    track: _Prepared, file: _Prepared, title: float | None = None
) -> tuple[float, float, float | None, float | None, float | None]:
    """(combined, title, artist, album, duration delta) for one pair."""
    if title is None:
        title = title_score(track, file)
    artist: float | None = None
    if track.artists and file.artists:
        mine, theirs = set(track.artists), set(file.artists)
        if mine <= theirs or theirs <= mine:  # one credit list holds the other (feat.)
            artist = 100.0
        else:
            artist = max(
                fuzz.ratio(track.artists[0], file.artists[0]),
                fuzz.ratio(track.artists_joined, file.artists_joined),
            )
    album: float | None = None
    if track.album and file.album:
        album = fuzz.ratio(track.album, file.album)
    combined = 0.6 * title + 0.4 * artist if artist is not None else min(title, 85.0)
    if album is not None:
        combined += 2.0 if album >= 90 else (-3.0 if album < 50 else 0.0)
    delta: float | None = None
    if track.duration is not None and file.duration is not None:
        delta = abs(track.duration - file.duration)
        combined += 5.0 if delta <= DURATION_TOLERANCE else (-8.0 if delta <= 10 else -25.0)
    return max(0.0, min(100.0, combined)), title, artist, album, delta


class FileIndex:
    """The files to match against, indexed by Spotify id and by title and artist words."""

    def __init__(self, files: Iterable[FileEntry]) -> None:
        self.prepared: dict[int, _Prepared] = {}
        self.by_spotify: dict[str, list[int]] = {}
        self.title_postings: dict[str, list[int]] = {}
        self.artist_postings: dict[str, list[int]] = {}
        #: Every file given, with a title or not.
        self.ids: set[int] = set()
        for entry in files:
            self.ids.add(entry.id)
            if entry.spotify_id:
                self.by_spotify.setdefault(entry.spotify_id, []).append(entry.id)
            prepared = prepare_file(entry)
            if prepared is None:
                continue
            self.prepared[entry.id] = prepared
            for word in set(tokens(prepared.title)):
                self.title_postings.setdefault(word, []).append(entry.id)
            for artist in prepared.artists[:1]:
                for word in set(tokens(artist)):
                    self.artist_postings.setdefault(word, []).append(entry.id)

    def __len__(self) -> int:
        return len(self.prepared)

    def _rarest(
        self, words: Iterable[str], postings: dict[str, list[int]], n: int
    ) -> list[list[int]]:
        found = sorted((len(postings[w]), w) for w in set(words) if w in postings)
        chosen = [postings[w] for size, w in found[:n] if size <= MAX_POSTING]
        if not chosen and found:
            chosen = [postings[found[0][1]]]
        return chosen

    def candidates(self, track: _Prepared) -> set[int]:
        """Files sharing a key word with the track. A small posting is taken whole; from a
        large one (a common word) only the files that share another key too, so a title of
        common words does not pull in thousands of files."""
        postings = self._rarest(tokens(track.title), self.title_postings, 2)
        if track.artists:
            postings += self._rarest(tokens(track.artists[0]), self.artist_postings, 1)
        small = [p for p in postings if len(p) <= SMALL_POSTING]
        large = [set(p) for p in postings if len(p) > SMALL_POSTING]
        ids: set[int] = set()
        for few in small:
            ids.update(few)
        if len(large) == 1 and not small:
            return large[0]  # nothing to narrow it with
        for n, many in enumerate(large):
            others = ids.union(*(q for m, q in enumerate(large) if m != n))
            ids.update(many & others)
        return ids

    def match(self, track: TrackEntry, rejected: Collection[int] = ()) -> MatchResult:
        tagged = [f for f in self.by_spotify.get(track.id, []) if f not in rejected]
        if tagged:
            first = min(tagged)
            return MatchResult(
                track.id,
                "matched",
                first,
                100.0,
                "tag",
                (Scored(first, 100.0, 100.0, 100.0, None, None),),
            )
        prepared = prepare_track(track)
        scored: list[Scored] = []
        ids = [f for f in self.candidates(prepared) if f not in rejected]
        # Titles first, in one C loop per form; the rest only for titles that can matter.
        plain = process.extract(
            prepared.title,
            [self.prepared[f].title for f in ids],
            scorer=fuzz.ratio,
            limit=None,
            score_cutoff=0,
        )
        titles = [0.0] * len(ids)
        for _choice, value, position in plain:
            titles[position] = value
        for _choice, value, position in process.extract(
            prepared.title_sorted,
            [self.prepared[f].title_sorted for f in ids],
            scorer=fuzz.ratio,
            limit=None,
            score_cutoff=0,
        ):
            titles[position] = max(titles[position], value)
        for position, file_id in enumerate(ids):
            if titles[position] < MIN_TITLE:
                continue
            combined, title, artist, album, delta = score(
                prepared, self.prepared[file_id], titles[position]
            )
            if combined >= REVIEW_SCORE - 15:
                scored.append(Scored(file_id, round(combined, 1), title, artist, album, delta))
        scored.sort(key=lambda s: (-s.score, s.file_id))
        kept = tuple(scored[:MAX_CANDIDATES_KEPT])
        if not scored or scored[0].score < REVIEW_SCORE:
            return MatchResult(track.id, "missing", None, None, None, kept)
        best = scored[0]
        if self._certain(best, scored[1:]):
            return MatchResult(track.id, "matched", best.file_id, best.score, "fuzzy", kept)
        return MatchResult(track.id, "review", None, best.score, None, kept)

    def _certain(self, best: Scored, others: list[Scored]) -> bool:
        if best.score < AUTO_SCORE or best.title < AUTO_TITLE:
            return False
        if best.artist is None or best.artist < AUTO_ARTIST:
            return False
        if best.duration_delta is None:
            if best.title < 95 or best.artist < 95:
                return False
        elif best.duration_delta > DURATION_TOLERANCE:
            return False
        mine = self.prepared[best.file_id]
        for other in others:
            if other.score < best.score - AMBIGUITY_MARGIN:
                break
            theirs = self.prepared[other.file_id]
            same_song = (
                fuzz.ratio(mine.title, theirs.title) >= 95
                and fuzz.token_set_ratio(mine.artists_joined, theirs.artists_joined) >= 95
            )
            if not same_song:  # a duplicate copy is no doubt; a different song is
                return False
        return True
