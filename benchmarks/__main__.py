"""`python -m benchmarks`: builds the data, runs the figures, prints a table, writes JSON."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from .common import DEFAULT_PG, ROOT, Figure, Progress, Settings, machine

BENCHES = ("B1", "B2", "B3", "B4", "B5")
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "latest.json"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smaller data and shorter load runs (a few minutes)")
    parser.add_argument("--tiny", action="store_true",
                        help="smaller still, for the smoke test (implies --quick)")
    parser.add_argument("--db", nargs="+", default=["sqlite"], metavar="sqlite|postgresql URL",
                        help="database for B1, B3 and B5: sqlite (a temporary file, the "
                             "default) or `postgresql URL` (a database named *bench*, wiped)")
    parser.add_argument("--pg", default=DEFAULT_PG,
                        help=f"B2's PostgreSQL database, wiped (default {DEFAULT_PG}); "
                             "'none' leaves PostgreSQL out")
    parser.add_argument("--only", default=",".join(BENCHES),
                        help="comma-separated benchmarks, e.g. B1,B5 (B4 runs inside B1 and B3)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"default {DEFAULT_JSON}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases")
    args = parser.parse_args(argv)
    if args.db[0] == "sqlite" and len(args.db) == 1:
        args.db_url = "sqlite"
    elif args.db[0] == "postgresql" and len(args.db) == 2:
        args.db_url = args.db[1]
    elif len(args.db) == 1 and args.db[0].startswith("postgresql"):
        args.db_url = args.db[0]
    else:
        parser.error("--db takes `sqlite` or `postgresql URL`")
    args.benches = [b.strip().upper() for b in args.only.split(",") if b.strip()]
    unknown = set(args.benches) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    return args


def table(figures: list[Figure]) -> str:
    rows = [("", "figure", "value", "goal", "", "detail")]
    for f in figures:
        value = "n/a" if f.value is None else f"{f.value:,.2f}".rstrip("0").rstrip(".")
        rows.append((f.bench, f.name, f"{value} {f.unit}".strip(),
                     (f.goal or "").replace(">=", "≥").replace("<=", "≤"), f.mark, f.detail))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True))
                     + "  " + r[5])
        if n == 0:
            lines.append("-" * min(120, sum(widths) + 12))
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    pg = None if args.pg.lower() == "none" else args.pg
    args.quick = args.quick or args.tiny
    settings = Settings.make(args.quick, args.db_url, pg, args.tiny)
    began = time.perf_counter()
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    from . import availability, booking, dispatch, reports

    plan = [("B1", availability.run, {"B1", "B4"}), ("B2", booking.run, {"B2"}),
            ("B3", dispatch.run, {"B3", "B4"}), ("B5", reports.run, {"B5"})]
    with Progress() as progress:
        for name, bench, covers in plan:
            if not covers & set(args.benches):
                continue
            progress.note(f"[{time.perf_counter() - began:5.0f} s] {name} ...")
            try:
                got = bench(settings, progress)
            except Exception as exc:  # one broken benchmark must not lose the others
                traceback.print_exc()
                failures[name] = f"{exc.__class__.__name__}: {exc}"
                continue
            figures += [f for f in got if f.bench in args.benches]
    elapsed = time.perf_counter() - began
    print(table(figures))
    missed = [f for f in figures if f.ok is False]
    print(f"\n{sum(f.ok is True for f in figures)} goals met, {len(missed)} missed"
          f"{', failed: ' + ', '.join(failures) if failures else ''}; "
          f"{elapsed:.0f} s{' (--tiny)' if args.tiny else ' (--quick)' if args.quick else ''}")
    result = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "quick": args.quick,
              "tiny": args.tiny,
              "db": args.db_url if args.db_url == "sqlite" else "postgresql",
              "only": args.benches, "seconds": round(elapsed, 1),
              "machine": machine(pg), "figures": [f.as_dict() for f in figures],
              "failures": failures}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {args.json}")
    if not args.keep:
        shutil.rmtree(settings.workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
