"""A client registered with its own request_uri lifetime (the attack lab's), and the lab's demo data.

RFC 9126 §2.2 leaves the lifetime to the server; ours is PAR_EXPIRES_IN, or the
client's `request_uri_lifetime` metadata when it has one.
"""

import time

from auth_server.config import Config

from .conftest import CALLBACK

LAB = next(client for client in Config.CLIENTS if client["client_id"] == "notes-lab")
LAB_AUTH = (LAB["client_id"], LAB["client_secret"])


def test_the_lab_client_is_registered_with_a_short_lifetime():
    """DEMO ONLY data: the attack lab's own client, at the client app's callback, living 1-2 s."""
    assert 1 <= LAB["request_uri_lifetime"] <= 2
    assert LAB["redirect_uris"] == [CALLBACK]
    assert LAB["require_pushed_authorization_requests"] and LAB["require_pkce"]


def test_a_push_lives_as_long_as_its_client_says(flow):
    """The lab's push says expires_in = its lifetime; notes-web's still says PAR_EXPIRES_IN."""
    lab = flow.push(auth=LAB_AUTH)
    assert lab.status_code == 201
    assert lab.json["expires_in"] == LAB["request_uri_lifetime"]
    assert flow.push().json["expires_in"] == Config.PAR_EXPIRES_IN


def test_the_lab_request_uri_expires_after_its_own_lifetime(flow, monkeypatch):
    """One second past it, the arrival is refused as expired (notes-web's would still work)."""
    request_uri = flow.push(auth=LAB_AUTH).json["request_uri"]
    notes_web = flow.request_uri()
    later = time.time() + LAB["request_uri_lifetime"] + 1
    monkeypatch.setattr(time, "time", lambda: later)
    late = flow.authorize(request_uri, client_id="notes-lab")
    assert late.status_code == 400
    assert "expired" in late.text
    assert flow.authorize(notes_web).status_code == 303


def test_the_lab_users_sign_in(flow):
    """DEMO ONLY: the lab signs in as `lab`, and brute-forces `lab-target`: never alice or bob."""
    users = {user["username"]: user for user in Config.USERS}
    for name in ("lab", "lab-target"):
        login_url = flow.authorize(flow.request_uri()).location
        assert flow.login(login_url, name, users[name]["password"]).status_code == 303

