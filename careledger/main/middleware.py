"""The gate (gateways/callers.py) as Django builds middleware: by name, with no arguments;
it finds what this process wired here, in the composition root."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from careledger.gateways import callers
from careledger.main import wiring


class Callers(callers.Callers):
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response, gate=lambda: wiring.installed().gate)
