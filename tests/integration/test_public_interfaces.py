"""The OpenAPI document and the GraphQL SDL, as they were before the redesign.

Copies taken at commit c2135da live in `tests/fixtures/`. A change to either is a change
users see: make it on purpose, in its own commit, and update the copy with it.
"""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import FIXTURES


def test_the_openapi_document_is_unchanged(client: Any) -> None:
    served = client.get("/api/v1/openapi.json").json()
    assert served == json.loads((FIXTURES / "openapi.json").read_text())


def test_the_graphql_sdl_is_unchanged() -> None:
    from careledger.graphql.schema import schema

    assert schema.as_str() + "\n" == (FIXTURES / "schema.graphql").read_text()
