"""PROFILE=par, the default: the client works exactly as before the FAPI 2.0 profile came."""

import pytest
from sqlalchemy import select

from client_app.fapi import keys
from client_app.models import db


class TestTheParProfileIsUnchanged:
    """PROFILE=par (the default): the secret, a plain push, Bearer tokens, no keys published."""

    @pytest.fixture
    def settings(self, settings):
        """The conftest's notes-web settings, PROFILE left at its default."""
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
