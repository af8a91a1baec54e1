"""Classic, then PAR, compared side by side in a real browser: what each put in the browser's URL."""

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture then skips these tests (fails them in CI)
    expect = None


def log_in_with(person, page, stack, profile):
    """From the home page: pick a profile, Log in, sign in as alice, Allow; waits for the notes."""
    person.open_client()
    page.locator(f"#profile-{profile}").check()
    person.click_log_in()
    person.sign_in()
    person.allow()
    page.wait_for_url(stack.client + "/notes")
    expect(page.locator("#profile-in-use")).to_contain_text(profile == "classic" and "Classic" or "PAR")


def exposed(page, side):
    """The names of the parameters a column says the browser was shown at step 4."""
    return page.locator(f"#exposed-{side} dt").all_inner_texts()


def test_classic_and_par_side_by_side(person, page, stack, screenshots):
    """The classic URL carries the whole request; PAR's, client_id and request_uri; 2-3 only in PAR."""
    log_in_with(person, page, stack, "classic")
    # A logged-in home page offers Log out; the next login then starts from the choice.
    person.open_client()
    page.get_by_role("button", name="Log out").click()
    log_in_with(person, page, stack, "par")

    page.get_by_role("navigation", name="Client pages").get_by_role("link", name="Compare flows").click()
    page.wait_for_url(stack.client + "/inspector/compare")
    classic = page.locator("#choose-a option", has_text="Classic (no PAR)").get_attribute("value")
    page.locator("#choose-a").select_option(classic)
    page.locator("#choose-b").select_option("current")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(stack.client + "/inspector/compare?a=*&b=current")

    expect(page.locator("#compare-a h2")).to_contain_text("Classic (no PAR)")
    expect(page.locator("#compare-b h2")).to_contain_text("PAR")
    names_a, names_b = exposed(page, "a"), exposed(page, "b")
    assert {"client_id", "scope", "state", "nonce", "code_challenge", "redirect_uri"} <= set(names_a)
    assert sorted(names_b) == ["client_id", "request_uri"]
    # The state is masked; the scope, public, is shown whole.
    expect(page.locator("#exposed-a dd[data-name='scope']")).to_contain_text("read:notes")
    assert page.locator("#exposed-a dd[data-name='state']").inner_text().endswith("…")
    length_a = int(page.locator("#front-channel-length-a").inner_text())
    length_b = int(page.locator("#front-channel-length-b").inner_text())
    assert length_a > length_b
    expect(page.locator("#compare-a pre.access-log")).to_contain_text("scope=openid")
    # Steps 2-3 exist only in the PAR flow.
    only_b = page.locator("#only-in .only[data-side='b'] li[data-step]")
    assert [only_b.nth(i).get_attribute("data-step") for i in range(only_b.count())] == ["2", "3"]
    expect(page.locator("#only-in .only[data-side='a'] li[data-step]")).to_have_count(0)
    for side in "ab":
        expect(page.locator(f"#binding-{side}")).to_contain_text("Bearer: anyone who holds it can use it")
    # The two front channels, side by side.
    page.evaluate("document.querySelector('.side-by-side').scrollIntoView()")
    page.screenshot(path=str(screenshots / "compare.png"))
