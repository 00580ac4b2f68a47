"""A server-sent events client for the tests and the benchmarks: reads a stream in a
thread of its own and hands each event over a queue, so a caller waits for events with a
deadline it sets."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    data: dict[str, Any]


class Stream:
    def __init__(self, url: str, *, token: str, last_event_id: int | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.events: queue.Queue[Event] = queue.Queue()
        self.status: queue.Queue[int] = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status.put(response.status_code)
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if self._closed.is_set():
                        return
                    if line == "":
                        if "data" in fields:
                            self.events.put(Event(int(fields.get("id", "0")),
                                                  fields.get("event", "message"),
                                                  json.loads(fields["data"])))
                        fields = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
        except (httpx.HTTPError, RuntimeError):
            return  # closed, here or by the server: a test waiting for more times out

    def opened(self, timeout: float = 30) -> int:
        return self.status.get(timeout=timeout)

    def next(self, timeout: float = 30) -> Event:
        return self.events.get(timeout=timeout)

    def quiet_for(self, seconds: float) -> bool:
        """True if no event came within `seconds` (the stream said nothing more)."""
        try:
            self.events.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self._closed.set()
        self._client.close()
