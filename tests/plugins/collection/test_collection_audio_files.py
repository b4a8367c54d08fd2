"""The test-made audio files are what the scanner sees in the wild: tinytag reads each type."""

from __future__ import annotations

import pytest
from tests.support.audio_files import AUDIO_TYPES, Tags, ogg_crc, write_audio, write_m4a
from tinytag import TinyTag

TAGS = Tags(
    title="Mötley Ünïcode — 東京",
    artist="Amadou & Mariam",
    album="Dimanche à Bamako",
    comment="https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC",
)


@pytest.mark.parametrize("kind", AUDIO_TYPES)
def test_every_type_is_read_with_its_tags_and_duration(tmp_path, kind):
    path = write_audio(tmp_path / f"song.{kind}", TAGS, 187.4)
    tag = TinyTag.get(path)
    assert (tag.title, tag.artist, tag.album) == (TAGS.title, TAGS.artist, TAGS.album)
    assert tag.comment == TAGS.comment
    assert tag.duration == pytest.approx(187.4, abs=0.05)


@pytest.mark.parametrize("kind", AUDIO_TYPES)
def test_untagged_files_have_a_duration_and_no_tags(tmp_path, kind):
    tag = TinyTag.get(write_audio(tmp_path / f"bare.{kind}", None, 61.0))
    assert tag.title is None and tag.artist is None
    assert tag.duration == pytest.approx(61.0, abs=0.05)


def test_m4a_says_which_codec(tmp_path):
    alac = TinyTag.get(write_audio(tmp_path / "a.m4a", TAGS, 10))
    assert alac.samplerate == 44100 and alac.bitdepth == 16  # from the ALAC magic cookie
    write_m4a(tmp_path / "b.m4a", TAGS, 10, codec="aac")
    aac = TinyTag.get(tmp_path / "b.m4a")
    assert aac.title == TAGS.title and aac.bitrate == 128  # from the ES descriptor


def test_ogg_pages_carry_the_checksum_the_spec_defines():
    # CRC-32 with polynomial 0x04C11DB7, no reflection, zero initial value (RFC 3533)
    assert ogg_crc(b"") == 0
    assert ogg_crc(b"123456789") == 0x89A1897F


def test_pcm_files_are_mostly_holes(tmp_path):
    path = write_audio(tmp_path / "long.wav", TAGS, 300)
    assert path.stat().st_size > 300 * 16000
    assert TinyTag.get(path).duration == pytest.approx(300, abs=0.01)
