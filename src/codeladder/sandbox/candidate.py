"""The untrusted side: runs a sample's code and answers calls from its checker, nothing else.

Runs in a process forked from the zygote *before* the zygote has read the job's tests or expected
outputs, so nothing secret is in its memory. It keeps exactly two pipe ends (requests in on fd 3,
replies out on fd 4) plus stdout/stderr (the captured output file) and ``/dev/null`` as stdin.
Requests (JSON): ``["call", name, args, kwargs, options]`` (options: ``want_args``; ``digest``: send
``repr(result)`` to be hashed; ``reduce``: ``"not_none"``) or ``["run", nonce]`` (the in-process
fallback: run the whole test program here and report with the nonce). Replies: a JSON head
(``["ok"]``, ``["raise", type, message]``, ``["load", verdict]``, ``["ready"]``, ``["verdict", nonce, verdict]``),
then for ``ok`` the result's encoding and, when asked, the arguments after the call; a small result comes
inside its head instead, ``["=", result, args after]`` (one message).

Whatever this process sends is only data to the checker: lying here changes nothing but the
bytes the checker decodes with the safe codec.
"""

from __future__ import annotations

import builtins
import json
import os
import sys

from codeladder.sandbox import codec, wire

REQUEST_FD, REPLY_FD = 3, 4
INLINE_BYTES = 1 << 16  # a result this small travels inside its reply's head: ``["=", value, args after]``


def _head(*items: object) -> bytes:
    return json.dumps(list(items)).encode()


def _load(code: str, payload: str | None, execute) -> tuple[dict | None, dict]:
    """Compile and run the sample's top level; (verdict if it failed, its namespace)."""
    namespace = {"__name__": "__sample__", "__builtins__": builtins, "__ladder_payload__": payload}
    verdict = execute(code, namespace)
    return (None if verdict["status"] == "passed" else verdict), namespace


def _encoded(result: object) -> list[bytes] | object:
    """The result's chunks; a very long sequence stays a lazy stream (encoded while it is sent)."""
    if isinstance(result, (list, tuple)) and len(result) > 100_000:
        return codec.dump_chunks(result)
    return list(codec.dump_chunks(result))


def _repr_chunks(result: object, batch: int = 20_000):
    """``repr(result)`` in pieces (a long list or tuple a slice at a time; a plain int in hex): what a digest
    is taken of. Integers print in full (the 4300-digit guard of ``int.__repr__`` is lifted meanwhile)."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield from _repr_parts(result, batch)
    finally:
        sys.set_int_max_str_digits(limit)


def _repr_parts(result: object, batch: int):
    if type(result) is int:  # decimal printing is quadratic in the digits; hex is linear
        yield b"int:" + format(result, "x").encode()
        return
    if type(result) in (list, tuple) and len(result) > batch:
        yield b"[" if type(result) is list else b"("
        for start in range(0, len(result), batch):
            yield (", " if start else "").encode() + repr(result[start:start + batch])[1:-1].encode()
        yield b"]" if type(result) is list else b")"
    else:
        yield repr(result).encode()


def _call(namespace: dict, request: list) -> None:
    _, name, args_tree, kwargs_tree, options = request
    function = namespace.get(name)
    try:
        if not callable(function):
            raise NameError(f"name {name!r} is not defined by the solution")
        args, kwargs = codec.from_tree(args_tree), codec.from_tree(kwargs_tree)
        result = function(*args, **kwargs)
        _flush_output()
        if options.get("reduce") == "not_none" and not isinstance(result, bool):
            result = result is not None
        chunks = _repr_chunks(result) if options.get("digest") else _encoded(result)
        if not isinstance(result, (list, tuple)) or len(result) <= 100_000:
            chunks = list(chunks)  # small: encoding errors become the call's exception
        after = codec.dumps(args) if options.get("want_args") else None
    except BaseException as exc:  # noqa: BLE001 - every exception of the candidate goes back as data
        _flush_output()
        wire.send(REPLY_FD, [_head("raise", type(exc).__name__, str(exc)[:2000])])
        return
    try:
        small = isinstance(chunks, list) and sum(map(len, chunks)) + len(after or b"") <= INLINE_BYTES
        if small and not options.get("digest"):
            inline = [b'["=",', *chunks, *([b",", after] if after is not None else []), b"]"]
            wire.send(REPLY_FD, [b"".join(inline)])  # the common case: one message, one read, one parse
        else:
            wire.send(REPLY_FD, [_head("ok")], chunks, *([[after]] if after is not None else []))
    except Exception:  # noqa: BLE001
        os._exit(1)  # mid-stream: the checker sees a broken message, never a pass


def _flush_output() -> None:
    """What the sample printed reaches the output file before each answer: the process may be killed after it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - a stream the sample put there is its own affair
            pass


def serve(code: str, payload: str | None, execute) -> None:
    """Load the sample, then answer requests until the checker hangs up; never returns."""
    failed, namespace = _load(code, payload, execute)
    _flush_output()
    wire.send(REPLY_FD, [_head("load", failed) if failed else _head("ready")])
    receiver = wire.Receiver(REQUEST_FD)
    while failed is None:
        try:
            request = json.loads(receiver.receive(None, 1 << 30))
        except (wire.WireError, wire.WireTimeout, ValueError):
            break
        if request[0] == "call":
            _call(namespace, request)
        elif request[0] == "run":
            verdict = execute(request[2], namespace)
            _flush_output()
            wire.send(REPLY_FD, [_head("verdict", request[1], verdict)])
        else:
            break
    os._exit(0)
