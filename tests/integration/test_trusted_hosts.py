"""Each service, under gunicorn with the demo's settings, answers only to its own names.

A DNS-rebinding page makes the browser send its own name in the Host header; each
service refuses it with a 400 (Flask's TRUSTED_HOSTS), while localhost (the browser's
name for the demo) and 127.0.0.1 (docker's healthchecks) are served.
"""

import pytest
import requests

from tests.stack import HEALTH
from tests.stack import TIMEOUT


@pytest.mark.parametrize("name", sorted(HEALTH))
def test_only_own_names_are_served(stack, name):
    """attacker.example gets 400 on every service; localhost and 127.0.0.1 get 200."""
    port = stack.ports[name]
    url = f"http://127.0.0.1:{port}{HEALTH[name]}"
    refused = requests.get(url, headers={"Host": f"attacker.example:{port}"}, timeout=TIMEOUT)
    assert refused.status_code == 400
    assert "host" in refused.text.lower()
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert requests.get(url, headers={"Host": host}, timeout=TIMEOUT).status_code == 200
