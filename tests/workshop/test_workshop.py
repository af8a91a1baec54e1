"""docs/workshop.md, run: every command in the guide, in order, against the real stack.

The guide's last section says how: `sh` blocks run in bash and the `text` block after
one must match its output; `browser` blocks are done by an HTTP session playing the
browser; the demo ports become the test stack's; PASTE_* placeholders become the values
earlier blocks printed (or, for the code, received).
"""

import html
import re
import subprocess
import sys
from urllib.parse import urljoin

import pytest
import requests

from tests.stack import ROOT
from tests.stack import consent
from tests.stack import query
from tests.stack import sign_in

GUIDE = ROOT / "docs" / "workshop.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.M | re.S)
# `VARIABLE=value make demo` in a section's text: that section's stack settings.
SETTING = re.compile(r"`((?:[A-Z_]+=\S+ )+)make demo`")
DEMO_PORTS = {"9000": "auth_server", "3000": "client_app", "8000": "notes_api"}
CAPTURES = {
    "PASTE_THE_REQUEST_URI": re.compile(r"urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]+"),
    "PASTE_THE_ACCESS_TOKEN": re.compile(r'"access_token":\s*"([^"]+)"'),
}


def sections(text):
    """[(title, settings, [(language, body)])] for each heading's part of the guide."""
    found = []
    for part in re.split(r"^(?=#{2,3} )", text, flags=re.M):
        title = part.splitlines()[0].lstrip("# ") if part.strip() else ""
        settings = dict(pair.split("=", 1) for m in SETTING.finditer(part) for pair in m.group(1).split())
        blocks = [(m.group(1), m.group(2)) for m in FENCE.finditer(part)]
        found.append((title, settings, blocks))
    return found


SECTIONS = [s for s in sections(GUIDE.read_text()) if any(lang in ("sh", "browser") for lang, _ in s[2])]


def test_the_guide_is_runnable():
    """Sh blocks exist, each section that has one is tested, and only known languages are used."""
    every = [lang for _, _, blocks in sections(GUIDE.read_text()) for lang, _ in blocks]
    assert every.count("sh") >= 10
    assert set(every) <= {"sh", "text", "browser"}
    tested = [lang for _, _, blocks in SECTIONS for lang, _ in blocks]
    assert tested.count("sh") == every.count("sh")
    assert tested.count("browser") == every.count("browser")


class Reader:
    """One participant following one section: runs its blocks, remembers what they printed."""

    def __init__(self, stack):
        self.stack = stack
        self.values = {}
        self.output = None

    def fill_in(self, text):
        """The block as the participant types it: test ports, this Python, pasted values."""
        text = text.replace(".venv/bin/python", sys.executable)
        for port, name in DEMO_PORTS.items():
            text = text.replace(f"localhost:{port}", f"localhost:{self.stack.ports[name]}")
        for placeholder in re.findall(r"PASTE_THE_[A-Z_]+", text):
            assert placeholder in self.values, f"{placeholder} is used before any block provides it"
            text = text.replace(placeholder, self.values[placeholder])
        return text

    def run_sh(self, body):
        """Run a sh block in bash, in the repository; remember the values it printed.

        The participant's terminal has none of the services' settings, so the client's
        defaults find `make demo`'s stack; here the client's settings find the test's.
        """
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", self.fill_in(body)],
                                capture_output=True, text=True, timeout=60, cwd=ROOT,
                                env=self.stack.env("client_app"))
        assert result.returncode == 0, f"{body}\nexited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        self.output = result.stdout
        for placeholder, pattern in CAPTURES.items():
            for match in pattern.finditer(result.stdout):
                self.values[placeholder] = match.group(match.lastindex or 0)

    def check_text(self, body):
        """Each line of a text block appears in the last output (… is anything, spaces flexible)."""
        assert self.output is not None, "a text block must follow a sh block"
        for line in filter(None, (line.strip() for line in self.fill_in(body).splitlines())):
            # A run of spaces is one \s*: one per space would backtrack for minutes on a miss.
            pattern = ".*?".join(r"\s*".join(map(re.escape, piece.split())) for piece in line.split("…"))
            assert re.search(pattern, self.output), f"expected {line!r} in:\n{self.output}"

    def run_browser(self, body):
        """Do what a browser block says, with a fresh browser (an HTTP session)."""
        browser, page = requests.Session(), None
        for line in filter(None, (line.strip() for line in self.fill_in(body).splitlines())):
            action, _, rest = line.partition(" ")
            if action == "open":
                page = browser.get(rest)
            elif line.startswith("sign in as "):
                username, password = (s.strip() for s in line.removeprefix("sign in as ").split("/"))
                page = browser.get(urljoin(page.url, sign_in(browser, page.url, username, password)))
            elif line.startswith("do not see "):
                assert line.removeprefix("do not see ") not in html.unescape(page.text)
            elif action == "see":
                assert rest in html.unescape(page.text), f"{rest!r} not on {page.url}"
            elif action == "allow":
                back = consent(browser, page.url)
                # The browser would go on to the client's redirect URI (https://jwt.io);
                # the participant copies the code from the address bar.
                self.values["PASTE_THE_CODE"] = query(back)["code"]
            else:
                pytest.fail(f"the guide asks the browser to {line!r}, which this test cannot do")
            assert page.status_code == 200, f"{line}: HTTP {page.status_code}\n{page.text}"


@pytest.mark.parametrize(("title", "settings", "blocks"), SECTIONS, ids=[s[0] for s in SECTIONS])
def test_section(stacks, title, settings, blocks):
    """Run one section's blocks in order against a stack started with its settings."""
    reader = Reader(stacks(settings))
    for language, body in blocks:
        {"sh": reader.run_sh, "text": reader.check_text, "browser": reader.run_browser}[language](body)
