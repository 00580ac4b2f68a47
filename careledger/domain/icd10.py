"""The ICD-10-CM code set: which codes exist, which are billable, what each one means.

Read from the compact file `tools/build_icd10.py` makes of simple-icd-10-cm's data, and
only by a process that validates a code (an API worker making a referral, a reader
upcasting an old one): the relay, the consumers and the CLI never load it. Held as the
file's text and a sorted index of line starts, about 9 MB, instead of a tree of
objects that costs 180 MB and seconds to build.
"""

from __future__ import annotations

import gzip
import threading
from array import array
from bisect import bisect_left
from importlib import resources

FILE = "icd10cm.tsv.gz"


class CodeSet:
    """Sorted `code<TAB>leaf<TAB>description` lines, searched by bisection."""

    def __init__(self, text: bytes) -> None:
        self._text = text
        starts = array("I", [0])
        at = text.find(b"\n")
        while at != -1 and at + 1 < len(text):
            starts.append(at + 1)
            at = text.find(b"\n", at + 1)
        self._starts = starts

    def __len__(self) -> int:
        return len(self._starts)

    def _code_at(self, i: int) -> bytes:
        start = self._starts[i]
        return self._text[start:self._text.index(b"\t", start)]

    def lookup(self, code: str) -> tuple[bool, str] | None:
        """(billable, description) of a code as the code set writes it (`M54.50`)."""
        key = code.encode("ascii", "replace")
        i = bisect_left(range(len(self._starts)), key, key=self._code_at)
        if i == len(self._starts) or self._code_at(i) != key:
            return None
        start = self._starts[i]
        end = self._text.find(b"\n", start)
        _code, leaf, description = self._text[start:end].decode().split("\t", 2)
        return leaf == "1", description


_loaded: list[CodeSet] = []
_guard = threading.Lock()


def code_set() -> CodeSet:
    """The shipped code set, read on first use (about 0.1 s)."""
    if not _loaded:
        with _guard:
            if not _loaded:
                packed = resources.files(__package__).joinpath(FILE).read_bytes()
                _loaded.append(CodeSet(gzip.decompress(packed)))
    return _loaded[0]


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
