"""The log format: no value can forge a line of the app's own log (CWE-117).

The app's own lines escape any control character their values hold. (The access log,
from gunicorn.conf.py, is tested in tests/integration/test_access_log.py.)
"""

import logging

from client_app import create_app

from tests.policies import installed_log_handler

# A value that, unescaped, would end the line and start a forged one (then a
# carriage return and a terminal escape to hide what follows).
FORGED = "[client_app] fake 200"


def test_app_log_lines_escape_control_characters(settings):
    """A value with a newline in one of the app's own lines stays on that line, escaped."""
    handler = installed_log_handler(lambda: create_app(settings))
    record = logging.makeLogRecord({"name": "client_app", "levelname": "ERROR", "msg": "Exception on %s [GET]",
                                    "args": ("/x\n" + FORGED + "\r\x1b[31m",)})
    line = handler.format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.endswith("Exception on /x\\n" + FORGED + "\\r\\x1b[31m [GET]")
