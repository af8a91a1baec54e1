"""Markers by folder, so that `-m` chooses suites by what they need to run.

`pytest -m "not e2e and not browser"` is the quick loop: no Docker, no Chromium.
pytest.ini says what each marker means.

Also two things that only make the tests faster: one Jinja template cache for all the
apps the tests build, and a garbage collector that skips what collecting made.
"""

import gc
from pathlib import Path

import pytest
from flask import Flask
from jinja2 import BytecodeCache

TESTS = Path(__file__).parent
# Each folder's markers. Browser and interop tests run our services under gunicorn too.
MARKERS = {
    "integration": ("integration",),
    "workshop": ("integration",),
    "scale": ("integration",),
    "browser": ("browser", "integration"),
    "interop": ("interop", "integration"),
    "e2e": ("e2e",),
}


def pytest_collection_modifyitems(items):
    """Mark every test with its folder's markers."""
    for item in items:
        if item.path.is_relative_to(TESTS):
            folder = item.path.relative_to(TESTS).parts[0]
            for marker in MARKERS.get(folder, ()):
                item.add_marker(marker)


def pytest_collection_finish(session):
    """What collecting made (modules, tests, fixtures) lives to the end: the garbage
    collector need not walk it again at every full collection (gc.freeze)."""
    gc.collect()
    gc.freeze()


class TemplateCache(BytecodeCache):
    """Jinja's bytecode cache, in memory: a template's compiled code, by file and source checksum."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        """Give the bucket the code compiled earlier, if any (Jinja checks the source's checksum)."""
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        """Keep a newly compiled template's code."""
        self.compiled[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def template_cache():
    """The tests build hundreds of apps: each compiles a template once per session, not once per app."""
    options = Flask.jinja_options
    Flask.jinja_options = {**options, "bytecode_cache": TemplateCache()}
    yield
    Flask.jinja_options = options
