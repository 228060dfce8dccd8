"""Differential testing for EvalPlus benchmarks (HumanEval+, MBPP+), run *inside* the sandbox.

EvalPlus ships inputs, not outputs: the expected output of every input is what the canonical
solution returns. This file's source is prepended to each test program, so it must stay
self-contained (standard library only). The comparison follows EvalPlus's rules: exact
equality, else ``allclose`` with the task's ``atol`` (1e-6 for float outputs when it is 0)
and ``rtol`` 1e-7, plus EvalPlus's few special oracles and MBPP+'s input conversions
(JSON has no tuples, sets or complex numbers).
"""

import copy as _copy
import json as _json
import math as _math

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


def _allclose(out, exp, atol, rtol=1e-07):
    if isinstance(exp, (list, tuple)):
        return isinstance(out, (list, tuple)) and len(out) == len(exp) and all(
            _allclose(o, e, atol, rtol) for o, e in zip(out, exp))
    try:
        return abs(out - exp) <= atol + rtol * abs(exp)
    except TypeError:
        return False


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
    tolerance = atol if atol or not _is_floats(exp) else 1e-6
    if tolerance == 0 or type(out) is not type(exp):
        return False
    return _allclose(out, exp, tolerance)


class LadderTimeout(Exception):
    """One input ran past its limit (the zygote reports it as ``timeout``)."""


def _on_alarm(signum, frame):
    raise LadderTimeout("an input ran past its time limit")


def __ladder_differential__(reference_src, sample_src, payload, min_limit_s=1.0, factor=4.0):
    """Compare the sample with the reference input by input, each input under its own time limit
    (max(min_limit_s, factor x the reference's time on it)), as EvalPlus does."""
    import signal as _signal
    import time as _time

    spec = _json.loads(payload)
    dataset, entry, atol = spec["dataset"], spec["entry_point"], float(spec["atol"] or 0)
    phases = [(name, spec[name] if isinstance(spec[name], list) else []) for name in ("base", "plus")]
    if dataset == "mbpp":
        number = int(spec["task_id"].split("/")[-1])
        phases = [(name, [_convert_mbpp_input(number, a) for a in inputs]) for name, inputs in phases]
    reference = {"__name__": "__reference__"}
    exec(compile(reference_src, "<reference>", "exec"), reference)
    sample = {"__name__": "__sample__"}
    exec(compile(sample_src, "<sample>", "exec"), sample)
    if entry not in sample:
        raise NameError(f"the solution does not define {entry!r}")
    expect_fn, function = reference[entry], sample[entry]
    _signal.signal(_signal.SIGALRM, _on_alarm)
    for name, inputs in phases:
        for index, args in enumerate(inputs):
            started = _time.perf_counter()
            expected = expect_fn(*_copy.deepcopy(args))
            limit = max(min_limit_s, factor * (_time.perf_counter() - started))
            if dataset == "mbpp" and entry in _OUTPUT_NOT_NONE:
                expected = expected is not None
            _signal.setitimer(_signal.ITIMER_REAL, limit)
            try:
                out = function(*_copy.deepcopy(args))
            finally:
                _signal.setitimer(_signal.ITIMER_REAL, 0)
            if not _matches(dataset, entry, args, out, expected, atol):
                raise AssertionError(f"[{name} input {index}] {entry}({repr(args)[:200]}) returned "
                                     f"{repr(out)[:200]}, expected {repr(expected)[:200]}")
            del out, expected
