"""The ICD-10-CM code set: which codes exist, which are billable, what each one means.

Read from the file `tools/build_icd10.py` makes of simple-icd-10-cm's data: sorted
`code<TAB>leaf<TAB>description` lines. On first use the file is read once, and kept as
its codes side by side in one fixed-width block (8 bytes each) and where each line
starts; a lookup bisects the block and reads its one line back from the file. About
1.2 MB stays resident, not the file's 8 MB nor the tree of objects (180 MB, seconds to
build) the library makes; the relay, the consumers and the CLI never open it.
"""

from __future__ import annotations

import os
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
    return CodeSet(shipped.read_bytes(), lambda offset, size: os.pread(fd, size, offset))


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
