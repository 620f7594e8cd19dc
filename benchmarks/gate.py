"""Time `auditor gate` on a generated platform repo of N templates (default 1,000).

    python benchmarks/gate.py [--templates N] [--repeat R]

The baseline, run in the same process on the same files, is the least any gate must do: read
every file and json.loads it. The figure that matters is the ratio gate / baseline. CPU time
(process_time) is printed too: on a shared machine it moves far less than wall time, so it is
the figure to compare between two versions of the gate (run this script in each checkout).
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


def baseline(root: Path) -> tuple[float, float]:
    """Wall and CPU seconds to read and json.loads every file."""
    started, cpu = time.perf_counter(), time.process_time()
    for path in sorted(root.rglob("*.json")):
        json.loads(path.read_text(encoding="utf-8"))
    return time.perf_counter() - started, time.process_time() - cpu


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
        base_times, gate_times, base_cpu, gate_cpu = [], [], [], []
        findings = 0
        for _ in range(args.repeat):
            wall, cpu = baseline(root)
            base_times.append(wall)
            base_cpu.append(cpu)
            started, cpu_started = time.perf_counter(), time.process_time()
            result = run_gate(root, rules, registry, lambda: datetime.now(UTC))
            gate_times.append(time.perf_counter() - started)
            gate_cpu.append(time.process_time() - cpu_started)
            findings = sum(1 for f in result.report.findings if f.status is Status.FAIL)
        base, gate = statistics.median(base_times), statistics.median(gate_times)
        cpu_base, cpu_gate = statistics.median(base_cpu), statistics.median(gate_cpu)
    print(f"templates: {args.templates} (+1 SQL doc of {args.templates // 5} tables)")
    print(f"baseline (read + json.loads every file): {base:.3f} s wall, {cpu_base:.3f} s CPU")
    print(f"auditor gate (load, validate, rules):     {gate:.3f} s wall, {cpu_gate:.3f} s CPU")
    print(f"ratio gate / baseline: {gate / base:.1f}x wall, {cpu_gate / cpu_base:.1f}x CPU")
    per_template = cpu_gate / args.templates * 1000
    print(f"FAIL findings: {findings}   per template: {per_template:.2f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
