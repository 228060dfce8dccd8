"""pass@k by the unbiased estimator of Chen et al. (2021) (its intervals: :mod:`codeladder.stats`).

``pass@k = 1 - C(n-c, k) / C(n, k)``, computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` so no
binomial coefficient is ever formed (they overflow floats for n in the hundreds).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c of them correct) passes."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1 (n={n}, c={c}, k={k})")
    if k > n:
        raise ValueError(f"k={k} exceeds the number of samples n={n}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def mean_pass_at_k(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> dict[str, float]:
    """Mean over tasks for every k that every task has enough samples for; keyed by k as a string."""
    if not counts:
        return {}
    smallest_n = min(n for n, _ in counts.values())
    return {
        str(k): sum(pass_at_k(n, c, k) for n, c in counts.values()) / len(counts)
        for k in sorted(set(ks)) if k <= smallest_n
    }
