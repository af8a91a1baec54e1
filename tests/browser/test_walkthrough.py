"""The walkthrough in a real browser: log in by clicking, then read every step in the inspector."""

from urllib.parse import parse_qs
from urllib.parse import urlsplit

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips these tests (fails them in CI)
    expect = None


# The text of an element as revealed: each secret's value, without its toggle's labels.
REVEALED_TEXT = """element => {
    const copy = element.cloneNode(true);
    copy.querySelectorAll("details.secret > summary").forEach(summary => summary.remove());
    return copy.textContent;
}"""


def value(page, step, name):
    """A key value shown in a step's section (secrets must be revealed first)."""
    return page.locator(f"#step-{step} dd[data-name='{name}']").evaluate(REVEALED_TEXT).strip()


def message(page, step):
    """A step's HTTP message as displayed (secrets as revealed)."""
    return page.locator(f"#step-{step} pre.http").evaluate(REVEALED_TEXT)


def test_log_in_as_alice_by_clicking(person, page, stack, screenshots):
    """Home, Log in, the AS's login and consent pages, then Alice's notes from the API."""
    person.open_client()
    expect(page.get_by_text("Notes app — the client")).to_be_visible()
    page.screenshot(path=str(screenshots / "home.png"))
    person.click_log_in()
    page.wait_for_url(stack.auth + "/interaction/*/login")
    expect(page.get_by_text("Authorization Server").first).to_be_visible()
    person.sign_in()
    page.wait_for_url(stack.auth + "/interaction/*/consent")
    expect(page.get_by_text("Read your notes")).to_be_visible()
    page.screenshot(path=str(screenshots / "consent.png"))
    person.allow()
    page.wait_for_url(stack.client + "/notes")
    expect(page.get_by_role("heading", name="Your notes")).to_be_visible()
    expect(page.get_by_text("Alice Liddell")).to_be_visible()
    assert page.locator("ul.notes li").count() >= 1


def test_the_inspector_shows_twelve_consistent_steps(person, page, screenshots):
    """All twelve arrows lit; the values carried from step to step are really the same."""
    person.log_in()
    person.open_inspector()
    arrows = page.locator("svg.flow-diagram a.step")
    expect(arrows).to_have_count(12)
    assert [arrows.nth(i).get_attribute("data-state") for i in range(12)] == ["done"] * 12
    sections = page.locator("section.step")
    assert [sections.nth(i).get_attribute("data-state") for i in range(12)] == ["done"] * 12
    page.locator(".controls").scroll_into_view_if_needed()
    page.evaluate("document.querySelector('.controls').scrollIntoView()")
    page.screenshot(path=str(screenshots / "inspector.png"))

    page.get_by_role("link", name="Show every secret").click()
    expect(page.get_by_role("link", name="Mask the secrets again")).to_be_visible()
    # Step 3's request_uri is the one in step 4's redirect.
    request_uri = value(page, 3, "request_uri")
    assert request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    assert value(page, 4, "request_uri") == request_uri
    location = value(page, 4, "Location")
    assert parse_qs(urlsplit(location).query)["request_uri"] == [request_uri]
    assert f'"request_uri": "{request_uri}"' in message(page, 3)
    # Step 7's code is the one sent in step 8.
    code = value(page, 7, "code")
    assert len(code) >= 32
    assert value(page, 8, "code") == code
    assert f"code={code}" in message(page, 7) and f"&code={code}" in message(page, 8)
    # Step 10's access token is the Bearer of step 11.
    access_token = value(page, 10, "access_token")
    assert access_token.count(".") == 2
    assert value(page, 11, "access token (Bearer)") == access_token
    assert f"Authorization: Bearer {access_token}" in message(page, 11)
    # Every cross-step check says "same".
    checks = page.locator("ul.checks li")
    assert checks.count() == 6
    assert all(text.startswith("✓ same") for text in checks.all_inner_texts())
    # The AS's own account: steps 5 and 6, and step 9's checks, all passed.
    expect(page.locator("#step-5 table.server-requests tr")).to_have_count(4)
    outcomes = page.locator("#step-9 table.token-checks td:nth-child(3)").all_inner_texts()
    assert outcomes == ["passed"] * 8
    # Both JWTs decoded, their signatures checked against the JWKS.
    for token in ("id_token", "access_token"):
        expect(page.locator(f"p.signature[data-token='{token}']")).to_contain_text("Signature check: passed")
    expect(page.locator("table.jwt-claims[data-token='access_token'] tr[data-claim='aud']")).to_contain_text(
        "urn:my-notes-api")
    # Step 12: Alice's notes, as the API sent them.
    assert "HTTP 200" in message(page, 12) and '"notes"' in message(page, 12)


def test_secrets_are_masked_and_revealed_with_the_keyboard(person, page):
    """A masked code opens with Enter on its toggle, and closes again."""
    person.log_in()
    person.open_inspector()
    toggle = page.locator("#step-8 dd[data-name='code'] summary")
    secret = page.locator("#step-8 dd[data-name='code'] .value")
    expect(toggle.locator(".masked")).to_have_text(secret.text_content()[:6] + "…")
    expect(secret).to_be_hidden()
    toggle.focus()
    page.keyboard.press("Enter")
    expect(secret).to_be_visible()
    expect(toggle.locator(".masked")).to_be_hidden()
    assert len(secret.inner_text()) >= 32
    page.keyboard.press("Enter")
    expect(secret).to_be_hidden()


def test_an_arrow_is_a_link_to_its_step(person, page):
    """Tab to an arrow, press Enter: the page goes to that step's details."""
    person.open_client()
    person.open_inspector()
    page.locator("#arrow-9").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/inspector#step-9")
    expect(page.locator("#step-9")).to_be_in_viewport()


def test_step_by_step_mode_pauses_and_resumes(person, page, stack):
    """With the switch on, the client waits before 2, 8 and 11; each Send goes one step on."""
    person.open_client()
    page.get_by_role("button", name="Step-by-step mode: off").click()
    expect(page.get_by_role("button", name="Step-by-step mode: on")).to_be_visible()
    person.click_log_in()
    for step in (2, 8, 11):
        page.wait_for_url(f"{stack.client}/inspector#step-{step}")
        expect(page.get_by_text(f"Paused before step {step}")).to_be_visible()
        assert page.locator(f"#arrow-{step}").get_attribute("data-state") == "paused"
        assert page.locator(f"#arrow-{step + 1}").get_attribute("data-state") == "pending"
        page.locator("#send-step").click()
        if step == 2:
            person.sign_in()
            person.allow()
    page.wait_for_url(stack.client + "/notes")
    expect(page.get_by_text("Alice Liddell")).to_be_visible()
    person.open_inspector()
    states = [page.locator(f"#arrow-{n}").get_attribute("data-state") for n in range(1, 13)]
    assert states == ["done"] * 12
