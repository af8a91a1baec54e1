"""The three services as real gunicorn processes (tests/stack.py), and a browser for them."""

import pytest
import requests

from tests.stack import Stack
from tests.stack import run_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory, request):
    """The running stack; its logs are printed if any test failed."""
    yield from run_stack(Stack(tmp_path_factory.mktemp("stack")), request)


@pytest.fixture
def browser():
    """An HTTP session playing the browser: it keeps cookies, follows nothing by itself."""
    with requests.Session() as session:
        yield session
