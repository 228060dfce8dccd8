from math import comb

import pytest

from codeladder.scoring import mean_pass_at_k, pass_at_k


def by_binomials(n: int, c: int, k: int) -> float:
    return 1 - comb(n - c, k) / comb(n, k)


def test_hand_computed_value():
    assert pass_at_k(20, 10, 5) == pytest.approx(0.98374613003096, abs=1e-12)
    assert pass_at_k(20, 10, 5) == pytest.approx(by_binomials(20, 10, 5), abs=1e-12)


@pytest.mark.parametrize("n,c,k", [(10, 3, 1), (10, 3, 5), (200, 7, 100), (100, 1, 10), (5, 5, 1), (13, 0, 3)])
def test_matches_binomial_definition(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(by_binomials(n, c, k), abs=1e-12)


def test_edges():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 0, 10) == 0.0
    assert pass_at_k(10, 8, 5) == 1.0  # n - c < k: every draw of 5 holds a correct one
    assert pass_at_k(1, 1, 1) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)


def test_stable_for_large_n():
    value = pass_at_k(2000, 3, 1000)
    assert 0 < value < 1
    assert value == pytest.approx(1 - (1000 * 999 * 998) / (2000 * 1999 * 1998), rel=1e-9)


def test_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 6)


def test_mean_skips_k_larger_than_every_task_has():
    counts = {"a": (4, 1), "b": (4, 4)}
    result = mean_pass_at_k(counts, [1, 2, 10])
    assert set(result) == {"1", "2"}
    assert result["1"] == pytest.approx((0.25 + 1.0) / 2)
    assert result["2"] == pytest.approx((0.5 + 1.0) / 2)
