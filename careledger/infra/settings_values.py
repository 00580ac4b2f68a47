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
from urllib.parse import SplitResult, urlsplit

from pydantic import BeforeValidator

from careledger.infra.settings import FLAG_SPELLINGS, flag_of, shown

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
LOOPBACK = "127.0.0.1, localhost or ::1"
#: Asymmetric signatures only: a provider's token is checked with its public key, so
#: neither `none` nor a shared-secret HS* algorithm can be let in by a forged header.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
              "ES256", "ES384", "ES512", "EdDSA")


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


def _url_parts(value: object, what: str) -> tuple[str, str, SplitResult]:
    """An http(s) URL with a host, no user or password in it, no blanks around it."""
    text = str(value)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises ValueError on a port that is not one)
    except ValueError:
        raise Refused(f"is {what}, not {shown(text)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username \
            or text != text.strip():
        raise Refused(f"is {what}, not {shown(text)}")
    return text, parts.scheme, parts


def issuer_url(value: object) -> str | None:
    """Kept exactly as given: a token's `iss` is compared with it character for character."""
    if value is None:
        return None
    text, scheme, parts = _url_parts(value, "the identity provider's issuer URL (https://…)")
    if scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise Refused(f"is an https URL (http only on {LOOPBACK}), not {shown(text)}")
    if "?" in text or "#" in text:
        raise Refused(f"is the issuer exactly as the provider states it, without a query or "
                      f"fragment, not {shown(text)}")
    return text


def browser_url(value: object) -> str | None:
    """Without a trailing slash, so that paths are appended to it as they are."""
    if value is None:
        return None
    what = "scheme://host[:port] (http or https, no path), as browsers reach the API"
    text, scheme, parts = _url_parts(value, what)
    if parts.path not in ("", "/") or "?" in text or "#" in text:
        raise Refused(f"is {what}, not {shown(text)}")
    return f"{scheme}://{parts.netloc}"


def algorithm_list(value: object) -> tuple[str, ...]:
    """Comma-separated, any case, each once: the algorithms a token's header may name."""
    names = (value.split(",") if isinstance(value, str)
             else list(value) if isinstance(value, tuple | list) else [value])
    canonical = {name.lower(): name for name in ALGORITHMS}
    chosen: list[str] = []
    for name in (str(n).strip() for n in names):
        if name.lower() == "none" or name.upper().startswith("HS"):
            raise Refused(f"refuses {shown(name)}: the provider signs with its private key, "
                          f"checked with its public one; pin some of {' '.join(ALGORITHMS)}")
        if name and name.lower() not in canonical:
            raise Refused(f"is a comma-separated list of {' '.join(ALGORITHMS)}, not "
                          f"{shown(name)}")
        if name and canonical[name.lower()] not in chosen:
            chosen.append(canonical[name.lower()])
    if not chosen:
        raise Refused(f"names at least one of {' '.join(ALGORITHMS)}")
    return tuple(chosen)


Port = Annotated[int, whole(1, 65535)]
Flag = Annotated[bool, BeforeValidator(_flag)]
File = Annotated[Path | None, BeforeValidator(_readable_file)]
PerMinute = Annotated[int, whole(0)]
