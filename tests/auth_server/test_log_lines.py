"""The log format: no value can forge a line of the app's own log (CWE-117).

The app's own lines escape any control character their values hold. (The access log,
from gunicorn.conf.py, is tested in tests/integration/test_access_log.py.)
"""

import logging

from auth_server import create_app

from tests.policies import installed_log_handler

# A value that, unescaped, would end the line and start a forged one (then a
# carriage return and a terminal escape to hide what follows).
FORGED = "[auth_server] fake 200"


def test_app_log_lines_escape_control_characters(test_config):
    """A value with a newline in one of the app's own lines stays on that line, escaped."""
    handler = installed_log_handler(lambda: create_app(test_config))
    record = logging.makeLogRecord({"name": "auth_server", "levelname": "ERROR", "msg": "unexpected error on %s %s",
                                    "args": ("GET", "/x\n" + FORGED + "\r\x1b[31m")})
    line = handler.format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.endswith("unexpected error on GET /x\\n" + FORGED + "\\r\\x1b[31m")
