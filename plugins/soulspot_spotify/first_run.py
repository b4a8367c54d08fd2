"""First run: which Spotify app SoulSpot signs in with, and who may still change it.

A client id typed on the setup page (or given to ``soulspot setup --client-id``) is stored in
the database. Until a sign-in has worked with it, it is *unproven*: a mistyped id makes
Spotify refuse every sign-in, so nobody could ever become the signed-in owner who may change
it. While the id is unproven, the setup page stays open to the same people who could set it
in the first place (this machine, or the one-time link ``soulspot serve`` prints at each
start), and pages lead there instead of straight into Spotify's error.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from soulspot import api

from .runtime import SETTING_CLIENT_ID, SETTING_OWNER

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime

#: The client id a sign-in last completed with (written by the callback).
SETTING_CLIENT_ID_PROVEN = "spotify.client_id_proven"
#: What Spotify's dashboard shows as a Client ID (32 hex characters today; kept loose).
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{8,128}$"

#: ``edit``: the form; ``sign_in``: the saved id and a sign-in button, no form (a visitor
#: who may not change it); ``config``: set in the config file, the page only explains.
SetupMode = Literal["edit", "sign_in", "config"]


class ClientIdError(ValueError):
    """A client id that cannot be saved (message says why and what to do)."""


def client_id_source(rt: Runtime) -> Literal["config", "setup", "none"]:
    if rt.config.client_id:
        return "config"
    return "setup" if rt.client_id() else "none"


def client_id_proven(rt: Runtime) -> bool:
    """Whether a sign-in has worked with today's client id. An instance claimed by an owner
    before this was recorded counts as proven: its id signed the owner in."""
    settings = api.storage().settings
    client_id = rt.client_id()
    if not client_id:
        return False
    return settings.get(SETTING_CLIENT_ID_PROVEN) == client_id or bool(settings.get(SETTING_OWNER))


def needs_setup(rt: Runtime) -> bool:
    """No client id yet, or one from the setup page that never signed anyone in."""
    source = client_id_source(rt)
    return source == "none" or (source == "setup" and not client_id_proven(rt))


def mark_proven(rt: Runtime) -> None:
    """Called after a completed sign-in: the client id works."""
    client_id = rt.client_id()
    if client_id and api.storage().settings.get(SETTING_CLIENT_ID_PROVEN) != client_id:
        api.storage().settings.set(SETTING_CLIENT_ID_PROVEN, client_id)


def save_client_id(rt: Runtime, client_id: str, *, via: str) -> str:
    """Store ``client_id`` (stripped) for sign-in; audited as ``auth.setup_client_id``."""
    value = client_id.strip()
    if rt.config.client_id:
        raise ClientIdError(
            "the client id is set in the config ([plugins.spotify] client_id, or "
            "SOULSPOT__SPOTIFY__CLIENT_ID); change it there"
        )
    if not re.fullmatch(CLIENT_ID_PATTERN, value):
        raise ClientIdError(
            f"{value!r} is not a Spotify client id: expected the 'Client ID' from your app's "
            "settings at developer.spotify.com (8-128 letters, digits, '-' or '_')"
        )
    api.storage().settings.set(SETTING_CLIENT_ID, value)
    api.audit("auth.setup_client_id", client_id=value, via=via)
    return value


def setup_message(rt: Runtime, base_url: str, token: str) -> str:
    """What ``soulspot serve`` prints while setup is not finished."""
    link = f"{base_url}/auth/setup?token={token}"
    if client_id_source(rt) == "none":
        first = "SoulSpot is not connected to a Spotify app yet. Finish the setup at"
    else:
        first = (
            f"SoulSpot's Spotify client id ({rt.client_id()}) has not signed anyone in yet. "
            "Check or correct it at"
        )
    return (
        f"{first}\n  {link}\n"
        "(from this machine, http://127.0.0.1 works without the token; "
        "or run `soulspot setup --client-id ID`)."
    )
