"""Processes the end-to-end tests start."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
