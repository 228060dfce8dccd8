"""The safe codec: round trips of plain values, subclasses flattened to their builtin base, hostile input refused."""

import math

import pytest

from codeladder.sandbox import codec


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, -(2 ** 70), 1.5, -0.0, float("inf"), "x\udc80y", b"\x00\xff", bytearray(b"ab"),
    1 + 2j, [1, [2, (3,)]], (), {1, "a"}, frozenset({(1, 2)}), {(1, 2): [3], "k": None}, range(1, 10, 3),
])
def test_round_trip(value):
    back = codec.loads(codec.dumps(value))
    assert back == value and type(back) is type(value)


def test_nan_and_iterators():
    assert math.isnan(codec.loads(codec.dumps(float("nan"))))
    back = codec.loads(codec.dumps(x * 2 for x in range(3)))
    assert list(back) == [0, 2, 4] and back != [0, 2, 4]  # still an iterator, as the original compares


def test_always_equal_subclasses_arrive_as_plain_values():
    class Eq(float):
        def __eq__(self, other):
            return True

    back = codec.loads(codec.dumps([Eq(0.0)]))
    assert type(back[0]) is float and back[0] != 0.5


def test_unknown_objects_cannot_be_sent():
    with pytest.raises(codec.CodecError):
        codec.dumps(object())
    loop: list = []
    loop.append(loop)
    with pytest.raises(codec.CodecError):
        codec.dumps(loop)


@pytest.mark.parametrize("raw", [b'{"a": 1}', b'["zz", 1]', b'["s", ["l"]]', b"[" * 5000, b"\xff", b'["d", 1]',
                                 b'["r", 0, 1, 0]', b'["y", "!!"]'])
def test_hostile_encodings_are_refused(raw):
    with pytest.raises(codec.CodecError):
        codec.loads(raw)


def test_streamed_encoding_is_byte_identical():
    value = [(str(i), i) for i in range(50_000)]
    assert b"".join(codec.dump_chunks(value)) == codec.dumps(value)


def test_integers_too_long_for_json_text():
    big = 3 ** 40000
    assert codec.loads(codec.dumps([big])) == [big]
