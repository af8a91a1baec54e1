"""Log lines no request can forge: one record, one line (CWE-117).

A value from a request (a decoded path, a parameter) can hold a newline that would
start a fake line of its own, or a terminal escape that hides the rest. Every
character that is not printable is written as its Python escape ("\\n", "\\x1b").
"""

import logging


def printable(text):
    """The text with every unprintable character (newline, ESC, ...) written as an escape."""
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


class OneLineFormatter(logging.Formatter):
    """LOG_FORMAT, with the message's unprintable characters escaped (a traceback still follows)."""

    def formatMessage(self, record):
        """The formatted line, escaped."""
        return printable(super().formatMessage(record))
