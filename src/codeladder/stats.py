"""Intervals and paired comparisons, in one place: eval summaries and ``analyze compare`` (and its recipe stage)
use them today; reports and cards still carry an interval of their own (``report/collect.py``).

- **pass@1 of one run.** n = 1 sample per task: each task is one Bernoulli trial, and the interval is Wilson's
  score interval (it keeps its coverage at 0/T and T/T, where the bootstrap and Wald give zero width). n > 1: the
  samples of a task are correlated, so the unit is the task: a t interval over the per-task pass rates
  (task-clustered) with 30 tasks or more, when it is of non-zero width and inside (0, 1); otherwise Wilson's
  interval on the tasks' summed rates, which is conservative (a mean of [0, 1]-bounded rates has variance at
  most mu (1 - mu) / T, Bhatia-Davis). The method is named next to every interval.
- **Two runs on the same tasks (paired).** n = 1: the exact McNemar p-value on the discordant tasks (b gained,
  c lost), and Newcombe's hybrid score interval for the difference of paired proportions (his method 10: Wilson
  intervals of both rates, joined through the phi correlation of the 2x2 table); it has non-zero width even with
  no discordant task. n > 1: a paired bootstrap over tasks of the per-task rate differences, its p-value the
  two-sided share of resampled deltas across zero; where every difference is zero, the interval is +-u, u the
  Clopper-Pearson upper bound of a discordance rate of 0 / T (never zero width).
- **Two independent task sets** (one run's tasks before and after a cutoff): the difference of their pass@1 with
  Zou and Donner's MOVER interval built from each side's own interval above (Newcombe's method 10 when both are
  Wilson's).
- **Outcome**: ``gained`` only when the delta's interval lies above zero and p < 0.05, ``regressed`` only when
  it lies below zero and p < 0.05, else ``no measurable change``.

Hand-written (no scipy): the binomial tail and its inverse by bisection are a few lines, exact to 1e-10, and
keep scoring light enough for sandbox-side processes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

Z95 = 1.959963984540054
GAINED, REGRESSED, UNCHANGED = "gained", "regressed", "no measurable change"


def wilson(successes: float, trials: int, z: float = Z95) -> list[float]:
    """Wilson's score interval for a proportion (``successes`` may be fractional: summed pass rates)."""
    if trials <= 0:
        return [0.0, 1.0]
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _log_binom_pmf(k: int, n: int, p: float) -> float:
    if p <= 0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1:
        return 0.0 if k == n else -math.inf
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p)
            + (n - k) * math.log1p(-p))


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return min(1.0, sum(math.exp(_log_binom_pmf(i, n, p)) for i in range(k + 1)))


def _bisect(f, target: float, increasing: bool) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def clopper_pearson(successes: int, trials: int, alpha: float = 0.05) -> list[float]:
    """The exact (Clopper-Pearson) interval for ``successes`` of ``trials``."""
    if trials <= 0:
        return [0.0, 1.0]
    low = 0.0 if successes == 0 else _bisect(lambda p: 1 - binom_cdf(successes - 1, trials, p), alpha / 2, True)
    high = 1.0 if successes == trials else _bisect(lambda p: binom_cdf(successes, trials, p), alpha / 2, False)
    return [low, high]


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value: the binomial test of the discordant tasks against 1/2."""
    discordant = gained + lost
    if discordant == 0:
        return 1.0
    return min(1.0, 2 * binom_cdf(min(gained, lost), discordant, 0.5))


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    method: str

    def as_list(self) -> list[float]:
        return [self.low, self.high]


def _t975(df: int) -> float:
    """Student's t 97.5% quantile (Cornish-Fisher expansion; within 1e-3 of the tables from df = 3)."""
    if df <= 0:
        return math.inf
    z = Z95
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3


def pass_at_1_interval(counts: Mapping[str, tuple[int, int]]) -> Interval:
    """95% interval of mean pass@1 over tasks; ``counts`` maps task -> (n samples, c passed)."""
    rates = [c / n for n, c in counts.values() if n]
    if rates and all(n == 1 for n, _ in counts.values() if n):
        low, high = wilson(sum(rates), len(rates))
        return Interval(low, high, "wilson")
    return rate_interval(rates)


def rate_interval(rates: list[float]) -> Interval:
    """95% interval of the mean of per-task rates in [0, 1] (pass@1 with n > 1, or pass@k): a task-clustered
    t interval when there are >= 30 tasks and it stays inside (0, 1), else Wilson on the summed rates (wider,
    never of zero width)."""
    tasks = len(rates)
    if not tasks:
        return Interval(0.0, 1.0, "none (no task scored)")
    mean = sum(rates) / tasks
    if tasks >= 30:
        sd = math.sqrt(sum((r - mean) ** 2 for r in rates) / (tasks - 1))
        half = _t975(tasks - 1) * sd / math.sqrt(tasks)
        if half > 0 and 0 < mean - half and mean + half < 1:
            return Interval(mean - half, mean + half, "task-clustered t")
    low, high = wilson(sum(rates), tasks)
    return Interval(low, high, "wilson on tasks (conservative)")


