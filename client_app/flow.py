"""The twelve steps of the seed's diagram (par-flow.md), defined once.

The inspector's SVG diagram, its step pages, the exports, the recorder and the tests
all read this one list, so the picture a learner studies and the code that runs the
flow cannot drift apart.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Party:
    """One column of the diagram: who takes part in the flow."""

    key: str
    name: str
    colour: str


@dataclass(frozen=True)
class Step:
    """One numbered arrow of the diagram."""

    number: int
    source: str  # a Party key
    target: str  # a Party key
    label: str  # the seed's words for the arrow
    channel: str  # one of CHANNELS
    explanation: str  # one sentence for the inspector


# The four lifelines, left to right, with each party's page colour.
PARTIES = (
    Party("user", "User", "#333333"),
    Party("client", "Client", "#1f5fbf"),
    Party("as", "Authorization Server", "#6b3fa0"),
    Party("rs", "Resource Server", "#1e7d4f"),
)

# front: carried by the browser (redirects, pages, forms); back: one service calling
# another directly; internal: the authorization server working on its own.
CHANNELS = {
    "front": "front channel (through the browser)",
    "back": "back channel (service to service)",
    "internal": "inside the authorization server",
}

STEPS = (
    Step(1, "user", "client", "Login", "front",
         "The user clicks Log in; the browser POSTs the form to the client."),
    Step(2, "client", "as", "Post Request to PAR endpoint", "back",
         "The client authenticates and pushes the whole authorization request (RFC 9126 §2.1)."),
    Step(3, "as", "client", "Response", "back",
         "201 Created with a one-time request_uri and its lifetime (RFC 9126 §2.2)."),
    Step(4, "client", "as", "Redirect user to Authorization server", "front",
         "The client redirects the browser with only client_id and request_uri (RFC 9126 §4)."),
    Step(5, "as", "user", "Authenticate User & Display Consent", "front",
         "The authorization server shows its login page, then the pushed scopes for consent."),
    Step(6, "user", "as", "Give Consent", "front",
         "The user allows (or denies) what the client asked for."),
    Step(7, "as", "client", "Return Authorization Code", "front",
         "The browser is redirected to the client's callback with code, state and iss (RFC 9207)."),
    Step(8, "client", "as", "Token Request with Authorization Code", "back",
         "The client sends the code, its PKCE code_verifier and its credentials (RFC 6749 §4.1.3)."),
    Step(9, "as", "as", "Validate Request", "internal",
         "The authorization server checks the client, the code, the redirect_uri and PKCE."),
    Step(10, "as", "client", "Access Token Response", "back",
         "Access token, refresh token and ID token, kept on the client's server (RFC 6749 §5.1)."),
    Step(11, "client", "rs", "Request Resource", "back",
         "The client calls the API with the access token as a Bearer header (RFC 6750 §2.1)."),
    Step(12, "rs", "client", "Protected Resource", "back",
         "The API checks the token's signature, audience and scope, then answers."),
)

# Step-by-step mode pauses before each request the client itself sends on the back
# channel (push, token request, API call), so an instructor can explain it first.
PAUSABLE_STEPS = tuple(s.number for s in STEPS if s.channel == "back" and s.source == "client")


def party(key):
    """The Party with this key."""
    return next(p for p in PARTIES if p.key == key)


def step(number):
    """The Step with this number, or None."""
    return next((s for s in STEPS if s.number == number), None)
