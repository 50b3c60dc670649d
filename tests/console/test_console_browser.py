"""The console in a real browser: Playwright driving Debian's Chromium against ``serve --demo``'s
books on a real server, as each staff role and as a customer.

Each test asserts what a person would see (the red banner on the declined card's account, the
spike on the retry storm's chart, the offline zone of the hard limit, no lift button for
support, an unsafe reply refused as it is typed and when it is sent); every page visited is
checked by axe-core (no serious or critical violation) and no page may log a JavaScript error.

The browser is never downloaded: Chromium is Debian's (``apt-get install chromium``, done by
``.ci/run``), axe-core comes from the npm registry into a cache folder (``npm install``, done by
``.ci/run`` or, failing that, by the fixture). Without them the tests skip, except under
``CI=true``, where a missing Chromium or axe-core is a failure. ``QUOTADESK_SCREENSHOTS=DIR``
writes the README's screenshots (queue, case, account, usage) into ``DIR``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.consoleenv import Demo

CHROMIUM = Path(os.environ.get("QUOTADESK_CHROMIUM", "/usr/bin/chromium"))
AXE_VERSION = "4.14.1"
AXE_DIR = Path(
    os.environ.get("QUOTADESK_AXE_DIR", str(Path.home() / ".cache" / "quotadesk" / f"axe-core-{AXE_VERSION}"))
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROLES = ("support", "billing_team", "trust_and_safety", "finance", "security", "admin")
LIFTERS = {"trust_and_safety", "admin"}  # who may lift the demo's policy-violation flag


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    if not CHROMIUM.is_file():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def axe_js() -> str:
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        try:
            subprocess.run(
                [
                    "npm",
                    "install",
                    "--prefix",
                    str(AXE_DIR),
                    f"axe-core@{AXE_VERSION}",
                    "--no-audit",
                    "--no-fund",
                    "--silent",
                ],
                check=True,
                capture_output=True,
                timeout=300,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            _missing(f"axe-core is not installed in {AXE_DIR} and npm could not install it: {exc}")
    return script.read_text(encoding="utf-8")


class Visitor:
    """One signed-in browser context: visits pages, records JavaScript errors, runs axe."""

    def __init__(self, browser: Any, base: str, axe: str, *, width: int = 1280, height: int = 800) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.base = base
        self.axe = axe
        self.errors: list[str] = []
        self.checked: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"{self.page.url}: {exc}"))
        self.page.on(
            "console",
            lambda msg: self.errors.append(f"{self.page.url}: {msg.text}") if msg.type == "error" else None,
        )

    def go(self, path: str, status: int = 200) -> Any:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == status, (path, response and response.status)
        return self.page

    def sign_in(self, token: str) -> None:
        self.go(f"/login?token={token}")

    def check_axe(self) -> None:
        self.page.add_script_tag(content=self.axe)
        found = self.page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
            }"""
        )
        bad = [v for v in found if v["impact"] in ("serious", "critical")]
        assert not bad, f"{self.page.url}: {bad}"
        self.checked.append(self.page.url)

    def visit(self, path: str, status: int = 200) -> Any:
        page = self.go(path, status)
        self.check_axe()
        return page

    def shot(self, name: str) -> None:
        folder = os.environ.get("QUOTADESK_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)

    def close(self) -> None:
        self.context.close()
        assert not self.errors, self.errors


@pytest.fixture
def visit(browser: Any, server: str, axe_js: str) -> Iterator[Any]:
    opened: list[Visitor] = []

    def make(**kw: Any) -> Visitor:
        v = Visitor(browser, server, axe_js, **kw)
        opened.append(v)
        return v

    yield make
    for v in opened:
        v.close()


def no_overflow(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


# --------------------------------------------------------------------------- staff


@pytest.mark.parametrize("role", ROLES)
def test_each_role_walks_the_desk(role: str, visit: Any, demo: Demo) -> None:
    v = visit()
    v.sign_in(demo.token(role))
    page = v.visit("/")
    assert page.get_by_role("heading", name="Queue", level=1).is_visible()
    support_row = page.locator('tr[data-team="support"] td').first
    assert support_row.inner_text() == "9"
    page.locator('tr[data-root-cause="policy_violation"] a').click()
    page.wait_for_url(f"**/cases/{demo.case('policy_violation')}")
    v.check_axe()
    assert page.locator("#rules h2").inner_text().startswith("Your role:")
    assert page.locator('[data-field="root_cause"]').inner_text() == "policy violation"
    page.locator(f'a[href="/orgs/{demo.org("policy_violation")}"]').first.click()
    page.wait_for_url(f"**/orgs/{demo.org('policy_violation')}")
    v.check_axe()
    assert page.locator('[data-banner="suspended"]').is_visible()
    lift = page.get_by_role("button", name="Lift this flag")
    if role in LIFTERS:
        assert lift.is_visible()
    else:
        assert lift.count() == 0
        assert "your role" in page.locator("#flags .rule").inner_text()
    if role == "support":
        assert page.get_by_role("button", name="Grant credit").count() == 0
    if role == "admin":
        for path in ("/orgs", "/roles", f"/orgs/{demo.org('retry_storm')}/usage", "/practice?seed=11"):
            v.visit(path)
    assert not v.errors


def test_declined_card_account_shows_the_red_banner(visit: Any, demo: Demo) -> None:
    v = visit()
    v.sign_in(demo.token("support"))
    page = v.visit(f"/orgs/{demo.org('card_expired_or_declined')}")
    banner = page.locator('[data-banner="payment_failed"]')
    assert banner.is_visible()
    box = banner.bounding_box()
    assert box is not None and box["y"] < 800  # above the fold, where it is seen first
    assert "Payment failed" in banner.inner_text() and "card_declined" in banner.inner_text()
    red, green, blue = banner.evaluate(
        "e => getComputedStyle(e).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
    )
    assert red > green + 10 and red > blue + 10
    failed = page.locator("#payments tr.failed").first
    assert "card_declined" in failed.inner_text()
    v.shot("account")
    v.go("/")
    v.shot("queue")
    v.go(f"/cases/{demo.case('card_expired_or_declined')}")
    v.shot("case")


def test_retry_storm_chart_marks_the_spike(visit: Any, demo: Demo) -> None:
    v = visit()
    v.sign_in(demo.token("support"))
    page = v.visit(f"/orgs/{demo.org('retry_storm')}/usage")
    band = page.locator('svg.chart g.finding[data-finding="retry_storm"]')
    assert band.count() >= 1 and band.first.is_visible()
    costs = page.locator("svg.chart g.day").evaluate_all(
        "gs => gs.map(g => [g.dataset.day, Number(g.dataset.cost)])"
    )
    peak_day = max(costs, key=lambda c: c[1])[0]
    bands = band.evaluate_all("gs => gs.map(g => [g.dataset.first, g.dataset.last])")
    assert any(first <= peak_day <= last for first, last in bands)
    peak = page.locator(f'svg.chart g.day[data-day="{peak_day}"] rect').first.bounding_box()
    area = band.locator("rect").first.bounding_box()
    assert (
        peak
        and area
        and area["x"] <= peak["x"]
        and peak["x"] + peak["width"] <= area["x"] + area["width"] + 1
    )
    assert page.locator('#findings li[data-finding="retry_storm"]').first.is_visible()
    v.shot("usage")


def test_hard_limit_account_is_in_the_offline_zone(visit: Any, demo: Demo) -> None:
    v = visit()
    v.sign_in(demo.token("billing_team"))
    page = v.visit(f"/orgs/{demo.org('hard_limit_reached')}")
    assert page.locator('#access[data-allowed="false"]').is_visible()
    assert "hard limit" in page.locator("#access").inner_text()
    assert "offline" in page.locator('[data-zone-now="offline"]').inner_text()
    zone = page.locator("svg.limits rect.zone.offline.current")
    assert zone.count() == 1
    spend = page.locator("svg.limits line.spend").bounding_box()
    offline = zone.bounding_box()
    assert spend and offline and spend["x"] + spend["width"] / 2 >= offline["x"] - 1


def test_an_unsafe_reply_is_refused_as_typed_and_when_sent(visit: Any, demo: Demo) -> None:
    v = visit()
    v.sign_in(demo.token("support"))
    case_path = f"/cases/{demo.case('retry_storm')}"
    page = v.visit(case_path)
    editor = page.get_by_label("Reply to the customer", exact=False)
    editor.fill("")
    editor.focus()
    page.keyboard.type("Hi, we will refund the full amount today.")
    guard = page.locator('#guard[data-safe="false"]')
    guard.wait_for()
    assert "refund" in guard.inner_text().lower()
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_load_state()
    assert "Refused:" in page.locator("#reply .alert").inner_text()
    assert editor.input_value() == "Hi, we will refund the full amount today."
    v.check_axe()
    assert not any(
        h["kind"] == "reply_sent" for h in demo.desk.case(_system(), demo.case("retry_storm"))["history"]
    )
    editor.fill("Hi, the extra cost came from retries without backoff on 2026-02-27.")
    page.locator('#guard[data-safe="true"]').wait_for()
    # a 422 document load is not a script error: only what scripts log counts
    v.errors = [e for e in v.errors if "status of 422" not in e]


def _system() -> Any:
    from quotadesk.store.access import SYSTEM

    return SYSTEM


def test_practice_in_the_browser(visit: Any, demo: Demo) -> None:
    v = visit()
    v.sign_in(demo.token("support"))
    page = v.visit("/practice?seed=11")
    page.get_by_label("Incident").select_option("unexpected_high_bill")
    page.get_by_label("Root cause").select_option("retry_storm")
    page.get_by_label("Route").select_option("none")
    page.get_by_label("Your reply to the customer").fill("We will refund you in full.")
    page.get_by_role("button", name="Check my answer").click()
    page.locator("#result").wait_for()
    v.check_axe()
    assert "of 3 points" in page.locator("#result h2").inner_text()
    assert page.locator('[data-guard="refused"]').is_visible()


# --------------------------------------------------------------------------- the customer


def test_customer_walks_their_own_pages(visit: Any, demo: Demo) -> None:
    v = visit()
    v.sign_in(demo.customer_token("hard_limit_reached"))
    page = v.visit("/my")
    assert "offline" in page.locator('[data-zone-now="offline"]').inner_text()
    assert page.get_by_role("button").count() == 0  # read-only
    page.get_by_role("link", name="Why am I blocked?").click()
    page.wait_for_url("**/my/blocked")
    v.check_axe()
    text = page.locator("main").inner_text()
    assert "hard limit" in text and "$10.00" in text and "2026-04-01" in text
    page = v.visit("/my/usage")
    assert page.locator("svg.chart g.day").count() == 30
    refused = v.go(f"/orgs/{demo.org('policy_violation')}", status=403)
    assert "This page is for the platform's staff" in refused.locator("main").inner_text()
    v.errors = [e for e in v.errors if "status of 403" not in e]
    suspended = visit()
    suspended.sign_in(demo.customer_token("policy_violation"))
    page = suspended.visit("/my/blocked")
    assert page.locator('[data-banner="suspended"]').is_visible()
    assert "policy" not in page.locator("main").inner_text().lower()


# --------------------------------------------------------------------------- phone, keyboard


def test_phone_width_and_keyboard(visit: Any, demo: Demo) -> None:
    v = visit(width=390, height=844)
    v.sign_in(demo.token("support"))
    for path in (
        "/",
        f"/cases/{demo.case('card_expired_or_declined')}",
        f"/orgs/{demo.org('card_expired_or_declined')}",
        f"/orgs/{demo.org('retry_storm')}/usage",
    ):
        page = v.visit(path)
        assert no_overflow(page), path
    page = v.go("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    link = page.locator('tr[data-root-cause="retry_storm"] a')
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/cases/{demo.case('retry_storm')}")
    c = visit(width=390, height=844)
    c.sign_in(demo.customer_token("card_expired_or_declined"))
    for path in ("/my", "/my/usage", "/my/blocked"):
        assert no_overflow(c.visit(path)), path
