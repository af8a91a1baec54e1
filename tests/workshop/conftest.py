"""Stacks for the workshop guide: the three services under gunicorn, as `make demo` runs them."""

import pytest

from tests.stack import Stack


class WorkshopStack(Stack):
    """A Stack whose services also get the guide's `VARIABLE=value make demo` settings."""

    def __init__(self, tmp, settings):
        super().__init__(tmp)
        self.settings = settings

    def env(self, name):
        """The usual environment, plus this section's settings."""
        return {**super().env(name), **self.settings}


@pytest.fixture(scope="session")
def stacks(tmp_path_factory, request):
    """Start a stack per set of settings the guide asks for, once; stop them all at the end."""
    started = {}

    def stack_for(settings):
        """The running stack with these settings (a dict), started on first use."""
        key = tuple(sorted(settings.items()))
        if key not in started:
            started[key] = WorkshopStack(tmp_path_factory.mktemp("workshop-stack"), settings)
            started[key].start()
        return started[key]

    yield stack_for
    for stack in started.values():
        stack.stop()
        if request.session.testsfailed:
            for name in stack.processes:
                print(f"\n===== {name} log ({stack.settings or 'defaults'}) =====\n{stack.log(name)}")
