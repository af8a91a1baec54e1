"""The docs against the code: every setting documented, every page reachable, every link alive."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
SERVICES = ("auth_server", "client_app", "notes_api")

# The README is a front door: what PAR Lab is, how to start, where to read on.
README_MAX_LINES = 250

# [text](target) and ![alt](target): the target, up to a space (a title) or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)")
# A fenced code block: its brackets are code, not links.
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# A settings table row: | `NAME` | environment variable | default | what it does |
SETTING_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|", re.MULTILINE)


def settings(service):
    """The UPPERCASE attributes of a service's Config class: its settings."""
    config = importlib.import_module(f"{service}.config").Config
    return sorted(name for name in vars(config) if name.isupper())


def section(page, title):
    """The text under a page's `## title` heading, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", page.read_text(), re.MULTILINE | re.DOTALL)
    assert match, f"{page.name} has no '## {title}' section"
    return match.group(1)


def links(page):
    """Every link target on a page, outside code blocks."""
    return LINK.findall(FENCE.sub("", page.read_text()))


def is_relative(target):
    """A link to a file of this repository (not a URL, not an anchor on the same page)."""
    return not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")


def anchors(page):
    """The anchors a page's headings get on GitHub: lowercase, punctuation dropped, - for spaces."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_is_documented(service):
    """Each setting of a service's Config is named in its section of docs/configuration.md."""
    documented = section(CONFIGURATION, service)
    names = settings(service)
    assert names, f"{service}.config.Config has no settings"
    missing = [name for name in names if f"`{name}`" not in documented]
    assert missing == [], f"docs/configuration.md's {service} section does not name {missing}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_documented_setting_exists(service):
    """Each setting row in a service's section of docs/configuration.md is one its Config has."""
    rows = SETTING_ROW.findall(section(CONFIGURATION, service))
    assert rows, f"docs/configuration.md's {service} section has no settings table"
    unknown = sorted(set(rows) - set(settings(service)))
    assert unknown == [], f"docs/configuration.md lists {unknown} for {service}; its Config has no such setting"


def test_every_docs_page_is_linked_from_the_readme():
    """No page in docs/ is an orphan: the README links to each one."""
    linked = {(README.parent / target.split("#")[0]).resolve() for target in links(README) if is_relative(target)}
    pages = sorted(DOCS.glob("*.md"))
    assert pages, "docs/ has no pages"
    unlinked = [f"docs/{page.name}" for page in pages if page.resolve() not in linked]
    assert unlinked == [], f"README.md does not link to {unlinked}"


def test_readme_is_short():
    """The README stays a front door; the details live in docs/."""
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines, more than {README_MAX_LINES}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_point_to_files_that_exist(page):
    """Every relative link on the page opens a file of the repository (and its anchor, if any)."""
    broken = []
    for target in filter(is_relative, links(page)):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve()
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no such heading)")
    assert broken == [], f"{page.relative_to(ROOT)} has broken links: {broken}"
