"""`down` (keeping the volumes) then `up`: notes, logins and keys survive."""

import secrets
from urllib.parse import urlencode

import requests

from tests.stack import add_note
from tests.stack import authorize
from tests.stack import log_in
from tests.stack import query

# The seed's own client (par-flow.md); a test may play it from the host.
SEED_CLIENT = {"client_id": "seed-cli", "client_secret": "seed-cli-secret"}
SEED_REDIRECT_URI = "https://jwt.io"


def seed_cli_access_token(stack):
    """An access token for alice, obtained as the seed's curl walkthrough does it."""
    pushed = requests.post(stack.auth + "/oauth/par", timeout=5, data={
        **SEED_CLIENT, "redirect_uri": SEED_REDIRECT_URI, "audience": "urn:my-notes-api",
        "scope": "openid profile read:notes", "response_type": "code"})
    assert pushed.status_code == 201
    authorize_url = stack.auth + "/authorize?" + urlencode(
        {"client_id": "seed-cli", "request_uri": pushed.json()["request_uri"]})
    with requests.Session() as browser:
        back = authorize(browser, authorize_url)
    assert back.startswith(SEED_REDIRECT_URI + "?")
    tokens = requests.post(stack.auth + "/oauth/token", timeout=5, data={
        **SEED_CLIENT, "grant_type": "authorization_code", "code": query(back)["code"],
        "redirect_uri": SEED_REDIRECT_URI})
    assert tokens.status_code == 200
    return tokens.json()["access_token"]


def test_notes_and_keys_survive_down_and_up(browser, stack):
    """New containers, same volumes: alice's new note is there and old tokens verify."""
    assert log_in(browser, stack).status_code == 200
    text = f"Written before compose down ({secrets.token_hex(4)})"
    add_note(browser, stack, text)
    token = seed_cli_access_token(stack)
    jwks = requests.get(stack.auth + "/.well-known/jwks.json", timeout=5).json()
    old_ids = {name: container.id for name, container in stack.containers().items()}

    stack.down()
    assert stack.containers() == {}
    stack.up()

    assert all(stack.container(name).id != old_id for name, old_id in old_ids.items())
    # The signing keys came back from the auth_server's volume...
    assert requests.get(stack.auth + "/.well-known/jwks.json", timeout=5).json() == jwks
    # ...so a token issued before `down` still verifies at the new API container.
    listed = requests.get(stack.api + "/api/notes", timeout=5,
                          headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    assert text in [note["text"] for note in listed.json()["notes"]]
    # The browser's login survived on the client's volume, and the note on the API's.
    page = browser.get(stack.client + "/notes", allow_redirects=False)
    assert page.status_code == 200
    assert text in page.text
