"""The services this API process wired, for Django's URL configuration to build on.

Django imports `ROOT_URLCONF` by name, after `wsgi.build` has wired the process, so the
one hand-off between the two is here, inside the composition root: everything below it
is given its dependencies as arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from careledger.gateways.services import Services

if TYPE_CHECKING:  # they import Ninja, which needs Django's settings first
    from careledger.gateways.signin import PagesSignIn
    from careledger.gateways.streams.view import Streams

_wired: list[Services] = []
_pages: list[PagesSignIn] = []
_streams: list[Streams] = []


def install(services: Services, pages: PagesSignIn) -> None:
    _wired[:] = [services]
    _pages[:] = [pages]


def install_streams(streams: Streams) -> None:
    _streams[:] = [streams]


def installed_streams() -> Streams:
    if not _streams:
        raise RuntimeError("the streams are not wired: start them through `careledger stream`")
    return _streams[0]


def installed_pages() -> PagesSignIn:
    if not _pages:
        raise RuntimeError("the API is not wired: start it through `careledger serve`")
    return _pages[0]


def installed() -> Services:
    if not _wired:
        raise RuntimeError("the API is not wired: start it through `careledger serve`")
    return _wired[0]


def uninstall() -> Services | None:
    """Take the services out (a worker that exits); answer what was installed."""
    return _wired.pop() if _wired else None
