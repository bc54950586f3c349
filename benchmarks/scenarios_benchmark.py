"""Each scenario's duration (and its slowest steps) from a scenario report; serial next to `--jobs`.

Usage:
    python benchmarks/scenarios_benchmark.py [REPORT] [--steps N]          # one report
    python benchmarks/scenarios_benchmark.py SERIAL.json PARALLEL.json     # side by side
    python benchmarks/scenarios_benchmark.py --run --jobs 1 --jobs 3       # runs `lab scenario --all` each way first

With --run it first times `lab up` twice on the configured cluster (it must exist, its images cached): the
first converges whatever differs, the second is the no-op; then each `lab scenario --all --jobs N`.

Without a path it reads `$RHDEMO_LAB_REPORTS/scenarios/all/scenarios.json` (default base `reports/`),
the report `tests/cluster/test_scenarios.py` writes. Prints, asserts nothing; the target for all nine
on 2 cores is 6 minutes with --jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab.config import REPO_ROOT
from lab.scenario.report import JSON_FILE, duration_text, durations

TARGET_SECONDS = 6 * 60


def default_report() -> Path:
    return Path(os.environ.get("RHDEMO_LAB_REPORTS", REPO_ROOT / "reports")) / "scenarios" / "all" / JSON_FILE


def read(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


def one(path: Path, report: dict[str, Any], steps: int) -> None:
    rows = durations(report)
    width = max((len(row[0]) for row in rows), default=8)
    print(f"scenario report {path} (image set {report.get('image_set', '?')}, started {report.get('started_at', '?')})")
    by_id = {s["id"]: s for s in report["scenarios"]}
    for scenario_id, verdict, seconds in rows:
        print(f"{scenario_id.ljust(width)}  {duration_text(seconds).rjust(7)}  {verdict}")
        slowest = sorted(by_id[scenario_id]["steps"], key=lambda r: r["duration_s"], reverse=True)[:steps]
        for step in slowest:
            print(f"{'':{width}}    {duration_text(step['duration_s']).rjust(7)}  {step['label']}. {step['title'][:70]}")
    print(f"{'total'.ljust(width)}  {duration_text(float(report['duration_s'])).rjust(7)}")


def side_by_side(labels: list[str], reports: list[dict[str, Any]]) -> None:
    ids = [s["id"] for s in reports[0]["scenarios"]]
    width = max(len(i) for i in ids + ["total (wall)"])
    print(f"{'scenario'.ljust(width)}  " + "  ".join(label.rjust(9) for label in labels))
    for scenario_id in ids:
        cells = [next((duration_text(s["duration_s"]) for s in r["scenarios"] if s["id"] == scenario_id), "-") for r in reports]
        print(f"{scenario_id.ljust(width)}  " + "  ".join(cell.rjust(9) for cell in cells))
    walls = [float(r["duration_s"]) for r in reports]
    print(f"{'total (wall)'.ljust(width)}  " + "  ".join(duration_text(w).rjust(9) for w in walls))
    print(f"target with --jobs: {duration_text(TARGET_SECONDS)} — "
          + ", ".join(f"{label}: {'within' if wall <= TARGET_SECONDS else 'over'}" for label, wall in zip(labels, walls, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="*", type=Path, help="one scenarios.json, or several to compare")
    parser.add_argument("--steps", type=int, default=3, help="slowest steps shown per scenario")
    parser.add_argument("--run", action="store_true", help="run `lab scenario --all` first, once per --jobs")
    parser.add_argument("--jobs", type=int, action="append", help="with --run: jobs of each run (repeatable; default 1 and 3)")
    parser.add_argument("--report-dir", type=Path, default=Path("/tmp/rhdemo-lab-scenarios-benchmark"))
    args = parser.parse_args()

    paths: list[Path] = list(args.reports) or [default_report()]
    labels = [path.parent.name for path in paths]
    if args.run:
        for what in ("lab up (existing cluster, images cached)", "lab up (no-op)"):
            started = time.monotonic()
            up = subprocess.run([sys.executable, "-m", "lab", "up"], cwd=REPO_ROOT, check=False,
                                stdout=subprocess.DEVNULL)
            print(f"{what}: {duration_text(time.monotonic() - started)} (exit {up.returncode})")
        paths, labels = [], []
        for jobs in args.jobs or [1, 3]:
            out = args.report_dir / f"jobs-{jobs}"
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "lab", "scenario", "--all", "--jobs", str(jobs), "--report-dir", str(out)],
                           cwd=REPO_ROOT, check=False)
            print(f"lab scenario --all --jobs {jobs}: {duration_text(time.monotonic() - started)} wall")
            paths.append(out / JSON_FILE)
            labels.append(f"jobs {jobs}")
    try:
        reports = [read(path) for path in paths]
    except (OSError, ValueError) as error:
        print(f"cannot read a report: {error}", file=sys.stderr)
        return 2
    if len(reports) == 1:
        one(paths[0], reports[0], args.steps)
    else:
        side_by_side(labels, reports)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
