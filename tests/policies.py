"""What the tests of more than one service check alike: the security headers, the log handler.

The services share no code; their tests may. Each service sets the same security headers
and sets up logging the same way, so one definition of what to expect serves all three.
"""

import logging
import re

# What every response of the client and the notes API must carry, exactly.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Each directive of their CSP (their order does not matter).
CSP = {"default-src 'none'", "style-src 'self'", "img-src 'self'", "frame-ancestors 'none'",
       "base-uri 'none'"}
# What a policy without 'unsafe-inline' would block in a page.
INLINE = re.compile(r"<style|<script|\sstyle=|\son[a-z]+=|javascript:", re.I)


def assert_secured(response):
    """The response has every security header, with the exact values."""
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    directives = {d.strip() for d in response.headers["Content-Security-Policy"].split(";")}
    assert directives == CSP


def installed_log_handler(build_app):
    """The one handler a service's create_app installs in a process with no logging set up yet."""
    root = logging.getLogger()
    capture = root.handlers[:]  # pytest's log capture, put back below
    root.handlers.clear()
    try:
        build_app()
        (handler,) = root.handlers
    finally:
        root.handlers[:] = capture
    return handler
