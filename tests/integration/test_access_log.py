"""Each service's gunicorn.conf.py: no request can forge an access-log line (CWE-117).

The access log shows the path as it was sent (RAW_URI, still percent-encoded, without
its query), so "%0a" stays three characters. Each service runs here in a real gunicorn
with its own gunicorn.conf.py, as in `make demo`.
"""

import http.client

import pytest

from tests.stack import HEALTH
from tests.stack import environment
from tests.stack import free_port
from tests.stack import gunicorn


def get(port, target):
    """Send GET `target` exactly as written (no quoting); return the status."""
    connection = http.client.HTTPConnection("localhost", port, timeout=10)
    try:
        connection.request("GET", target)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("name", sorted(HEALTH))
def test_encoded_control_characters_forge_no_line(name, tmp_path):
    """%0a, %0d and %1b in the path: one access line, with the path as sent; no query."""
    # Decoded, this path would end the access line and start a forged one (then a
    # carriage return and a terminal escape to hide what follows).
    forged = f"[{name}] fake 200"
    path = f"/x%0a[{name}]%20fake%20200%0d%1b[31m"
    port = free_port()
    env = environment(WEB_CONCURRENCY="1", DATABASE_URL=f"sqlite:///{tmp_path}/{name}.sqlite")
    service = gunicorn(name, port, tmp_path / f"{name}.log", env)
    try:
        service.wait_until_up(HEALTH[name])
        assert get(port, path + "?code=query-secret&request_uri=query-uri") == 404
        assert get(port, HEALTH[name] + "?after=1") == 200  # the line above is written by now
        log = service.log()
    finally:
        service.stop()
    assert not any(line.startswith(forged) for line in log.splitlines())
    assert "\r" not in log and "\x1b" not in log
    assert f'"GET {path} HTTP/1.1" 404' in log
    assert "query-secret" not in log and "query-uri" not in log
