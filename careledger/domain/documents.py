"""Documents attached to the record: a signed consent form, a referral letter, an imaging
report, a scanned note; a PDF or an image.

The content is stored apart from the log (infra/documents.py), addressed by its SHA-256;
the event that attaches it carries that hash (and its SHA-1, which FHIR's Attachment
names), so the audit that verifies the log covers every document's bytes too. A document
is attached to the patient (their consent form) or to an episode, then possibly to a
message of it; a consent decision and a referral may name their signed form by it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from careledger.domain.errors import InvalidInput

#: The largest document accepted: a scanned multi-page form, not a video.
MAX_BYTES = 10 * 1024 * 1024
MAX_TITLE = 200
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DocumentCategory(StrEnum):
    CONSENT_FORM = "consent_form"
    REFERRAL_LETTER = "referral_letter"
    IMAGING_REPORT = "imaging_report"
    OTHER = "other"


class MediaType(StrEnum):
    PDF = "application/pdf"
    PNG = "image/png"
    JPEG = "image/jpeg"


#: How each accepted type begins: a file is what its bytes say, not what its name says.
_MAGIC = {MediaType.PDF: b"%PDF-", MediaType.PNG: b"\x89PNG\r\n\x1a\n",
          MediaType.JPEG: b"\xff\xd8\xff"}


def sniffed(content: bytes) -> MediaType | None:
    """The accepted type these bytes are, by their first bytes; None for any other."""
    return next((t for t, magic in _MAGIC.items() if content.startswith(magic)), None)


@dataclass(frozen=True)
class Document:
    """What the log says of a document: its address, what it is and how large."""

    sha256: str
    sha1: str
    media_type: MediaType
    size: int
    title: str
    category: DocumentCategory

    def __post_init__(self) -> None:
        if not _SHA256.match(self.sha256):
            raise InvalidInput("a document is named by its SHA-256, 64 hex digits",
                               field="sha256")
        if not 0 < self.size <= MAX_BYTES:
            raise InvalidInput(f"a document holds 1 byte to {MAX_BYTES // (1024 * 1024)} MB",
                               field="file")
        if not self.title.strip() or len(self.title) > MAX_TITLE:
            raise InvalidInput(f"a document has a title of at most {MAX_TITLE} characters",
                               field="title")

    def fields(self) -> dict[str, str | int]:
        """As the event that attaches it carries it."""
        return {"sha256": self.sha256, "sha1": self.sha1, "media_type": str(self.media_type),
                "size": self.size, "title": self.title.strip(),
                "category": str(self.category)}


def is_document_name(reference: str) -> bool:
    """Whether a reference (a consent decision's signed form) names a stored document."""
    return bool(_SHA256.match(reference))


def checked_name(reference: str, attached: list[str], field: str) -> str:
    """A reference that names a document: one attached to this patient."""
    if reference not in attached:
        raise InvalidInput("no document with that SHA-256 is attached to this patient: "
                           "attach it first", field=field)
    return reference
