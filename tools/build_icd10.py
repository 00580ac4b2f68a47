"""Build the compact ICD-10-CM code set the domain ships, from simple-icd-10-cm's data.

    .venv/bin/python tools/build_icd10.py      (or `make icd10`)

Importing the library parses its XML into a tree: 2 to 3.5 s and about 180 MB in every
process that imports it. The domain needs three facts per code: that it exists, whether it
is billable (a leaf), and its description. This writes them once, sorted, as
`code<TAB>leaf<TAB>description` lines, into `careledger/domain/icd10cm.tsv` (8 MB; git and
the wheel keep it compressed, about 1 MB). A description may itself hold a tab, never a
line break, so a line splits on its first two tabs. The domain keeps only the codes, in a
fixed-width block, and reads a line back when a code is found (careledger/domain/icd10.py).
`tests/unit/test_icd10.py` checks the file against the library, code by code.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import simple_icd_10_cm as icd10

TARGET = Path(__file__).resolve().parents[1] / "careledger" / "domain" / "icd10cm.tsv"
#: Codes a claim could carry: categories and their subcategories, never chapters or blocks.
SHAPE = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")


def lines() -> list[str]:
    codes = sorted({c for c in icd10.get_all_codes(with_dots=True) if SHAPE.match(c)})
    return [f"{c}\t{int(icd10.is_leaf(c))}\t{icd10.get_description(c)}" for c in codes]


def compact() -> bytes:
    """The file's bytes: sorted lines, so the same data always gives the same bytes."""
    return ("\n".join(lines()) + "\n").encode()


def main() -> int:
    data = compact()
    TARGET.write_bytes(data)
    print(f"wrote {len(data):,} bytes ({len(lines()):,} codes) to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
