"""The inspected flow as downloads: JSON for tools, mermaid for slides and handouts.

Both come from walkthrough.build(), so they say exactly what the inspector shows, with
every secret masked (masking.py): an export may end up on a slide.
"""

import json

from ..flow import PARTIES
from ..masking import SHOWN_CHARACTERS
from ..models import now
from .walkthrough import plain

# Mermaid participant ids: the party's name without spaces, as in the seed.
MERMAID_IDS = {p.key: p.name.replace(" ", "") for p in PARTIES}
# Characters mermaid reads as syntax in message text, as its entity codes.
MERMAID_ESCAPES = str.maketrans({"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", "\n": " "})
# Lines of real values under each arrow (more does not fit on a slide).
NOTE_LINES = 6


def message_data(message):
    """A message view as plain data, secrets masked."""
    if message is None:
        return None
    data = {"kind": message["kind"], "start_line": plain(message["start"]),
            "headers": [[name, plain(value)] for name, value in message["headers"]],
            "body": plain(message["body"]), "from_host": message["from_host"],
            "to_host": message["to_host"]}
    if message["status"] is not None:
        data["status"] = message["status"]
    return data


def as_json(view):
    """The whole run as a JSON-ready dict."""
    login = view["login"]
    return {
        "exported_at": now(),
        "flow_id": login.flow_id if login else None,
        # Which of the client's profiles ran this flow, and as which client (config.profiles).
        "profile": view["profile"].name if view["profile"] else None,
        "client_id": view["profile"].client_id if view["profile"] else None,
        "issuer": view["issuer"],
        "secrets": f"masked: the first {SHOWN_CHARACTERS} characters and …",
        "steps": [{
            "number": s["step"].number,
            "from": s["source"].name,
            "to": s["target"].name,
            "label": s["step"].label,
            "channel": s["step"].channel,
            "state": s["state"],
            "message": message_data(s["message"]),
            "values": {name: plain(shown) for name, shown in s["key_values"]},
            "cross_checks": [{k: c[k] for k in ("name", "label", "outcome")} for c in s["checks"]],
            "authorization_server": s["server_requests"],
        } for s in view["steps"]],
        "step_9_checks": view["token_checks"],
        "later_token_requests": view["later_token_requests"],
        "tokens": {name: {"header": jwt["header_raw"], "claims": jwt["claims_raw"],
                          "signature": jwt["signature"]} for name, jwt in view["jwts"].items()},
    }


def as_json_text(view):
    """The JSON download's text."""
    return json.dumps(as_json(view), indent=2, ensure_ascii=False) + "\n"


def as_mermaid(view):
    """A mermaid sequence diagram of the run: the seed's arrows, the real values in notes."""
    login = view["login"]
    lines = [
        f"%% PAR Lab flow {login.flow_id if login else '(none yet)'}, issuer {view['issuer']}.",
        f"%% Secrets are masked: the first {SHOWN_CHARACTERS} characters and an ellipsis.",
        "sequenceDiagram",
        "    autonumber",
    ]
    for p in PARTIES:
        alias = MERMAID_IDS[p.key]
        lines.append(f"    participant {alias}" + (f" as {p.name}" if alias != p.name else ""))
    for s in view["steps"]:
        step = s["step"]
        source, target = MERMAID_IDS[step.source], MERMAID_IDS[step.target]
        # Dotted arrows for the front channel, as the inspector's dashed ones.
        arrow = "-->>" if step.channel == "front" else "->>"
        lines.append(f"    {source}{arrow}{target}: {_text(step.label)}")
        note = _note_lines(s, view)
        if note:
            where = f"right of {source}" if source == target else f"over {source},{target}"
            lines.append(f"    Note {where}: " + "<br/>".join(_text(line) for line in note[:NOTE_LINES]))
    return "\n".join(lines) + "\n"


def _note_lines(step_view, view):
    """The real values to write under one arrow."""
    number = step_view["step"].number
    if number == 9 and view["token_checks"]:
        return [f"{c['outcome']}: {c['id']}" for c in view["token_checks"]["checks"]
                if c["outcome"] != "not reached"][:NOTE_LINES]
    lines = []
    message = step_view["message"]
    if message is not None:
        lines.append(plain(message["start"]))
    lines += [f"{name}: {plain(shown)}" for name, shown in step_view["key_values"]]
    if message is None:
        lines += [f"{r['method']} {r['path']} → {r['status']}" for r in step_view["server_requests"]]
    return lines


def _text(value):
    """Text safe inside a mermaid message or note (and short enough for a slide)."""
    value = value if len(value) <= 120 else value[:119] + "…"
    return value.translate(MERMAID_ESCAPES)
