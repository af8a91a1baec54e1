"""Quoting a request's own values in an error_description, safely.

RFC 6749 §5.2 allows only printable ASCII except '"' and '\\' in error_description,
and Authlib refuses (ValueError, so a 500) to build an error that breaks the rule.
An error that repeats what the client sent must first make it fit. Found by the
fuzzer: a redirect_uri of 2000 "é" made the push a 500.
"""

from urllib.parse import quote

# RFC 3986 §2.2 reserved characters stay as they are, so a URL still reads as one;
# everything else outside unreserved ASCII is percent-encoded (RFC 3986 §2.1).
KEEP = ":/?#[]@!$&'()*+,;="
# Enough to recognise the value; the client knows what it sent.
MAX_CHARS = 100


def quoted(value):
    """A client's value as an error_description may show it: percent-encoded, cut short."""
    text = quote(value, safe=KEEP)
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "..."
