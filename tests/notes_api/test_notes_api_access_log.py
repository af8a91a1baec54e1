"""gunicorn.conf.py and the log format: no request can forge a log line (CWE-117).

The access log shows the path as it was sent (RAW_URI, still percent-encoded, without
its query), so "%0a" stays three characters; the app's own lines escape any control
character their values hold. Both run here in a real gunicorn, as in `make demo`.
"""

import http.client
import logging

import pytest

from tests.stack import environment
from tests.stack import free_port
from tests.stack import gunicorn

# Decoded, this path would end the access line and start a forged one (then a
# carriage return and a terminal escape to hide what follows).
FORGED = "[notes_api] fake 200"
PATH = "/x%0a[notes_api]%20fake%20200%0d%1b[31m"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The API under its own gunicorn.conf.py, one worker, on a free port."""
    tmp = tmp_path_factory.mktemp("access_log")
    port = free_port()
    env = environment(WEB_CONCURRENCY="1", DATABASE_URL=f"sqlite:///{tmp}/notes_api.sqlite")
    service = gunicorn("notes_api", port, tmp / "notes_api.log", env).wait_until_up("/healthz")
    yield service, port
    service.stop()


def get(port, target):
    """Send GET `target` exactly as written (no quoting), return the status."""
    connection = http.client.HTTPConnection("localhost", port, timeout=10)
    try:
        connection.request("GET", target)
        return connection.getresponse().status
    finally:
        connection.close()


def test_encoded_control_characters_forge_no_line(served):
    """%0a, %0d and %1b in the path: one access line, with the path as sent; no query."""
    service, port = served
    assert get(port, PATH + "?code=query-secret") == 404
    assert get(port, "/healthz?after=1") == 200  # the line above is written by now
    log = service.log()
    assert not any(line.startswith(FORGED) for line in log.splitlines())
    assert "\r" not in log and "\x1b" not in log
    assert f'"GET {PATH} HTTP/1.1" 404' in log
    assert "query-secret" not in log


def test_app_log_lines_escape_control_characters(make_app):
    """A value with a newline in one of the app's own lines stays on that line, escaped."""
    root = logging.getLogger()
    capture = root.handlers[:]  # pytest's log capture, put back below
    root.handlers.clear()
    try:
        make_app()
        (handler,) = root.handlers
    finally:
        root.handlers[:] = capture
    record = logging.makeLogRecord({"name": "notes_api", "levelname": "ERROR", "msg": "Exception on %s [GET]",
                                    "args": ("/x\n" + FORGED + "\r\x1b[31m",)})
    line = handler.format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.endswith("Exception on /x\\n" + FORGED + "\\r\\x1b[31m [GET]")
