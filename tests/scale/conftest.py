"""A private PostgreSQL server for the scale-out tests, started and stopped here.

Debian's `postgresql` package provides the binaries (`.ci/run` installs it). On a
laptop without them the tests skip; with CI=true a missing PostgreSQL is a failure.
"""

import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from tests.stack import free_port


def postgres_bin():
    """The newest installed PostgreSQL's bin folder, or None."""
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    return folders[-1] if folders else None


@pytest.fixture(scope="session")
def postgres_url():
    """postgresql://... of a fresh server on a free loopback port, for this test session."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql); CI must run these tests")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    # PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = tempfile.mkdtemp(prefix="parlab-pg-")
    os.chmod(data, 0o700)
    if as_user:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run([*as_user, f"{bin_dir}/initdb", "-D", data, "-U", "parlab", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, f"{bin_dir}/pg_ctl", "-D", data, "-w", "-l", f"{data}/server.log", "-o",
                    f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://parlab@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, f"{bin_dir}/pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)
