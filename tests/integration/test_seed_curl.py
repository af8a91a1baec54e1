"""The seed's own curl commands (par-flow.md), verbatim but for the host, with seed-cli."""

import json
import subprocess
from urllib.parse import urlencode

from tests.stack import authorize
from tests.stack import query

# The seed's three back-channel commands. Only the host (and the demo client's
# credentials in place of CLIENT_ID/CLIENT_SECRET) differ from par-flow.md. The
# push's body lines start at column 0, so bash joins them into one -d value, which
# is what the seed's layout means.
PUSH = """curl -sS --location --request POST {auth}/oauth/par\\
 -H "content-type: application/x-www-form-urlencoded" \\
 -d "client_id=seed-cli"\\
"&client_secret=seed-cli-secret"\\
"&redirect_uri=https://jwt.io"\\
"&audience=urn:my-notes-api"\\
"&scope=openid%20profile%20read:notes"\\
"&response_type=code"
"""
TOKEN = """curl -sS --request POST \\
 --url '{auth}/oauth/token' \\
 --header 'content-type: application/x-www-form-urlencoded' \\
 --data grant_type=authorization_code \\
 --data 'client_id=seed-cli' \\
 --data 'client_secret=seed-cli-secret' \\
 --data 'code={code}' \\
 --data 'redirect_uri=https://jwt.io'
"""
API = """curl -sS --request GET \\
 --url {api}/api \\
 --header 'authorization: Bearer {access_token}' \\
 --header 'content-type: application/json'
"""


def run(command, **values):
    """Run one seed command in bash and parse its JSON output."""
    result = subprocess.run(["bash", "-c", command.format(**values)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_seed_walkthrough(browser, stack):
    """Push with curl, log in and consent in the "browser", then the token and API calls."""
    pushed = run(PUSH, auth=stack.auth)
    assert pushed["expires_in"] == 30
    assert pushed["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")

    # Steps 4-7: GET /authorize?client_id=CLIENT_ID&request_uri=... as in the seed, login, consent.
    back = authorize(browser, stack.auth + "/authorize?" + urlencode(
        {"client_id": "seed-cli", "request_uri": pushed["request_uri"]}))
    # Step 7: 302/303 to https://jwt.io?code=...&iss=... (no state was pushed, so none comes back).
    assert back.startswith("https://jwt.io?")
    code = query(back)["code"]

    tokens = run(TOKEN, auth=stack.auth, code=code)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 86400
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens)

    notes = run(API, api=stack.api, access_token=tokens["access_token"])
    assert notes["notes"], "alice has seeded notes"
