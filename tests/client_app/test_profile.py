"""The client's profiles: par (the default) as before FAPI 2.0 came, and the choice on the home page."""

import base64
import re
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from client_app import create_app
from client_app.fapi import keys
from client_app.models import db


def basic(client_id, secret):
    """RFC 7617: the Authorization header of client_secret_basic."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class TestTheParProfileIsUnchanged:
    """The par profile (PROFILE's default): the secret, a plain push, Bearer tokens; without fapi2 offered, no keys."""

    @pytest.fixture
    def settings(self, settings):
        """The conftest's settings (classic and par offered), PROFILE left at its default."""
        return {key: value for key, value in settings.items() if key != "PROFILE"}

    def test_no_fapi_piece_is_used(self, app, client, flow, auth_server, notes_api):
        """No request object, no assertion, no proof; the secret in HTTP Basic; Bearer at the API."""
        assert app.config["PROFILE"] == "par"
        flow.complete()
        client.get("/notes")
        push = auth_server.pushes[-1]
        assert "request" not in push["form"] and "client_assertion" not in push["form"]
        assert push["authorization"].startswith("Basic ")
        assert push["dpop"] is None and auth_server.token_requests[-1]["dpop"] is None
        assert notes_api.requests[-1]["authorization"].startswith("Bearer ")
        assert notes_api.proofs[-1] is None
        assert client.get("/.well-known/jwks.json").status_code == 404
        with app.app_context():
            assert db.session.scalars(select(keys.ClientKey)).all() == []


class TestProfilesChosenOnTheHomePage:
    """classic, par and fapi2: each login runs the profile picked on the home page, as its own client."""

    def test_the_home_page_offers_each_profile_with_par_preselected(self, client, expect_page):
        """A radio button per offered profile (PROFILES), PROFILE checked; the header says none is in use yet."""
        page = expect_page(client.get("/"), 200, "Classic (no PAR)", "notes-classic", "notes-web",
                           "profile: none yet")
        assert re.search(r'value="par" id="profile-par" checked', page)
        assert 'id="profile-classic">' in page

    def test_a_classic_login_puts_the_whole_request_in_the_url(self, app, client, flow, auth_server, expect_page):
        """No push: step 4's URL carries response_type, scope, state, nonce and PKCE (RFC 6749 §4.1.1)."""
        auth_server.id_token_claims = {"aud": "notes-classic", "azp": "notes-classic"}
        started = flow.start("classic")
        assert auth_server.pushes == []
        location = urlsplit(started.headers["Location"])
        query = dict(parse_qsl(location.query))
        assert location.path == "/authorize"
        assert query["client_id"] == "notes-classic"
        assert {"response_type", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                "code_challenge_method"} <= set(query)
        assert "request_uri" not in query
        assert flow.row().profile == "classic"
        assert flow.callback().headers["Location"] == "/notes"
        token_request = auth_server.token_requests[-1]
        assert token_request["authorization"] == basic("notes-classic", "notes-classic-secret")
        expect_page(client.get("/notes"), 200, "profile: <strong>Classic (no PAR)</strong> (notes-classic)")

    def test_a_par_login_is_recorded_as_par(self, flow, client, expect_page):
        """The par profile pushes as notes-web; the login row and every page say so."""
        flow.complete()
        assert flow.row().profile == "par"
        assert flow.pushed()["client_id"] == "notes-web"
        expect_page(client.get("/notes"), 200, "profile: <strong>PAR</strong> (notes-web)")

    def test_a_profile_not_offered_gets_a_readable_400(self, flow, expect_page, auth_server):
        """An unknown (or not offered) profile: a page naming the choices, and nothing pushed."""
        for name in ("fapi2", "nope"):
            expect_page(flow.start(name), 400, "Unknown profile", "classic, par")
        assert auth_server.pushes == []

    def test_step_mode_under_classic_first_waits_before_step_8(self, flow, client):
        """Nothing to push: the classic login goes straight to the AS, and pauses at the callback."""
        flow.post_form("/inspector/step-mode", {"on": "1"})
        started = flow.start("classic")
        assert urlsplit(started.headers["Location"]).path == "/authorize"
        assert flow.callback().headers["Location"].endswith("#step-8")


def test_profiles_must_be_known_and_include_the_default(settings):
    """A typo in PROFILES, or a PROFILE not offered, stops the app at start."""
    with pytest.raises(ValueError, match="PROFILES"):
        create_app({**settings, "PROFILES": ("classic", "oauth1")})
    with pytest.raises(ValueError, match="PROFILE must be one of PROFILES"):
        create_app({**settings, "PROFILES": ("classic",), "PROFILE": "par"})


class TestALoginOfAProfileNoLongerOffered:
    """PROFILES changed while a browser was logged in: a readable page, the login ended, no 500."""

    def rewrite_profile(self, app, flow, name):
        """Make the browser's login one of profile `name`, as if PROFILES had since changed."""
        from client_app.models import LoginSession
        with app.app_context():
            db.session.execute(db.update(LoginSession).values(profile=name))
            db.session.commit()

    @pytest.mark.parametrize("name", ["fapi2", "gone"])
    def test_every_page_is_readable_and_the_login_ends(self, app, client, flow, expect_page, name):
        """The header never fails; a page that needs the profile says to log in again, and logs out."""
        flow.complete()
        self.rewrite_profile(app, flow, name)
        expect_page(client.get("/"), 200)
        expect_page(client.get("/notes"), 400, "Please log in again", "no longer offers")
        assert flow.rows() == []
        expect_page(client.get("/inspector"), 200)


def test_a_profile_never_shows_its_secret_in_a_repr(app):
    """A Profile printed (a log line, a template) shows no client secret."""
    from client_app.config import profiles
    shown = repr(profiles(app.config)["par"])
    assert "notes-web" in shown and app.config["CLIENT_SECRET"] not in shown
