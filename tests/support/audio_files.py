"""Tiny, valid, tagged audio files of every type the collection plugin reads, written by code.

No binary fixtures: each writer lays out the container and its tag frames byte by byte, from
the format specifications —

- ``.mp3``: an ID3v2.4 tag (UTF-8 text frames, COMM, TXXX), then MPEG-1 Layer III frames; the
  first carries a Xing header with the frame count, so the stated duration is exact while the
  file holds only a few (silent) frames;
- ``.flac``: ``fLaC``, STREAMINFO (total samples give the duration), VORBIS_COMMENT;
- ``.ogg`` (Vorbis) and ``.opus``: Ogg pages with real CRCs; identification and comment
  headers (``OpusHead``/``OpusTags`` for Opus); the last page's granule position sets the
  duration;
- ``.m4a``: ``ftyp``, ``moov`` with ``mvhd`` (duration), a track whose sample description is
  ``alac`` (or ``mp4a``), ``udta/meta/ilst`` with ``©nam``/``©ART``/``©alb``/``©cmt`` atoms;
- ``.wav``: RIFF/WAVE, ``fmt`` (PCM), ``LIST``/``INFO`` and an ``id3`` chunk, ``data`` last;
- ``.aiff``: FORM/AIFF, ``COMM`` (80-bit sample rate), an ``ID3`` chunk, ``SSND`` last.

The PCM payload of WAV/AIFF is silence made by extending the file (sparse on most file
systems), so a three-minute file costs a few hundred bytes of real disk. A writer given
``tags=None`` writes a file with no tags at all.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

AUDIO_TYPES = ("mp3", "flac", "m4a", "ogg", "opus", "wav", "aiff")


@dataclass(frozen=True)
class Tags:
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    comment: str | None = None
    #: extra free-form fields (ID3 TXXX, Vorbis comments, RIFF INFO is not extensible)
    extra: tuple[tuple[str, str], ...] = ()


# --- ID3v2 ---------------------------------------------------------------------------------


def _syncsafe(value: int) -> bytes:
    return bytes(((value >> 21) & 0x7F, (value >> 14) & 0x7F, (value >> 7) & 0x7F, value & 0x7F))


def id3v2(tags: Tags, version: int = 4) -> bytes:
    """An ID3v2.4 (UTF-8) or ID3v2.3 (UTF-16 with BOM) tag."""

    def text(value: str) -> bytes:
        if version == 4:
            return b"\x03" + value.encode("utf-8")
        return b"\x01" + value.encode("utf-16")

    def terminator() -> bytes:
        return b"\x00" if version == 4 else b"\x00\x00"

    frames: list[tuple[bytes, bytes]] = []
    for frame_id, value in ((b"TIT2", tags.title), (b"TPE1", tags.artist), (b"TALB", tags.album)):
        if value is not None:
            frames.append((frame_id, text(value)))
    if tags.comment is not None:
        body = text("")[:1] + b"eng" + text("")[1:] + terminator()
        body += tags.comment.encode("utf-8") if version == 4 else tags.comment.encode("utf-16")
        frames.append((b"COMM", body))
    for key, value in tags.extra:
        body = text(key) + terminator()
        body += value.encode("utf-8") if version == 4 else value.encode("utf-16")
        frames.append((b"TXXX", body))
    out = b""
    for frame_id, body in frames:
        size = _syncsafe(len(body)) if version == 4 else struct.pack(">I", len(body))
        out += frame_id + size + b"\x00\x00" + body
    return b"ID3" + bytes((version, 0, 0)) + _syncsafe(len(out)) + out


# --- MP3 -----------------------------------------------------------------------------------

_MP3_HEADER = b"\xff\xfb\x90\xc4"  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no CRC, mono
_MP3_FRAME = 417  # 144 * 128000 / 44100, no padding
_MP3_SAMPLES = 1152


def write_mp3(path: Path, tags: Tags | None, seconds: float) -> None:
    frames = max(2, round(seconds * 44100 / _MP3_SAMPLES))
    xing = b"Xing" + struct.pack(">III", 0x3, frames, frames * _MP3_FRAME)
    # Side information of a mono MPEG-1 frame is 17 bytes: the Xing tag follows it.
    first = _MP3_HEADER + bytes(17) + xing
    first += bytes(_MP3_FRAME - len(first))
    silent = _MP3_HEADER + bytes(_MP3_FRAME - 4)
    path.write_bytes((id3v2(tags) if tags else b"") + first + silent * 3)


# --- FLAC ----------------------------------------------------------------------------------


def vorbis_comment(tags: Tags, vendor: str = "soulspot tests") -> bytes:
    fields = [("TITLE", tags.title), ("ARTIST", tags.artist), ("ALBUM", tags.album)]
    fields.append(("COMMENT", tags.comment))
    fields.extend(tags.extra)
    entries = [f"{k}={v}".encode() for k, v in fields if v is not None]
    out = (
        struct.pack("<I", len(vendor.encode())) + vendor.encode() + struct.pack("<I", len(entries))
    )
    for entry in entries:
        out += struct.pack("<I", len(entry)) + entry
    return out


def write_flac(path: Path, tags: Tags | None, seconds: float) -> None:
    rate, channels, bits = 44100, 2, 16
    samples = round(seconds * rate)
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | samples
    streaminfo = struct.pack(">HH", 4096, 4096) + bytes(6) + struct.pack(">Q", packed) + bytes(16)
    blocks = [(0, streaminfo)]
    if tags is not None:
        blocks.append((4, vorbis_comment(tags)))
    out = b"fLaC"
    for index, (kind, body) in enumerate(blocks):
        last = 0x80 if index == len(blocks) - 1 else 0
        out += bytes((last | kind,)) + len(body).to_bytes(3, "big") + body
    path.write_bytes(out)


# --- Ogg (Vorbis, Opus) --------------------------------------------------------------------


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


def ogg_page(packet: bytes, *, serial: int, sequence: int, granule: int, flags: int) -> bytes:
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = b"OggS" + struct.pack("<BBqIII", 0, flags, granule, serial, sequence, 0)
    page = header + bytes((len(lacing),)) + bytes(lacing) + packet
    crc = ogg_crc(page)
    return page[:22] + struct.pack("<I", crc) + page[26:]


def _ogg(path: Path, packets: list[tuple[bytes, int]]) -> None:
    pages = b""
    for sequence, (packet, granule) in enumerate(packets):
        flags = 0x02 if sequence == 0 else (0x04 if sequence == len(packets) - 1 else 0)
        pages += ogg_page(
            packet, serial=0x50554C53, sequence=sequence, granule=granule, flags=flags
        )
    path.write_bytes(pages)


def write_ogg(path: Path, tags: Tags | None, seconds: float) -> None:
    rate = 44100
    ident = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, rate, 0, 128000, 0, 0xB8, 1)
    comment = b"\x03vorbis" + vorbis_comment(tags or Tags(), vendor="soulspot") + b"\x01"
    audio = b"\x00" * 8  # a (silent-looking) audio packet closing the stream
    _ogg(path, [(ident, 0), (comment, 0), (audio, round(seconds * rate))])


def write_opus(path: Path, tags: Tags | None, seconds: float) -> None:
    pre_skip = 312
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, pre_skip, 48000, 0, 0)
    comment = b"OpusTags" + vorbis_comment(tags or Tags(), vendor="soulspot")
    audio = b"\xf8\xff\xfe"  # one 20 ms SILK frame code, as encoders emit for silence
    _ogg(path, [(head, 0), (comment, 0), (audio, pre_skip + round(seconds * 48000))])


# --- MP4 / M4A -----------------------------------------------------------------------------


def atom(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _text_item(kind: bytes, value: str) -> bytes:
    return atom(kind, atom(b"data", struct.pack(">II", 1, 0) + value.encode("utf-8")))


def write_m4a(path: Path, tags: Tags | None, seconds: float, codec: str = "alac") -> None:
    rate = 44100
    mvhd = atom(b"mvhd", struct.pack(">B3xIIII", 0, 0, 0, rate, round(seconds * rate)) + bytes(80))
    audio_entry = bytes(6) + struct.pack(">H", 1) + bytes(8)
    audio_entry += struct.pack(">HHHHI", 2, 16, 0, 0, rate << 16)
    if codec == "alac":
        config = struct.pack(">IBBBBBBHIII", 4096, 0, 16, 40, 10, 14, 2, 255, 0, 0, rate)
        entry = atom(b"alac", audio_entry + atom(b"alac", bytes(4) + config))
    else:  # AAC: an elementary stream descriptor names the codec (ISO 14496-1)
        decoder = b"\x40\x15" + bytes(3) + struct.pack(">II", 128000, 128000) + b"\x05\x02\x12\x10"
        stream = b"\x00\x01\x00" + b"\x04" + bytes((len(decoder),)) + decoder + b"\x06\x01\x02"
        esds = atom(b"esds", bytes(4) + b"\x03" + bytes((len(stream),)) + stream)
        entry = atom(b"mp4a", audio_entry + esds)
    stsd = atom(b"stsd", struct.pack(">II", 0, 1) + entry)
    trak = atom(b"trak", atom(b"mdia", atom(b"minf", atom(b"stbl", stsd))))
    moov_body = mvhd + trak
    if tags is not None:
        items = b""
        for kind, value in (
            (b"\xa9nam", tags.title),
            (b"\xa9ART", tags.artist),
            (b"\xa9alb", tags.album),
            (b"\xa9cmt", tags.comment),
        ):
            if value is not None:
                items += _text_item(kind, value)
        handler = atom(b"hdlr", bytes(8) + b"mdirappl" + bytes(9))
        moov_body += atom(b"udta", atom(b"meta", bytes(4) + handler + atom(b"ilst", items)))
    ftyp = atom(b"ftyp", b"M4A " + struct.pack(">I", 0) + b"M4A mp42isom")
    path.write_bytes(ftyp + atom(b"moov", moov_body) + atom(b"mdat", b""))


# --- WAV / AIFF ----------------------------------------------------------------------------

_PCM_RATE = 8000  # mono, 16 bit: silence costs 16 kB/s of (sparse) file


def _chunk(kind: bytes, body: bytes, order: str) -> bytes:
    pad = b"\x00" if len(body) % 2 else b""
    return kind + struct.pack(f"{order}I", len(body)) + body + pad


def _finish_with_silence(path: Path, head: bytes, audio_bytes: int) -> None:
    with path.open("wb") as out:
        out.write(head)
        out.truncate(len(head) + audio_bytes)


def write_wav(path: Path, tags: Tags | None, seconds: float) -> None:
    frames = round(seconds * _PCM_RATE)
    chunks = _chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, _PCM_RATE, _PCM_RATE * 2, 2, 16), "<")
    if tags is not None:
        info = b"INFO"
        for kind, value in ((b"INAM", tags.title), (b"IART", tags.artist), (b"IPRD", tags.album)):
            if value is not None:
                info += _chunk(kind, value.encode("utf-8") + b"\x00", "<")
        chunks += _chunk(b"LIST", info, "<")
        chunks += _chunk(b"id3 ", id3v2(Tags(comment=tags.comment, extra=tags.extra), 3), "<")
    data_size = frames * 2
    header = chunks + b"data" + struct.pack("<I", data_size)
    riff = b"RIFF" + struct.pack("<I", 4 + len(header) + data_size) + b"WAVE"
    _finish_with_silence(path, riff + header, data_size)


def _extended(value: float) -> bytes:
    """An IEEE 754 80-bit extended float (AIFF's sample rate)."""
    mantissa, exponent = math.frexp(value)
    return struct.pack(">HQ", exponent + 16382, int(mantissa * (1 << 64)))


def write_aiff(path: Path, tags: Tags | None, seconds: float) -> None:
    frames = round(seconds * _PCM_RATE)
    chunks = _chunk(b"COMM", struct.pack(">HIH", 1, frames, 16) + _extended(_PCM_RATE), ">")
    if tags is not None:
        chunks += _chunk(b"ID3 ", id3v2(tags, 3), ">")
    data_size = 8 + frames * 2
    header = chunks + b"SSND" + struct.pack(">I", data_size) + struct.pack(">II", 0, 0)
    form = b"FORM" + struct.pack(">I", 4 + len(header) + frames * 2) + b"AIFF"
    _finish_with_silence(path, form + header, frames * 2)


WRITERS: dict[str, Callable[[Path, Tags | None, float], None]] = {
    "mp3": write_mp3,
    "flac": write_flac,
    "m4a": write_m4a,
    "ogg": write_ogg,
    "opus": write_opus,
    "wav": write_wav,
    "aiff": write_aiff,
}


def write_audio(path: Path, tags: Tags | None, seconds: float) -> Path:
    """Write ``path`` in the format its suffix names; folders are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    WRITERS[path.suffix.lstrip(".").lower()](path, tags, seconds)
    return path
