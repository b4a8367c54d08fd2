"""A labelled music collection: Spotify-like tracks and the files a person keeps of them.

Files carry the perturbations that break naive matching — feat. credits moved between title
and artist, remaster suffixes, diacritics dropped or added, case and punctuation, "&" vs
"and", typos, another album, durations off by up to 2 s, duplicate copies, no tags at all
(only an "Artist - Title" file name), a Spotify URL in the comment — and distractors that
must NOT match: covers (same title, other artist), live versions (other duration), other
songs by the same artist, files of songs not in the library. Every file knows which track it
really is (``truth``), so precision and recall can be measured.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.support.audio_files import AUDIO_TYPES, Tags, write_audio

_SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ra",
    "ven",
    "tor",
    "sa",
    "li",
    "no",
    "ber",
    "gan",
    "del",
    "mar",
    "qui",
    "zen",
    "fa",
    "ro",
    "ten",
    "vi",
    "lu",
    "sha",
    "dor",
    "pe",
    "nia",
    "ko",
    "tra",
    "bel",
    "cy",
)
_WORDS = (
    "love",
    "night",
    "heart",
    "fire",
    "river",
    "dream",
    "light",
    "rain",
    "gold",
    "summer",
    "blue",
    "wild",
    "home",
    "road",
    "city",
    "ghost",
    "dance",
    "stars",
    "ocean",
    "silver",
    "shadow",
    "echo",
    "paper",
    "stone",
    "glass",
    "winter",
    "thunder",
    "velvet",
    "neon",
    "honey",
)
_ACCENTED = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "n": "ñ", "c": "ç"}
_REMASTERS = (" - Remastered 2011", " - 2009 Remaster", " (Remastered)", " - Single Version")


@dataclass(frozen=True)
class CorpusTrack:
    id: str
    name: str
    artists: tuple[str, ...]
    album: str
    duration_ms: int


@dataclass(frozen=True)
class CorpusFile:
    relpath: str
    tags: Tags | None
    seconds: float
    #: The track this file really is, or None for a song not in the library.
    truth: str | None
    perturbation: str


@dataclass
class Corpus:
    tracks: list[CorpusTrack] = field(default_factory=list)
    files: list[CorpusFile] = field(default_factory=list)

    def write(self, root: Path) -> None:
        for item in self.files:
            write_audio(root / item.relpath, item.tags, item.seconds)

    def truth_by_path(self, root: Path) -> dict[str, str | None]:
        return {str(root / f.relpath): f.truth for f in self.files}

    def findable(self) -> set[str]:
        return {f.truth for f in self.files if f.truth is not None}


def spotify_id(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(22))


def _word(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(_WORDS)
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))


def _phrase(rng: random.Random, low: int, high: int) -> str:
    return " ".join(_word(rng) for _ in range(rng.randint(low, high))).title()


def _accent(text: str, rng: random.Random) -> str:
    chars = list(text)
    spots = [i for i, ch in enumerate(chars) if ch.lower() in _ACCENTED]
    for i in rng.sample(spots, min(2, len(spots))):
        accented = _ACCENTED[chars[i].lower()]
        chars[i] = accented.upper() if chars[i].isupper() else accented
    return "".join(chars)


def _typo(text: str, rng: random.Random) -> str:
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 6:
        return text
    i = rng.choice(letters[1:-1])
    if rng.random() < 0.5:
        return text[:i] + text[i + 1 :]  # a letter dropped
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # two letters swapped


def _artist_pool(rng: random.Random, count: int) -> list[str]:
    names = []
    for _ in range(count):
        name = _phrase(rng, 1, 2)
        roll = rng.random()
        if roll < 0.15:
            name = f"The {name}"
        elif roll < 0.25:
            name = f"{_phrase(rng, 1, 1)} & {_phrase(rng, 1, 1)}"
        names.append(name)
    return names


def generate(seed: int = 16, tracks: int = 300, extra_files: int = 80) -> Corpus:
    """``tracks`` library tracks; about 85 % of them kept as files (some twice, all with
    perturbations), plus distractors and ``extra_files`` songs not in the library."""
    rng = random.Random(seed)
    artists = _artist_pool(rng, max(8, tracks // 6))
    corpus = Corpus()
    for _ in range(tracks):
        artist = rng.choice(artists)
        featured = (rng.choice(artists),) if rng.random() < 0.12 else ()
        name = _phrase(rng, 1, 4)
        if rng.random() < 0.15:
            name += rng.choice(_REMASTERS)
        if rng.random() < 0.1:
            name = _accent(name, rng)
        corpus.tracks.append(
            CorpusTrack(
                spotify_id(rng),
                name,
                (artist, *featured),
                _phrase(rng, 1, 3),
                rng.randint(120_000, 420_000),
            )
        )
    for index, track in enumerate(corpus.tracks):
        if rng.random() < 0.15:
            continue  # not kept at home: missing
        copies = 2 if rng.random() < 0.08 else 1
        for copy in range(copies):
            corpus.files.append(_perturbed(track, rng, f"{index:04d}-{copy}"))
        if rng.random() < 0.06:
            corpus.files.append(_distractor(track, rng, artists, f"{index:04d}-d"))
    for n in range(extra_files):
        other = CorpusTrack(
            "",
            _phrase(rng, 1, 4),
            (rng.choice(artists),),
            _phrase(rng, 1, 2),
            rng.randint(120_000, 420_000),
        )
        file = _perturbed(other, rng, f"x{n:04d}")
        corpus.files.append(replace(file, truth=None, perturbation="not in the library"))
    return corpus


def _perturbed(track: CorpusTrack, rng: random.Random, stem: str) -> CorpusFile:
    artist, *featured = track.artists
    title = track.name
    for suffix in _REMASTERS:
        title = title.replace(suffix, "")
    file_artist = artist
    album = track.album
    comment = None
    seconds = track.duration_ms / 1000 + rng.uniform(-2, 2)
    kind = rng.choice(
        (
            "exact",
            "feat",
            "remaster",
            "diacritics",
            "case",
            "and",
            "typo",
            "album",
            "untagged",
            "spotify-url",
            "punctuation",
            "exact",
            "exact",
        )
    )
    if featured:
        if rng.random() < 0.5:
            title = f"{title} (feat. {featured[0]})"
        else:
            file_artist = f"{artist} feat. {featured[0]}"
    if kind == "remaster":
        title += rng.choice(_REMASTERS)
    elif kind == "diacritics":
        title = _accent(title, rng)
    elif kind == "case":
        title, file_artist = title.upper(), file_artist.lower()
    elif kind == "and":
        file_artist = file_artist.replace(" & ", " and ")
    elif kind == "typo":
        title = _typo(title, rng)
    elif kind == "album":
        album = rng.choice(("Greatest Hits", "Now That's Music 42", "Live & Rare", "Singles"))
    elif kind == "spotify-url":
        comment = f"https://open.spotify.com/track/{track.id}"
    elif kind == "punctuation":
        title = title.replace(" ", ", ", 1) + "!"
    ext = rng.choice(AUDIO_TYPES)
    safe_artist = artist.replace("/", "-")
    if kind == "untagged":  # no tags: "Artist - Title" in the file name is all there is
        name = f"{safe_artist} - {title.replace('/', '-')}.{ext}"
        return CorpusFile(f"{safe_artist}/{stem}/{name}", None, seconds, track.id or None, kind)
    tags = Tags(title=title, artist=file_artist, album=album, comment=comment)
    return CorpusFile(f"{safe_artist}/{album}/{stem}.{ext}", tags, seconds, track.id or None, kind)


def _distractor(
    track: CorpusTrack, rng: random.Random, artists: list[str], stem: str
) -> CorpusFile:
    title = track.name
    for suffix in _REMASTERS:
        title = title.replace(suffix, "")
    roll = rng.random()
    if roll < 0.4:  # a cover: same title, another artist
        other = rng.choice([a for a in artists if a != track.artists[0]])
        tags = Tags(title=title, artist=other, album="Covers")
        seconds = track.duration_ms / 1000 + rng.uniform(-20, 20)
        kind = "cover"
    elif roll < 0.7:  # a live version: other title word, much longer
        tags = Tags(title=f"{title} - Live", artist=track.artists[0], album="Live")
        seconds = track.duration_ms / 1000 + rng.uniform(25, 60)
        kind = "live version"
    else:  # another song of the same artist
        tags = Tags(title=_phrase(rng, 1, 4), artist=track.artists[0], album=track.album)
        seconds = rng.uniform(120, 420)
        kind = "same artist, other song"
    ext = rng.choice(AUDIO_TYPES)
    return CorpusFile(f"distractors/{stem}.{ext}", tags, seconds, None, kind)
