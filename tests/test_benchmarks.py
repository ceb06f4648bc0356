"""Smoke test of the benchmark suite: its tiny mode prints a table and writes JSON."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_tiny_report_benchmark_prints_a_table_and_writes_json(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", "--only", "B5", "--pg", "none",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12-week report, 2,000 visits" in done.stdout
    assert "goals met" in done.stdout
    result = json.loads(out.read_text())
    assert result["tiny"] is True
    assert result["machine"]["nproc"] >= 1
    [figure] = [f for f in result["figures"] if f["name"].startswith("12-week report")]
    assert figure["bench"] == "B5" and figure["value"] > 0 and figure["goal"] == "<= 300"
    assert figure["mark"] in ("✓", "✗")
