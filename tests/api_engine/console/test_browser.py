"""The console in a real browser (Debian's Chromium driven by Playwright), served by uvicorn.

Strategy: one flow an officer would follow, end to end: sign in, watch the queue, a manifest
processed into the store makes the planted alert appear without reload, open its explanation,
dismiss it with a comment, see it leave the queue, and an auditor find the decision in the audit
trail. Plus each role's landing page, the 403s of an officer on admin pages and API routes, and
the redirect of a signed-out visitor. Screenshots of the main pages go to test-artifacts/console/.
Never `playwright install`: the system Chromium is launched by path.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import CHROMIUM, PASSWORD, PLANTED, ROLES, RunningConsole, bystander, paxlst

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "console"

# .ci/run installs Debian's chromium and the test extra brings playwright: a missing one fails loudly.
assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium"


def _page(browser: object, base: str) -> object:
    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    return context.new_page()


def _sign_in(page: object, name: str) -> None:
    page.goto("/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", name)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("header .who")  # type: ignore[attr-defined]


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


LANDING = {"officer": ("/alerts", "Alert queue"), "supervisor": ("/alerts", "Alert queue"),
           "auditor": ("/audit", "Retention & audit"), "admin": ("/admin/users", "Users")}


def test_each_role_signs_in_and_lands_on_its_page(live_console: RunningConsole, browser: object) -> None:
    for role in ROLES:
        page = _page(browser, live_console.url)
        _sign_in(page, role)
        path, heading = LANDING[role]
        assert page.url.endswith(path)  # type: ignore[attr-defined]
        assert page.inner_text("h1").startswith(heading)  # type: ignore[attr-defined]
        assert page.inner_text("header .who").startswith(f"{role} · ")  # type: ignore[attr-defined]
        if role == "supervisor":  # lists: what is loaded, and an upload with its validation report
            page.goto("/watchlists")  # type: ignore[attr-defined]
            assert "NATIONAL" in page.inner_text("#lists")  # type: ignore[attr-defined]
            upload = live_console.env.tmp / "WATCH2.csv"
            upload.write_text("id,list,category,full_name,surname,given_names,aliases,date_of_birth,nationality,"
                              "gender,document_number,document_type,document_country\n"
                              "W-1,WATCH2,individual,,EXAMPLE,PERSON,,1970-01-01,FR,M,,,\n"
                              "W-2,WATCH2,spaceship,,,,,,,,,,\n", encoding="utf-8")
            page.set_input_files("input[type=file]", str(upload))  # type: ignore[attr-defined]
            page.click("button:has-text('Validate and install')")  # type: ignore[attr-defined]
            report = page.inner_text("#report")  # type: ignore[attr-defined]
            assert "Installed: WATCH2" in report and "1 valid entries, 1 rows rejected" in report
            assert "WATCH2" in page.inner_text("#lists")  # type: ignore[attr-defined]
            _shot(page, "watchlists-supervisor")
        if role == "admin":
            _shot(page, "users-admin")
        page.context.close()  # type: ignore[attr-defined]


def test_planted_alert_arrives_live_is_explained_dismissed_and_audited(live_console: RunningConsole,
                                                                       browser: object) -> None:
    page = _page(browser, live_console.url)
    _sign_in(page, "officer")
    page.wait_for_selector("#live.on")  # type: ignore[attr-defined]
    assert page.locator("#queue tr[data-hit-id]").count() == 1  # type: ignore[attr-defined]
    page.evaluate("window.__sameDocument = true")  # type: ignore[attr-defined]

    # A carrier's manifest is processed into the store while the officer watches the queue.
    live_console.env.process(paxlst("XX200", [bystander(3), PLANTED, bystander(4)], depart_in=_hours(1)))
    row = page.locator("#queue tr", has_text=PLANTED["surname"])  # type: ignore[attr-defined]
    row.wait_for()
    assert page.evaluate("window.__sameDocument === true")  # type: ignore[attr-defined]  # no reload happened
    assert page.locator("#queue tr[data-hit-id]").count() == 2  # type: ignore[attr-defined]
    assert "XX200" in row.inner_text() and "high" in row.inner_text()
    assert "2 open" in page.inner_text("#counts")  # type: ignore[attr-defined]
    _shot(page, "alerts-queue-live")

    # Sort by arrival and filter by flight: the server applies both, the stream keeps them.
    page.select_option("#sort", "arrival")  # type: ignore[attr-defined]
    page.wait_for_url("**sort=arrival**")  # type: ignore[attr-defined]
    page.fill("#flight", "XX200")  # type: ignore[attr-defined]
    page.click("#queue-filters button")  # type: ignore[attr-defined]
    page.wait_for_selector("#live.on")  # type: ignore[attr-defined]
    assert page.locator("#queue tr[data-hit-id]").count() == 1  # type: ignore[attr-defined]

    # The explanation, feature by feature, beside the listed entry.
    page.locator("#queue tr", has_text=PLANTED["surname"]).locator("text=Explain & decide").click()  # type: ignore[attr-defined]
    page.wait_for_selector("#explanation")  # type: ignore[attr-defined]
    features = page.inner_text("#explanation")  # type: ignore[attr-defined]
    for feature in ("name", "date of birth", "nationality", "document number"):
        assert feature in features
    assert "NATIONAL : NAT-001" in page.inner_text("main")  # type: ignore[attr-defined]
    hit_id = page.url.rstrip("/").split("/")[-1]  # type: ignore[attr-defined]
    _shot(page, "hit-explanation")

    # A decision without a comment is refused by the form; with one it is recorded.
    page.fill("textarea[name=comment]", "Date of birth and passport checked at the gate: not the listed person")  # type: ignore[attr-defined]
    page.click("button[value=dismiss]")  # type: ignore[attr-defined]
    page.wait_for_url(f"**/alerts?done={hit_id}")  # type: ignore[attr-defined]
    assert f"Decision on hit {hit_id} recorded" in page.inner_text("main")  # type: ignore[attr-defined]
    page.wait_for_selector("#live.on")  # type: ignore[attr-defined]
    # High severity: the dismissal waits for a second supervisor, so the hit stays in the queue (four eyes).
    pending = page.locator("#queue tr", has_text=PLANTED["surname"])  # type: ignore[attr-defined]
    assert "dismiss_pending" in pending.inner_text().lower()
    assert page.locator("#queue tr[data-hit-id]").count() == 2  # type: ignore[attr-defined]  # the XX100 hit stays
    _shot(page, "alerts-after-dismissal")

    # Flights, the minimised manifest, and the full one (with a reason, audited).
    page.goto("/flights")  # type: ignore[attr-defined]
    assert "XX200" in page.inner_text("table")  # type: ignore[attr-defined]
    _shot(page, "flights")
    page.locator("tr", has_text="XX200").locator("text=Manifest").click()  # type: ignore[attr-defined]
    assert PLANTED["surname"] not in page.inner_text("main")  # type: ignore[attr-defined]  # minimised by default
    _shot(page, "manifest-minimised")
    page.fill("input[name=reason]", "Secondary check requested at the gate")  # type: ignore[attr-defined]
    page.click("button:has-text('Show full manifest')")  # type: ignore[attr-defined]
    assert PLANTED["surname"] in page.inner_text("main")  # type: ignore[attr-defined]
    _shot(page, "manifest-full")
    page.click("text=Sign out")  # type: ignore[attr-defined]
    page.wait_for_url("**/login")  # type: ignore[attr-defined]

    # The auditor finds the decision and the full view in an intact audit chain.
    _sign_in(page, "auditor")
    verdict = page.inner_text("#verification")  # type: ignore[attr-defined]
    assert "intact" in verdict
    entries = page.inner_text("#audit-entries")  # type: ignore[attr-defined]
    assert f"hit:{hit_id}" in entries and "decision" in entries and "not the listed person" in entries
    assert "view_manifest_full" in entries and "Secondary check" in entries
    _shot(page, "audit")
    page.context.close()  # type: ignore[attr-defined]


def test_officer_gets_403_on_admin_pages_and_api_and_signed_out_goes_to_sign_in(
        live_console: RunningConsole, browser: object) -> None:
    page = _page(browser, live_console.url)
    response = page.goto("/flights")  # type: ignore[attr-defined]
    assert page.url.split("?")[0].endswith("/login") and "next=/flights" in page.url  # type: ignore[attr-defined]
    assert response is not None and response.status == 200
    _shot(page, "sign-in")
    assert page.request.get("/api/flights").status == 401  # type: ignore[attr-defined]

    _sign_in(page, "officer")
    for path in ("/admin/users", "/watchlists", "/audit"):
        response = page.goto(path)  # type: ignore[attr-defined]
        assert response is not None and response.status == 403
        assert "Not for your role" in page.inner_text("h1")  # type: ignore[attr-defined]
    _shot(page, "forbidden-officer")
    for path in ("/api/users", "/api/watchlists", "/api/audit"):
        assert page.request.get(path).status == 403  # type: ignore[attr-defined]
    assert page.request.post("/api/users", data={"name": "x", "role": "admin", "password": "x" * 12}).status == 403  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]


def _hours(n: int) -> object:
    from datetime import timedelta

    return timedelta(hours=n)
