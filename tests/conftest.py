"""Markers by folder, so that `-m` chooses suites by what they need to run.

`pytest -m "not e2e and not browser"` is the quick loop: no Docker, no Chromium.
pytest.ini says what each marker means.
"""

from pathlib import Path

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