def difference_interval(first: float, first_ci: Sequence[float], second: float,
                        second_ci: Sequence[float]) -> list[float]:
    """95% interval of ``first - second`` for two independent estimates with their own 95% intervals (MOVER)."""
    delta = first - second
    down = math.sqrt((first - first_ci[0]) ** 2 + (second_ci[1] - second) ** 2)
    up = math.sqrt((first_ci[1] - first) ** 2 + (second - second_ci[0]) ** 2)
    return [max(-1.0, delta - down), min(1.0, delta + up)]


@dataclass
class PairedComparison:
    """AFTER minus BEFORE on the tasks both runs scored."""

    tasks: int
    before: float  # mean pass@1 on the shared tasks
    after: float
    delta: float
    ci95: list[float]
    method: str
    p_value: float | None
    gained: list[str] = field(default_factory=list)  # tasks solved more often after (n = 1: failed -> passed)
    lost: list[str] = field(default_factory=list)
    outcome: str = UNCHANGED

    def as_dict(self) -> dict:
        return asdict(self)


def _outcome(low: float, high: float, p_value: float) -> str:
    if p_value >= 0.05:
        return UNCHANGED
    return GAINED if low > 0 else REGRESSED if high < 0 else UNCHANGED


def _newcombe(a: int, b: int, c: int, d: int) -> list[float]:
    """Newcombe's method 10 for theta = p_after - p_before; a both pass, b before only, c after only, d neither."""
    n = a + b + c + d
    p_before, p_after = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n)
    l2, u2 = wilson(a + c, n)
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denominator) if denominator else 0.0
    theta = p_after - p_before
    down = math.sqrt(max(0.0, (p_after - l2) ** 2 - 2 * phi * (p_after - l2) * (u1 - p_before)
                         + (u1 - p_before) ** 2))
    up = math.sqrt(max(0.0, (u2 - p_after) ** 2 - 2 * phi * (u2 - p_after) * (p_before - l1)
                       + (p_before - l1) ** 2))
    return [max(-1.0, theta - down), min(1.0, theta + up)]


def _no_discordance_bound(tasks: int) -> float:
    return clopper_pearson(0, tasks)[1] if tasks else 1.0


def paired_compare(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]],
                   rounds: int = 4000, seed: int = 0) -> PairedComparison:
    """The paired comparison of two runs' per-task (n, c) counts on their shared tasks."""
    shared = [t for t in before if t in after and before[t][0] and after[t][0]]
    if not shared:
        return PairedComparison(0, 0.0, 0.0, 0.0, [-1.0, 1.0], "none (no shared task)", None)
    rate_b = {t: before[t][1] / before[t][0] for t in shared}
    rate_a = {t: after[t][1] / after[t][0] for t in shared}
    diffs = [rate_a[t] - rate_b[t] for t in shared]
    tasks = len(shared)
    delta = sum(diffs) / tasks
    gained = [t for t in shared if rate_a[t] > rate_b[t]]
    lost = [t for t in shared if rate_a[t] < rate_b[t]]
    single = all(before[t][0] == 1 and after[t][0] == 1 for t in shared)
    if not gained and not lost:
        bound = _no_discordance_bound(tasks)
        ci, method = [-bound, bound], "no discordant task: +-exact bound on the discordance rate"
        p_value = 1.0
    elif single:
        both = sum(1 for t in shared if rate_a[t] == rate_b[t] == 1)
        ci = _newcombe(both, len(lost), len(gained), tasks - both - len(lost) - len(gained))
        method = "Newcombe hybrid score (paired); exact McNemar p"
        p_value = mcnemar_exact(len(gained), len(lost))
    else:
        rng = random.Random(seed)
        means = sorted(sum(rng.choices(diffs, k=tasks)) / tasks for _ in range(rounds))
        ci = [means[int(0.025 * (rounds - 1))], means[int(0.975 * (rounds - 1))]]
        below = sum(m <= 0 for m in means) / rounds
        above = sum(m >= 0 for m in means) / rounds
        p_value, method = min(1.0, 2 * min(below, above)), f"paired bootstrap over tasks ({rounds} rounds)"
    return PairedComparison(tasks, sum(rate_b.values()) / tasks, sum(rate_a.values()) / tasks, delta,
                            [float(ci[0]), float(ci[1])], method, p_value, gained, lost,
                            _outcome(ci[0], ci[1], p_value))


__all__ = ["wilson", "clopper_pearson", "binom_cdf", "mcnemar_exact", "Interval", "pass_at_1_interval",
           "difference_interval",
           "PairedComparison", "paired_compare", "Z95", "GAINED", "REGRESSED", "UNCHANGED"]
