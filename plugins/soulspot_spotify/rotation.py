"""``soulspot secrets rotate``: a new token key, every stored token re-encrypted in one
transaction, then the old key retired.

With keys in the key file the command does all three steps. With keys in the config
(``token_keys``) it cannot edit the config: the operator puts the new key first, runs the
command (which re-encrypts everything under the first key) and then removes the old key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from soulspot import api

from .crypto import generate_key, write_key_file
from .models import OAuthPending, SpotifyToken
from .runtime import now_ts

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime


@dataclass(frozen=True)
class RotationResult:
    source: str  # "file" or "config"
    reencrypted: int
    unreadable: int
    retired: int


def _reencrypt(multi: MultiFernet) -> tuple[int, int]:
    """Re-encrypt every stored secret under ``multi``'s first key, in one transaction.
    Values no key can read (a restore from before an older rotation) are purged."""
    done = unreadable = 0
    with api.storage().write_transaction():
        for row in SpotifyToken.select():
            changes: dict[str, object] = {}
            broken = False
            for name in ("access_token", "refresh_token"):
                value = getattr(row, name)
                if not value:
                    continue
                try:
                    changes[name] = multi.rotate(value.encode("ascii")).decode("ascii")
                except InvalidToken:
                    broken = True
            if broken:
                unreadable += 1
                changes = dict(
                    access_token=None,
                    refresh_token=None,
                    expires_at=0,
                    consented_at=None,
                    reauth_needed=True,
                    reauth_reason="key_unavailable",
                    updated_at=now_ts(),
                )
            if changes:
                SpotifyToken.update(**changes).where(SpotifyToken.user_id == row.user_id).execute()
                done += 0 if broken else 1
        for pending in OAuthPending.select():
            try:
                rotated = multi.rotate(pending.code_verifier.encode("ascii")).decode("ascii")
            except InvalidToken:
                OAuthPending.delete().where(OAuthPending.state_hash == pending.state_hash).execute()
                continue
            OAuthPending.update(code_verifier=rotated).where(
                OAuthPending.state_hash == pending.state_hash
            ).execute()
    return done, unreadable


def _all_readable_with(key: str) -> bool:
    only = Fernet(key.encode("ascii"))
    for row in SpotifyToken.select():
        for value in (row.access_token, row.refresh_token):
            if value:
                try:
                    only.decrypt(value.encode("ascii"))
                except InvalidToken:
                    return False
    return True


def rotate(rt: Runtime) -> RotationResult:
    ring = rt.keyring
    if ring.from_config:
        done, unreadable = _reencrypt(ring.fernet())
        return RotationResult("config", done, unreadable, 0)

    old = ring.keys()
    new = generate_key()
    # 1. add the new key in front: from now on everything (this process and a running
    #    server, which watches the file) encrypts with it, and old values still decrypt.
    write_key_file(ring.path, [new, *old])
    ring.reload()
    # 2. re-encrypt every stored token under the new key, in one transaction.
    done, unreadable = _reencrypt(ring.fernet())
    # A server that refreshed a token with the old key in the meantime: do it again.
    for _attempt in range(3):
        if _all_readable_with(new):
            break
        _more, bad = _reencrypt(ring.fernet())
        unreadable += bad
    else:
        raise RuntimeError(
            "some tokens are still encrypted under the old key; the old key stays in the "
            "key file. Run `soulspot secrets rotate` again."
        )
    # 3. retire the old key(s).
    write_key_file(ring.path, [new])
    ring.reload()
    return RotationResult("file", done, unreadable, len(old))
