"""Intervals and paired comparisons (codeladder.stats) against hand-computed and textbook values."""

import math
import random

import pytest

from codeladder.stats import (GAINED, REGRESSED, UNCHANGED, binom_cdf, clopper_pearson, mcnemar_exact,
                              pass_at_1_interval, paired_compare, wilson)


def test_wilson_matches_the_closed_form_and_never_has_zero_width():
    assert wilson(0, 10) == pytest.approx([0.0, 0.27753], abs=1e-4)
    assert wilson(10, 10) == pytest.approx([0.72247, 1.0], abs=1e-4)
    low, high = wilson(5, 20)
    assert low == pytest.approx(0.11186, abs=1e-4) and high == pytest.approx(0.46871, abs=1e-4)


def test_clopper_pearson_against_tabled_values():
    assert clopper_pearson(0, 10)[1] == pytest.approx(1 - 0.025 ** 0.1, abs=1e-8)  # (alpha/2)^(1/n) rule
    assert clopper_pearson(3, 10) == pytest.approx([0.06674, 0.65245], abs=1e-4)
    assert binom_cdf(2, 5, 0.5) == pytest.approx(0.5)


def test_exact_mcnemar():
    assert mcnemar_exact(8, 1) == pytest.approx(2 * 10 / 512)  # 2 P(X <= 1), X ~ Bin(9, 1/2)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(3, 3) == 1.0


def test_pass_at_1_interval_methods():
    none_passed = pass_at_1_interval({str(i): (1, 0) for i in range(10)})
    assert none_passed.method == "wilson" and none_passed.low == 0.0 and none_passed.high > 0.2
    spread = pass_at_1_interval({str(i): (5, i % 3) for i in range(40)})
    assert spread.method == "task-clustered t" and spread.low < 0.2 < spread.high
    all_zero = pass_at_1_interval({str(i): (10, 0) for i in range(40)})
    assert all_zero.method.startswith("wilson on tasks") and all_zero.high > 0.05  # never zero width


def test_paired_outcomes_are_stated_only_when_the_interval_excludes_zero():
    before = {str(i): (1, int(i < 10)) for i in range(100)}
    better = {str(i): (1, int(i < 20)) for i in range(100)}
    gained = paired_compare(before, better)
    assert gained.outcome == GAINED and gained.ci95[0] > 0 and gained.p_value < 0.05
    assert len(gained.gained) == 10 and gained.lost == [] and gained.delta == pytest.approx(0.1)
    assert paired_compare(better, before).outcome == REGRESSED
    same = paired_compare(before, before)
    assert same.outcome == UNCHANGED and same.ci95[0] < 0 < same.ci95[1]  # no zero-width interval
    few = paired_compare({str(i): (1, 0) for i in range(20)}, {str(i): (1, int(i < 3)) for i in range(20)})
    assert few.outcome == UNCHANGED and few.p_value == pytest.approx(0.25)  # 3 of 3 flips: not enough


def test_paired_bootstrap_for_several_samples():
    rng = random.Random(1)
    before = {str(i): (8, rng.randint(0, 3)) for i in range(120)}
    after = {t: (8, min(8, c + 2)) for t, (n, c) in before.items()}
    result = paired_compare(before, after)
    assert result.method.startswith("paired bootstrap") and result.outcome == GAINED
    assert result.ci95[0] <= result.delta <= result.ci95[1] and math.isclose(result.delta, 0.25)


def test_newcombe_covers_the_truth_at_its_nominal_rate():
    """Simulated paired runs with a known delta: the 95% interval holds it in about 95% of replications."""
    rng = random.Random(7)
    covered, rounds, tasks = 0, 400, 80
    for _ in range(rounds):
        before, after = {}, {}
        for t in range(tasks):
            base = rng.random() < 0.3
            before[str(t)] = (1, int(base))
            after[str(t)] = (1, int(base if rng.random() < 0.8 else rng.random() < 0.4))
        result = paired_compare(before, after)
        covered += result.ci95[0] <= 0.1 * (0.4 - 0.3) * 2 <= result.ci95[1]
    assert covered / rounds >= 0.9
