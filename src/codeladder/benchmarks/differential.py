"""Differential testing for EvalPlus benchmarks (HumanEval+, MBPP+), run by the sandbox's trusted checker.

EvalPlus ships inputs, not outputs: the expected output of every input is what the canonical
solution returns. :func:`record` computes them once per dataset (the canonical solution runs as
the candidate, through the same pipes and codec) with each input's round-trip time;
:func:`check_task` then calls a sample input by input, each call under
``max(1 s, 4 x the reference's time)``, and compares with EvalPlus's rules: exact equality, else
``allclose`` with the task's ``atol`` and ``rtol`` 1e-7, plus EvalPlus's few special oracles and
MBPP+'s input conversions (JSON has no tuples, sets or complex numbers). When ``atol`` is 0, EvalPlus
sets it to 1e-6 at the first input whose expected output is a float (or a list of floats) and keeps
it for the rest of that phase (base, plus): later outputs of any type are then compared with
``allclose`` too. That is order-dependent, but it decides EvalPlus's verdicts, so it is kept here.
Outputs too large to keep are stored as the sha256 of their encoding and compared exactly by digest.
Hand-written: these rules are EvalPlus's, re-stated because its package downloads data and runs the
reference in the same process as the sample.
"""

from __future__ import annotations

import json
import math as _math
import time
from collections import deque

from codeladder.sandbox import codec
from codeladder.sandbox.checker import CandidateGone, Session

MIN_LIMIT_S, FACTOR = 1.0, 4.0
TRANSFER_S, TRANSFER_BYTES_PER_S = 1.0, 10e6


def input_limit(expected: dict) -> float:
    """EvalPlus's per-input limit, ``max(1 s, 4 x the reference's time)``, plus, for a large output (compared by
    digest), time to stream it: EvalPlus times the function alone, our call also encodes and sends its result."""
    limit = max(MIN_LIMIT_S, FACTOR * expected.get("t", 0))
    if "h" in expected:
        limit += TRANSFER_S + expected.get("n", 0) / TRANSFER_BYTES_PER_S
    return limit
DIGEST_OVER = 256 << 10  # an exactly-compared expected output larger than this (as repr) is kept as a digest
DECODE_LIMIT = 64 << 20  # past this, an exactly-compared output is only ever hashed, even while recording
WINDOW_BYTES = 48 << 10  # requests in flight stay under a pipe's 64 KiB, so the checker's writes never block

# MBPP+ tasks whose JSON inputs need converting back to the Python types their functions take.
_EACH_ARG_TUPLE = {2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630,
                   726, 740, 744, 809}
_EACH_ARG_LIST_OF_TUPLES = {63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}
_FIRST_ARG_LIST_OF_TUPLES = {75, 413, 444, 753}
_SECOND_ARG_TUPLE = {106, 750}
_FIRST_ARG_TUPLE = {250, 405, 446, 617, 720, 763, 808}
_EACH_ARG_TUPLE_OF_TUPLES = {259, 401, 445}
_ALL_LISTS_TUPLES = {580, 615, 791}
# MBPP+ tasks with special oracles.
_OUTPUT_NOT_NONE = {"check_str", "text_match_three", "text_starta_endb"}
_OUTPUT_SET_EQUAL = {"similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                     "larg_nnum", "intersection_array", "find_dissimilar", "Diff"}


_TOLERANT = {"find_zero", "sum_div", "surface_Area", "digit_distance_nums", "are_equivalent"} | _OUTPUT_NOT_NONE \
    | _OUTPUT_SET_EQUAL


def _all_tuples(value):
    return tuple(_all_tuples(v) for v in value) if isinstance(value, list) else value


def _convert_mbpp_input(number, args):
    if number in _EACH_ARG_TUPLE:
        return [tuple(a) for a in args]
    if number in _EACH_ARG_LIST_OF_TUPLES:
        return [[tuple(x) for x in a] for a in args]
    if number in _FIRST_ARG_LIST_OF_TUPLES:
        return [[tuple(x) for x in args[0]], args[1]]
    if number in _SECOND_ARG_TUPLE:
        return [args[0], tuple(args[1])]
    if number in _FIRST_ARG_TUPLE:
        return [tuple(args[0]), *args[1:]]
    if number in _EACH_ARG_TUPLE_OF_TUPLES:
        return [tuple(tuple(x) for x in a) for a in args]
    if number in _ALL_LISTS_TUPLES:
        return _all_tuples(args)
    if number == 115:
        return [[set(x) if isinstance(x, list) and x else {} for x in args[0]]]
    if number == 124:
        return [float(args[0]), complex(args[1])]
    if number == 252:
        return [complex(args[0])]
    if number == 278:
        return [tuple(tuple(x) if isinstance(x, list) else x for x in args[0])]
    if number == 722:
        return [{k: tuple(v) for k, v in args[0].items()}, *args[1:]]
    return args


def _poly(xs, x):
    return sum(c * _math.pow(x, i) for i, c in enumerate(xs))


def _surface_area(base_edge, height):
    slant = _math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 2 * base_edge * slant)


