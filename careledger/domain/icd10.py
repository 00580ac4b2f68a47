"""The ICD-10-CM code set: which codes exist, which are billable, what each one means.

Read from the file `tools/build_icd10.py` makes of simple-icd-10-cm's data: sorted
`code<TAB>leaf<TAB>description` lines. On first use the file is read once, and kept as
its codes side by side in one fixed-width block (8 bytes each) and where each line
starts; a lookup bisects the block and reads its one line back from the file. About
1.2 MB stays resident, not the file's 8 MB nor the tree of objects (180 MB, seconds to
build) the library makes; the relay, the consumers and the CLI never open it.
"""

from __future__ import annotations

import mmap
import os
import re
import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable
from importlib import resources
from pathlib import Path

FILE = "icd10cm.tsv"
#: The longest code (`S13.4XXA`): every code is padded to this in the block.
WIDTH = 8


class CodeSet:
    """Codes in a sorted, fixed-width block; their lines fetched by offset."""

    def __init__(self, text: bytes, fetch: Callable[[int, int], bytes] | None = None) -> None:
        codes = bytearray()
        starts = array("I")
        at = 0
        while at < len(text):
            tab = text.index(b"\t", at)
            if tab - at > WIDTH:
                raise ValueError(f"the code set holds a code longer than {WIDTH} characters")
            starts.append(at)
            codes += text[at:tab].ljust(WIDTH)
            at = text.index(b"\n", tab) + 1
        starts.append(len(text))
        self._codes = bytes(codes)
        self._starts = starts
        self._fetch = fetch or (lambda offset, size: text[offset:offset + size])
        #: The whole file for a text search (a map of it, for the shipped file).
        self._whole: bytes | mmap.mmap | None = None if fetch else text

    def search(self, text: str, limit: int = 5) -> list[tuple[str, str]]:
        """Codes whose description holds every word of `text`, the description that is
        exactly the text first, then the shortest (the more general) ones."""
        words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w]
        if not words:
            return []
        first = re.compile(rb"(?im)^([^\t\n]+)\t[01]\t([^\n]*\b" + re.escape(
            words[0].encode()) + rb"[^\n]*)$")
        rest = [re.compile(rf"\b{re.escape(w)}", re.IGNORECASE) for w in words[1:]]
        found = []
        for m in first.finditer(self._text()):
            description = m.group(2).decode()
            if all(r.search(description) for r in rest):
                found.append((m.group(1).decode(), description))
        wanted = " ".join(words)
        found.sort(key=lambda cd: (" ".join(re.findall(r"[a-z0-9]+", cd[1].lower())) != wanted,
                                   len(cd[1]), cd[0]))
        return found[:limit]

    def _text(self) -> bytes | mmap.mmap:
        return self._fetch(0, self._starts[-1]) if self._whole is None else self._whole

    def __len__(self) -> int:
        return len(self._starts) - 1

    def _code(self, i: int) -> bytes:
        return self._codes[i * WIDTH:(i + 1) * WIDTH]

    def lookup(self, code: str) -> tuple[bool, str] | None:
        """(billable, description) of a code as the code set writes it (`M54.50`)."""
        key = code.encode("ascii", "replace")
        if not key or len(key) > WIDTH or b" " in key:
            return None
        key = key.ljust(WIDTH)
        i = bisect_left(range(len(self)), key, key=self._code)
        if i == len(self) or self._code(i) != key:
            return None
        start = self._starts[i]
        line = self._fetch(start, self._starts[i + 1] - start - 1).decode()
        _code, leaf, description = line.split("\t", 2)
        return leaf == "1", description


_opened: list[CodeSet] = []
_guard = threading.Lock()


def code_set() -> CodeSet:
    """The shipped code set, read on first use (about 0.1 s)."""
    if not _opened:
        with _guard:
            if not _opened:
                _opened.append(_open())
    return _opened[0]


def _open() -> CodeSet:
    shipped = resources.files(__package__).joinpath(FILE)
    if not isinstance(shipped, Path):  # an install not on a file system (a zip): in memory
        return CodeSet(shipped.read_bytes())
    fd = os.open(shipped, os.O_RDONLY)  # kept open for the process's life
    codes = CodeSet(shipped.read_bytes(), lambda offset, size: os.pread(fd, size, offset))
    codes._whole = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)  # paged in only when searched
    return codes


def resolve(condition: str, field: str = "conditions") -> tuple[str, str]:
    """An ICD-10-CM code (billable or a category) and its description, from the code or
    from words of its description: one that is exactly the words, or the only one that
    holds them; otherwise refused with the codes to choose from."""
    from careledger.domain.errors import InvalidInput  # errors imports nothing of ours

    codes = code_set()
    code = condition.strip().upper()
    found = codes.lookup(code)
    if found is not None:
        return code, found[1]
    matches = codes.search(condition, limit=6)
    words = " ".join(re.findall(r"[a-z0-9]+", condition.lower()))
    exact = [m for m in matches if " ".join(re.findall(r"[a-z0-9]+", m[1].lower())) == words]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        raise InvalidInput("no ICD-10-CM code or description matches: give the code "
                           "(e.g. M79.7) or other words", field=field)
    listed = "; ".join(f"{c} {d}" for c, d in matches[:5])
    raise InvalidInput(f"several ICD-10-CM codes match: give one of {listed}", field=field)


def description(code: str) -> str:
    """The description of a code written with or without its dot (`M545` or `M54.5`), as
    the first release stored them; ValueError if there is no such code."""
    codes = code_set()
    found = codes.lookup(code)
    if found is None and len(code) > 3 and code[3] != ".":
        found = codes.lookup(f"{code[:3]}.{code[3:]}")
    if found is None:
        raise ValueError(f"no ICD-10-CM code {code!r}")
    return found[1]
