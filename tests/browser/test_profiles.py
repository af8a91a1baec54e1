"""The three profiles in Chromium: each logs in from the home page; the defence matrix fills every cell."""

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from client_app.lab.matrix import PROFILE_NAMES
from client_app.lab.matrix import ROWS

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips (or fails in CI) with the reason
    expect = None

# The home page's labels, and what each profile's step-4 URL carries besides client_id.
PROFILES = {
    "Classic (no PAR)": ("notes-classic", {"response_type", "scope", "redirect_uri", "state", "nonce",
                                           "code_challenge", "code_challenge_method"}),
    "PAR": ("notes-web", {"request_uri"}),
    "FAPI 2.0": ("notes-fapi", {"request_uri"}),
}


@pytest.mark.parametrize("title", PROFILES)
def test_each_profile_logs_in_from_the_home_page(person, page, stack, title, screenshots):
    """Pick the profile, log in as alice: the notes page, with the profile named in the header."""
    client_id, carried = PROFILES[title]
    authorize_urls = []
    page.on("request", lambda request: authorize_urls.append(request.url)
            if urlsplit(request.url).path == "/authorize" else None)
    person.log_in(profile=title)
    expect(page.locator("#profile-in-use")).to_contain_text(f"profile: {title} ({client_id})")
    expect(page.get_by_role("heading", name="Your notes")).to_be_visible()
    query = parse_qs(urlsplit(authorize_urls[0]).query)
    assert query["client_id"] == [client_id]
    assert set(query) - {"client_id", "audience"} == carried
    page.screenshot(path=str(screenshots / f"profile-{client_id}.png"), full_page=True)


def test_the_classic_flow_skips_the_push_in_the_inspector(person, page):
    """The inspector's steps 2 and 3 say "not in this profile" for a classic login."""
    person.log_in(profile="Classic (no PAR)")
    person.open_inspector()
    for number in (2, 3):
        expect(page.locator(f"#step-{number}")).to_have_attribute("data-state", "skipped")
    expect(page.locator("#step-4")).to_have_attribute("data-state", "done")


def test_the_matrix_page_fills_every_cell(person, page, stack, screenshots):
    """Run the matrix from the lab: every attack against every profile, no cell empty, all as expected."""
    page.goto(stack.client + "/lab")
    page.get_by_role("link", name="the defence matrix").click()
    page.get_by_role("button", name="Run the matrix").click()
    cells = len(ROWS) * len(PROFILE_NAMES)
    expect(page.locator("#matrix-summary")).to_contain_text(f"{cells} of {cells} cells as the specs say",
                                                             timeout=60_000)
    for attack in ROWS:
        for name in PROFILE_NAMES:
            cell = page.locator(f"#cell-{attack.slug}-{name}")
            assert cell.get_attribute("data-outcome") in ("BLOCKED", "SUCCEEDED")
            assert cell.get_attribute("data-outcome") == cell.get_attribute("data-expected")
            expect(cell.locator(".verdict")).to_be_visible()
    with page.expect_download() as download:
        page.locator("#download-md").click()
    assert download.value.suggested_filename == "defence-matrix.md"
    page.screenshot(path=str(screenshots / "defence-matrix.png"), full_page=True)
