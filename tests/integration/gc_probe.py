"""A WSGI app that answers with how many objects its worker's garbage collector ignores (gc.freeze)."""

import gc


def app(environ, start_response):
    """The worker's frozen-object count, as text."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(gc.get_freeze_count()).encode()]
