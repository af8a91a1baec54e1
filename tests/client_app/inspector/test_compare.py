"""GET /inspector/compare: two of a browser's flows side by side, kept masked after their logins end."""

import base64
import html
import json
import re
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
from joserfc import jwt
from sqlalchemy import select
from sqlalchemy import update

from client_app.inspector import compare
from client_app.flow import messages
from client_app.inspector.compare import RecordedFlow
from client_app.models import LoginSession
from client_app.models import db
from client_app.models import now

from ..conftest import CLIENT_ID
from ..conftest import CLIENT_SECRET
from ..test_fapi import FAPI_CLIENT
from ..test_fapi import dpop_key_thumbprint
from ..test_fapi import ps256_key  # noqa: F401 (a fixture)

CLASSIC_CLIENT = "notes-classic"
CLASSIC_SECRET = "notes-classic-secret"
BEARER = "Bearer: anyone who holds it can use it (RFC 6750 §1.2)."


@pytest.fixture
def settings(settings):
    """The conftest's settings (classic and par offered), with room for many logins a minute."""
    return {**settings, "LOGINS_PER_BROWSER": 50, "LOGINS_PER_ADDRESS": 50}


class Learner:
    """Logs in with a profile, as on the home page, and keeps every secret the flows used."""

    def __init__(self, flow):
        self.flow = flow
        self.secrets = []
        self.locations = {}

    def log_in(self, profile):
        """A whole login with a profile, and one API call; returns the login's flow id."""
        client_id = CLASSIC_CLIENT if profile == "classic" else CLIENT_ID
        self.flow.auth_server.id_token_claims = {"aud": client_id, "azp": client_id}
        started = self.flow.start(profile)
        code = f"code-of-login-{len(self.locations)}-long-enough-to-be-cut"
        assert self.flow.callback(code=code).headers["Location"] == "/notes"
        assert self.flow.client.get("/notes").status_code == 200
        row = self.flow.row()
        self.locations[row.flow_id] = started.headers["Location"]
        pushed = self.flow.pushed()
        token_request = self.flow.auth_server.token_requests[-1]
        self.secrets += [pushed["state"], pushed["nonce"], code, token_request["form"]["code_verifier"],
                         row.access_token, row.refresh_token, row.id_token]
        if self.flow.auth_server.pushes and profile != "classic":
            self.secrets.append(f"urn:ietf:params:oauth:request_uri:req-{len(self.flow.auth_server.pushes)}")
        return row.flow_id

    def log_out(self):
        """The Log out button."""
        assert self.flow.post_form("/logout").status_code == 303

    def keys(self):
        """{flow id: its key in ?a= and ?b=}, from the choices on the compare page."""
        page = html.unescape(self.flow.client.get("/inspector/compare").get_data(as_text=True))
        return {flow_id: key for key, flow_id in
                re.findall(r'<option value="([^"]+)"[^>]*>[^<]*, flow ([0-9a-f]+),', page)}

    def compare(self, a, b):
        """The compare page for two flow keys."""
        return self.flow.client.get("/inspector/compare", query_string={"a": a, "b": b})


@pytest.fixture
def learner(flow):
    """A learner on the fake AS and Notes API."""
    return Learner(flow)


def exposed(page, side):
    """The parameters a column says step 4 exposed to the browser: {name: shown value}."""
    block = re.search(rf'<dl class="values" id="exposed-{side}">(.*?)</dl>', page, re.S).group(1)
    return dict(re.findall(r'<dt>(.*?)</dt><dd data-name="[^"]*">(.*?)</dd>', block))


def length(page, side):
    """The length a column gives for step 4's URL."""
    return int(re.search(rf'id="front-channel-length-{side}">(\d+)<', page).group(1))


def access_log(page, side):
    """The AS's access-log line a column gives for step 4."""
    column = page[page.index(f'id="compare-{side}"'):]
    return html.unescape(re.search(r'<pre class="access-log">(.*?)</pre>', column, re.S).group(1))


