"""Who a rate limit counts, and what it never refuses (issue 15: no owner lock-out).

Per address alone, anything that shares the owner's address (a local program, a web page
making image requests to 127.0.0.1, clients behind the same NAT) could empty the owner's
budgets and get sign-out and "revoke" refused while the session lived on. So:

- a request with a checked personal API token is counted per token;
- a request with a valid session, per session (``soulspot.api.current_session_key``);
- anything else per client address (IPv6 by its /64, as refusals are);
- a view marked :func:`soulspot.api.ends_session` is never refused for a request with a
  valid session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request

from soulspot import api

from . import api_tokens
from .audit_throttle import client_key as address_key
from .token_gate import token_info


def counter_key() -> str:
    """The owner of this request's budgets: ``token:<id>``, ``session:<key>`` or
    ``client:<address>``."""
    token = api.bearer_token()
    if token is not None and token.startswith(api_tokens.PREFIX):
        info = token_info(token)
        if info is not None:
            return f"token:{info.id}"
    session = api.current_session_key()
    if session is not None:
        return f"session:{session}"
    return f"client:{address_key(request.remote_addr)}"


def never_limited(view: Callable[..., Any] | None) -> bool:
    """Ending or revoking a valid session: no limit refuses it."""
    return api.is_session_ending(view) and api.current_session_key() is not None
