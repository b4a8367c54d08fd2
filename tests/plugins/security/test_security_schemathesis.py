"""Fuzz the whole API from its own OpenAPI document (schemathesis, against a live waitress
server): no 5xx, every response conforms to its documented status, content type and schema.

Auth is disabled and the client is on loopback, so every operation is reachable. Generation
is bounded (``MAX_EXAMPLES`` per operation and mode) and seeded, so a run is repeatable.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from security_support import NO_AUTH

from soulspot.testing import LiveServer

SEED = 20261125
MAX_EXAMPLES = 25


@pytest.mark.slow
def test_api_conforms_to_its_openapi_document(make_app: Any) -> None:
    # Fuzzing sends hundreds of requests: lift the API limit (429s are tested elsewhere).
    app = make_app({"plugins": {"security": {"rate_limit_api": "100000/minute"}}}, disable=NO_AUTH)
    with LiveServer(app) as server:
        schema = schemathesis.openapi.from_url(server.url + "/api/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        labels = sorted(f"{op.method.upper()} {op.path}" for op in operations)
        assert "GET /api/plugins" in labels and "GET /api/audit" in labels, labels
        # the app's own origin: state-changing operations pass CSRF like the UI's own calls
        own = {"Origin": server.url}
        calls: dict[str, int] = {}
        nothing_to_negate: list[str] = []
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @seed(SEED)
                @settings(
                    max_examples=MAX_EXAMPLES,
                    deadline=None,
                    database=None,
                    derandomize=False,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def check(case: Any) -> None:
                    response = case.call_and_validate(base_url=server.url, headers=own)
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
