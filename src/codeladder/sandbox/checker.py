"""The trusted side: the checks that run only dataset code and decide the verdict.

They run in the worker's checker process (:mod:`codeladder.sandbox.checker_server`), which alone
receives the job's secret part (tests, expected outputs). The names the tests call are proxies:
each call crosses the request pipe as plain data (:mod:`codeladder.sandbox.codec`), the candidate
runs its function, and the result, the arguments after the call (so in-place mutation a test
looks at is copied back), or the exception's builtin type and message come back as data.
Hand-written: no library offers a cross-process call whose result can never carry the sender's code.

A candidate that dies, stalls, floods or sends garbage breaks the session: the proxy raises
:class:`CandidateGone`, a ``BaseException`` the tests' own ``except Exception`` cannot swallow,
and the verdict stays failed (or timeout) whatever the test code does afterwards.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import importlib
import json
import os
import time
import traceback
from dataclasses import dataclass
from typing import Any

from codeladder.sandbox import codec, wire

REPLY_LIMIT = 256 << 20  # a decoded reply; digest-compared outputs are only hashed and may be larger
DIGEST_LIMIT = 16 << 30
STATUSES = ("passed", "failed", "timeout", "oom", "syntax_error", "error")


class CandidateGone(BaseException):
    """The candidate broke the session; not an ``Exception`` so test code cannot catch it."""

    def __init__(self, status: str, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


class CandidateError(Exception):
    """Stands for an exception of the candidate's own (non-builtin) type."""


@dataclass
class Reply:
    value: Any = None
    digest: str | None = None
    size: int = 0
    seconds: float = 0.0


def rebuild_exception(name: str, message: str) -> Exception:
    """The same builtin exception type; anything else becomes a plain ``Exception`` subclass."""
    cls = getattr(builtins, name, None) if isinstance(name, str) else None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except TypeError:  # UnicodeDecodeError and friends need more arguments
            pass
    return type(str(name)[:100] or "CandidateError", (CandidateError,), {})(message)


def _mutable(value: Any) -> bool:
    return isinstance(value, (list, dict, set, bytearray))


def _copy_back(originals: tuple, after: Any) -> None:
    """Make the checker's own arguments look as the candidate left them (top level, same types)."""
    if not isinstance(after, list) or len(after) != len(originals):
        return
    for old, new in zip(originals, after):
        if type(old) is not type(new):
            continue
        if isinstance(old, (list, bytearray)):
            old[:] = new
        elif isinstance(old, (dict, set)):
            old.clear()
            old.update(new)


class Session:
    """The checker's side of the two pipes; every wait is bounded by the sample's deadline."""

    def __init__(self, deadline: float, request_fd: int, reply_fd: int):
        self.deadline, self.request_fd = deadline, request_fd
        self.receiver = wire.Receiver(reply_fd)
        self.broken: CandidateGone | None = None
        self.progress = lambda fields: None

    def _break(self, status: str, detail: str) -> CandidateGone:
        self.broken = self.broken or CandidateGone(status, detail)
        return self.broken

    def _receive(self, deadline: float, limit: int = REPLY_LIMIT, sink=None) -> bytes:
        try:
            return self.receiver.receive(min(deadline, self.deadline), limit, sink)
        except wire.WireTimeout:
            which = "the wall-clock limit" if deadline >= self.deadline else "its time limit"
            raise self._break("timeout", f"the candidate did not answer within {which}") from None
        except wire.WireError as exc:
            raise self._break("failed", str(exc)) from None

    def head(self, deadline: float | None = None) -> list:
        raw = self._receive(deadline or self.deadline, 1 << 20)
        try:  # an inline result is the candidate's data: parsed as strictly as any encoded value
            head = codec.parse(raw) if raw.startswith(b'["="') else json.loads(raw)
        except (ValueError, RecursionError):
            head = None
        if not isinstance(head, list) or not head or not isinstance(head[0], str):
            raise self._break("failed", "the candidate sent a malformed reply")
        return head

    def send(self, message: list | bytes) -> None:
        if self.broken:
            raise self.broken
        try:
            wire.send(self.request_fd, [message if isinstance(message, bytes) else json.dumps(message).encode()])
        except OSError:
            raise self._break("failed", "the candidate process ended") from None

    def loaded(self) -> dict | None:
        """Wait for the candidate's top level to finish: None when it is ready, else its verdict."""
        head = self.head()
        if head[0] == "ready":
            return None
        verdict = head[1] if head[0] == "load" and len(head) > 1 and isinstance(head[1], dict) else {}
        status = verdict.get("status") if verdict.get("status") in STATUSES[1:] else "failed"
        return {"status": status, "detail": str(verdict.get("detail", "the solution did not load"))[-1500:]}

    def call(self, name: str, args: tuple, kwargs: dict | None = None, *, want_args: bool = False,
             limit_s: float | None = None, digest: bool = False, reduce: str | None = None) -> Reply:
        """Run ``name(*args, **kwargs)`` in the candidate; raises what it raised, rebuilt from data.
        With ``digest`` the candidate sends ``repr(result)``, hashed as it streams in (any size, never
        decoded: equal digests mean the very text of the expected output); without, the result is
        decoded with the safe codec (at most ``REPLY_LIMIT`` bytes)."""
        started = time.monotonic()
        self.send(self.request(name, args, kwargs, want_args=want_args, digest=digest, reduce=reduce))
        return self.reply(started, started + limit_s if limit_s else self.deadline, args, want_args, digest)

    @staticmethod
    def request(name: str, args: tuple, kwargs: dict | None = None, *, want_args: bool = False,
                digest: bool = False, reduce: str | None = None) -> list:
        """The message of a call, to :meth:`send` now and collect with :meth:`reply` later (calls may be
        pipelined: the candidate answers them in order)."""
        options = {"want_args": want_args, "digest": digest, "reduce": reduce}
        return ["call", name, codec.to_tree(list(args)), codec.to_tree(kwargs or {}), options]

    def reply(self, started: float, deadline: float, args: tuple = (), want_args: bool = False,
              digest: bool = False) -> Reply:
        """The answer to the oldest call not yet collected; raises what the candidate raised."""
        head = self.head(deadline)
        if head[0] == "raise" and len(head) == 3:
            raise rebuild_exception(head[1], str(head[2]))
        reply = Reply()
        if head[0] == "=" and len(head) == 2 + want_args and not digest:  # the result inside the head
            reply.value = self._decode(head[1], parsed=True)
            after = head[2] if want_args else None
        elif head[0] != "ok":
            raise self._break("failed", "the candidate sent a malformed reply")
        else:
            if digest:
                reply.digest, reply.size = self._hashed(deadline)
            else:
                reply.value = self._decode(self._receive(deadline))
            after = self._receive(deadline) if want_args else None
        if want_args:
            _copy_back(args, self._decode(after, parsed=head[0] == "="))
        reply.seconds = time.monotonic() - started
        return reply

    def _hashed(self, deadline: float) -> tuple[str, int]:
        hasher, size = hashlib.sha256(), [0]

        def sink(chunk: bytes) -> None:
            hasher.update(chunk)
            size[0] += len(chunk)

        self._receive(deadline, DIGEST_LIMIT, sink)
        return hasher.hexdigest(), size[0]

    def _decode(self, data: Any, parsed: bool = False) -> Any:
        """The value the candidate sent: its bytes, or (``parsed``) the tree already read from a reply's head."""
        try:
            return codec.from_tree(data) if parsed else codec.loads(data)
        except codec.CodecError as exc:
            raise self._break("failed", f"the candidate's answer could not be decoded: {exc}") from None

    def proxy(self, name: str):
        """What the tests see instead of the candidate's function."""

        def candidate(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, args, kwargs, want_args=any(map(_mutable, args))).value

        candidate.__name__ = candidate.__qualname__ = name
        return candidate


