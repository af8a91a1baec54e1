"""Hypothesis strategies for HTTP requests: a known endpoint, then anything at all.

Each request mixes parameter names the service knows with random ones, and values
that are sometimes valid, sometimes hostile (huge, empty, control characters,
unicode, look-alike tokens and URNs).
"""

import base64
import os

from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

# At least 10,000 requests per service in CI; fewer on a laptop unless asked.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10000" if os.environ.get("CI") == "true" else "1500"))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=3000),
    st.sampled_from(["", " ", "null", "[]", "{}", "%00", "\x00", "../../etc/passwd", "<script>alert(1)</script>",
                     "urn:ietf:params:oauth:request_uri:", "https://evil.example/cb", "http://localhost:3000/callback",
                     "code", "S256", "plain", "openid", "openid profile read:notes", "notes-web", "seed-cli",
                     "authorization_code", "refresh_token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
                     "a" * 43, "urn:my-notes-api"]),
)


def params(names):
    """A dict of parameters: some of the endpoint's own names, some random ones."""
    known = st.dictionaries(st.sampled_from(names), hostile_text, max_size=len(names)) if names else st.just({})
    random = st.dictionaries(st.text(min_size=1, max_size=12), hostile_text, max_size=3)
    return st.builds(lambda a, b: {**b, **a}, known, random)


# Header values are visible ASCII (a client cannot send newlines in a header).
header_text = st.one_of(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300),
                        st.sampled_from(["", "a" * 43, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", "Og==", "//79"]))


def authorization_headers(basic_pairs):
    """No header, a real-looking Basic or Bearer one, or garbage."""
    basic = st.sampled_from(basic_pairs).map(
        lambda pair: "Basic " + base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode())
    return st.one_of(
        st.none(), basic,
        header_text.map(lambda value: "Bearer " + value),
        header_text.map(lambda value: "Basic " + value),
        header_text,
    )


def http_requests(endpoints, basic_pairs=(("x", "y"),)):
    """(method, path, query, form, headers) drawn around one of the given endpoints."""
    methods = st.one_of(st.none(), st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]))
    # (no "//" or "/." : the test client would read those as a host or a dot-segment)
    path_suffixes = st.one_of(st.just(""), st.text(alphabet="abc_-%0", max_size=6), st.just("/extra"))

    def around(endpoint):
        path, known_method, names = endpoint
        return st.builds(
            lambda method, suffix, query, form, authorization: (
                method or known_method, path + suffix, query, form,
                {} if authorization is None else {"Authorization": authorization}),
            methods, path_suffixes, params(names), params(names), authorization_headers(list(basic_pairs)))

    return st.sampled_from(endpoints).flatmap(around)


def send(client, request):
    """Send a drawn request through a Flask test client."""
    method, path, query, form, headers = request
    if method in ("GET", "HEAD", "DELETE"):
        return client.open(path, method=method, query_string=query, headers=headers)
    return client.open(path, method=method, query_string=query, data=form, headers=headers)


def check_response(response, is_back_channel):
    """No 5xx; back-channel errors are OAuth JSON; front-channel errors are pages."""
    path = response.request.path
    assert response.status_code < 500, (response.status_code, path, response.get_data(as_text=True)[:500])
    if response.status_code < 400 or response.request.method == "HEAD":
        return
    if is_back_channel(path):
        assert response.mimetype == "application/json", (path, response.status_code, response.mimetype)
        body = response.get_json()
        assert isinstance(body, dict) and ("error" in body or "error_description" in body), (path, body)
        if "error" in body:
            assert isinstance(body["error"], str) and body["error"], body
    else:
        assert response.mimetype == "text/html", (path, response.status_code, response.mimetype)
