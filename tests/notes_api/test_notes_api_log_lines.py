"""The log format: no value can forge a line of the app's own log (CWE-117).

The app's own lines escape any control character their values hold. (The access log,
from gunicorn.conf.py, is tested in tests/integration/test_access_log.py.)
"""

import logging

from tests.policies import installed_log_handler

# A value that, unescaped, would end the line and start a forged one (then a
# carriage return and a terminal escape to hide what follows).
FORGED = "[notes_api] fake 200"


def test_app_log_lines_escape_control_characters(make_app):
    """A value with a newline in one of the app's own lines stays on that line, escaped."""
    handler = installed_log_handler(make_app)
    record = logging.makeLogRecord({"name": "notes_api", "levelname": "ERROR", "msg": "Exception on %s [GET]",
                                    "args": ("/x\n" + FORGED + "\r\x1b[31m",)})
    line = handler.format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.endswith("Exception on /x\\n" + FORGED + "\\r\\x1b[31m [GET]")
