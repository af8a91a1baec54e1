"""The inspector's tests start from a finished flow: a whole login and one API call."""

import pytest


@pytest.fixture
def finished(flow, flow_trace):
    """A whole login and one API call; returns the flow helper."""
    flow.complete()
    flow.client.get("/notes")
    return flow
