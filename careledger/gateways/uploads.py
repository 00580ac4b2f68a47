"""A file uploaded to be kept (a document of the record, a certificate): at most 10 MB, a
PDF, a PNG or a JPEG by its first bytes (never its name or the type it claims), and
passed by every virus scanner registered (infra/documents.py), before anything is stored."""

from __future__ import annotations

from ninja import UploadedFile
from ninja.errors import HttpError

from careledger.domain.documents import MAX_BYTES, MediaType, sniffed
from careledger.infra import documents


def checked(file: UploadedFile, what: str) -> tuple[bytes, MediaType]:
    """The bytes and their type; a 413, 415 or 422 naming `what` when they will not do."""
    if file.size is None or file.size > MAX_BYTES:
        raise HttpError(413, f"a {what} holds at most {MAX_BYTES // (1024 * 1024)} MB")
    data = file.read()
    media_type = sniffed(data)
    if media_type is None:
        raise HttpError(415, f"a {what} is a PDF, a PNG or a JPEG image")
    refused = documents.scan(data, media_type)
    if refused is not None:
        raise HttpError(422, f"the {what} was refused by the virus scan: {refused}")
    return data, media_type
