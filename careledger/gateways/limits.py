"""Refuse oversized bodies before anything parses them."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from careledger.domain.documents import MAX_BYTES
from careledger.gateways.problems import problem

#: What an upload may carry beyond the document itself: the multipart envelope.
UPLOAD_OVERHEAD = 64 * 1024


#: The one route whose body is a document (up to domain/documents.py's limit).
UPLOAD = re.compile(r"^/api/v1/patients/[^/]+/documents$")


class BodySizeLimit:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if request.method == "POST" and UPLOAD.match(request.path):
            limit = MAX_BYTES + UPLOAD_OVERHEAD
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem(400, "Content-Length is not a number", code="bad_length")
        if length > limit:
            return problem(
                413, f"request bodies are limited to {limit} bytes", code="body_too_large"
            )
        return self.get_response(request)
