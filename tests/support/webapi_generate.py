"""Seeded, realistic libraries for the Web API stand-in, and random edits over time.

A library looks like a real one where sync code tends to break: names with diacritics and
non-Latin scripts, ``feat.`` credits and ``- Remastered 2011`` suffixes, durations from a
30-second interlude to a 20-minute suite, playlists the owner made, collaborates on or only
follows, entries that are ``null`` (withdrawn), local files, podcast episodes, and the same
track twice in one playlist. The same ``seed`` gives the same library (ids included).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from .webapi_library import Album, Artist, Item, LibraryState, Track, spotify_id

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

ARTISTS = [
    "Beyoncé",
    "Sigur Rós",
    "Björk",
    "Mötley Crüe",
    "Zoë Keating",
    "Ólafur Arnalds",
    "Røyksopp",
    "Antonín Dvořák",
    "Café Tacvba",
    "Jóhann Jóhannsson",
    "Motörhead",
    "Amadou & Mariam",
    "AC/DC",
    "Guns N' Roses",
    "宇多田ヒカル",
    "BTS (방탄소년단)",
    "Натали",
    "Fairuz فيروز",
    "Hania Rani",
    "Nils Frahm",
    "Khruangbin",
    "Sébastien Tellier",
    "Los Ángeles Azules",
    "Caetano Veloso",
    "Mø",
    "Queensrÿche",
    "Blue Öyster Cult",
    "Ásgeir",
    "Rosalía",
    "Stromae",
    "Daði Freyr",
    "The Beatles",
    "Nina Simone",
    "Arca",
]
_FIRST = [
    "Ana",
    "Jörg",
    "Łukasz",
    "Søren",
    "Inès",
    "Matías",
    "Chloé",
    "Tomás",
    "Aoife",
    "Zoltán",
    "Noémie",
    "Émile",
    "Yūko",
    "Ciarán",
    "Björn",
    "Ana María",
    "José",
    "Kai",
]
_LAST = [
    "Müller",
    "Núñez",
    "Kowalczyk",
    "Ødegård",
    "Durand",
    "O'Brien",
    "Sánchez",
    "Ferreira",
    "Nakamura",
    "Dvořáková",
    "Laurent",
    "Gonçalves",
    "Håkansson",
    "Černý",
    "Smith",
    "Lee",
]
_BANDS = ["The {n}s", "{a} {n}", "{n} Collective", "Los {n}s", "{a} {n} Orchestra", "DJ {n}"]
_ADJ = [
    "Silent",
    "Golden",
    "Electric",
    "Broken",
    "Midnight",
    "Neon",
    "Fading",
    "Wild",
    "Señorita",
    "Crème",
    "Déjà",
    "Über",
    "Blue",
    "Paper",
    "Lonely",
    "Última",
    "Velvet",
]
_NOUN = [
    "Heart",
    "River",
    "Summer",
    "Lights",
    "Dream",
    "Highway",
    "Garden",
    "Fire",
    "Echo",
    "Corazón",
    "Nuit",
    "Mädchen",
    "Vu",
    "Brûlée",
    "Ocean",
    "Storm",
    "Canción",
    "Kids",
]
_SUFFIX = [
    " - Remastered 2011",
    " - 2009 Remaster",
    " - Live at Wembley",
    " - Radio Edit",
    " (Acoustic)",
    " - Mono Version",
    " - Demo",
    " (Remix)",
    " - Single Version",
]
_PLAYLISTS = [
    "Running",
    "Sunday Morning",
    "Focus",
    "Roadtrip {y}",
    "Party 🎉",
    "Chill",
    "Best of {y}",
    "Kitchen Disco",
    "Sleep",
    "Workout 💪",
    "Throwbacks",
    "Rainy Days",
    "Jazz für Anfänger",
    "Été {y}",
    "Canciones tristes",
    "Deep Focus",
    "Wedding",
]
_SHOWS = [
    ("Song Exploder", "Hrishikesh Hirway"),
    ("99% Invisible", "Roman Mars"),
    ("Les Pieds sur terre", "France Culture"),
]


def _artist_name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(ARTISTS)
    if roll < 0.65:
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    return rng.choice(_BANDS).format(n=rng.choice(_NOUN), a=rng.choice(_ADJ))


def _title(rng: random.Random, feat: Artist | None) -> str:
    title = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}" if rng.random() < 0.8 else rng.choice(_NOUN)
    if feat is not None:
        title += f" (feat. {feat.name})"
    if rng.random() < 0.12:
        title += rng.choice(_SUFFIX)
    return title


def _duration(rng: random.Random) -> int:
    if rng.random() < 0.02:
        return rng.randint(12 * 60_000, 22 * 60_000)  # the prog-rock suite
    return max(30_000, min(720_000, int(rng.gauss(215_000, 60_000))))


class Catalogue:
    """Artists, albums and tracks to draw a library from (ids derive from ``seed``)."""

    def __init__(self, seed: int, artists: int, albums: int, tracks: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        rng = self.rng
        self.artists = [
            Artist(spotify_id(f"{seed}:artist:{i}"), _artist_name(rng))
            for i in range(max(1, artists))
        ]
        self.albums: list[Album] = []
        for i in range(max(1, albums)):
            year = rng.randint(1962, 2026)
            name = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}"
            if rng.random() < 0.1:
                name += rng.choice([" (Deluxe Edition)", " (Remastered)", " [Live]", " - EP"])
            self.albums.append(
                Album(
                    spotify_id(f"{seed}:album:{i}"),
                    name,
                    (rng.choice(self.artists),),
                    f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                    if rng.random() < 0.9
                    else str(year),
                    rng.choice(["album", "album", "single", "compilation"]),
                    rng.randint(1, 24),
                )
            )
        self.tracks = [self.new_track(i) for i in range(max(1, tracks))]

    def new_track(self, number: int) -> Track:
        rng = self.rng
        album = rng.choice(self.albums)
        feat = rng.choice(self.artists) if rng.random() < 0.15 else None
        people = album.artists + ((feat,) if feat and feat not in album.artists else ())
        return Track(
            spotify_id(f"{self.seed}:track:{number}"),
            _title(rng, feat),
            people,
            album,
            _duration(rng),
            explicit=rng.random() < 0.1,
            track_number=rng.randint(1, album.total_tracks),
            disc_number=1 if rng.random() < 0.95 else 2,
        )


def _entries(
    lib: LibraryState, cat: Catalogue, count: int, created: datetime, episodes: bool
) -> list[Item]:
    rng = cat.rng
    items: list[Item] = []
    for _ in range(count):
        roll = rng.random()
        if items and roll < 0.01:
            items.append(rng.choice(items))  # the same track twice: positions matter
        elif roll < 0.015:
            items.append(None)  # withdrawn from Spotify
        elif roll < 0.02:
            items.append(
                lib.make_local_track(
                    f"{rng.choice(_NOUN)} (home recording)", _artist_name(rng), "", _duration(rng)
                )
            )
        elif episodes and roll < 0.2:
            show, publisher = rng.choice(_SHOWS)
            items.append(
                lib.make_episode(
                    f"Episode {rng.randint(1, 400)}",
                    show,
                    publisher,
                    rng.randint(600_000, 5_400_000),
                )
            )
        else:
            items.append(rng.choice(cat.tracks))
    return items


def generate_library(
    seed: int = 1,
    playlists: int = 250,
    items: int | tuple[int, int] = (0, 200),
    liked: int = 20_000,
    albums: int = 300,
    artists: int = 200,
    owner_id: str = "alice",
    foreign_playlists: int = 5,
    collaborative_playlists: int = 3,
    owner_name: str | None = None,
) -> LibraryState:
    """A library of ``playlists`` playlists (``foreign_playlists`` of them only followed,
    ``collaborative_playlists`` owned by a friend who lets the owner edit), each with
    ``items`` entries (a number, or a ``(low, high)`` range), ``liked`` liked songs, ``albums``
    saved albums and ``artists`` followed artists. Same seed, same library."""
    lib = LibraryState(owner_id, owner_name)
    pool = max(
        50, liked + (playlists * (items if isinstance(items, int) else sum(items) // 2)) // 3
    )
    cat = Catalogue(seed, max(artists, 50), max(albums, 40), pool)
    rng = cat.rng
    span = (NOW - datetime(2017, 1, 1, tzinfo=UTC)).total_seconds()
    for number in range(playlists):
        foreign = number < foreign_playlists
        collaborative = not foreign and number < foreign_playlists + collaborative_playlists
        count = items if isinstance(items, int) else rng.randint(*items)
        created = NOW - timedelta(seconds=rng.random() * span)
        lib.clock = created
        name = rng.choice(_PLAYLISTS).format(y=created.year)
        if foreign:
            owner, owner_label = "spotify", "Spotify"
        elif collaborative:
            owner, owner_label = "carol", "Carol Friend"
        else:
            owner, owner_label = owner_id, lib.owner_name
        pid = lib.create_playlist(
            name,
            rng.choice(["", "", "for the commute", "¡Vamos! 🎶", "<b>no</b> skips"]),
            owner_id=owner,
            owner_name=owner_label,
            collaborative=collaborative,
            public=foreign or rng.random() < 0.3,
            playlist_id=spotify_id(f"{seed}:playlist:{number}"),
            items=_entries(lib, cat, count, created, episodes=rng.random() < 0.05),
        )
        playlist = lib.playlist(pid)
        step = (NOW - created) / max(1, count)
        for position, entry in enumerate(playlist.entries):
            entry.added_at = (created + step * position).replace(microsecond=0)
            if collaborative and rng.random() < 0.4:
                entry.added_by = "carol"
        playlist.version = rng.randint(1, 60)
    lib.playlists.sort(key=lambda p: p.entries[-1].added_at if p.entries else NOW, reverse=True)
    chosen = rng.sample(cat.tracks, min(liked, len(cat.tracks)))
    chosen += [cat.new_track(len(cat.tracks) + i) for i in range(liked - len(chosen))]
    moments = sorted(
        (NOW - timedelta(seconds=rng.random() * span)).replace(microsecond=0) for _ in chosen
    )
    lib.liked = [(track, moment) for track, moment in zip(chosen, moments, strict=True)]
    lib.liked.reverse()  # newest first
    saved = rng.sample(cat.albums, min(albums, len(cat.albums)))
    lib.albums = sorted(
        (
            (album, (NOW - timedelta(seconds=rng.random() * span)).replace(microsecond=0))
            for album in saved
        ),
        key=lambda pair: pair[1],
        reverse=True,
    )
    lib.artists = {a.id: a for a in rng.sample(cat.artists, min(artists, len(cat.artists)))}
    lib.clock = None
    return lib


def mutate_randomly(lib: LibraryState, rng: random.Random, changes: int = 5) -> list[str]:
    """Apply ``changes`` realistic edits (what an owner and their friends do in a week) and
    say what they were, e.g. ``"renamed 3Xy… to 'Focus 2'"``."""
    done: list[str] = []
    with lib.lock:
        for _ in range(changes):
            own = [p for p in lib.playlists if lib.readable(p)]
            kind = rng.choice(
                [
                    "add",
                    "add",
                    "remove",
                    "move",
                    "rename",
                    "like",
                    "like",
                    "unlike",
                    "album",
                    "follow",
                    "create",
                    "delete",
                ]
            )
            if kind in ("add", "remove", "move", "rename", "delete") and not own:
                kind = "create"
            playlist = rng.choice(own) if own else None
            if kind == "add" and playlist is not None:
                lib.add_items(playlist.id, lib.make_track(_title(rng, None)))
                done.append(f"added a track to {playlist.name!r}")
            elif kind == "remove" and playlist is not None and playlist.entries:
                lib.remove_item(playlist.id, rng.randrange(len(playlist.entries)))
                done.append(f"removed an item from {playlist.name!r}")
            elif kind == "move" and playlist is not None and len(playlist.entries) > 1:
                lib.move_item(playlist.id, 0, len(playlist.entries) - 1)
                done.append(f"moved the first item of {playlist.name!r} to the end")
            elif kind == "rename" and playlist is not None:
                old = playlist.name
                lib.rename_playlist(playlist.id, f"{old} ({rng.choice(_ADJ).lower()})")
                done.append(f"renamed {old!r} to {playlist.name!r}")
            elif kind == "delete" and playlist is not None and len(own) > 3:
                lib.delete_playlist(playlist.id)
                done.append(f"deleted {playlist.name!r}")
            elif kind == "like":
                lib.like(lib.make_track(_title(rng, None), [_artist_name(rng)]))
                done.append("liked a song")
            elif kind == "unlike" and lib.liked:
                track, _ = lib.liked[rng.randrange(len(lib.liked))]
                lib.unlike(str(track.id))
                done.append(f"un-liked {track.name!r}")
            elif kind == "album":
                lib.save_album(lib.make_album(f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}"))
                done.append("saved an album")
            elif kind == "follow":
                lib.follow(lib.make_artist(_artist_name(rng)))
                done.append("followed an artist")
            else:
                name = rng.choice(_PLAYLISTS).format(y=2026)
                lib.create_playlist(
                    name, items=[lib.make_track() for _ in range(rng.randint(1, 8))]
                )
                done.append(f"created {name!r}")
    return done
