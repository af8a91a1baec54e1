"""oauth_client.py: discovery (with the back-channel rewrite), caching, and the JWKS."""

import base64
from urllib.parse import urlsplit

import pytest


class TestBackChannelRewrite:
    """In docker the AS is reached at an internal URL but keeps its public issuer."""

    @pytest.fixture
    def settings(self, settings):
        """The default settings plus an internal base URL for the AS."""
        return {**settings, "AUTH_SERVER_INTERNAL_URL": "http://auth-server.internal:9000"}

    def test_back_channel_uses_the_internal_url(self, flow, http):
        """Discovery, PAR, token and JWKS go to the internal base; the browser goes to the public one."""
        response = flow.start()
        location = urlsplit(response.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == "http://as.test:9000/authorize"
        flow.callback()
        called = [urlsplit(call.request.url).netloc for call in http.calls]
        assert called == ["auth-server.internal:9000"] * 4
        assert [urlsplit(call.request.url).path for call in http.calls] == [
            "/.well-known/openid-configuration", "/oauth/par", "/oauth/token", "/.well-known/jwks.json"]

    def test_iss_is_still_the_public_issuer(self, flow):
        """RFC 9207: the callback's iss is the public issuer, not the internal URL."""
        flow.complete()
        assert flow.row().claims["iss"] == "http://as.test:9000"


def test_back_channel_rewrite_rule(app):
    """Only URLs under the issuer are rewritten, and only when an internal base is set."""
    server = app.extensions["client_app.auth_server"]
    server.internal_base = "http://auth_server:9000"
    assert server.back_channel("http://as.test:9000/oauth/token") == "http://auth_server:9000/oauth/token"
    assert server.back_channel("http://as.test:90001/oauth/token") == "http://as.test:90001/oauth/token"
    assert server.back_channel("http://elsewhere.test/jwks") == "http://elsewhere.test/jwks"


def test_discovery_with_the_wrong_issuer(flow, expect_page):
    """RFC 8414 §3.3: a discovery document naming another issuer is not trusted."""
    flow.auth_server.issuer = "http://impostor.test"
    expect_page(flow.start(), 502, "Authorization server unavailable", "http://impostor.test")
    assert flow.auth_server.pushes == []


def test_discovery_and_jwks_are_cached(flow):
    """Two logins fetch discovery and the JWKS once each."""
    flow.complete()
    flow.complete()
    assert flow.auth_server.discovery_fetches == 1
    assert flow.auth_server.jwks_fetches == 1


def test_cache_expires(flow, app):
    """After METADATA_CACHE_SECONDS both are fetched again."""
    app.extensions["client_app.auth_server"].cache_seconds = 0
    flow.complete()
    flow.complete()
    assert flow.auth_server.discovery_fetches >= 2
    assert flow.auth_server.jwks_fetches == 2


def test_unknown_kid_refetches_the_jwks(flow, other_key):
    """Key rotation: an ID token under a new kid makes the client fetch the JWKS again, once."""
    flow.complete()
    flow.auth_server.published_keys = [flow.auth_server.id_token_key, other_key]
    flow.auth_server.id_token_key = other_key
    flow.complete()
    assert flow.auth_server.jwks_fetches == 2
    assert flow.row().access_token == "access-token-2"


def test_kid_unknown_even_after_refetch(flow, other_key, expect_page):
    """A kid the AS does not publish is refused after one refetch."""
    flow.complete()
    flow.auth_server.id_token_key = other_key
    flow.start()
    expect_page(flow.callback(), 400, "No key for kid: 'test-key-2'")
    assert flow.auth_server.jwks_fetches == 2


def test_unusable_jwks(flow, expect_page):
    """A JWKS without keys is an AS failure (502), not a crash."""
    flow.auth_server.published_keys = []
    flow.start()
    expect_page(flow.callback(), 502, "holds no usable key")


class TestResourceIndicator:
    """RESOURCE set: RFC 8707's `resource` goes with the push and every token request.

    Found by the interop test against oidc-provider, which reads `resource`, not
    Auth0's `audience`, and without it issues a token for its own UserInfo endpoint.
    """

    @pytest.fixture
    def settings(self, settings, request):
        """The default settings with this test's AUDIENCE and RESOURCE."""
        audience, resource = request.param
        return {**settings, "AUDIENCE": audience, "RESOURCE": resource}

    @pytest.mark.parametrize(("settings", "sent"), [
        (("urn:my-notes-api", ""), {"audience": "urn:my-notes-api"}),   # the default: Auth0 style
        (("", "urn:my-notes-api"), {"resource": "urn:my-notes-api"}),   # RFC 8707 only
        (("urn:a", "urn:b"), {"audience": "urn:a", "resource": "urn:b"}),
        (("", ""), {}),                                                 # neither: nothing sent
    ], indirect=["settings"])
    def test_push_sends_what_is_configured(self, flow, sent):
        """Each of audience and resource is pushed only when its setting is not empty."""
        flow.start()
        pushed = flow.pushed()
        assert {k: pushed[k] for k in ("audience", "resource") if k in pushed} == sent

    @pytest.mark.parametrize("settings", [("", "urn:my-notes-api")], indirect=True)
    def test_token_requests_name_the_resource(self, flow):
        """RFC 8707 §2.2: the code exchange and the refresh grant both carry `resource`."""
        flow.auth_server.expires_in = 10  # so /notes refreshes first
        flow.complete()
        flow.client.get("/notes")
        grants = [(r["form"]["grant_type"], r["form"].get("resource")) for r in flow.auth_server.token_requests]
        assert grants == [("authorization_code", "urn:my-notes-api"), ("refresh_token", "urn:my-notes-api")]

    @pytest.mark.parametrize("settings", [("urn:my-notes-api", "")], indirect=True)
    def test_without_resource_token_requests_are_unchanged(self, flow):
        """The default: no resource in token requests (audience is for the push only)."""
        flow.complete()
        assert "resource" not in flow.auth_server.token_requests[-1]["form"]
        assert "audience" not in flow.auth_server.token_requests[-1]["form"]


class TestIssuerWithTrailingSlash:
    """An issuer written with a trailing "/" (Auth0's are) is kept and compared exactly.

    Found by the interop test against oidc-provider run with such an issuer: the
    client trimmed the "/" from ISSUER, then refused discovery for not matching it.
    """

    @pytest.fixture
    def settings(self, settings):
        """The default settings with a slash-terminated issuer and an internal base."""
        return {**settings, "ISSUER": "http://as.test:9000/",
                "AUTH_SERVER_INTERNAL_URL": "http://auth-server.internal:9000"}

    def test_login_completes(self, flow, http):
        """Discovery, push, callback iss and ID token iss all match the issuer as written."""
        flow.complete()
        assert flow.row().claims["iss"] == "http://as.test:9000/"
        # OIDC Discovery §4.1: the well-known path follows the issuer less its "/";
        # the back-channel rewrite still finds the endpoints under the issuer.
        assert [call.request.url for call in http.calls][:2] == [
            "http://auth-server.internal:9000/.well-known/openid-configuration",
            "http://auth-server.internal:9000/oauth/par"]

    def test_iss_without_the_slash_is_refused(self, flow, expect_page):
        """RFC 9207 §2.4: exact string comparison, in this direction too."""
        flow.start()
        expect_page(flow.callback(iss="http://as.test:9000"), 400, "mix-up")


class TestBackChannelSession:
    """One HTTP session per process for the back channel: kept-alive connections, no cookies."""

    def test_one_session_per_process(self, monkeypatch):
        from client_app import oauth_client
        first = oauth_client.back_channel()
        assert oauth_client.back_channel() is first
        monkeypatch.setattr(oauth_client.os, "getpid", lambda: -1)  # a forked worker
        assert oauth_client.back_channel() is not first

    def test_a_netrc_entry_never_replaces_the_bearer_token(self, flow, notes_api, http, tmp_path, monkeypatch):
        """requests adds ~/.netrc credentials to a call made without auth=, over its own
        Authorization header: the back channel reads nothing from the environment."""
        netrc = tmp_path / "netrc"
        netrc.write_text("machine notes-api.test login someone password their-password\n"
                         "machine as.test login someone password their-password\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        flow.complete()
        assert flow.client.get("/notes").status_code == 200
        assert notes_api.bearer_tokens() == ["Bearer access-token-1"]
        # Nor is it added to the AS calls (the push, the token request, discovery, JWKS).
        netrc_basic = "Basic " + base64.b64encode(b"someone:their-password").decode()
        sent = [call.request.headers.get("Authorization") for call in http.calls]
        assert len(sent) >= 4 and netrc_basic not in sent

    def test_a_private_ca_bundle_is_still_honoured(self, monkeypatch):
        """An https AS with its own CA: REQUESTS_CA_BUNDLE, read once per process."""
        from client_app import oauth_client
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/private-ca.pem")
        monkeypatch.setattr(oauth_client.os, "getpid", lambda: -2)  # a new process
        assert oauth_client.back_channel().verify == "/etc/ssl/private-ca.pem"
        monkeypatch.setattr(oauth_client.os, "getpid", lambda: -3)
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/curl-ca.pem")  # requests' own fallback
        assert oauth_client.back_channel().verify == "/etc/ssl/curl-ca.pem"
        monkeypatch.setattr(oauth_client.os, "getpid", lambda: -4)
        monkeypatch.delenv("CURL_CA_BUNDLE")
        assert oauth_client.back_channel().verify is True

    def test_a_cookie_from_one_call_never_rides_on_the_next(self, flow, http):
        """A server's Set-Cookie on one user's back-channel call is not sent on any later call."""
        import responses
        http.add(responses.GET, "http://as.test:9000/cookie", headers={"Set-Cookie": "sid=one-users-session; Path=/"})
        from client_app import oauth_client
        oauth_client.back_channel().get("http://as.test:9000/cookie")
        flow.complete()  # discovery, PAR, token and JWKS, then the notes API
        sent = [call.request.headers.get("Cookie") for call in http.calls]
        assert len(sent) > 2
        assert sent == [None] * len(sent)
        assert len(oauth_client.back_channel().cookies) == 0
