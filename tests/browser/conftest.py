"""The stack under gunicorn, driven by Debian's Chromium through Playwright.

Chromium is the Debian package (`apt-get install chromium`), launched headless with
the flags ../shared/docs/docker-in-ci.md lists: Playwright's own browser download
does not work on our machines. Without Chromium or Playwright these tests skip on a
laptop, but fail in CI (CI=true), where .ci/run installs both.

Screenshots go to a temporary folder; UPDATE_SCREENSHOTS=1 writes them to
docs/screenshots/ instead (the README embeds those).
"""

import os
import re
import shutil

import pytest

from tests.stack import ROOT
from tests.stack import Stack
from tests.stack import run_stack

# Headless Chromium in a container: no sandbox, no GPU, nothing fetched in the background.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# A projector: the inspector must read well at 1280x720.
VIEWPORT = {"width": 1280, "height": 720}


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium; skip without it on a laptop, never in CI."""
    executable = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = [hint for hint, found in (("chromium (apt-get install chromium)", executable),
                                        ("playwright (pip install -r requirements-dev.txt)", sync_playwright))
               if not found]
    if missing:
        message = f"not installed: {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {message}")
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def stack(chromium, tmp_path_factory, request):
    """The three services as separate gunicorn processes (tests/stack.py), set up as `make demo`."""
    # As scripts/demo.sh: the inspector shows the user their own tokens (the lesson).
    demo = {"client_app": {"INSPECTOR_SHOWS_TOKENS": "true"}}
    yield from run_stack(Stack(tmp_path_factory.mktemp("browser-stack"), demo), request)


@pytest.fixture
def page(chromium):
    """A fresh browser profile (its own cookies) with one 1280x720 tab."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshots(tmp_path):
    """Where screenshots go: docs/screenshots/ with UPDATE_SCREENSHOTS=1, else a temporary folder."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return ROOT / "docs" / "screenshots"
    return tmp_path


class Person:
    """A learner at the keyboard: clicks what they see, as in the README's quick start."""

    def __init__(self, page, stack):
        self.page = page
        self.stack = stack

    def open_client(self):
        """Open the notes app's home page."""
        self.page.goto(self.stack.client + "/")

    def click_log_in(self):
        """Step 1: the Log in button."""
        self.page.get_by_role("button", name="Log in", exact=True).click()

    def sign_in(self, username="alice"):
        """Step 5 at the AS: type the demo credentials and sign in."""
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(username)
        self.page.get_by_role("button", name="Sign in").click()

    def allow(self):
        """Step 6: allow on the consent page."""
        self.page.get_by_role("button", name="Allow").click()

    def choose_profile(self, title):
        """On the home page: pick the profile of the next login (classic, PAR or FAPI 2.0) by its label."""
        self.page.get_by_role("radio", name=re.compile(rf"^{re.escape(title)} \(")).check()

    def log_in(self, username="alice", profile=None):
        """Steps 1-12 by clicking, in a profile (its label) or the preselected one; waits for the notes page."""
        self.open_client()
        if profile is not None:
            self.choose_profile(profile)
        self.click_log_in()
        self.sign_in(username)
        self.allow()
        self.page.wait_for_url(self.stack.client + "/notes")

    def open_inspector(self):
        """The header's Flow inspector link."""
        nav = self.page.get_by_role("navigation", name="Client pages")
        nav.get_by_role("link", name="Flow inspector").click()
        self.page.wait_for_url(self.stack.client + "/inspector*")


@pytest.fixture
def person(page, stack):
    """A learner driving the real stack in Chromium."""
    return Person(page, stack)
