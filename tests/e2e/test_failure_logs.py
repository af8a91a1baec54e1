"""A failing e2e test prints every container's logs (conftest's report hook)."""

from .conftest import SERVICES


def test_failure_report_holds_each_containers_logs(stack):
    """The text the hook adds to a failed test's report: one block per service, with its logs."""
    report = stack.logs_report()

    blocks = dict(block.split(" =====\n", 1) for block in report.split("===== ")[1:])
    assert {header.split(" ")[0] for header in blocks} == set(SERVICES)
    for header, text in blocks.items():
        # Each block is that container's own output: its healthcheck's requests.
        health = "/.well-known/openid-configuration" if header.startswith("auth_server") else "/healthz"
        assert f'"GET {health} HTTP/1.1" 200' in text
