"""flow_steps.py: the one definition of the seed's twelve arrows."""

import pytest

from client_app.flow import CHANNELS
from client_app.flow import PARTIES
from client_app.flow import PAUSABLE_STEPS
from client_app.flow import STEPS
from client_app.flow import party
from client_app.flow import step

# The seed's arrows (par-flow.md), as (from, to): the order a learner studies.
SEED_ARROWS = [("user", "client"), ("client", "as"), ("as", "client"), ("client", "as"),
               ("as", "user"), ("user", "as"), ("as", "client"), ("client", "as"),
               ("as", "as"), ("as", "client"), ("client", "rs"), ("rs", "client")]


def test_twelve_steps_numbered_in_order():
    """Steps 1 to 12, once each, in the seed's order of parties."""
    assert [s.number for s in STEPS] == list(range(1, 13))
    assert [(s.source, s.target) for s in STEPS] == SEED_ARROWS


def test_four_parties_with_their_colours():
    """The seed's four lifelines; the client in its page colour."""
    assert [p.name for p in PARTIES] == ["User", "Client", "Authorization Server", "Resource Server"]
    assert party("client").colour == "#1f5fbf"
    assert party("as").colour == "#6b3fa0"
    assert party("rs").colour == "#1e7d4f"


def test_channels_follow_who_talks():
    """The browser carries every step the user is in, and 4 and 7; services talk directly."""
    for s in STEPS:
        assert s.channel in CHANNELS
        if s.source == s.target:
            assert s.channel == "internal"
        elif "user" in (s.source, s.target) or s.number in (4, 7):
            assert s.channel == "front"
        else:
            assert s.channel == "back"


def test_step_by_step_pauses_before_the_clients_back_channel_requests():
    """Push, token request, API call."""
    assert PAUSABLE_STEPS == (2, 8, 11)


def test_every_step_explains_itself():
    """Each step has the seed's label and one sentence for the inspector."""
    for s in STEPS:
        assert s.label and s.explanation.endswith(".")


@pytest.mark.parametrize("number", [0, 13, -1, None])
def test_no_such_step(number):
    """step() answers None outside 1-12."""
    assert step(number) is None
