"""Statistics that compare two samples: percentile-bootstrap intervals of medians and of their ratio, and
Mann-Whitney's U test with the smallest p it can reach.

Apart from the verdicts (``analysis.verdicts``), which read them by one rule, so that the ranking and the
knob costs draw their intervals the same way.  numpy and scipy are imported when used: a
text summary without intervals never waits for them.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

SIGNIFICANCE = 0.05  # a difference is significant when Mann-Whitney's two-sided p is below this
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20261123  # fixed: the same files always give the same verdict


def bootstrap_generator(identity: bytes = b"") -> Any:
    """The random numbers of a bootstrap: a fixed seed, so the same files always give the same figures.

    ``identity``: what a sample is of (a configuration's key), when its resamples are drawn once for every
    figure that reads them; its seed is BOOTSTRAP_SEED with the identity's digest, so its resamples are the
    same whatever other samples are analyzed with it."""
    import hashlib

    import numpy

    if not identity:
        return numpy.random.default_rng(BOOTSTRAP_SEED)
    return numpy.random.default_rng([BOOTSTRAP_SEED, int.from_bytes(hashlib.sha256(identity).digest()[:16], "big")])


def bootstrap_medians(values: Sequence[float], generator: Any) -> Any:
    """The medians of BOOTSTRAP_RESAMPLES resamples of ``values`` (with replacement), drawn from ``generator``.

    Only what a median reads of a resample is drawn: its middle order statistics (``_middle_positions``).
    The same distribution as drawing every value of every resample, with one or two draws per resample
    instead of n: the resamples of ten thousand runs take a millisecond and no more memory than their medians.
    """
    import numpy

    ordered = numpy.sort(numpy.asarray(values, dtype=float))
    lower, upper = _middle_positions(len(ordered), generator)
    return (ordered[lower] + ordered[upper]) / 2


def _middle_positions(n: int, generator: Any) -> tuple[Any, Any]:
    """Where, among n sorted values, each resample of n draws has its middle order statistics (ranks
    k = (n + 1) // 2 and n // 2 + 1: one and the same for odd n).

    A position drawn uniformly from 0..n-1 is floor(n U) for U uniform on [0, 1), and floor keeps the order:
    the k-th smallest of n positions is floor(n U_(k)).  The k-th smallest of n uniforms is Beta(k, n - k + 1);
    the next one lies above it by a Beta(1, n - k) share of what remains.
    """
    import numpy

    rank = (n + 1) // 2
    kth = generator.beta(rank, n - rank + 1, BOOTSTRAP_RESAMPLES)
    lower = numpy.minimum((kth * n).astype(numpy.int64), n - 1)
    if n % 2:
        return lower, lower
    following = kth + (1 - kth) * generator.beta(1, n - rank, BOOTSTRAP_RESAMPLES)
    return lower, numpy.minimum((following * n).astype(numpy.int64), n - 1)


def percentile_interval(samples: Any) -> tuple[float, float]:
    """The 95 % percentile interval of bootstrap figures: ``numpy.percentile(samples, [2.5, 97.5])``, its
    linear interpolation step by step, from the four order statistics it reads (no sort of them all, and
    numpy's masked arrays, which its percentile imports, never loaded)."""
    import numpy

    positions = [(len(samples) - 1) * (percent / 100) for percent in (2.5, 97.5)]
    around = [(math.floor(position), min(math.floor(position) + 1, len(samples) - 1)) for position in positions]
    ordered = numpy.partition(samples, [index for pair in around for index in pair])
    bounds = []
    for position, (lower, upper) in zip(positions, around):
        below, above, weight = float(ordered[lower]), float(ordered[upper]), position - lower
        step = above - below
        bounds.append(above - step * (1 - weight) if weight >= 0.5 else below + step * weight)
    return bounds[0], bounds[1]


def bootstrap_ratios(baseline: Sequence[float], new: Sequence[float]) -> Any:
    """Medians of new over medians of baseline, over the resamples (fixed seed)."""
    generator = bootstrap_generator()
    old = bootstrap_medians(baseline, generator)
    return bootstrap_medians(new, generator) / old


def bootstrap_ratio_interval(baseline: Sequence[float], new: Sequence[float]) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of median(new) / median(baseline)."""
    return percentile_interval(bootstrap_ratios(baseline, new))


def mann_whitney_p(baseline: Sequence[float], new: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U p-value (1.0 when the samples cannot differ)."""
    from scipy.stats import mannwhitneyu

    if len(set(baseline) | set(new)) == 1:
        return 1.0
    return float(mannwhitneyu(new, baseline, alternative="two-sided").pvalue)


def smallest_p(n_baseline: int, n_new: int) -> float:
    """The smallest two-sided p Mann-Whitney's exact test can give: every run of one side below every
    run of the other, one of the C(n1 + n2, n1) orders, counted on both sides."""
    return min(1.0, 2 / math.comb(n_baseline + n_new, n_baseline))


def runs_for_significance(n_baseline: int, n_new: int) -> int:
    """The fewest runs of each side (keeping those there are) with which p < 0.05 can be reached."""
    runs = 1
    while smallest_p(max(n_baseline, runs), max(n_new, runs)) >= SIGNIFICANCE:
        runs += 1
    return runs
