"""Confusion counts and the pass/fail bar shared by the detector benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

MIN_RECALL = 1.0
MIN_PRECISION = 0.97


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def print_score(result: Score, rows: int, positive: str, negative: str) -> None:
    positives, negatives = result.tp + result.fn, result.fp + result.tn
    print(f"rows       {rows}  ({positives} {positive}, {negatives} {negative})")
    print(f"precision  {result.precision:.2%}")
    print(f"recall     {result.recall:.2%}")
    print(f"F1         {result.f1:.4f}")
    print(f"TP {result.tp}  FP {result.fp}  FN {result.fn}  TN {result.tn}")


def exit_code(result: Score) -> int:
    """0 when the detector meets the bar, 1 (after saying why) when it does not."""
    if result.recall >= MIN_RECALL and result.precision >= MIN_PRECISION:
        return 0
    print(f"FAIL: need recall >= {MIN_RECALL:.0%} and precision >= {MIN_PRECISION:.0%}")
    return 1
