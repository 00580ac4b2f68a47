"""Write README.md's configuration table from the settings' fields.

    .venv/bin/python tools/settings_table.py          (rewrites README.md)
    .venv/bin/python tools/settings_table.py --check  (exit 1 if it would change it)

The table lives between `<!-- settings:begin -->` and `<!-- settings:end -->`; everything
else in README.md is left as it is. Each row comes from a field of
`careledger.infra.settings_model.Settings` (its description, its default), so a variable
is documented where it is defined: change the field, then run this.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from careledger.infra.settings_table import markdown_table  # noqa: E402

README = ROOT / "README.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def with_table(text: str, table: str) -> str:
    """`text` with what stands between the markers replaced by `table`."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md has no {BEGIN} … {END} pair around its settings table")
    return text[:start + len(BEGIN)] + "\n" + table + text[end:]


def main(argv: list[str]) -> int:
    text = README.read_text()
    wanted = with_table(text, markdown_table())
    if wanted == text:
        return 0
    if "--check" in argv:
        print("README.md's settings table is not the settings' own: run "
              "`python tools/settings_table.py`", file=sys.stderr)
        return 1
    README.write_text(wanted)
    print("README.md: settings table rewritten", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
