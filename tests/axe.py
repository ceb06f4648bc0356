"""axe-core, the accessibility checker, for the browser tests.

It is installed from the npm registry into .cache/axe/ (git-ignored) the first time a run needs
it, and injected into each page from that file: the page itself fetches nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

#: One exact release, so a new rule in a later axe cannot turn the suite red on its own.
VERSION = "4.14.1"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "axe"
PACKAGE = CACHE / "node_modules" / "axe-core"
SCRIPT = PACKAGE / "axe.min.js"
#: WCAG 2.0, 2.1 and 2.2, levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("critical", "serious")


def _installed() -> str | None:
    try:
        return json.loads((PACKAGE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def install(unavailable: Callable[[str], None]) -> Path:
    """The path of axe.min.js, installing it with npm unless that version is already there;
    `unavailable(reason)` skips or fails the test when npm is missing or the install fails."""
    if _installed() == VERSION and SCRIPT.is_file():
        return SCRIPT
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed, so axe-core cannot be (apt-get install npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
               "--loglevel=error", "--prefix", str(CACHE), f"axe-core@{VERSION}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        unavailable(f"`{' '.join(command[1:])}` took over 5 minutes")
    if done.returncode != 0 or _installed() != VERSION or not SCRIPT.is_file():
        said = " / ".join((done.stderr or done.stdout).strip().splitlines()[:3])
        unavailable(f"`npm install axe-core@{VERSION}` failed ({done.returncode}): {said}")
    return SCRIPT


# Runs in the page: the violations of the WCAG A/AA rules, reduced to what a report needs.
_RUN = """async tags => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


def violations(page, script: Path = SCRIPT) -> list[dict]:
    """axe's WCAG 2.2 A/AA violations on the page as it stands now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(script))
    return page.evaluate(_RUN, WCAG_AA)


def describe(violation: dict) -> str:
    where = "; ".join(node["target"] for node in violation["nodes"][:5])
    more = len(violation["nodes"]) - 5
    return (f"{violation['id']} ({violation['impact']}): {violation['help']} at {where}"
            + (f" and {more} more" if more > 0 else ""))
