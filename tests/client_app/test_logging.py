"""The step log: every protocol step with the flow id, and never a secret."""

import logging

import pytest

STEPS = [
    "step 1 login requested",
    "step 2 push",
    "step 3 request_uri received",
    "step 4 redirect",
    "step 7 callback",
    "step 8 token request",
    "step 10 tokens received",
    "step 11 API call",
    "step 12 notes received",
]


@pytest.fixture
def step_log(caplog):
    """The client_app logger's INFO records."""
    caplog.set_level(logging.INFO, logger="client_app")
    return caplog


def test_every_step_is_logged_with_the_flow_id(flow, step_log):
    """A whole login plus one API call logs each step, in order, with one flow id."""
    flow.complete()
    flow.client.get("/notes")
    flow_id = flow.row().flow_id
    steps = [r.getMessage() for r in step_log.records if r.getMessage().startswith("step ")]
    assert len(steps) == len(STEPS)
    for message, step in zip(steps, STEPS):
        assert message.startswith(step)
    # Step 1 comes before the flow exists; every later step names it.
    for message in steps[1:]:
        assert f"flow={flow_id}" in message


def test_no_secret_is_logged(flow, step_log):
    """No token, code, secret, state, nonce or verifier appears in the log."""
    flow.auth_server.expires_in = 10
    flow.start()
    row = flow.row()
    secrets = [row.id, row.state, row.nonce, row.code_verifier, "notes-web-secret", "the-code"]
    flow.callback()
    flow.client.get("/notes")
    row = flow.row()
    secrets += [row.access_token, row.refresh_token, row.id_token, "access-token-1", "refresh-token-1"]
    text = "\n".join(r.getMessage() for r in step_log.records)
    assert "refresh token grant" in text
    for secret in secrets:
        assert secret not in text, f"{secret[:8]}… was logged"
