"""Fuzz the whole API from its own OpenAPI document (schemathesis, against a live waitress
server): no 5xx, every response conforms to its documented status, content type and schema.

Auth is disabled and the client is on loopback, so every operation is reachable. Generation
is bounded (``MAX_EXAMPLES`` per operation and mode) and seeded, so a run is repeatable.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from security_support import NO_AUTH

from soulspot.testing import LiveServer
from support.oauth_provider import LocalOAuthProvider

SEED = 20261125
MAX_EXAMPLES = 10


def fuzz(base_url: str, *, session: Any = None, max_examples: int = MAX_EXAMPLES) -> list[str]:
    """Run every operation of the live app's document, valid and invalid input; returns the
    operations exercised. Raises schemathesis' failure report on the first failure."""
    import requests

    document = (session or requests).get(base_url + "/api/openapi.json", timeout=10)
    assert document.status_code == 200, document.text
    schema = schemathesis.openapi.from_dict(document.json())
    operations = [result.ok() for result in schema.get_all_operations()]
    # the app's own origin: state-changing operations pass CSRF like the UI's own calls
    own = {"Origin": base_url}
    calls: dict[str, int] = {}
    nothing_to_negate: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @seed(SEED)
            @settings(
                max_examples=max_examples,
                deadline=None,
                database=None,
                derandomize=False,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                response = case.call_and_validate(base_url=base_url, headers=own, session=session)
                assert response.status_code < 500
                key = f"{case.method} {case.path}"
                calls[key] = calls.get(key, 0) + 1

            try:
                check()
            except Unsatisfiable:
                # nothing to make invalid (no parameters, no body): only positive cases
                assert mode is GenerationMode.NEGATIVE, operation.label
                nothing_to_negate.append(operation.label)
    assert sum(calls.values()) >= len(operations) * 2
    assert len(nothing_to_negate) < len(operations)
    return sorted(f"{op.method.upper()} {op.path}" for op in operations)


@pytest.mark.slow
def test_api_conforms_to_its_openapi_document(make_app: Any) -> None:
    """Auth disabled, client on loopback: every operation is reachable."""
    # Fuzzing sends hundreds of requests: lift the API limit (429s are tested elsewhere).
    app = make_app({"plugins": {"security": {"rate_limit_api": "100000/minute"}}}, disable=NO_AUTH)
    with LiveServer(app) as server:
        labels = fuzz(server.url)
    assert "GET /api/plugins" in labels and "GET /api/audit" in labels, labels


@pytest.mark.slow
def test_api_conforms_when_signed_in(make_app: Any) -> None:
    """Auth enabled: a real sign-in through the local OAuth provider, then the same fuzzing
    with the session cookie (covers the auth plugin's API too)."""
    import requests

    port = free_port()
    callback = f"http://127.0.0.1:{port}/auth/callback"
    with LocalOAuthProvider(redirect_uris=[callback]) as provider:
        app = make_app(
            {
                "kernel": {"port": port},
                "plugins": {
                    "spotify": {**provider.client_config(), "redirect_uri": callback},
                    "security": {
                        "rate_limit_api": "100000/minute",
                        "rate_limit_auth": "1000/minute",
                    },
                },
            }
        )
        with LiveServer(app, port=port) as server, requests.Session() as session:
            start = session.get(server.url + "/auth/login?next=/", allow_redirects=False)
            answer = session.get(start.headers["Location"], allow_redirects=False)
            done = session.get(answer.headers["Location"], allow_redirects=False)
            assert done.status_code in (302, 303), done.text
            signed_in = session.get(server.url + "/api/plugins")
            assert signed_in.status_code == 200, signed_in.text
            labels = fuzz(server.url, session=session)
            # still signed in afterwards: the fuzzing itself did not log us out
            assert session.get(server.url + "/api/plugins").status_code == 200
    assert "GET /api/auth/status" in labels, labels


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
