"""POST /oauth/flow-trace: what this server did in one flow, for the client that owns it.

A teaching endpoint (not part of any RFC): the client's inspector fetches it over the
back channel to show steps 5-6 and the checks of step 9. The client authenticates as
at the token endpoint and names its flow by `request_uri` or `code`; the answer holds
no secret (flow_trace.py keeps none).
"""

from flask import Blueprint

from ..oauth2 import authorization_server

bp = Blueprint("flows", __name__)


@bp.post("/oauth/flow-trace")
def flow_trace_report():
    """A flow's requests (steps 2-7) and token-request checks (step 9), as JSON."""
    return authorization_server().create_endpoint_response("flow_trace")
