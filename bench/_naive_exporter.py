"""The baseline of bench/library.py: a library exporter the way the peers do it (Exportify,
spotify-backup): every run re-reads everything, one page after another, and writes one
snapshot. It keeps no state between runs, so an unchanged library costs as much as a new one.

Not a benchmark itself (``make bench`` skips files starting with an underscore). It reads the
2026 Development-Mode API (``/playlists/{id}/items``, limit 50) so it runs against the same
stand-in as SoulSpot; foreign playlists' items answer 403 and are skipped, as such tools must.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests


@dataclass
class ExportRun:
    requests: int = 0
    seconds: float = 0.0
    items: int = 0
    waited: float = 0.0
    skipped_playlists: list[str] = field(default_factory=list)


class NaiveExporter:
    """Reads ``/me/playlists``, every playlist's items, liked songs, albums and followed
    artists with ``token`` from ``api_base_url`` and writes them to one JSON file."""

    def __init__(self, api_base_url: str, token: str) -> None:
        self.base = api_base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _get(self, url: str, run: ExportRun) -> Any:
        while True:
            run.requests += 1
            answer = self.session.get(url, timeout=60)
            if answer.status_code == 429:  # honour Retry-After like a careful script
                wait = float(answer.headers.get("Retry-After", "1"))
                run.waited += wait
                time.sleep(wait)
                continue
            if answer.status_code == 403:
                return None
            answer.raise_for_status()
            return answer.json()

    def _all(self, url: str | None, run: ExportRun, key: str | None = None) -> list[Any]:
        rows: list[Any] = []
        while url:
            body = self._get(url, run)
            if body is None:
                return rows
            if key:
                body = body[key]
            rows += body["items"]
            url = body["next"]
        return rows

    def export(self, out: Path) -> ExportRun:
        run = ExportRun()
        started = time.perf_counter()
        playlists = self._all(f"{self.base}/me/playlists?limit=50", run)
        dump: dict[str, Any] = {"playlists": []}
        for playlist in playlists:
            entries: list[Any] = []
            if playlist["items"]["total"]:
                first = self._get(f"{self.base}/playlists/{playlist['id']}/items?limit=50", run)
                if first is None:
                    run.skipped_playlists.append(playlist["id"])
                else:
                    entries = first["items"] + self._all(first["next"], run)
            dump["playlists"].append({**playlist, "entries": entries})
            run.items += len(entries)
        dump["liked"] = self._all(f"{self.base}/me/tracks?limit=50", run)
        dump["albums"] = self._all(f"{self.base}/me/albums?limit=50", run)
        dump["artists"] = self._all(
            f"{self.base}/me/following?type=artist&limit=50", run, key="artists"
        )
        run.items += len(dump["liked"]) + len(dump["albums"]) + len(dump["artists"])
        out.write_text(json.dumps(dump), encoding="utf-8")
        run.seconds = time.perf_counter() - started
        return run