def back_channel(page, side):
    """A column's back-channel requests: (step, authentication, DPoP proof "yes"/"no", answer)."""
    column = page[page.index(f'id="compare-{side}"'):]
    column = column[:column.index('id="compare-b"')] if side == "a" else column
    return re.findall(r'<tr data-step="(\d+)" data-authentication="([^"]+)" data-dpop="(yes|no)" '
                      r'data-answer="([^"]+)">', column)


def only_in(page, side):
    """The steps and mechanisms the page says only one side has."""
    block = re.search(rf'<div class="only" data-side="{side}">(.*?)</div>', page, re.S).group(1)
    return ([int(n) for n in re.findall(r'<li data-step="(\d+)"', block)],
            re.findall(r'<li data-mechanism="([a-z_]+)"', block))


def binding(page, side):
    """The token binding a column states."""
    return re.search(rf'<p id="binding-{side}">(.*?)</p>', page, re.S).group(1)


def cell(page, step, side):
    """One cell of the step table: (state, present)."""
    row = re.search(rf'<tr data-step="{step}">(.*?)</tr>', page, re.S).group(1)
    found = re.search(rf'<td data-side="{side}" data-state="([^"]+)" data-present="(yes|no)"', row)
    return found.group(1), found.group(2) == "yes"


def credentials():
    """Both clients' secrets in every form they take on the wire."""
    found = []
    for client_id, secret in ((CLIENT_ID, CLIENT_SECRET), (CLASSIC_CLIENT, CLASSIC_SECRET)):
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        found += [secret, basic, basic.rstrip("=")]
    return found


def test_no_flow_yet(client, expect_page):
    """A browser with no flow: a way to start one, and no comparison."""
    page = expect_page(client.get("/inspector/compare"), 200, "Compare two flows", "No recorded flow")
    assert 'id="compare-a"' not in page


@pytest.mark.parametrize("path", ["/", "/inspector", "/nowhere"])
def test_linked_from_the_nav(client, path):
    """The header of every page links to it (and the inspector's controls too)."""
    page = client.get(path).get_data(as_text=True)
    assert re.search(r'<nav[^>]*>.*href="/inspector/compare".*</nav>', page, re.S)
    if path == "/inspector":
        assert 'id="compare-link"' in page


