"""What one flow costs the authorization server in process, step by step: µs, CPU µs, SQL statements, commits.

    .venv/bin/python -m bench.flow_cost [flows]

The auth server runs in this process (Flask's test client plays the browser and the
client, no HTTP, no gunicorn) on a SQLite file, with the limits lifted. The password
check is left out (Argon2id, about 20-30 ms, is measured apart in `make bench`), so
the figures are the protocol's own work at each step of the flow. The CPU column is
this process's CPU time: on a shared machine it leaves out the time the process
waited, so it is the one to compare two versions by (bench/ab.py does, in
alternating runs).
"""

import base64
import hashlib
import logging
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from unittest import mock
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from sqlalchemy import event

from auth_server import create_app
from auth_server.models import db
from bench.push_cost import WEB

REDIRECT_URI = "http://localhost:3000/callback"


def csrf_token(html):
    """The CSRF token in a page's form."""
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', field).group(1)


class StepMeter:
    """Times each step (wall clock and CPU) and counts its statements and commits."""

    def __init__(self, engine):
        self.counts = {"statements": 0, "commits": 0}
        self.steps = defaultdict(list)
        event.listen(engine, "before_cursor_execute", lambda *args: self._count("statements"))
        event.listen(engine, "commit", lambda *args: self._count("commits"))

    def _count(self, what):
        self.counts[what] += 1

    def step(self, name, call):
        """Run one request; keep its times, statements and commits under `name`."""
        self.counts.update(statements=0, commits=0)
        started, cpu_started = time.perf_counter(), time.process_time()
        response = call()
        self.steps[name].append((time.perf_counter() - started, time.process_time() - cpu_started,
                                 self.counts["statements"], self.counts["commits"]))
        return response


def one_flow(browser, meter):
    """Steps 2-10 of the seed's flow, for notes-web and alice."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    pushed = {"client_id": "notes-web", "response_type": "code", "redirect_uri": REDIRECT_URI,
              "scope": "openid read:notes", "audience": "urn:my-notes-api", "state": "bench",
              "nonce": secrets.token_urlsafe(16), "code_challenge": challenge, "code_challenge_method": "S256"}
    step = meter.step
    request_uri = step("2 push", lambda: browser.post("/oauth/par", auth=WEB, data=pushed)).get_json()["request_uri"]
    login = step("4 /authorize", lambda: browser.get(
        "/authorize", query_string={"client_id": "notes-web", "request_uri": request_uri})).headers["Location"]
    token = csrf_token(step("5 login page", lambda: browser.get(login)).get_data(as_text=True))
    consent = step("5 login POST", lambda: browser.post(
        login, data={"csrf_token": token, "username": "alice", "password": "alice"})).headers["Location"]
    token = csrf_token(step("5 consent page", lambda: browser.get(consent)).get_data(as_text=True))
    back = step("6-7 consent POST", lambda: browser.post(consent, data={"csrf_token": token, "allow": "Allow"}))
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    tokens = step("9 token", lambda: browser.post("/oauth/token", auth=WEB, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}))
    assert tokens.status_code == 200, tokens.get_data(as_text=True)


def main(flows):
    """Run `flows` flows after a warm-up; print each step's median."""
    with tempfile.TemporaryDirectory() as folder, \
            mock.patch("auth_server.passwords.verify_password", lambda stored, password: password == "alice"):
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/as.sqlite", "PAR_RATE_LIMIT": 10**9,
                          "MAX_FAILED_LOGINS_PER_ADDRESS": 10**9, "LOG_LEVEL": "WARNING"})
        logging.getLogger("auth_server").setLevel(logging.WARNING)
        with app.app_context():
            meter = StepMeter(db.engine)
        browser = app.test_client()
        for _ in range(30):  # warm-up: connections, caches, compiled statements
            one_flow(browser, meter)
        meter.steps.clear()
        for _ in range(flows):
            one_flow(browser, meter)
    print(f"{'step (median of ' + str(flows) + ' flows)':32s} {'µs':>7s} {'CPU µs':>7s} {'SQL':>5s} {'commits':>8s}")
    total = cpu_total = 0
    for name, runs in meter.steps.items():
        micros, cpu_micros, statements, commits = (statistics.median(column) for column in zip(*runs))
        micros, cpu_micros = micros * 1e6, cpu_micros * 1e6
        total, cpu_total = total + micros, cpu_total + cpu_micros
        print(f"{name:32s} {micros:7.0f} {cpu_micros:7.0f} {statements:5.0f} {commits:8.0f}")
    print(f"{'the whole flow':32s} {total:7.0f} {cpu_total:7.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
