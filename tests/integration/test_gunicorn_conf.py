"""Each service's gunicorn.conf.py freezes what its master built before forking a worker.

Checked in a real gunicorn: each service's own conf, serving a probe app in place of
the service, answers from a worker that finds the master's objects frozen.
"""

import pytest
import requests

from tests.stack import GUNICORN
from tests.stack import HEALTH
from tests.stack import Service
from tests.stack import environment
from tests.stack import free_port


@pytest.mark.parametrize("name", sorted(HEALTH))
def test_workers_start_with_the_masters_objects_frozen(name, tmp_path):
    """A worker forked by this conf finds the objects its master built already frozen."""
    port = free_port()
    command = [GUNICORN, "-c", f"{name}/gunicorn.conf.py", "tests.integration.gc_probe:app"]
    env = environment(PORT=str(port), WEB_CONCURRENCY="1", DATABASE_URL=f"sqlite:///{tmp_path}/{name}.sqlite")
    service = Service(name, f"http://localhost:{port}", command, env, tmp_path / f"{name}.log")
    try:
        service.wait_until_up("/")
        # Every module gunicorn and the conf imported is in the master's frozen objects:
        # tens of thousands of them, where a worker freezing nothing would answer 0.
        assert int(requests.get(service.url + "/", timeout=10).text) > 10_000
    finally:
        service.stop()
