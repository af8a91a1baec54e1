"""The compose stack, built and started once per test session, under its own project name.

The chain: compose (the `docker compose` command, Compose v2) and engine (the Docker
SDK client; skip without either, fail in CI) -> stack (the three containers from
docker-compose.yml, on free host ports) -> browser (a cookie jar playing the browser).
Compose runs as a subprocess and does what a user does: build, `up --wait`, `down`;
the SDK inspects, stops, starts and restarts containers and reads their logs.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import docker
import pytest
import requests

from tests.stack import free_ports

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth_server", "notes_api", "client_app")
# The first build installs three sets of wheels; later ones come from the build cache.
BUILD_TIMEOUT_SECONDS = 900
HEALTHY_TIMEOUT_SECONDS = 90
# The first test also waits for the build, longer than pytest.ini's 300 s per test.
E2E_TEST_TIMEOUT_SECONDS = BUILD_TIMEOUT_SECONDS + 300


def unavailable(reason):
    """No engine or no compose: skip on a laptop, but fail in CI, where they must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true, so the e2e tests must run (see scripts/ci-docker.sh)")
    pytest.skip(f"{reason}: the e2e tests need Docker (set CI=true to make this a failure)")


def socket_problem():
    """Why the engine's Unix socket refuses a connection, or None if it accepts one.

    Checked before the SDK tries: docker-py leaves its socket unclosed when the
    connection fails, which pytest's filterwarnings=error turns into an error.
    """
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return None
    path = host[len("unix://"):]
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
        except OSError as e:
            return f"cannot connect to {path}: {e.strerror}"
    return None


def compose_installed():
    """Whether `docker compose` (Compose v2, a Docker CLI plugin) answers."""
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


def compose_config(compose, compose_file):
    """A compose file as Compose reads it: `extends` and variables resolved, checked."""
    result = subprocess.run([*compose, "-f", compose_file, "config", "--format", "json"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"docker compose -f {compose_file} config: {result.stderr}"
    return json.loads(result.stdout)


class Stack:
    """One compose project of the three services: URLs, containers, logs, lifecycle."""

    def __init__(self, engine, compose, compose_file="docker-compose.yml", services=SERVICES):
        self.engine = engine
        # A project of our own (-p wins over the file's `name:`): containers, network
        # and volumes never touch a user's stack.
        self.project = f"parlab-e2e-{secrets.token_hex(3)}"
        self.command = [*compose, "-f", compose_file, "-p", self.project]
        # The services whose health wait_healthy checks by default (another file,
        # e.g. docker-compose.scale.yml, has more of them).
        self.services = services
        # Free host ports too, so a running `make up` or `make demo` is no obstacle.
        self.ports = dict(zip(("auth_server", "client_app", "notes_api"), free_ports(3)))
        self.auth = f"http://localhost:{self.ports['auth_server']}"
        self.client = f"http://localhost:{self.ports['client_app']}"
        self.api = f"http://localhost:{self.ports['notes_api']}"

    def compose(self, *args, timeout=300):
        """Run one compose command for this project; fail the test with its output if it fails."""
        env = {**os.environ, "AUTH_PORT": str(self.ports["auth_server"]),
               "CLIENT_PORT": str(self.ports["client_app"]), "API_PORT": str(self.ports["notes_api"])}
        result = subprocess.run([*self.command, *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(self.command)} {' '.join(args)} failed:\n"
                        f"{result.stdout}\n{result.stderr}\n{self.logs_report()}")
        return result

    def up(self):
        """Start (or create) the containers; Compose waits until all are healthy."""
        self.compose("up", "--detach", "--wait", "--wait-timeout", str(HEALTHY_TIMEOUT_SECONDS))

    def down(self, volumes=False):
        """Remove the containers and network; the named volumes too if asked."""
        self.compose("down", *(["-v"] if volumes else []))

    def containers(self):
        """This project's containers, by service name (from Compose's labels)."""
        found = self.engine.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={self.project}"})
        return {c.labels["com.docker.compose.service"]: c for c in found}

    def container(self, service):
        """One service's container, freshly inspected."""
        return self.containers()[service]

    def wait_healthy(self, services=None):
        """Wait until containers the SDK (re)started pass their healthchecks; fail with logs if not."""
        services = services or self.services
        deadline = time.monotonic() + HEALTHY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            found = self.containers()
            states = {name: found[name].attrs["State"].get("Health", {}).get("Status")
                      if name in found else "missing" for name in services}
            if all(state == "healthy" for state in states.values()):
                return
            time.sleep(0.5)
        pytest.fail(f"not healthy after {HEALTHY_TIMEOUT_SECONDS} s: {states}\n{self.logs_report()}")

    def address(self, service):
        """The container's IP address on the project's network."""
        networks = self.container(service).attrs["NetworkSettings"]["Networks"]
        (network,) = networks.values()
        return network["IPAddress"]

    def logs(self, service):
        """Everything the service's container has written to stdout and stderr."""
        return self.container(service).logs().decode("utf-8", "replace")

    def logs_report(self):
        """Every container's logs, one block per service (printed when a test fails)."""
        blocks = []
        for service, container in sorted(self.containers().items()):
            text = container.logs(tail=200).decode("utf-8", "replace")
            blocks.append(f"===== {service} ({container.name}, {container.status}) =====\n{text}")
        return "\n".join(blocks) or f"(project {self.project} has no containers)"


def pytest_collection_modifyitems(items):
    """Give the tests in this folder time for the build (tests/conftest.py marks them `e2e`)."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.timeout(E2E_TEST_TIMEOUT_SECONDS))


@pytest.fixture(scope="session")
def compose():
    """The `docker compose` command (Compose v2), the one the docs tell users to type."""
    if not compose_installed():
        unavailable("`docker compose` (Compose v2) is not installed")
    return ["docker", "compose"]


@pytest.fixture(scope="session")
def engine():
    """The Docker engine, through the Docker SDK for Python."""
    problem = socket_problem()
    if problem is not None:
        unavailable(f"no Docker engine is reachable ({problem})")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        unavailable(f"no Docker engine is reachable ({e})")
    yield client
    client.close()


@pytest.fixture(scope="session")
def stack(compose, engine):
    """The three services from docker-compose.yml, built once, running and healthy."""
    stack = Stack(engine, compose)
    try:
        # Build once per session (BASE_IMAGE from the environment, as for `make up`).
        stack.compose("build", timeout=BUILD_TIMEOUT_SECONDS)
        stack.up()
        yield stack
    finally:
        # -v: the test project's volumes go too, so a test run leaves nothing behind.
        stack.compose("down", "-v")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When an e2e test fails, its report carries every container's logs."""
    report = yield
    stack = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if report.failed and stack is not None:
        report.sections.append(("docker logs", stack.logs_report()))
    return report


@pytest.fixture
def browser():
    """An HTTP session playing the browser: it keeps cookies, follows nothing by itself."""
    with requests.Session() as session:
        yield session
