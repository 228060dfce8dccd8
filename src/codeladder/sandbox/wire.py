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
_END = _LEN.pack(0)
MAX_CHUNK = 1 << 24
_FLUSH = 1 << 20


# The checker's messages to its zygote (one SOCK_SEQPACKET datagram each): a kind, the job's id, a newline,
# then JSON. The zygote tells them apart without parsing, and parses once its candidate is reaped: until
# then every page it writes is copied.
PROGRESS, VERDICT, GONE = b"P", b"V", b"G"  # GONE: a verdict after the candidate broke the session


def message_head(kind: bytes, job_id: object) -> bytes:
    return kind + str(job_id).encode() + b"\n"


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


def _pieces(chunk: bytes):
    return (chunk[start:start + MAX_CHUNK] for start in range(0, len(chunk), MAX_CHUNK))


def send(fd: int, *messages: Iterable[bytes]) -> None:
    """Write messages (blocking), each a run of chunks; small ones leave in one ``write``, so the peer
    wakes once per exchange instead of once per chunk."""
    pending = bytearray()
    for chunks in messages:
        for chunk in chunks:
            parts = (chunk,) if len(chunk) <= MAX_CHUNK else _pieces(chunk)
            for part in parts:
                if part:
                    pending += _LEN.pack(len(part))
                    pending += part
                    if len(pending) >= _FLUSH:
                        write_all(fd, pending)
                        pending = bytearray()
        pending += _END
    write_all(fd, pending)


class Receiver:
    """Reads messages from a peer that may lie, stall or flood; every read honours a deadline."""

    _COMPACT = 1 << 20  # consumed bytes dropped from the buffer's front past this much (a stream of any size)

    def __init__(self, fd: int):
        self.fd = fd
        self._buffer = bytearray()

    def _fill(self, end: int, deadline: float | None) -> None:
        """Read until the buffer holds ``end`` bytes (``deadline`` None: wait as long as it takes)."""
        while len(self._buffer) < end:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and (remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]):
                raise WireTimeout()
            chunk = os.read(self.fd, max(1 << 16, min(end - len(self._buffer), 1 << 22)))
            if not chunk:
                raise WireError("the candidate closed its end before answering")
            self._buffer += chunk

    def receive(self, deadline: float | None, limit: int, sink: Callable[[bytes], None] | None = None) -> bytes:
        """One message. With ``sink`` the chunks go there (only the size is bounded) and b"" is returned.
        ``deadline`` None blocks (the candidate's side: its checker decides how long it may take)."""
        buffer, parts, total, at = self._buffer, [], 0, 0
        try:
            while True:
                if len(buffer) < at + 4:
                    self._fill(at + 4, deadline)
                (size,) = _LEN.unpack_from(buffer, at)
                at += 4
                if size == 0:
                    return b"".join(parts)
                total += size
                if size > MAX_CHUNK or total > limit:
                    raise WireError(f"the candidate sent more than {limit} bytes")
                if len(buffer) < at + size:
                    self._fill(at + size, deadline)
                chunk = buffer[at:at + size]
                at += size
                if sink is None:
                    parts.append(chunk)
                else:
                    sink(chunk)
                if at > self._COMPACT:
                    del buffer[:at]
                    at = 0
        finally:
            del buffer[:at]