def _test_failure(exc: BaseException) -> dict:
    if isinstance(exc, MemoryError):
        return {"status": "oom", "detail": "MemoryError: the memory limit was reached"}
    tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
    return {"status": "failed", "detail": tail[-1500:]}


@functools.lru_cache(maxsize=4096)
def _compiled(source: str, filename: str):
    """Dataset code compiled once per checker process (each task's tests run n times, one per sample)."""
    return compile(source, filename, "exec")


def script(session: Session, spec: dict) -> dict:
    """HumanEval / MBPP: run the dataset's own helpers and assertions against proxies."""
    namespace: dict[str, Any] = {"__name__": "__checker__", "__builtins__": builtins}
    exec(_compiled(spec.get("prelude", ""), "<dataset prelude>"), namespace)
    for name in spec["proxies"]:
        namespace[name] = session.proxy(name)
    try:
        exec(_compiled(spec["test"], "<tests>"), namespace)
    except Exception as exc:  # noqa: BLE001 - a failing assertion, or what the candidate raised
        return _gone(session.broken) if session.broken else _test_failure(exc)
    return {"status": "passed", "detail": ""}


def in_process(session: Session, spec: dict) -> dict:
    """The fallback for tests that cannot be split: the candidate runs them and reports with a nonce."""
    nonce = os.urandom(16).hex()
    session.send(["run", nonce, spec.get("test", "")])
    head = session.head()
    if head[:2] != ["verdict", nonce] or len(head) != 3 or not isinstance(head[2], dict):
        return {"status": "failed", "detail": "the program ended without a verdict"}
    status = head[2].get("status")
    return {"status": status if status in STATUSES else "failed", "detail": str(head[2].get("detail", ""))[-1500:]}


def _gone(exc: CandidateGone) -> dict:
    return {"status": exc.status, "detail": exc.detail, "candidate_gone": True}


def check(spec: dict, deadline: float, fds: tuple[int, int], progress=lambda fields: None) -> dict:
    """Run one job's checks over the candidate's pipes ``fds`` (requests out, replies in); the verdict
    (with ``checker``) for the zygote. ``progress`` reports partial results (e.g. the base phase passed)
    that count if the sample is killed later."""
    session = Session(deadline, *fds)
    session.progress = progress
    kind = spec.get("kind", "in-process")
    try:
        verdict = session.loaded()
        if verdict is None:
            if kind == "script":
                verdict = script(session, spec)
            elif kind == "in-process":
                verdict = in_process(session, spec)
            else:
                module, _, function = spec["runner"].partition(":")
                verdict = getattr(importlib.import_module(module), function)(session, spec)
    except CandidateGone as exc:
        verdict = _gone(exc)
    if session.broken and verdict.get("status") == "passed":
        verdict = _gone(session.broken)
    verdict["checker"] = "in-process" if kind == "in-process" else "trusted"
    return verdict
