"""The normaliser folds what breaks naive matching and keeps what names another recording."""

from __future__ import annotations

import pytest

from soulspot_collection.normalize import split_artists, title_key
from soulspot_collection.tags import from_filename, spotify_id_in


@pytest.mark.parametrize(
    ("spotify", "local"),
    [
        ("Hey Jude - Remastered 2015", "Hey Jude"),
        ("Something - 2009 Remaster", "Something (Remastered)"),
        ("Song (feat. Drake)", "Song [ft. Drake]"),
        ("Song - Single Version", "song"),
        ("Crème Brûlée", "CREME BRULEE"),
        ("Rock & Roll", "Rock and Roll"),
        ("Don't Stop Me Now", "Dont stop me now!"),
        ("Ágætis byrjun", "Agaetis Byrjun"),
        ("Straße", "Strasse"),
        ("Title - Remastered 2011 (feat. X)", "Title"),
    ],
)
def test_equal_after_folding(spotify, local):
    assert title_key(spotify) == title_key(local)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Song", "Song - Live"),
        ("Song", "Song (Acoustic)"),
        ("Song", "Song - Remix"),
        ("Song 2", "Song 3"),
        ("Dancing With Myself", "Dancing"),
    ],
)
def test_other_recordings_stay_apart(one, other):
    assert title_key(one) != title_key(other)


def test_artist_credits_are_split_and_folded():
    assert split_artists("Jay-Z feat. Beyoncé") == ["jay z", "beyonce"]
    assert split_artists("Simon & Garfunkel") == split_artists("Simon and Garfunkel")
    assert split_artists("The Beatles") == split_artists("Beatles")
    assert split_artists("A, B; C / D") == ["a", "b", "c", "d"]


def test_spotify_ids_are_found_in_urls_uris_and_id_fields():
    track = "4uLU6hMCjMI75M1A2tKUQC"
    assert spotify_id_in([f"see https://open.spotify.com/intl-de/track/{track}?si=x"], {}) == track
    assert spotify_id_in([f"spotify:track:{track}"], {}) == track
    assert spotify_id_in(["nothing here"], {"spotify_id": [track]}) == track
    assert spotify_id_in(["https://open.spotify.com/album/4uLU6hMCjMI75M1A2tKUQC"], {}) is None


def test_file_names_give_artist_and_title():
    assert from_filename("/m/Björk/Post/03 - Björk - Hyperballad.flac") == (
        "Björk",
        "Hyperballad",
        "Post",
    )
    assert from_filename("/m/Björk/Post/07 Isobel.mp3") == ("Björk", "Isobel", "Post")
