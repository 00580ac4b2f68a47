"""What each kind of setting's value must be, and how a refusal of one is worded.

Each check is a pydantic validator on a field's type (`Port`, `Flag`, `File`, …) and says
what the value must be in words that follow the variable's name ("is a whole number from
1 up to 65535, not 'abc'"): `settings_model.one_line` puts the name in front. A refused
value is repeated back 40 characters at most (`shown`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

from careledger.infra.settings import FLAG_SPELLINGS, flag_of, shown


class Refused(ValueError):
    """What a value must be, worded to follow its variable's name ("is a whole number…")."""


def whole(low: int, high: int | None = None) -> BeforeValidator:
    """A whole number within bounds, written in ASCII digits only: `8000.0`, `-1` or
    `٨٠٠٠` is a mistake to say, not a number to guess at."""
    bound = f" up to {high}" if high is not None else ""

    def check(value: object) -> int:
        text = str(value).strip()
        number = int(text) if text.isascii() and text.isdigit() else None
        if isinstance(value, bool) or number is None or number < low or (
                high is not None and number > high):
            raise Refused(f"is a whole number from {low}{bound}, not {shown(value)}")
        return number
    return BeforeValidator(check)


def _flag(value: object) -> bool:
    """Only the usual spellings (`FLAGS`): `ture` is refused, not read as off."""
    flag = value if isinstance(value, bool) else flag_of(str(value))
    if flag is None:
        raise Refused(f"is {FLAG_SPELLINGS}, not {shown(value)}")
    return flag


def one_of(*choices: str) -> BeforeValidator:
    """One of a few words, in any case (`SSL` is `ssl`)."""
    def check(value: object) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise Refused(f"is one of {', '.join(choices)}, not {shown(value)}")
        return text
    return BeforeValidator(check)


def resolved(value: object) -> Path | None:
    """An absolute path: a relative one means the folder the command started in, which
    every process of the platform then agrees on."""
    return None if value is None else Path(str(value)).resolve()


def _readable_file(value: object) -> Path | None:
    """A certificate or key that is there now, rather than a TLS error at the first
    connection, minutes into a start."""
    path = resolved(value)
    if path is not None and not (path.is_file() and os.access(path, os.R_OK)):
        raise Refused(f"names {shown(path, tail=True)}, which is not a readable file")
    return path


Port = Annotated[int, whole(1, 65535)]
Flag = Annotated[bool, BeforeValidator(_flag)]
File = Annotated[Path | None, BeforeValidator(_readable_file)]
