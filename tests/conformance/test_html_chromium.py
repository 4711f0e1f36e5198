"""The HTML report renders in a real browser: Debian's Chromium driven by Playwright.

Strategy: never download browsers (`playwright install` is not used); launch the system Chromium
by path, open the file:// page with networking off, check what a reader sees (the verdict badge
and a rule id) and keep a screenshot under test-artifacts/ (gitignored), never in the repository.
"""

from __future__ import annotations

from pathlib import Path

from conformance.check import check_paths
from conformance.report import to_html
from parsers.profile import load_profile

CHROMIUM = Path("/usr/bin/chromium")
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "paxlst"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

def test_html_report_renders_in_chromium(tmp_path: Path) -> None:
    # .ci/run installs Debian's chromium and pyproject's test extra brings playwright: both must be there.
    assert CHROMIUM.is_file(), "Debian chromium is missing: apt-get install chromium"
    import playwright.sync_api as playwright_sync

    files = sorted(CORPUS.glob("gtas__un02B_crew_BGM250*")) + sorted(CORPUS.glob("gtas__un05B_pax_2legs*"))
    report = check_paths(files, load_profile("baseline"))
    page_file = tmp_path / "report.html"
    page_file.write_text(to_html(report), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "conformance-check-report.png"
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            verdict = page.locator("#verdict")
            assert verdict.is_visible() and verdict.inner_text() == "FAIL"
            assert page.get_by_text("ENV-UNT-COUNT").first.is_visible()
            assert page.get_by_text("PASS").first.is_visible()  # the valid file's row
            assert all(u.startswith("file:") for u in requests)  # self-contained: nothing fetched
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
