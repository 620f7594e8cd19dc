"""Time `auditor gate` on a generated platform repo of N templates (default 1,000).

    python benchmarks/gate.py [--templates N] [--repeat R]

The baseline, run in the same process on the same files, is the least any gate must do: read
every file and json.loads it. The figure that matters is the ratio gate / baseline.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.audit import run_gate  # noqa: E402
from auditor.model import Status  # noqa: E402
from auditor.policy.checks import load_all  # noqa: E402
from auditor.policy.loader import load_policies  # noqa: E402
from auditor.resources import POLICIES_DIR, SCHEMAS_DIR  # noqa: E402

ONBOARDING = Path("templates/customer/onboarding/schemas")


def generate(root: Path, count: int) -> None:
    """count templates cycled from the shipped tenant schemas, and a SQL doc for a fifth of
    them, so every rule has work to do."""
    sources = sorted((SCHEMAS_DIR / "tenant").glob("*.json"))
    folder = root / ONBOARDING
    folder.mkdir(parents=True)
    doc = ["-- generated SQL doc"]
    for i in range(count):
        source = sources[i % len(sources)]
        name = f"{source.stem}_{i:05d}"
        shutil.copy(source, folder / f"{name}.json")
        if i % 5 == 0:
            doc.append(f"CREATE TABLE `{{project_id}}.{{tenant_id}}.{name}` (")
            doc.append("  run_id STRING NOT NULL OPTIONS(description='Run id'),")
            doc.append("  created_at TIMESTAMP")
            doc.append(");")
    (root / "database").mkdir()
    (root / "database" / "tenant_dataset.sql").write_text("\n".join(doc) + "\n")


def baseline(root: Path) -> float:
    started = time.perf_counter()
    for path in sorted(root.rglob("*.json")):
        json.loads(path.read_text(encoding="utf-8"))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--templates", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    registry = dict(load_all())
    rules = list(load_policies([POLICIES_DIR], registry).rules)
    with tempfile.TemporaryDirectory(prefix="auditor-bench-") as tmp:
        root = Path(tmp)
        generate(root, args.templates)
        base_times, gate_times = [], []
        findings = 0
        for _ in range(args.repeat):
            base_times.append(baseline(root))
            started = time.perf_counter()
            result = run_gate(root, rules, registry, lambda: datetime.now(UTC))
            gate_times.append(time.perf_counter() - started)
            findings = sum(1 for f in result.report.findings if f.status is Status.FAIL)
        base, gate = statistics.median(base_times), statistics.median(gate_times)
    print(f"templates: {args.templates} (+1 SQL doc of {args.templates // 5} tables)")
    print(f"baseline (read + json.loads every file): {base:.3f} s")
    print(f"auditor gate (load, validate, 5 rules):   {gate:.3f} s")
    print(f"ratio gate / baseline: {gate / base:.1f}x   FAIL findings: {findings}")
    print(f"per template: {gate / args.templates * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
