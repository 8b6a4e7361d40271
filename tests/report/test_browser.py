"""The report opened in headless Chromium: the charts are in the DOM the browser builds.

Skipped when no `chromium` is installed; it runs the browser as a process, so it is slow.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from coordinator.report import render_report
from tests.report.helpers import PLACES, Page, aggregate_table, done, provenance, write_model

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed on this machine"),
]


def test_headless_chromium_builds_both_charts(tmp_path):
    model = write_model(tmp_path / "models")
    table = aggregate_table([("440103", 12, "123456.00", False), ("450102", 15, "500.50", True),
                             ("<script>document.title='x'</script>", 20, "1.00", False)])
    nodes = [done("gd"), {"node_id": "hn", "state": "refused", "refusal_code": "EXPIRED"}]
    out = tmp_path / "report.html"
    out.write_text(render_report(provenance(model, nodes), table, model, places=PLACES),
                   encoding="utf-8")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         out.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    page = Page(dom)
    assert [len(bars) for bars in page.charts] == [3, 3]
    assert "script" not in {name for name, _ in page.tags}
    assert "EXPIRED" in page.sections["coverage"]
