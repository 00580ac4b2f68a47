"""OpenAPI links: from a command's 201 to the commands that may follow, with their ids.

A client (or a stateful fuzzer) reads in the document which command comes next in an
episode and where its path ids come from: the record the answer names, or the ids the
request itself carried.
"""

from __future__ import annotations

from typing import Any

#: The id in a 201 answer: the record just created or changed.
ANSWERED_ID = "$response.body#/id"

Links = dict[str, dict[str, Any]]


def link(*operations: str, body: dict[str, str] | None = None, **parameters: str) -> Links:
    """A link to each of `operations`, filling their path parameters (and body fields) so."""
    return {operation: {"operationId": operation, "parameters": dict(parameters),
                        **({"requestBody": dict(body)} if body else {})}
            for operation in operations}


def then(*links: Links) -> dict[str, Any]:
    """`openapi_extra` of an operation: these links from its 201 answer."""
    merged: Links = {}
    for each in links:
        merged.update(each)
    return {"responses": {201: {"links": merged}}}