def test_classic_against_par(learner, expect_page):
    """Classic's URL exposes the whole request and is longer; PAR's only client_id and request_uri."""
    classic = learner.log_in("classic")
    par = learner.log_in("par")  # the classic login ends here, its flow kept
    keys = learner.keys()
    assert list(keys) == [par, classic]  # the live flow first
    assert keys[par] == compare.CURRENT
    page = expect_page(learner.compare(keys[classic], keys[par]), 200,
                       f"Classic (no PAR), flow {classic}", f"PAR, flow {par}")
    assert 'id="compare-a"' in page and 'id="compare-b"' in page

    # What the browser saw: the real length of each step-4 URL, and its parameters.
    assert length(page, "a") == len(learner.locations[classic])
    assert length(page, "b") == len(learner.locations[par])
    assert length(page, "a") > length(page, "b")
    shown_a, shown_b = exposed(page, "a"), exposed(page, "b")
    assert {"client_id", "response_type", "redirect_uri", "scope", "state", "nonce", "code_challenge",
            "code_challenge_method"} <= set(shown_a)
    sent = dict(parse_qsl(urlsplit(learner.locations[classic]).query))
    assert html.unescape(shown_a["scope"]) == sent["scope"]
    assert shown_a["state"] == sent["state"][:6] + "…"
    assert set(shown_b) == {"client_id", "request_uri"}
    assert shown_b["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    text = html.unescape(page)
    assert "This exact URL lands in the browser's history" in " ".join(text.split())
    log_a, log_b = access_log(page, "a"), access_log(page, "b")
    assert log_a.startswith('"GET /authorize?') and log_a.endswith(' HTTP/1.1"')
    assert f"scope={sent['scope']}" in log_a and f"state={sent['state'][:6]}…&" in log_a
    assert log_b == ('"GET /authorize?client_id=notes-web&request_uri=urn:ietf:params:oauth:request_uri:…'
                     ' HTTP/1.1"')

    # Which steps exist in one only: the push and its answer.
    assert cell(page, 2, "a") == ("skipped", False) and cell(page, 3, "a") == ("skipped", False)
    assert cell(page, 2, "b") == ("recorded", True) and cell(page, 3, "b") == ("recorded", True)
    assert all(cell(page, n, side)[1] for n in (1, 4, 5, 6, 7, 8, 9, 10, 11, 12) for side in "ab")
    assert only_in(page, "a") == ([], [])
    assert only_in(page, "b") == ([2, 3], ["push"])

    # The back channel: the secret in HTTP Basic everywhere, no proof, no request object.
    assert back_channel(page, "a") == [("8", "client_secret_basic", "no", "HTTP 200"),
                                       ("11", "the access token (Bearer)", "no", "HTTP 200")]
    assert back_channel(page, "b") == [("2", "client_secret_basic", "no", "HTTP 201"),
                                       ("8", "client_secret_basic", "no", "HTTP 200"),
                                       ("11", "the access token (Bearer)", "no", "HTTP 200")]
    assert 'id="dpop-proofs-a">0<' in page and 'id="dpop-proofs-b">0<' in page
    assert binding(page, "a") == binding(page, "b") == html.escape(BEARER)


def test_no_secret_reaches_the_page(learner, app):
    """State, nonce, code, verifier, tokens, request_uri, client secrets: none whole, live or kept."""
    app.config["INSPECTOR_SHOWS_TOKENS"] = True  # kept flows hold no token, whatever it says
    classic, par = learner.log_in("classic"), learner.log_in("par")
    keys = learner.keys()
    live = learner.compare(keys[classic], keys[par]).get_data(as_text=True)
    learner.log_out()
    keys = learner.keys()
    assert set(keys) == {classic, par} and compare.CURRENT not in keys.values()
    kept = learner.compare(keys[classic], keys[par]).get_data(as_text=True)
    assert 'id="compare-a"' in kept and 'id="compare-b"' in kept
    with app.app_context():
        stored = json.dumps([row.summary for row in db.session.scalars(select(RecordedFlow))])
    assert len(learner.secrets) == 15
    for text in (live, html.unescape(live), kept, html.unescape(kept), stored):
        for secret in learner.secrets + credentials():
            assert secret not in text


def test_a_kept_flow_reads_as_it_did_live(learner, app):
    """The summary kept at logout is the one the live flow gives (the same masked data)."""
    learner.log_in("par")
    with app.test_request_context():
        login = db.session.get(LoginSession, learner.flow.row().id)
        live = compare.summary(login, messages(login.id))
    learner.log_out()
    with app.app_context():
        (row,) = db.session.scalars(select(RecordedFlow)).all()
    assert row.summary == json.loads(json.dumps(live))
    assert (row.profile, row.flow_id) == ("par", live["flow_id"])
    assert [s["number"] for s in live["steps"] if s["present"]] == list(range(1, 13))


def test_a_browser_keeps_its_last_five_flows(learner, app):
    """Seven ended logins: the five newest are kept, the older two deleted."""
    flows = [learner.log_in("classic" if n % 2 else "par") for n in range(7)]
    learner.log_out()
    with app.app_context():
        kept = db.session.scalars(select(RecordedFlow.flow_id).order_by(RecordedFlow.id)).all()
    assert kept == flows[2:]
    assert list(learner.keys()) == flows[:1:-1]


def test_no_more_than_kept_in_all_flows_are_kept(learner, app, flow, monkeypatch):
    """Fresh cookies cannot grow the table without bound: the oldest flows of all browsers go first."""
    monkeypatch.setattr(compare, "KEPT_IN_ALL", 3)
    first = learner.log_in("par")
    learner.log_out()
    others = []
    for _ in range(3):
        browser = Learner(type(flow)(app, app.test_client(), flow.auth_server))
        others.append(browser.log_in("classic"))
        browser.log_out()
    with app.app_context():
        kept = db.session.scalars(select(RecordedFlow.flow_id).order_by(RecordedFlow.id)).all()
    assert kept == others
    assert first not in learner.keys()


def test_flows_older_than_a_day_are_purged(learner, app):
    """A flow kept more than 24 h is no longer offered, and the next one kept deletes it."""
    old = learner.log_in("par")
    newer = learner.log_in("par")
    with app.app_context():
        db.session.execute(update(RecordedFlow).values(recorded_at=now() - compare.KEPT_SECONDS - 1))
        db.session.commit()
    assert list(learner.keys()) == [newer]
    learner.log_out()
    with app.app_context():
        assert db.session.scalars(select(RecordedFlow.flow_id)).all() == [newer]
    assert old not in learner.keys()


def test_another_browser_cannot_see_a_flow(learner, app, flow, expect_page):
    """Browser B names browser A's kept flow by its id: 404, and nothing of it on the page."""
    mine = learner.log_in("par")
    learner.log_out()
    (key,) = learner.keys().values()
    other = type(flow)(app, app.test_client(), flow.auth_server)
    theirs = Learner(other)
    theirs.log_in("classic")
    assert mine not in theirs.keys()
    for query in ({"a": key, "b": compare.CURRENT}, {"a": compare.CURRENT, "b": key}):
        page = expect_page(other.client.get("/inspector/compare", query_string=query), 404, "No such flow")
        assert mine not in page
    # A's own browser still sees it.
    assert 'id="compare-a"' in learner.compare(key, key).get_data(as_text=True)


@pytest.mark.parametrize(("a", "status", "says"), [
    ("not-a-flow", 400, "Not a flow"),
    ("1 OR 1=1", 400, "Not a flow"),
    ("9" * 13, 400, "Not a flow"),
    ("999", 404, "No such flow"),
    (compare.CURRENT, 404, "No such flow"),  # logged out: no live flow
])
def test_bad_choices_get_a_readable_page(learner, expect_page, a, status, says):
    """A key that is not one, or names no flow of this browser: 400 or 404, a page, never a 500."""
    learner.log_in("par")
    learner.log_out()
    (key,) = learner.keys().values()
    expect_page(learner.compare(a, key), status, says)
    expect_page(learner.compare(key, a), status, says)


def test_one_flow_chosen_shows_the_choice_only(learner, expect_page):
    """Only ?a=: the form again, no comparison yet."""
    learner.log_in("par")
    page = expect_page(learner.flow.client.get("/inspector/compare?a=current"), 200, "Compare")
    assert 'id="compare-a"' not in page
    assert re.search(r'<option value="current" selected>', page)


def unsigned_jwt(claims):
    """A JWT with these claims and no valid signature (binding() reads claims without verifying)."""
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJub25lIn0.{part}.c2ln"


@pytest.mark.parametrize(("tokens", "token_type", "jkt", "says"), [
    ({"token_type": "Bearer", "access_token": "opaque"}, "Bearer", None, BEARER),
    ({"token_type": "bearer", "access_token": unsigned_jwt({"sub": "alice"})}, "bearer", None, BEARER),
    ({"token_type": "DPoP", "access_token": unsigned_jwt({"cnf": {"jkt": "the-thumbprint"}})}, "DPoP",
     "the-thumbprint", "DPoP: bound to the key with thumbprint the-thumbprint (RFC 9449 §6)"),
    ({"token_type": "DPoP", "access_token": "opaque"}, "DPoP", None, "the token shows no cnf claim"),
    ({"token_type": "DPoP", "access_token": unsigned_jwt({"cnf": "not an object"})}, "DPoP", None, "no cnf"),
    ({"token_type": "DPoP", "access_token": "eyJ.not-base64!.x"}, "DPoP", None, "no cnf"),
    ({"token_type": "N_A", "access_token": "opaque"}, "N_A", None, "a token type this client does not know"),
    ({"access_token": "opaque"}, None, None, "No token"),
    ({}, None, None, "No token"),
])
def test_what_the_token_is_bound_to(tokens, token_type, jkt, says):
    """Step 10's token_type and, for DPoP, the access token's cnf.jkt; anything odd read calmly."""
    found = compare.binding(tokens)
    assert (found["token_type"], found["jkt"]) == (token_type, jkt)
    assert says in found["text"]


def test_no_archive_without_a_recorded_message(app, flow):
    """A login deleted before it recorded anything leaves nothing to compare."""
    with app.test_request_context():
        login = LoginSession(id="never-recorded", flow_id="0000", profile="par")
        db.session.add(login)
        db.session.commit()
        db.session.delete(login)
        db.session.commit()
        assert db.session.scalars(select(RecordedFlow)).all() == []


class TestFapi2:
    """FAPI 2.0 against classic: DPoP proofs counted, the token bound to the key's thumbprint."""

    @pytest.fixture
    def settings(self, settings):
        """All three profiles offered (fapi2's keys made at start)."""
        return {**settings, "PROFILES": ("classic", "par", "fapi2"), "FAPI_CLIENT_ID": FAPI_CLIENT}

    def test_dpop_proofs_and_binding(self, app, flow, auth_server, ps256_key, signing_key, learner,
                                     expect_page):
        """Two proofs (token request, API call), cnf.jkt shown; the push, a request object, a key, DPoP only in FAPI."""
        classic = learner.log_in("classic")
        # The fake AS as it answers notes-fapi (test_fapi.py): PS256, a nonce, a DPoP-bound JWT access token.
        jkt = dpop_key_thumbprint(app)
        access_token = jwt.encode({"alg": "PS256", "kid": ps256_key.kid, "typ": "at+jwt"},
                                  {"sub": "alice", "cnf": {"jkt": jkt}}, ps256_key, algorithms=["PS256"])
        auth_server.published_keys = [signing_key, ps256_key]
        auth_server.id_token_key, auth_server.id_token_alg = ps256_key, "PS256"
        auth_server.id_token_claims = {"aud": FAPI_CLIENT, "azp": FAPI_CLIENT}
        auth_server.token_extra = {"token_type": "DPoP", "access_token": access_token}
        auth_server.dpop_nonce = "nonce-from-the-as"
        started = flow.start("fapi2")
        assert flow.callback(code="a-fapi-code-long-enough-to-be-cut").headers["Location"] == "/notes"
        assert flow.client.get("/notes").status_code == 200
        fapi = flow.row().flow_id
        keys = learner.keys()
        page = expect_page(learner.compare(keys[classic], keys[fapi]), 200, f"FAPI 2.0, flow {fapi}")
        assert 'id="dpop-proofs-b">2<' in page and 'id="dpop-proofs-a">0<' in page
        assert binding(page, "a") == html.escape(BEARER)
        assert binding(page, "b") == html.escape(
            f"DPoP: bound to the key with thumbprint {jkt} (RFC 9449 §6); "
            "a stolen copy is useless without that private key.")
        assert set(exposed(page, "b")) == {"client_id", "request_uri"}
        assert length(page, "b") == len(started.headers["Location"])
        assert only_in(page, "b") == ([2, 3], ["push", "request_object", "private_key_jwt", "dpop"])
        assert only_in(page, "a") == ([], ["client_secret"])
        assert back_channel(page, "b") == [("2", "private_key_jwt", "no", "HTTP 201"),
                                           ("8", "private_key_jwt", "yes", "HTTP 200"),
                                           ("11", "the access token (DPoP)", "yes", "HTTP 200")]
        assert "signed request object: yes" in html.unescape(page)
        # Neither the access token, nor a proof, nor an assertion.
        secrets = [access_token, auth_server.token_requests[-1]["dpop"],
                   auth_server.token_requests[-1]["form"]["client_assertion"]]
        assert not [secret for secret in secrets if secret in page]


def test_an_unfinished_flow(learner, expect_page):
    """A login still at the AS: steps 5-12 not reached, no token to bind, no back channel after the push."""
    learner.flow.start("par")
    page = expect_page(learner.compare(compare.CURRENT, compare.CURRENT), 200,
                       "No token: the flow has not reached step 10.")
    assert [cell(page, n, "a") for n in range(1, 5)] == [("recorded", True)] * 4
    assert [cell(page, n, "b") for n in range(5, 13)] == [("not reached", False)] * 8
    assert [request[0] for request in back_channel(page, "a")] == ["2"]
    assert set(exposed(page, "a")) == {"client_id", "request_uri"}
