"""Interleaved repetitions and paired ratios: how the benchmarks cope with a noisy machine.

The benchmark machine is small and shared (two cores, other work, fsync on a virtual disk),
so its speed drifts over seconds. Running the variants one after another would fold that
drift into the comparison; instead each round runs every variant once, in a fresh random
order, and a variant is compared with the baseline of the same round. The reported figure is
the median over rounds, which one disturbed round cannot move.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
from collections.abc import Callable, Sequence
from typing import TypeVar

Variant = TypeVar("Variant")


def interleaved(
    variants: Sequence[Variant],
    measure: Callable[[Variant, int], float],
    *,
    rounds: int,
    rng: random.Random,
) -> dict[Variant, list[float]]:
    """``measure(variant, round)`` for every variant in every round, shuffled per round."""
    results: dict[Variant, list[float]] = {variant: [] for variant in variants}
    for round_number in range(rounds):
        order = list(variants)
        rng.shuffle(order)
        for variant in order:
            results[variant].append(measure(variant, round_number))
    return results


@dataclasses.dataclass(frozen=True)
class Ratio:
    """A variant against the baseline: median and spread of the per-round ratios."""

    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.median:.2f}"

    @property
    def spread(self) -> str:
        return f"{self.low:.2f}-{self.high:.2f}"


def paired_ratio(values: Sequence[float], baseline: Sequence[float]) -> Ratio:
    """Ratio of each round's value to the same round's baseline, summarised."""
    ratios = [value / base for value, base in zip(values, baseline, strict=True)]
    return Ratio(statistics.median(ratios), min(ratios), max(ratios))
