"""Hypothesis strategies for HTTP requests: a known endpoint, then anything at all.

Each request mixes parameter names the service knows with random ones, and values
that are sometimes valid, sometimes hostile (huge, empty, control characters,
unicode, look-alike tokens and URNs). An endpoint that comes with a valid request
also gets that request with a few values made hostile, to reach the code behind
its first checks. Bodies are forms or JSON text.
"""

import base64
import json
import os

import pytest
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

# At least 10,000 requests per service in CI; fewer on a laptop unless asked.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10000" if os.environ.get("CI") == "true" else "1500"))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# pytest.ini gives a test 300 s. 10,000 examples take about half of that on CI's two
# cores, too little room for a busy machine: a fuzz test gets 900 s.
FUZZ_TIMEOUT = pytest.mark.timeout(900)

# Long non-ASCII values: the test client sends them as hundreds to thousands of
# %XX-encoded UTF-8 bytes (2,000 "é" are 6 KB of %C3%A9). One character repeated, or
# many different ones.
non_ascii = st.characters(min_codepoint=0x80, codec="utf-8")
long_non_ascii_text = st.one_of(
    st.builds(lambda char, count: char * count, non_ascii, st.integers(min_value=100, max_value=2500)),
    st.text(alphabet=non_ascii, min_size=100, max_size=2500),
)

hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=3000),
    long_non_ascii_text,
    st.sampled_from(["", " ", "null", "[]", "{}", "%00", "\x00", "../../etc/passwd", "<script>alert(1)</script>",
                     "urn:ietf:params:oauth:request_uri:", "https://evil.example/cb", "http://localhost:3000/callback",
                     "code", "S256", "plain", "openid", "openid profile read:notes", "notes-web", "seed-cli",
                     "authorization_code", "refresh_token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
                     "a" * 43, "urn:my-notes-api"]),
)

# JSON can say what UTF-8 cannot: a lone surrogate, half a UTF-16 pair (RFC 8259 §8.2).
# Python's str holds one, and json.dumps writes it as the raw escape ("\ud800") a
# hostile client would send. Mixed with ordinary characters, or alone.
surrogate = st.characters(categories=["Cs"])
lone_surrogate_text = st.lists(st.one_of(surrogate, st.characters(codec="utf-8")), min_size=1, max_size=20).map("".join)


def evenly(*strategies):
    """Draw from one of the strategies, each as likely as the others.

    (st.one_of would merge the branches of a nested one_of, like hostile_text's, into
    one pool, and lone surrogates would be one branch among many.)
    """
    return st.sampled_from(strategies).flatmap(lambda strategy: strategy)


json_strings = evenly(lone_surrogate_text, hostile_text)
# A JSON field's value: half the time a string with a lone surrogate.
json_values = evenly(lone_surrogate_text, st.recursive(
    st.one_of(json_strings, st.none(), st.booleans(), st.integers(), st.floats()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(json_strings, inner, max_size=3),
    max_leaves=6))
# JSON texts that are not an object of fields: nesting past Python's recursion limit
# (RFC 8259 §9 lets a parser refuse it, not crash on it), and text that is no JSON.
odd_json_texts = st.one_of(
    st.integers(min_value=500, max_value=20000).map(lambda depth: "[" * depth + "]" * depth),
    st.text(max_size=40),
)


def params(names, values=hostile_text):
    """A dict of parameters: some of the endpoint's own names, some random ones."""
    known = st.dictionaries(st.sampled_from(names), values, max_size=len(names)) if names else st.just({})
    random = st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=3)
    return st.builds(lambda a, b: {**b, **a}, known, random)


@st.composite
def mutated(draw, valid, values=hostile_text):
    """A valid request's parameters with one to three values made hostile and maybe one left out."""
    names = sorted(valid)
    hostile = draw(st.dictionaries(st.sampled_from(names), values, min_size=1, max_size=3))
    left_out = draw(st.sets(st.sampled_from(names), max_size=min(1, len(names) - 1)))
    return {name: hostile.get(name, value) for name, value in valid.items() if name not in left_out}


def fields(names, valid, values=hostile_text):
    """Parameters around an endpoint; half of them around its valid request, if it has one."""
    if valid is None:
        return params(names, values)
    return st.one_of(params(names, values), mutated(valid, values))


def bodies(names, valid):
    """Half the time a form (a dict); else the same fields as a JSON object (a str), or odd JSON."""
    return evenly(fields(names, valid), evenly(fields(names, valid, json_values).map(json.dumps), odd_json_texts))


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
    """(method, path, query, body, headers) drawn around one of the given endpoints.

    An endpoint is (path, method, names) or (path, method, names, valid): the
    parameter names it reads and, optionally, a valid request's parameters.
    """
    methods = st.one_of(st.none(), st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]))
    # Half the time the endpoint's own path; else something after it (no "//" or "/.":
    # the test client would read those as a host or a dot-segment).
    path_suffixes = evenly(st.just(""), st.one_of(st.text(alphabet="abc_-%0", max_size=6), st.just("/extra")))

    def around(endpoint):
        path, known_method, names = endpoint[:3]
        valid = endpoint[3] if len(endpoint) > 3 else None
        # The valid request's parameters go where the endpoint reads them.
        queries = fields(names, valid) if known_method == "GET" else params(names)
        body_valid = None if known_method == "GET" else valid
        return st.tuples(
            methods.map(lambda method: method or known_method), path_suffixes.map(lambda suffix: path + suffix),
            queries, bodies(names, body_valid),
            authorization_headers(list(basic_pairs)).map(lambda value: {} if value is None else {"Authorization": value}))

    return st.sampled_from(endpoints).flatmap(around)


def send(client, request):
    """Send a drawn request through a Flask test client: a dict body as a form, a str as JSON."""
    method, path, query, body, headers = request
    if method in ("GET", "HEAD", "DELETE"):
        return client.open(path, method=method, query_string=query, headers=headers)
    if isinstance(body, str):
        return client.open(path, method=method, query_string=query, data=body, headers=headers,
                           content_type="application/json")
    return client.open(path, method=method, query_string=query, data=body, headers=headers)


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
