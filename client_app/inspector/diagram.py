"""The seed's sequence diagram, drawn here as SVG from flow.STEPS.

No JavaScript and no diagram library: the server writes the SVG, so the page works
offline and on any projector. Each numbered arrow is a link to that step's details,
and its look says how far the user's flow has got:
  done     the step happened (solid colour)
  failed   it happened and was refused (red)
  paused   step-by-step mode waits here for "Send step N" (orange)
  pending  not yet (grey)
"""

from markupsafe import Markup
from markupsafe import escape

from ..flow import CHANNELS
from ..flow import PARTIES
from ..flow import STEPS

WIDTH = 1200
HEADER_HEIGHT = 56
ROW_HEIGHT = 40
FOOTER_HEIGHT = 44
# Where each lifeline stands, left to right, as in the seed.
LIFELINE_X = {p.key: 130 + i * 313 for i, p in enumerate(PARTIES)}

STATE_WORDS = {
    "done": "done",
    "failed": "refused",
    "paused": "paused here: waiting for Send",
    "pending": "not yet",
    "skipped": "not in this profile",
}


def height():
    """The diagram's height: a header, one row per step, and the legend."""
    return HEADER_HEIGHT + 20 + len(STEPS) * ROW_HEIGHT + FOOTER_HEIGHT


def render(states, link=lambda number: f"#step-{number}"):
    """The whole diagram as SVG markup; `states` maps step numbers to a state word."""
    parts = [
        f'<svg class="flow-diagram" viewBox="0 0 {WIDTH} {height()}" role="group" '
        'aria-labelledby="flow-diagram-title" xmlns="http://www.w3.org/2000/svg">',
        '<title id="flow-diagram-title">The PAR flow, step by step: each arrow links to '
        "what was really sent</title>",
    ]
    parts += [_lifeline(p) for p in PARTIES]
    for row, step in enumerate(STEPS):
        y = HEADER_HEIGHT + 40 + row * ROW_HEIGHT
        parts.append(_arrow(step, y, states.get(step.number, "pending"), link(step.number)))
    parts.append(_legend(height() - 16))
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _lifeline(party):
    """A party's name box at the top and its dotted line down the page."""
    x = LIFELINE_X[party.key]
    return (
        f'<g class="party party-{party.key}">'
        f'<rect x="{x - 120}" y="6" width="240" height="{HEADER_HEIGHT - 14}" rx="6" fill="{party.colour}"/>'
        f'<text x="{x}" y="{HEADER_HEIGHT / 2 + 8}" text-anchor="middle" class="party-name">{escape(party.name)}</text>'
        f'<line x1="{x}" y1="{HEADER_HEIGHT - 8}" x2="{x}" y2="{height() - FOOTER_HEIGHT}" class="lifeline"/>'
        "</g>"
    )


def _arrow(step, y, state, href):
    """One numbered arrow (a loop for a party talking to itself), as a link."""
    x1, x2 = LIFELINE_X[step.source], LIFELINE_X[step.target]
    label = f"Step {step.number}: {step.label} ({CHANNELS[step.channel]}; {STATE_WORDS[state]})"
    dash = ' stroke-dasharray="9 6"' if step.channel == "front" else ""
    if x1 == x2:
        # Step 9: the AS validates the request itself, a loop on its own lifeline.
        line = (f'<path d="M {x1} {y - 8} h 70 v 18 h -62" class="line"{dash} fill="none"/>'
                + _head(x1 + 2, y + 10, -1))
        text_x, anchor, number_x = x1 + 84, "start", x1 - 24
    else:
        direction = 1 if x2 > x1 else -1
        line = (f'<line x1="{x1}" y1="{y}" x2="{x2 - direction * 10}" y2="{y}" class="line"{dash}/>'
                + _head(x2, y, direction))
        # The number sits just outside the arrow's left end, clear of the label.
        text_x, anchor, number_x = (x1 + x2) / 2, "middle", min(x1, x2) - 24
    return (
        f'<a href="{escape(href)}" class="step step-{state}" id="arrow-{step.number}" '
        f'data-step="{step.number}" data-state="{state}" aria-label="{escape(label)}">'
        f'<rect x="{min(x1, x2) - 40}" y="{y - 28}" width="{abs(x2 - x1) + 50 if x1 != x2 else 280}" '
        f'height="{ROW_HEIGHT - 4}" class="hit"/>'
        f"{line}"
        f'<circle cx="{number_x}" cy="{y - 13}" r="12" class="badge"/>'
        f'<text x="{number_x}" y="{y - 8}" text-anchor="middle" class="number">{step.number}</text>'
        f'<text x="{text_x}" y="{y - 8}" text-anchor="{anchor}" class="label">{escape(step.label)}</text>'
        "</a>"
    )


def _head(x, y, direction):
    """An arrowhead whose tip is at (x, y), pointing right (1) or left (-1)."""
    back = x - direction * 14
    return f'<polygon points="{x},{y} {back},{y - 7} {back},{y + 7}" class="head"/>'


def _legend(y):
    """Solid and dashed lines: back channel and front channel."""
    return (
        '<g class="legend">'
        f'<line x1="40" y1="{y - 5}" x2="100" y2="{y - 5}" class="line"/>'
        f'<text x="110" y="{y}">back channel (service to service)</text>'
        f'<line x1="420" y1="{y - 5}" x2="480" y2="{y - 5}" class="line" stroke-dasharray="9 6"/>'
        f'<text x="490" y="{y}">front channel (through the browser)</text>'
        f'<text x="840" y="{y}">grey: not yet · red: refused</text>'
        "</g>"
    )
