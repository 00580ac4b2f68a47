"""Settings read from the environment, once, with the embedded defaults spelled out.

The variables themselves are one typed model, `Settings` (infra/settings_model.py): each
with its type, default and meaning, from which `ENVIRONMENT_VARIABLES` and the README's
table are derived. That model imports pydantic-settings, 0.1 s more on a start that
`careledger --help` and the light imports of every command never need: this module is
what they import (`SettingError`, the names below, `parse_flag`), and it gives `Settings`,
`ENVIRONMENT_VARIABLES` and `markdown_table` on first use (PEP 562).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from careledger.infra.settings_model import ENVIRONMENT_VARIABLES, Settings
    from careledger.infra.settings_table import markdown_table

__all__ = ["APP_ROLE", "BROKER_ADDRESS_FILE", "ENVIRONMENT_VARIABLES", "FLAG_SPELLINGS",
           "SettingError", "Settings", "broker_address", "markdown_table", "parse_flag"]

APP_ROLE = "careledger_app"
#: Where `careledger up` notes the embedded broker's address for later commands.
BROKER_ADDRESS_FILE = "broker/address"

#: The spellings a yes-or-no setting accepts (any case); anything else is a mistake to
#: say, not a quiet "no" (`CARELEDGER_DEBUG=ture` must not leave debugging off unnoticed).
FLAGS = {"1": True, "true": True, "yes": True, "on": True,
         "0": False, "false": False, "no": False, "off": False}
FLAG_SPELLINGS = "1 or 0, true or false, yes or no, on or off"
#: At most this much of a refused value is repeated back (a pasted secret stays unshown).
SHOWN = 40


class SettingError(ValueError):
    """A setting that cannot be used, said in one line: which, and what it must be."""


def shown(value: object, *, tail: bool = False) -> str:
    """A refused value as a message quotes it: at most `SHOWN` characters of it (the end
    of a path, where the file's name is, with `tail`)."""
    text = str(value)
    if len(text) > SHOWN:
        text = "…" + text[-SHOWN:] if tail else text[:SHOWN] + "…"
    return repr(text)


def flag_of(value: str) -> bool | None:
    """True or False for one of `FLAGS`' spellings (surrounding blanks and case aside),
    None for anything else."""
    return FLAGS.get(value.strip().lower())


def parse_flag(value: str | None, *, name: str, default: bool = False) -> bool:
    """A yes-or-no variable read outside `Settings` (Django's settings module reads its
    own), parsed exactly as `Settings` parses it: empty or unset is `default`."""
    if value is None or not value.strip():
        return default
    flag = flag_of(value)
    if flag is None:
        raise SettingError(f"{name} is {FLAG_SPELLINGS}, not {shown(value)}")
    return flag


def local_secret(data_dir: Path, name: str) -> str:
    """A secret generated once per data folder, for the embedded setup only.

    Production sets the variable; this keeps a fresh clone working without one
    and keeps tokens valid across restarts of the same demo.
    """
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(value)
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # first writer wins when processes race
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def broker_address(settings: Settings) -> str | None:
    """The configured cluster, else the embedded broker `careledger up` started."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    noted = settings.data_dir / BROKER_ADDRESS_FILE
    return noted.read_text().strip() if noted.exists() else None


def __getattr__(name: str) -> object:
    """The model and what is derived from it, imported when first asked for."""
    if name in ("Settings", "ENVIRONMENT_VARIABLES"):
        from careledger.infra import settings_model

        return getattr(settings_model, name)
    if name == "markdown_table":
        from careledger.infra import settings_table

        return settings_table.markdown_table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
