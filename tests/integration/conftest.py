"""The three services as real gunicorn processes (2 workers each) on loopback ports."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port():
    """A loopback port nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url, process, log_path, timeout=30):
    """Poll a URL until it answers 200; fail with the service's log if it dies or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited early:\n{log_path.read_text()}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not come up:\n{log_path.read_text()}")


class Stack:
    """Where the three services listen, and their logs.

    `overrides` adds environment variables per service, e.g. a shorter request_uri
    lifetime: {"auth_server": {"PAR_EXPIRES_IN": "3"}}.
    """

    def __init__(self, tmp, overrides=None):
        self.tmp = tmp
        self.overrides = overrides or {}
        self.ports = {"auth_server": free_port(), "client_app": free_port(), "notes_api": free_port()}
        self.auth = f"http://localhost:{self.ports['auth_server']}"
        self.client = f"http://localhost:{self.ports['client_app']}"
        self.api = f"http://localhost:{self.ports['notes_api']}"
        self.processes = {}

    def env(self, name):
        """Each party's configuration, as a newcomer would set it: environment variables."""
        common = {"PORT": str(self.ports[name]), "WEB_CONCURRENCY": "2", "ISSUER": self.auth,
                  "DATABASE_URL": f"sqlite:///{self.tmp}/{name}.sqlite"}
        extra = {
            "auth_server": {"NOTES_WEB_REDIRECT_URI": self.client + "/callback"},
            "client_app": {"REDIRECT_URI": self.client + "/callback", "NOTES_API_URL": self.api,
                           "CLIENT_BASE_URL": self.client},
            "notes_api": {},
        }[name]
        env = {k: v for k, v in os.environ.items() if k not in ("AUTHLIB_INSECURE_TRANSPORT",)}
        return {**env, **common, **extra, **self.overrides.get(name, {}), "PYTHONUNBUFFERED": "1"}

    def start(self, name, health_path):
        """Start one service under gunicorn and wait until it answers."""
        log_path = self.tmp / f"{name}.log"
        with log_path.open("w") as log_file:
            process = subprocess.Popen(
                [GUNICORN, "-c", f"{name}/gunicorn.conf.py", f"{name}:create_app()"],
                cwd=ROOT, env=self.env(name), stdout=log_file, stderr=subprocess.STDOUT)
        self.processes[name] = (process, log_path)
        wait_until_up(f"http://localhost:{self.ports[name]}{health_path}", process, log_path)

    def log(self, name):
        """Everything a service has logged so far."""
        return self.processes[name][1].read_text()

    def stop(self):
        """Stop every service (gunicorn stops its workers on SIGTERM)."""
        for process, _ in self.processes.values():
            process.terminate()
        for process, _ in self.processes.values():
            process.wait(timeout=20)


def run_stack(stack, request):
    """Start the three services, yield the stack, stop them; print their logs on failure."""
    try:
        stack.start("auth_server", "/.well-known/openid-configuration")
        stack.start("notes_api", "/healthz")
        stack.start("client_app", "/healthz")
        yield stack
    finally:
        stack.stop()
        if request.session.testsfailed:
            for name in stack.processes:
                print(f"\n===== {name} log =====\n{stack.log(name)}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory, request):
    """The running stack; its logs are printed if any test failed."""
    yield from run_stack(Stack(tmp_path_factory.mktemp("stack")), request)


def csrf_token(html):
    """The CSRF token in a page's form (Flask-WTF's hidden input)."""
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


@pytest.fixture
def browser():
    """An HTTP session playing the browser: it keeps cookies, follows nothing by itself."""
    with requests.Session() as session:
        yield session