def _digit_distance(a, b):
    sa, sb = str(a), str(b)
    width = max(len(sa), len(sb))
    return sum(abs(int(x) - int(y)) for x, y in zip(sa.zfill(width), sb.zfill(width)))


def _is_floats(value):
    if isinstance(value, float):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, float) for v in value)


def _array_shape(value) -> tuple | None:
    """The shape of ``value`` as a numeric numpy array; None where numpy makes it an object or text array
    (ragged lists, strings, None, ints outside int64/uint64), on which ``np.allclose`` raises."""
    if isinstance(value, (list, tuple)):
        shapes = {_array_shape(v) for v in value}
        if None in shapes or len(shapes) > 1:
            return None
        return (len(value), *(shapes.pop() if shapes else ()))
    if isinstance(value, int) and not isinstance(value, bool):
        return () if -2**63 <= value < 2**64 else None
    return () if isinstance(value, (bool, float, complex)) else None


def _close(out, exp, atol, rtol):
    if isinstance(exp, (list, tuple)):
        return isinstance(out, (list, tuple)) and len(out) == len(exp) and all(
            _close(o, e, atol, rtol) for o, e in zip(out, exp))
    try:
        return out == exp or abs(out - exp) <= atol + rtol * abs(exp)
    except (TypeError, OverflowError):
        return False


def _allclose(out, exp, atol, rtol=1e-07):
    """``np.allclose(out, exp)`` as EvalPlus calls it, without numpy: an expected list numpy cannot hold as
    numbers makes it raise (a list with an int beyond 64 bits: HumanEval/34), so the sample fails."""
    if isinstance(exp, (list, tuple)) and _array_shape(exp) is None:
        return False
    return _close(out, exp, atol, rtol)


def _matches(dataset, entry, args, out, exp, atol):
    if dataset == "humaneval" and entry == "find_zero":
        return abs(_poly(*args, out)) <= atol
    try:
        exact = bool(out == exp)
    except Exception:
        exact = False
    if dataset == "mbpp":
        if entry == "are_equivalent":
            return True
        if entry == "sum_div":
            exact = exact or out == 0
        elif entry == "surface_Area":
            exact = exact or abs(out - _surface_area(*args)) <= atol
        elif entry == "digit_distance_nums":
            exact = exact or out == _digit_distance(*args)
        elif entry in _OUTPUT_SET_EQUAL:
            exact = set(out) == set(exp)
        elif entry in _OUTPUT_NOT_NONE:
            exact = out == exp if isinstance(out, bool) else exp == (out is not None)
    if exact:
        return True
    if atol == 0 or type(out) is not type(exp):
        return False
    return _allclose(out, exp, atol)


def phases(spec: dict) -> list[tuple[str, list]]:
    """(phase, inputs as the function takes them) for "base" then "plus"."""
    found = [(name, spec[name] if isinstance(spec.get(name), list) else []) for name in ("base", "plus")]
    if spec["dataset"] == "mbpp":
        number = int(spec["task_id"].split("/")[-1])
        found = [(name, [_convert_mbpp_input(number, a) for a in inputs]) for name, inputs in found]
    return found


def _reduce(spec: dict) -> str | None:
    """MBPP+'s "output is not None" oracles: the candidate sends only that (a ``re.Match`` cannot cross)."""
    return "not_none" if spec["dataset"] == "mbpp" and spec["entry_point"] in _OUTPUT_NOT_NONE else None


def _exact_only(spec: dict) -> bool:
    return spec["entry_point"] not in _TOLERANT and not float(spec["atol"] or 0)


def _record_one(session: Session, spec: dict, args: list) -> dict:
    """One input: the digest of ``repr(output)`` first (any size, fast), then the value unless the output
    is huge and compared exactly. A large output compared exactly is kept as its digest; one compared with
    a tolerance (a float or a flat list of floats) as its encoding. ``t``: the round-trip time of the
    call a sample will get."""
    entry, reduce = spec["entry_point"], _reduce(spec)
    try:
        hashed = session.call(entry, args, digest=True, reduce=reduce)
        if hashed.size > DECODE_LIMIT and _exact_only(spec):
            return {"t": round(hashed.seconds, 6), "h": hashed.digest, "n": hashed.size}
        reply = session.call(entry, args, reduce=reduce)
    except Exception as exc:  # noqa: BLE001 - the reference itself raised
        return {"raise": [type(exc).__name__, str(exc)[:300]]}
    if hashed.size <= DIGEST_OVER:
        return {"t": round(reply.seconds, 6), "v": codec.to_tree(reply.value)}
    if _exact_only(spec) and not _is_floats(reply.value):
        return {"t": round(hashed.seconds, 6), "h": hashed.digest, "n": hashed.size}
    return {"t": round(reply.seconds, 6), "e": codec.dumps(reply.value).decode()}


