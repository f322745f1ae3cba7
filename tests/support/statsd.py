"""A UDP socket standing in for the StatsD agent (the statsd-exporter), keeping every line the hub sends."""

from __future__ import annotations

import re
import socket
import threading
import time

STATSD_LINE = re.compile(r"^(?P<name>[^:]+):(?P<value>-?[0-9.]+)\|(?P<type>c|g|ms)$")


class StatsdSink:
    """A UDP socket on 127.0.0.1 that keeps every StatsD line it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.received.extend(data.decode("ascii").splitlines())

    def metrics(self) -> dict[str, list[tuple[float, str]]]:
        """Name -> every (value, type) received, in order."""
        found: dict[str, list[tuple[float, str]]] = {}
        for line in self.received:
            match = STATSD_LINE.match(line)
            assert match, f"not a StatsD line: {line!r}"
            found.setdefault(match["name"], []).append((float(match["value"]), match["type"]))
        return found

    def last(self, name: str) -> float:
        return self.metrics()[name][-1][0]

    def wait_for(self, count: int, timeout_s: float = 5) -> None:
        """Until at least ``count`` lines arrived (UDP on loopback is quick, not instant)."""
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()
