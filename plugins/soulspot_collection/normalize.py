"""Turn artist, title and album into comparable forms.

What breaks naive matching, and what is done about it: diacritics (stripped after NFKD),
case (casefold), punctuation (dropped), "&" vs "and" (one spelling), "feat." credits (moved
out of titles; artist lists split on feat./ft./&/and/,/x/vs), and edition suffixes such as
"- Remastered 2011", "(2009 Remaster)", "- Single Version", "(Deluxe Edition)" (removed).
Words that name a different recording — live, acoustic, remix, instrumental, demo — are kept:
those are other tracks, and matching them would be wrong.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_FEAT = r"(?:feat\.?|featuring|ft\.?)"
#: "(feat. X)", "[ft. X]", "(with X)", " - feat. X", " feat. X" to the end of a title.
_TITLE_FEAT = re.compile(
    rf"\s*(?:[(\[]\s*(?:{_FEAT}|with)\s[^)\]]*[)\]]|[-\u2013]?\s+{_FEAT}\s.*$)", re.IGNORECASE
)
_EDITION_WORDS = (
    r"(?:(?:\d{4}\s+)?(?:digital(?:ly)?\s+)?re-?master(?:ed)?(?:\s+(?:version|edition|mix))?"
    r"(?:\s+\d{4})?|(?:\d{4}\s+)?re-?mix(?:ed)?\s+(?:and|&)\s+re-?master(?:ed)?(?:\s+\d{4})?"
    r"|(?:single|album|original|lp|mono|stereo|explicit|clean)\s+(?:version|mix|edit)"
    r"|(?:deluxe|expanded|special|anniversary|bonus|remastered)(?:\s+\w+)?\s+(?:edition|version)"
    r"|deluxe|explicit|bonus\s+track|\d{4}\s+(?:version|edition))"
)
#: " - Remastered 2011", " (2009 Remaster)", " [Deluxe Edition]" at the end.
_EDITION = re.compile(
    rf"\s*(?:[-\u2013]\s*{_EDITION_WORDS}\s*$|[(\[]\s*{_EDITION_WORDS}\s*[)\]])", re.IGNORECASE
)
_ARTIST_SPLIT = re.compile(
    rf"\s*(?:,|;|/|\s&\s|\sand\s|\sx\s|\s{_FEAT}\s|\svs\.?\s)\s*", re.IGNORECASE
)
_NON_WORD = re.compile(r"[^\w]+")
_LEADING_THE = re.compile(r"^the\s+")
STOP_WORDS = frozenset({"the", "a", "an", "and", "of", "to", "in", "on", "de", "la", "le", "el"})


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Case, diacritics, punctuation and '&' folded away; words separated by one space."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().replace("&", " and ").replace("'", "").replace("\u2019", "")
    text = text.replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("đ", "d")
    text = text.replace("ł", "l").replace("þ", "th").replace("œ", "oe")
    return " ".join(_NON_WORD.sub(" ", text).split())


def strip_title(title: str) -> str:
    """The title without feat. credits and edition suffixes (repeatedly: 'X (feat. Y) -
    Remastered 2011')."""
    previous = None
    while previous != title:
        previous = title
        title = _TITLE_FEAT.sub("", title)
        title = _EDITION.sub("", title)
    return title.strip() or previous.strip()


def title_key(title: str) -> str:
    return fold(strip_title(title))


def album_key(album: str) -> str:
    return fold(strip_title(album))


def split_artists(artist: str) -> list[str]:
    """'A feat. B & C' -> ['a', 'b', 'c'] (folded, a leading 'the' dropped)."""
    names = []
    for part in _ARTIST_SPLIT.split(artist):
        folded = _LEADING_THE.sub("", fold(part))
        if folded and folded not in names:
            names.append(folded)
    return names


def artists_key(artists: list[str] | tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for artist in artists:
        for name in split_artists(artist):
            if name not in names:
                names.append(name)
    return names


def tokens(text: str) -> list[str]:
    """Words of a folded text that are worth indexing (no stop words, no 1-letter words)."""
    return [w for w in text.split() if len(w) > 1 and w not in STOP_WORDS] or text.split()