def record(session: Session, spec: dict) -> dict:
    """The reference's output (tree, text, or digest when large) and round-trip time on every input."""
    outputs = {name: [_record_one(session, spec, args) for args in inputs] for name, inputs in phases(spec)}
    return {"status": "passed", "detail": "", "outputs": outputs}


def _failed(status: str, phase: str, detail: str) -> dict:
    return {"status": status, "detail": detail, "phase": phase, "base_passed": phase == "plus"}


def _compare(spec: dict, args: list, expected: dict, reply, atol: float) -> tuple[bool, float]:
    """(equal, the atol for the phase's next inputs): EvalPlus's 1e-6 for floats sticks (module docstring)."""
    if "h" in expected:
        return reply.digest == expected["h"], atol
    want = codec.from_tree(expected["v"]) if "v" in expected else codec.loads(expected["e"])
    if atol == 0 and _is_floats(want):
        atol = 1e-6
    return _matches(spec["dataset"], spec["entry_point"], args, reply.value, want, atol), atol


def _shown(expected: dict) -> str:
    if "h" in expected:
        return f"an output of {expected['n']} encoded bytes (sha256 {expected['h'][:12]})"
    text = repr(codec.from_tree(expected["v"])) if "v" in expected else expected["e"]
    return text[:200]


def check_task(session: Session, spec: dict) -> dict:
    """Every base input, then every plus input; the first failure ends it and names its phase."""
    for name, inputs in phases(spec):
        failed = _check_phase(session, spec, name, inputs)
        if failed:
            return failed
        if name == "base":
            session.progress({"base_passed": True})
    return {"status": "passed", "detail": "", "base_passed": True}


def _check_phase(session: Session, spec: dict, name: str, inputs: list) -> dict | None:
    """One phase's inputs, their calls pipelined: requests go out ahead (under ``WINDOW_BYTES``), so the
    candidate never waits for the next one, and each reply is awaited under its input's own limit,
    counted from the previous reply's arrival (the checker's clock, not the candidate's)."""
    entry, reduce, expected = spec["entry_point"], _reduce(spec), spec["expected"][name]
    atol = float(spec["atol"] or 0)  # EvalPlus checks each phase in a fresh process
    in_flight: deque[int] = deque()  # the sizes of the requests sent and not answered yet
    sent, ahead, in_flight_bytes, last = 0, None, 0, time.monotonic()
    for index, args in enumerate(inputs):
        where = lambda: f"[{name} input {index}] {entry}({repr(args)[:200]})"  # noqa: E731
        if "raise" in expected[index]:
            raised = expected[index]["raise"][0]
            return _failed("failed", name, f"{where()}: the reference solution raises {raised} here")
        while sent < len(inputs) and "raise" not in expected[sent]:
            ahead = ahead or json.dumps(session.request(entry, inputs[sent], digest="h" in expected[sent],
                                                        reduce=reduce)).encode()
            if sent > index and in_flight_bytes + len(ahead) > WINDOW_BYTES:
                break
            try:
                session.send(ahead)
            except CandidateGone as gone:
                return _failed(gone.status, name, f"{where()}: {gone.detail}")
            in_flight.append(len(ahead))
            in_flight_bytes += len(ahead)
            sent, ahead = sent + 1, None
        try:
            reply = session.reply(last, last + input_limit(expected[index]), digest="h" in expected[index])
        except CandidateGone as gone:
            return _failed(gone.status, name, f"{where()}: {gone.detail}")
        except Exception as exc:  # noqa: BLE001 - what the candidate raised, rebuilt as data
            status = "oom" if isinstance(exc, MemoryError) else "failed"
            return _failed(status, name, f"{where()} raised {type(exc).__name__}: {str(exc)[:300]}")
        last = time.monotonic()
        in_flight_bytes -= in_flight.popleft()
        try:
            same, atol = _compare(spec, args, expected[index], reply, atol)
        except Exception:  # noqa: BLE001 - EvalPlus's rules on a value of the wrong type (set(0))
            same = False
        if not same:
            shown = "a different output" if reply.value is None else repr(reply.value)[:200]
            return _failed("failed", name, f"{where()} returned {shown}, expected {_shown(expected[index])}")
    return None
