"""Message framing on the two pipes between a checker and its candidate.

A message is a run of chunks, each a 4-byte big-endian length then that many bytes, ended by a
zero-length chunk: the sender can stream an output of any size without knowing it in advance,
and the receiver can bound, hash or refuse it as it arrives. Hand-written (a dozen lines of
``os.read``/``select``) because the receiving side must enforce deadlines and size limits on a
peer it does not trust, which no standard-library framing does.
"""

from __future__ import annotations

import os
import select
import struct
import time
from collections.abc import Callable, Iterable

_LEN = struct.Struct(">I")
MAX_CHUNK = 1 << 24
_FLUSH = 1 << 20


class WireError(Exception):
    """The peer closed the pipe, broke the framing, or sent more than allowed."""


class WireTimeout(Exception):
    """No complete message before the deadline."""


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_exact(fd: int, size: int) -> bytes:
    """Exactly ``size`` bytes from a trusted, blocking channel (the harness's job pipes)."""
    parts, got = [], 0
    while got < size:
        chunk = os.read(fd, min(size - got, 1 << 22))
        if not chunk:
            raise EOFError("the harness closed the channel")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def send(fd: int, *messages: Iterable[bytes]) -> None:
    """Write messages (blocking), each a run of chunks; small ones leave in one ``write``, so the peer
    wakes once per exchange instead of once per chunk."""
    pending = bytearray()
    for chunks in messages:
        for chunk in chunks:
            for start in range(0, len(chunk), MAX_CHUNK):
                part = chunk[start:start + MAX_CHUNK]
                if part:
                    pending += _LEN.pack(len(part))
                    pending += part
                    if len(pending) >= _FLUSH:
                        write_all(fd, pending)
                        pending = bytearray()
        pending += _LEN.pack(0)
    write_all(fd, pending)


class Receiver:
    """Reads messages from a peer that may lie, stall or flood; every read honours a deadline."""

    def __init__(self, fd: int):
        self.fd = fd
        self._buffer = bytearray()

    def _fill(self, want: int, deadline: float) -> None:
        while len(self._buffer) < want:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                raise WireTimeout()
            chunk = os.read(self.fd, max(1 << 16, min(want - len(self._buffer), 1 << 22)))
            if not chunk:
                raise WireError("the candidate closed its end before answering")
            self._buffer += chunk

    def _take(self, size: int, deadline: float) -> bytes:
        self._fill(size, deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def receive(self, deadline: float, limit: int, sink: Callable[[bytes], None] | None = None) -> bytes:
        """One message. With ``sink`` the chunks go there (only the size is bounded) and b"" is returned."""
        parts, total = [], 0
        while True:
            (size,) = _LEN.unpack(self._take(4, deadline))
            if size == 0:
                return b"".join(parts)
            total += size
            if size > MAX_CHUNK or total > limit:
                raise WireError(f"the candidate sent more than {limit} bytes")
            chunk = self._take(size, deadline)
            if sink is None:
                parts.append(chunk)
            else:
                sink(chunk)
