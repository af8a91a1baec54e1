"""Our client_app and notes_api against panva's oidc-provider, an OpenID Certified server.

provider.js runs oidc-provider unmodified, with PAR required, PKCE required, and JWT
access tokens (RFC 9068) for the resource urn:my-notes-api. client_app and
notes_api are pointed at it by environment variables alone (see provider_stack).
"""

from urllib.parse import urljoin

import pytest

from tests.stack import query

from .conftest import ProviderUser


@pytest.fixture
def alice_at_provider(browser, provider_stack):
    """Alice, about to log in to our client through oidc-provider."""
    return ProviderUser(browser, provider_stack)


def test_client_and_api_complete_the_flow(alice_at_provider, browser, provider_stack):
    """PAR, login and consent at the provider, code exchange, then notes from notes_api."""
    client = provider_stack.client_app.url
    callback_url = alice_at_provider.allow()
    assert callback_url.startswith(client + "/callback?")
    params = query(callback_url)
    assert {"code", "state", "iss"} <= set(params)
    # RFC 9207: oidc-provider names itself; client_app checks it against ISSUER.
    assert params["iss"] == provider_stack.issuer
    # Steps 8-10: client_app exchanges the code and validates the provider's ID token.
    landed = browser.get(callback_url)
    assert landed.status_code == 303, landed.text
    # Steps 11-12: notes_api accepts the provider's JWT access token.
    notes = browser.get(urljoin(client, landed.headers["Location"]))
    assert notes.status_code == 200, notes.text
    assert "Alice at oidc-provider" in notes.text  # claims from the provider's ID token
    assert "Buy oat milk and coffee beans." in notes.text  # alice's notes, from notes_api
    api_log = provider_stack.notes_api.log()
    assert "notes for sub=alice client_id=notes-web" in api_log


def test_adding_a_note_uses_the_providers_write_scope(alice_at_provider, browser, provider_stack):
    """POST through client_app to notes_api: the provider's token carries write:notes."""
    client = provider_stack.client_app.url
    browser.get(alice_at_provider.allow())
    page = browser.get(client + "/notes")
    added = browser.submit(page, text="Written with a token from oidc-provider")
    assert added.status_code == 303
    assert "Written with a token from oidc-provider" in browser.get(client + "/notes").text


def test_declining_at_the_provider_is_shown_as_declined(alice_at_provider, browser, provider_stack):
    """RFC 6749 §4.1.2.1: the provider's access_denied (with state and iss) reaches the user."""
    callback_url = alice_at_provider.deny()
    params = query(callback_url)
    assert params["error"] == "access_denied"
    assert params["iss"] == provider_stack.issuer
    page = browser.get(callback_url)
    assert page.status_code == 403
    assert "You declined" in page.text
