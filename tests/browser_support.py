"""Browser test support: Debian's chromium driven by Playwright for Python.

The fixtures are registered in tests/conftest.py, so each test worker runs one browser.

Playwright's own browser download is not used (it is not reachable on an air-gapped
network); we launch the system chromium through ``executable_path``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MAINSPRING_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[1] / "mainspring" / "static" / "vendor" / "axe.min.js"
# Without these, chromium reaches for Google's services at start, which a closed
# network refuses (slowly).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(
            f"Browser tests need Debian's chromium at {CHROMIUM} "
            "(python3 dev.py test installs it with apt-get)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """``new_page()``: a fresh browser context (its own cookies) at the live server."""
    contexts = []

    def make():
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def login(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def axe_violations(page) -> list[dict]:
    """Run axe-core (from the npm package we serve) against the current page."""
    # Evaluated through the DevTools protocol, so our CSP (no inline script) still holds
    # for the page itself.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }"""
    )
    return result
