"""Each scenario's duration (and its slowest steps) from a scenario report.

Usage:
    python benchmarks/scenarios_benchmark.py [reports/scenarios/all/scenarios.json] [--steps N]
    python benchmarks/scenarios_benchmark.py --run [--report-dir DIR]   # runs `lab scenario --all` first

Without a path it reads `$RHDEMO_LAB_REPORTS/scenarios/all/scenarios.json` (default base `reports/`),
the report `tests/cluster/test_scenarios.py` writes. Prints, asserts nothing; the budget for all
scenarios on 2 cores is 30 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from lab.config import REPO_ROOT
from lab.scenario.report import JSON_FILE, duration_text, durations

BUDGET_SECONDS = 30 * 60


def default_report() -> Path:
    return Path(os.environ.get("RHDEMO_LAB_REPORTS", REPO_ROOT / "reports")) / "scenarios" / "all" / JSON_FILE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, help="a scenarios.json")
    parser.add_argument("--steps", type=int, default=3, help="slowest steps shown per scenario")
    parser.add_argument("--run", action="store_true", help="run `lab scenario --all` first")
    parser.add_argument("--report-dir", type=Path, default=Path("/tmp/rhdemo-lab-scenarios-benchmark"))
    args = parser.parse_args()

    path = args.report or default_report()
    if args.run:
        subprocess.run([sys.executable, "-m", "lab", "scenario", "--all", "--report-dir", str(args.report_dir)],
                       cwd=REPO_ROOT, check=False)
        path = args.report_dir / JSON_FILE
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"cannot read {path}: {error}", file=sys.stderr)
        return 2

    rows = durations(report)
    width = max((len(row[0]) for row in rows), default=8)
    print(f"scenario report {path} (image set {report.get('image_set', '?')}, started {report.get('started_at', '?')})")
    by_id = {s["id"]: s for s in report["scenarios"]}
    for scenario_id, verdict, seconds in rows:
        print(f"{scenario_id.ljust(width)}  {duration_text(seconds).rjust(7)}  {verdict}")
        steps = sorted(by_id[scenario_id]["steps"], key=lambda r: r["duration_s"], reverse=True)[:args.steps]
        for step in steps:
            print(f"{'':{width}}    {duration_text(step['duration_s']).rjust(7)}  {step['label']}. {step['title'][:70]}")
    total = float(report["duration_s"])
    print(f"{'total'.ljust(width)}  {duration_text(total).rjust(7)}  (budget {duration_text(BUDGET_SECONDS)}: "
          f"{'within' if total <= BUDGET_SECONDS else 'OVER'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
