"""diagram.py: the seed's diagram as SVG, from flow.STEPS, lit up by state."""

import xml.etree.ElementTree as ElementTree

import pytest

from client_app.inspector import diagram
from client_app.flow import STEPS

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup):
    """The SVG as an XML tree (it must be well-formed)."""
    return ElementTree.fromstring(str(markup))


def arrows(markup):
    """The arrow links, in order."""
    return parse(markup).findall(f"{SVG}a")


def test_twelve_arrows_link_to_their_steps():
    """Each numbered arrow is a link to its step's section, with a readable name."""
    found = arrows(diagram.render({}))
    assert [a.get("href") for a in found] == [f"#step-{n}" for n in range(1, 13)]
    for a, step in zip(found, STEPS):
        assert a.get("aria-label").startswith(f"Step {step.number}: {step.label}")
        texts = [t.text for t in a.iter(f"{SVG}text")]
        assert texts == [str(step.number), step.label]


def test_four_lifelines_with_names():
    """The parties' boxes and names, left to right."""
    names = [t.text for t in parse(diagram.render({})).iter(f"{SVG}text") if t.get("class") == "party-name"]
    assert names == ["User", "Client", "Authorization Server", "Resource Server"]


@pytest.mark.parametrize("state", ["done", "failed", "paused", "pending"])
def test_states_light_up_the_arrows(state):
    """A step's state becomes its class; unknown steps stay pending."""
    found = arrows(diagram.render({3: state}))
    assert found[2].get("class") == f"step step-{state}"
    assert found[2].get("data-state") == state
    assert {a.get("data-state") for a in found[3:]} == {"pending"}


def test_front_channel_arrows_are_dashed():
    """The browser's steps are dashed, the back channel solid, as the legend says."""
    for a, step in zip(arrows(diagram.render({})), STEPS):
        line = next(e for e in a if e.get("class") == "line")
        assert (line.get("stroke-dasharray") is not None) == (step.channel == "front")


def test_step_9_is_a_loop_on_the_authorization_server():
    """A party talking to itself is drawn as a loop (a path), not a line."""
    step9 = arrows(diagram.render({}))[8]
    assert step9.find(f"{SVG}path") is not None
    assert step9.find(f"{SVG}line") is None


def test_links_can_point_elsewhere_and_are_escaped():
    """The link maker is a parameter; its output is escaped."""
    found = arrows(diagram.render({}, link=lambda n: f"/inspector?s={n}&x=<y>"))
    assert found[0].get("href") == "/inspector?s=1&x=<y>"
    assert "&amp;x=&lt;y&gt;" in str(diagram.render({}, link=lambda n: f"/inspector?s={n}&x=<y>"))


def test_no_script_and_no_external_resources():
    """Drawn by the server, works offline: no script, no remote reference."""
    markup = str(diagram.render({1: "done"}))
    assert "<script" not in markup
    assert "http" not in markup.replace("http://www.w3.org/2000/svg", "")
