"""`make bench`: PAR Lab measured in one run, so that the ratios hold on a noisy machine.

1. Full flow: all 12 steps over HTTP (login and consent forms included), at
   concurrency 1, 4 and 8: latency percentiles and flows per second; and its two
   floors, the same twelve requests to views that do nothing (bench/apps.py) and to
   views that do only each step's protocol work (bench/lean.py).
2. Endpoint throughput (wrk): POST /oauth/par and, on the same server, discovery;
   GET /api/notes with a different valid token on each request (a pool of 240, the
   first batch of code exchanges below), beside notes_api's /healthz; the token
   endpoint (authorization_code, refresh_token) with a Python load loop on kept-alive
   connections (each code can be sent only once, which wrk cannot do), beside the
   trivial endpoint under the same loop.
3. The floor beside them: a trivial Flask endpoint and the notes view without token
   validation, on the same gunicorn settings.
4. A peer beside them: panva's oidc-provider (tests/interop) serving PAR.
5. Soak: 100,000 pushed requests from one client as fast as allowed, with the rate
   limit on; the store's rows and each process's memory sampled as it runs, and
   legitimate flows started during the flood.

The services run under gunicorn exactly as `make demo` runs them (their own
gunicorn.conf.py, 2 workers each). One change, for sections 1-4 only: the PAR rate
limit and client_app's logins per address are lifted, since the load comes from a
single client on one address; section 5 runs with the defaults. Writes
bench/results/latest.json and prints the table, with each of the issue's targets as a
ratio from this one run and PASS or FAIL.
"""

import base64
import contextlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urljoin
from urllib.parse import urlparse

import requests
import urllib3

from bench import lean
from bench.lean import s256

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
SOAK_REQUESTS = int(os.environ.get("BENCH_SOAK_REQUESTS", "100000"))
WRK_ROUNDS = int(os.environ.get("BENCH_WRK_ROUNDS", "3"))
WEB = ("notes-web", "notes-web-secret")
PYTHON_LOAD = "python http.client, 8 threads, kept-alive connections"


def free_ports(count):
    """`count` distinct loopback ports nobody listens on. The sockets stay open until all
    are bound: one closed before the next is asked for could be handed out again."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def free_port():
    """A loopback port nobody listens on."""
    return free_ports(1)[0]


class Service:
    """One process (gunicorn or node) on a loopback port, its output in a log file."""

    def __init__(self, name, command, env, workdir, health):
        self.name, self.port = name, int(env["PORT"])
        self.url = f"http://localhost:{self.port}"
        self.log = open(workdir / f"{name}.log", "w")
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env},
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(self.url + health, timeout=1).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        self.stop()
        tail = Path(self.log.name).read_text()[-2000:]
        raise SystemExit(f"{name} did not start; the end of {self.log.name}:\n{tail}")

    def proc_files(self, name):
        """The text of /proc/<pid>/<name> for the process and its children (gunicorn
        workers); a worker that has just exited is left out."""
        for pid in [self.process.pid] + children(self.process.pid):
            try:
                yield Path(f"/proc/{pid}/{name}").read_text()
            except OSError:
                continue

    def rss_mb(self):
        """Resident memory of the process and its children, in MB."""
        found = (re.search(r"VmRSS:\s+(\d+)", status) for status in self.proc_files("status"))
        return round(sum(int(match.group(1)) for match in found if match) / 1024, 1)

    def cpu_seconds(self):
        """CPU time (user and system) of the process and its children so far."""
        ticks = 0
        for stat in self.proc_files("stat"):
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (man 5 proc)
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self):
        """SIGTERM (to a process still running), and wait."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def children(pid):
    """The direct children of a process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


# A gunicorn app factory ("module:function") every app is started through, given the
# app's own module and factory names; bench.request_cpu sets it to measure each request.
APP_WRAPPER = None


def app_spec(app):
    """The app to hand gunicorn: "module:factory()" as it is, or through APP_WRAPPER."""
    if APP_WRAPPER is None:
        return app
    module, factory = app.removesuffix("()").split(":")
    return f"{APP_WRAPPER}({module!r}, {factory!r})"


def gunicorn(name, app, env, workdir, health, conf=None):
    """A service under its own gunicorn.conf.py (or another service's, for the floors)."""
    conf = conf or name
    command = [GUNICORN, "-c", f"{conf}/gunicorn.conf.py", app_spec(app)]
    return Service(name, command, {"PORT": str(free_port()), "WEB_CONCURRENCY": "2", **env}, workdir, health)


def csrf(html):
    """The CSRF token in a page's form."""
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def percentile(values, q):
    """The q-th percentile (nearest rank) of a list, in the list's unit."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# ---- 1. the full flow, through the client, as a browser -----------------------------

class Browser:
    """The benchmark's browser: urllib3, one cookie jar for localhost, redirects followed by hand.

    `requests` adds about 1 ms of CPU to every request on this kind of machine (proxy
    settings read from the environment, its cookie jar, hooks), some 8-12 ms a flow that
    no browser spends; this one uses about half the CPU `requests` did, most of it the
    kernel's work on the sockets (docs/benchmark.md, round five). Like a browser, it
    keeps cookies per host, not per port: client_app and the AS both live on localhost,
    so their session cookies have different names.
    """

    def __init__(self):
        self.pool = urllib3.PoolManager()
        self.cookies = {}

    def get(self, url, follow=True):
        """GET a page; follows redirects unless `follow` is False."""
        return self.request("GET", url, None, follow)

    def post(self, url, form):
        """POST a form; a redirect is returned, not followed (the flow reads where it goes)."""
        return self.request("POST", url, form, follow=False)

    def request(self, method, url, form, follow):
        """One request with this browser's cookies; keeps the cookies it sets."""
        headers, body = {}, None
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if form is not None:
            body, headers["Content-Type"] = urlencode(form), "application/x-www-form-urlencoded"
        response = self.pool.request(method, url, body=body, headers=headers, redirect=False)
        for header in response.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0":  # deleted (Flask's way: Max-Age=0)
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if follow and response.status in (301, 302, 303, 307, 308):
            return self.get(urljoin(url, response.headers["Location"]))
        return response


def full_flow(stack):
    """All 12 steps; returns (total seconds, seconds spent in the login POST)."""
    client, auth = stack["client_app"].url, stack["auth_server"].url
    started = time.perf_counter()
    browser = Browser()
    home = browser.get(client + "/")
    authorize = browser.post(client + "/login", {"csrf_token": csrf(home.data.decode())}).headers["Location"]
    login_url = urljoin(auth, browser.get(authorize, follow=False).headers["Location"])
    page = browser.get(login_url)
    before_login = time.perf_counter()
    consent_url = urljoin(auth, browser.post(login_url, {
        "csrf_token": csrf(page.data.decode()), "username": "alice", "password": "alice"}).headers["Location"])
    login_seconds = time.perf_counter() - before_login
    page = browser.get(consent_url)
    callback = browser.post(consent_url, {"csrf_token": csrf(page.data.decode()), "allow": "Allow"}).headers["Location"]
    notes = browser.get(callback)  # steps 8-12: code exchange, then the API call
    if notes.status != 200 or "Alice" not in notes.data.decode():
        raise RuntimeError(f"flow failed: HTTP {notes.status}")
    browser.pool.clear()
    return time.perf_counter() - started, login_seconds


def measure_flows(stack, concurrency, count):
    """`count` full flows at a given concurrency: latency percentiles, flows/s, and the
    CPU each flow cost each service and this benchmark's browser (password check included)."""
    # The processes this benchmark started (not bench-scale's containers).
    processes = {name: service for name, service in stack.items() if isinstance(service, Service)}
    cpu_before, browser_before = {name: service.cpu_seconds() for name, service in processes.items()}, time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda _: full_flow(stack), range(count)))
    elapsed = time.perf_counter() - started
    cpu = {name: service.cpu_seconds() - cpu_before[name] for name, service in processes.items()}
    cpu["browser"] = time.process_time() - browser_before
    totals = [total * 1000 for total, _ in results]
    without_login = [(total - login) * 1000 for total, login in results]
    return {
        "concurrency": concurrency, "flows": count, "flows_per_s": round(count / elapsed, 1),
        "p50_ms": round(percentile(totals, 50), 1), "p95_ms": round(percentile(totals, 95), 1),
        "p99_ms": round(percentile(totals, 99), 1),
        "login_post_p50_ms": round(statistics.median(login * 1000 for _, login in results), 1),
        "p50_without_login_post_ms": round(percentile(without_login, 50), 1),
        "cpu_ms_per_flow": {name: round(seconds / count * 1000, 1) for name, seconds in cpu.items()},
    }


# ---- 2-4. endpoint throughput ----------------------------------------------------------

def wrk(url, script, env=None, seconds=SECONDS, connections=8):
    """Run wrk (2 threads) and return its JSON summary line, parsed."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(ROOT / "bench" / script), url]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})},
                            timeout=seconds * 20 + 600)
    if "JSON " not in result.stdout:
        raise SystemExit(f"wrk failed on {url}:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.split("JSON ", 1)[1].splitlines()[0])


def best_of_rounds(runs, rounds=None):
    """wrk on every (url, script, env) in turn, `rounds` times over; each figure's best run,
    with the rps of every run beside it."""
    rounds = rounds or WRK_ROUNDS
    best = {}
    for _ in range(rounds):
        for name, (url, script, env) in runs.items():
            result = wrk(url, script, env)
            seen = best.get(name, {}).get("runs_rps", []) + [result["rps"]]
            if name not in best or result["rps"] > best[name]["rps"]:
                best[name] = result
            best[name]["runs_rps"] = seen
    return best


def basic(client_id, secret):
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def par_body(redirect_uri, extra=None):
    """A valid pushed authorization request for the web client."""
    verifier = secrets.token_urlsafe(48)
    # RFC 9126 §2.1 / RFC 6749 §4.1.1: client_id is part of the request (oidc-provider insists).
    return urlencode({"client_id": "notes-web", "response_type": "code", "redirect_uri": redirect_uri, "scope": "openid read:notes",
                      "code_challenge": s256(verifier), "code_challenge_method": "S256", "state": "bench",
                      **(extra or {})})


def code_via_auth_server(auth, redirect_uri):
    """Steps 2-7 straight against the auth server: (code, verifier)."""
    verifier = secrets.token_urlsafe(48)
    pushed = requests.post(auth + "/oauth/par", auth=WEB, data={
        "response_type": "code", "redirect_uri": redirect_uri, "scope": "openid read:notes offline_access",
        "audience": "urn:my-notes-api", "code_challenge": s256(verifier), "code_challenge_method": "S256"})
    with requests.Session() as browser:
        arrival = browser.get(auth + "/authorize", allow_redirects=False,
                              params={"client_id": "notes-web", "request_uri": pushed.json()["request_uri"]})
        login_url = auth + arrival.headers["Location"]
        page = browser.get(login_url)
        consent_url = auth + browser.post(login_url, allow_redirects=False, data={
            "csrf_token": csrf(page.text), "username": "alice", "password": "alice"}).headers["Location"]
        page = browser.get(consent_url)
        back = browser.post(consent_url, allow_redirects=False, data={"csrf_token": csrf(page.text), "allow": "Allow"})
    return parse_qs(urlparse(back.headers["Location"]).query)["code"][0], verifier


class KeptAlive:
    """One HTTP/1.1 connection kept open (http.client), for the Python load loops.

    It costs the load generator about what wrk costs it per request; `requests` costs
    a millisecond or more of CPU per call, taken from the server on a 2-CPU machine.
    """

    def __init__(self, base):
        url = urlparse(base)
        self.connection = http.client.HTTPConnection(url.hostname, url.port)

    def call(self, method, path, form=None, auth=None):
        """One request; (status, parsed JSON body or None)."""
        headers = {"Authorization": basic(*auth)} if auth else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None


def in_threads(base, work, items, threads=8):
    """Run work(connection, item) on every item, `threads` at a time, each thread on its
    own kept-alive connection; (results in order, seconds taken)."""
    slices = [items[i::threads] for i in range(threads)]

    def run(slice_):
        connection = KeptAlive(base)
        return [work(connection, item) for item in slice_]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        done = list(pool.map(run, slices))
    seconds = time.perf_counter() - started
    results = [None] * len(items)
    for i, part in enumerate(done):
        results[i::threads] = part
    return results, seconds


# The notes API's pool of distinct valid tokens (the target asks for at least 100).
NOTES_TOKEN_POOL = 240


def token_endpoint(auth, redirect_uri, trivial, count=NOTES_TOKEN_POOL, threads=8, rounds=None):
    """Throughput of POST /oauth/token (code exchanges, then refresh chains) and, with the
    same Python loop, of the trivial endpoint: the ratio compares like with like.

    As with wrk, each figure is the better of `rounds` runs taken in turn (a batch of
    `count` codes, then the trivial endpoint), every run kept: a neighbour's burst then
    spoils one run, not the ratio.
    """
    rounds = rounds or WRK_ROUNDS
    with ThreadPoolExecutor(max_workers=threads) as pool:
        codes = list(pool.map(lambda _: code_via_auth_server(auth, redirect_uri), range(count * rounds)))

    def exchange(connection, item):
        code, verifier = item
        status, token = connection.call("POST", "/oauth/token", auth=WEB, form={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier})
        if status != 200:
            raise RuntimeError(f"code exchange failed: HTTP {status} {token}")
        return token

    tokens, code_runs, trivial_runs = [], [], []
    for batch in range(rounds):
        issued, seconds = in_threads(auth, exchange, codes[batch * count:(batch + 1) * count], threads)
        tokens += issued
        code_runs.append(round(count / seconds, 1))
        pings, seconds = in_threads(trivial, lambda connection, _: connection.call("GET", "/ping"),
                                    range(count * 10), threads)
        trivial_runs.append(round(len(pings) / seconds, 1))

    def chain(connection, token, length=count // threads * 3):
        refresh = token["refresh_token"]
        for _ in range(length):
            status, answer = connection.call("POST", "/oauth/token", auth=WEB, form={
                "grant_type": "refresh_token", "refresh_token": refresh})
            if status != 200:
                raise RuntimeError(f"refresh failed: HTTP {status} {answer}")
            refresh = answer["refresh_token"]
        return length

    refreshes, seconds = in_threads(auth, chain, tokens[:threads], threads)
    refresh_rps = sum(refreshes) / seconds
    return [token["access_token"] for token in tokens], code_runs, round(refresh_rps, 1), trivial_runs


# ---- 5. soak ---------------------------------------------------------------------------

def soak(stack, db_path):
    """A flood of pushes from seed-cli with the rate limit on; rows and memory sampled."""
    auth = stack["auth_server"]
    samples, stop = [], threading.Event()

    def sample():
        started = time.monotonic()
        while not stop.is_set():
            with sqlite3.connect(db_path) as connection:
                rows = connection.execute("SELECT count(*) FROM pushed_request").fetchone()[0]
            samples.append({"t_s": round(time.monotonic() - started, 1), "pushed_request_rows": rows,
                            "auth_server_rss_mb": auth.rss_mb()})
            stop.wait(1.0)

    sampler = threading.Thread(target=sample)
    sampler.start()
    body = "client_secret=seed-cli-secret&" + par_body("https://jwt.io").replace("client_id=notes-web", "client_id=seed-cli")
    flood_result = {"requests": 0, "non2xx": 0}

    def run_flood():
        # wrk runs for a duration, not a count: size each run from the rate seen so far.
        started, seconds = time.monotonic(), 5
        while flood_result["requests"] < SOAK_REQUESTS:
            result = wrk(auth.url + "/oauth/par", "post_form.lua", {"BODY": body}, seconds=seconds)
            flood_result["requests"] += result["requests"]
            flood_result["non2xx"] += result["non2xx"]
            rate = flood_result["requests"] / (time.monotonic() - started)
            seconds = max(1, min(60, int((SOAK_REQUESTS - flood_result["requests"]) / rate) + 1))
        flood_result["rps"] = flood_result["requests"] / (time.monotonic() - started)

    flood = threading.Thread(target=run_flood)
    flood.start()
    time.sleep(2)
    legit = []
    for _ in range(5):  # legitimate notes-web users logging in during the flood
        try:
            legit.append(full_flow(stack)[0] * 1000)
        except Exception as error:  # noqa: BLE001 - a failed flow is a result to report
            legit.append(f"failed: {error}")
    flood.join()
    stop.set()
    sampler.join()
    return {
        "requests": flood_result.get("requests"), "rejected_non2xx": flood_result.get("non2xx"),
        "rps": flood_result.get("rps"),
        "rows_max": max(s["pushed_request_rows"] for s in samples),
        "rows_last": samples[-1]["pushed_request_rows"],
        "rss_first_mb": samples[0]["auth_server_rss_mb"], "rss_max_mb": max(s["auth_server_rss_mb"] for s in samples),
        "rss_last_mb": samples[-1]["auth_server_rss_mb"],
        "legit_flows_ms": [round(x, 1) if isinstance(x, float) else x for x in legit],
        "legit_flows_completed": sum(isinstance(x, float) for x in legit),
        "samples": samples,
    }


# ---- the run ---------------------------------------------------------------------------

@contextlib.contextmanager
def started_together():
    """A dict to start services into, {name: Service}: if one does not start, those that
    did are stopped before the error goes on."""
    services = {}
    try:
        yield services
    except BaseException:
        for service in services.values():
            service.stop()
        raise


def start_stack(workdir, rate_limit):
    """auth_server, notes_api and client_app as `make demo` runs them, on free ports."""
    auth_port, client_port, api_port = free_ports(3)
    issuer, client_url = f"http://localhost:{auth_port}", f"http://localhost:{client_port}"
    auth_env = {"PORT": str(auth_port), "ISSUER": issuer, "DATABASE_URL": f"sqlite:///{workdir}/auth.sqlite",
                "NOTES_WEB_REDIRECT_URI": client_url + "/callback"}
    client_env = {"PORT": str(client_port), "ISSUER": issuer, "REDIRECT_URI": client_url + "/callback",
                  "DATABASE_URL": f"sqlite:///{workdir}/client.sqlite"}
    if rate_limit is not None:
        # The load comes from one client and one address: lift the AS's PAR limit and
        # client_app's logins per address alike (each flow is a new browser).
        auth_env["PAR_RATE_LIMIT"] = str(rate_limit)
        client_env["LOGINS_PER_ADDRESS"] = str(rate_limit)
    with started_together() as stack:
        stack["auth_server"] = gunicorn("auth_server", "auth_server:create_app()", auth_env, workdir,
                                        "/.well-known/jwks.json")
        stack["notes_api"] = gunicorn("notes_api", "notes_api:create_app()", {
            "PORT": str(api_port), "ISSUER": issuer, "DATABASE_URL": f"sqlite:///{workdir}/notes.sqlite"},
            workdir, "/healthz")
        stack["client_app"] = gunicorn("client_app", "client_app:create_app()", {
            **client_env, "NOTES_API_URL": stack["notes_api"].url}, workdir, "/healthz")
    return stack


# The two floors a flow is set beside, each three apps under the same gunicorn settings
# (auth_server's), on loopback like the real stack: the module, the prefix of its
# factories (`<prefix>_auth_server()`, ...), and the path each answers once it is up.
FLOORS = {
    # The same twelve requests, views that do nothing (bench/apps.py).
    "empty": ("bench.apps", "floor", {"auth_server": "/login", "notes_api": "/api/notes", "client_app": "/"}),
    # The same twelve requests, each doing only its step's work (bench/lean.py).
    "lean": ("bench.lean", "lean", {"auth_server": "/.well-known/jwks.json", "notes_api": "/healthz",
                                    "client_app": "/"}),
}


def start_floor_stack(workdir, kind="empty"):
    """One of the FLOORS: the flow's twelve requests answered by the bench's own apps."""
    module, prefix, health = FLOORS[kind]
    ports = dict(zip(health, free_ports(len(health))))
    urls = {f"FLOOR_{name.upper()}": f"http://localhost:{port}" for name, port in ports.items()}
    with started_together() as floor:
        for name, path in health.items():
            floor[name] = Service(f"{prefix}_{name}", [GUNICORN, "-c", "auth_server/gunicorn.conf.py",
                                                       app_spec(f"{module}:{prefix}_{name}()")],
                                  {"PORT": str(ports[name]), "WEB_CONCURRENCY": "2", "FLOOR_DB_DIR": str(workdir),
                                   **urls}, workdir, path)
    return floor


def machine():
    """What the figures were measured on."""
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    return {"cpus": os.cpu_count(), "cpu": cpu.group(1) if cpu else platform.processor(),
            "python": platform.python_version(), "os": platform.platform()}


def main():
    """Run every section, print the table, write the JSON."""
    for tool in ("wrk", "node"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench needs {tool}; see scripts/bench.sh")
    workdir = Path(tempfile.mkdtemp(prefix="parlab-bench-"))
    report = {"machine": machine(), "seconds_per_wrk_run": SECONDS}
    stack = start_stack(workdir, rate_limit=10**9)
    floors = []
    try:
        redirect_uri = stack["client_app"].url + "/callback"
        full_flow(stack)  # warm-up: discovery, JWKS and key caches, connection pools
        report["full_flow"] = [measure_flows(stack, c, n) for c, n in ((1, 30), (4, 60), (8, 80))]
        # Each floor joins the list as it starts, so one that fails to start stops the others.
        floor_stack = start_floor_stack(workdir)
        floors.extend(floor_stack.values())
        full_flow(floor_stack)  # warm-up, as above
        report["full_flow_floor"] = measure_flows(floor_stack, 1, 60)
        lean_stack = start_floor_stack(workdir, "lean")
        floors.extend(lean_stack.values())
        full_flow(lean_stack)
        report["full_flow_lean"] = measure_flows(lean_stack, 1, 60)
        trivial = gunicorn("trivial", "bench.apps:trivial_app()", {}, workdir, "/ping", conf="auth_server")
        floors.append(trivial)
        access_tokens, code_runs, refresh_rps, trivial_python_runs = token_endpoint(
            stack["auth_server"].url, redirect_uri, trivial.url)
        # Every request to the notes API carries the next of the distinct valid tokens
        # of the first batch of code exchanges (240).
        token_pool = workdir / "tokens.txt"
        token_pool.write_text("\n".join(access_tokens[:NOTES_TOKEN_POOL]) + "\n")
        pool = {"TOKENS": str(token_pool)}
        unprotected = gunicorn("unprotected", "bench.apps:unprotected_notes_app()", {
            "ISSUER": stack["auth_server"].url, "DATABASE_URL": f"sqlite:///{workdir}/notes.sqlite"},
            workdir, "/healthz", conf="notes_api")
        floors.append(unprotected)
        peer = Service("oidc_provider", ["node", "tests/interop/provider.js"], {
            "PORT": str(free_port()), "CLIENT_REDIRECT_URI": redirect_uri}, workdir,
            "/.well-known/openid-configuration")
        floors.append(peer)
        peer_par = requests.get(peer.url + "/.well-known/openid-configuration").json()[
            "pushed_authorization_request_endpoint"]
        # Each figure is the better of WRK_ROUNDS runs, taken in turn (all of them, then
        # all again): a neighbour's burst on a shared machine then spoils one run of a
        # figure, not the ratio of two figures measured minutes apart.
        report["throughput"] = best_of_rounds({
            "trivial_endpoint": (trivial.url + "/ping", "get.lua", None),
            "par": (stack["auth_server"].url + "/oauth/par", "post_form.lua", {
                "AUTH": basic(*WEB), "BODY": par_body(redirect_uri, {"audience": "urn:my-notes-api"})}),
            "discovery": (stack["auth_server"].url + "/.well-known/openid-configuration", "get.lua", None),
            # The lean floor's push (bench/lean.py): the same statements and commit, nothing else.
            "lean_par": (lean_stack["auth_server"].url + "/par", "post_form.lua", {
                "AUTH": basic(lean.CLIENT_ID, lean.CLIENT_SECRET),
                "BODY": par_body(lean_stack["client_app"].url + "/callback", {"client_id": lean.CLIENT_ID})}),
            "peer_oidc_provider_par": (peer_par, "post_form.lua", {"AUTH": basic(*WEB), "BODY": par_body(redirect_uri)}),
            # The three notes_api figures send the same tokens, so wrk's work is the same.
            "notes_protected": (stack["notes_api"].url + "/api/notes", "get_token_pool.lua", pool),
            "notes_unprotected": (unprotected.url + "/bench/notes", "get_token_pool.lua", pool),
            "notes_healthz": (stack["notes_api"].url + "/healthz", "get_token_pool.lua", pool),
        })
        report["throughput"].update({
            "notes_token_pool_size": len(set(access_tokens[:NOTES_TOKEN_POOL])),
            "token_authorization_code": {"rps": max(code_runs), "runs_rps": code_runs, "tool": PYTHON_LOAD},
            "token_refresh_token": {"rps": refresh_rps, "tool": PYTHON_LOAD},
            "trivial_endpoint_python": {"rps": max(trivial_python_runs), "runs_rps": trivial_python_runs,
                                        "tool": PYTHON_LOAD},
        })
    finally:
        for service in [*floors, *stack.values()]:
            service.stop()
    # 5. soak, with the default rate limits, on a fresh stack with fresh databases (the
    # logins of sections 1-4 would count against client_app's per-address bound).
    soak_dir = workdir / "soak"
    soak_dir.mkdir()
    stack = start_stack(soak_dir, rate_limit=None)
    try:
        report["soak"] = soak(stack, soak_dir / "auth.sqlite")
    finally:
        for service in stack.values():
            service.stop()
    report["password_hash"] = password_hash(soak_dir / "auth.sqlite")
    report["targets"] = targets(report)
    out = ROOT / "bench" / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\nJSON: {out.relative_to(ROOT)}")
    shutil.rmtree(workdir, ignore_errors=True)


def ratio_target(numerator, denominator, least):
    """A throughput ratio against its floor: PASS when it is at least `least`, unrounded."""
    ratio = numerator / denominator
    return {"ratio": round(ratio, 2), "target": f">= {least}", "result": "PASS" if ratio >= least else "FAIL"}


def targets(report):
    """The issue's targets, as ratios (or a latency) from this one run, each PASS or FAIL."""
    t = report["throughput"]
    c1 = report["full_flow"][0]
    soak_result = report["soak"]
    # The login POST is mostly the password check, at the cost chosen on purpose
    # (docs/security.md), so the target is the flow without it; both are stated.
    without_password = c1["p50_without_login_post_ms"]
    return {
        "par_vs_trivial": ratio_target(t["par"]["rps"], t["trivial_endpoint"]["rps"], 0.25),
        "par_vs_discovery": ratio_target(t["par"]["rps"], t["discovery"]["rps"], 0.5),
        "notes_token_pool_vs_unprotected": ratio_target(t["notes_protected"]["rps"], t["notes_unprotected"]["rps"], 0.9),
        "notes_token_pool_vs_healthz": ratio_target(t["notes_protected"]["rps"], t["notes_healthz"]["rps"], 0.6),
        # Both with the same Python loop (each code can be sent once: wrk cannot).
        "token_code_exchange_vs_trivial": ratio_target(
            t["token_authorization_code"]["rps"], t["trivial_endpoint_python"]["rps"], 0.12),
        "full_flow_c1_p50_without_password_check_ms": {
            "value": without_password, "target": "<= 25", "result": "PASS" if without_password <= 25 else "FAIL",
            "with_password_check": c1["p50_ms"], "login_post_p50_ms": c1["login_post_p50_ms"],
            # The same twelve requests to views that do nothing: what the round trips cost alone.
            "floor_same_requests_ms": report["full_flow_floor"]["p50_without_login_post_ms"],
            # The same twelve requests, each doing only its step's protocol work (bench/lean.py).
            "lean_same_protocol_ms": report["full_flow_lean"]["p50_without_login_post_ms"],
            "password_hash": report["password_hash"]},
        # The lean floor's push against the same discovery: what the store and the
        # protocol's checks allow, without the stack's layers.
        "lean_par_vs_discovery": {"ratio": round(t["lean_par"]["rps"] / t["discovery"]["rps"], 2),
                                  "target": "reference"},
        "par_vs_peer": {"ratio": round(t["par"]["rps"] / t["peer_oidc_provider_par"]["rps"], 2),
                        "target": ">= 1 (stretch)"},
        "soak_bounded": {"rows_max": soak_result["rows_max"], "rss_growth_mb":
                         round(soak_result["rss_last_mb"] - soak_result["rss_first_mb"], 1),
                         "legit_flows_completed": f"{soak_result['legit_flows_completed']}/5"},
    }


def password_hash(db_path):
    """The scheme and cost of alice's stored password hash (all but its salt and hash)."""
    with sqlite3.connect(db_path) as connection:
        stored = connection.execute("SELECT password_hash FROM user WHERE username = 'alice'").fetchone()[0]
    return stored.rsplit("$", 2)[0]


def table(report):
    """The readable table."""
    m, t, g = report["machine"], report["throughput"], report["targets"]
    lines = [f"PAR Lab benchmark — {m['cpus']} CPUs ({m['cpu']}), Python {m['python']}", "",
             "Full flow (12 steps, through client_app)      p50      p95      p99   flows/s  (p50 w/o login POST)"]
    for row in report["full_flow"]:
        lines.append(f"  concurrency {row['concurrency']:<2} ({row['flows']:>3} flows)        "
                     f"{row['p50_ms']:>7.1f}  {row['p95_ms']:>7.1f}  {row['p99_ms']:>7.1f}  {row['flows_per_s']:>7.1f}"
                     f"  ({row['p50_without_login_post_ms']:.1f} ms; login POST p50 {row['login_post_p50_ms']:.1f} ms)")
    for label, row in (("floor: same requests, empty views", report["full_flow_floor"]),
                       ("lean: only each step's own work", report["full_flow_lean"])):
        lines.append(f"  {label:<34} {row['p50_ms']:>7.1f}  {row['p95_ms']:>7.1f}  {row['p99_ms']:>7.1f}"
                     f"  {row['flows_per_s']:>7.1f}  ({row['p50_without_login_post_ms']:.1f} ms)")
    for label, row in (("flow", report["full_flow"][0]), ("floor", report["full_flow_floor"]),
                       ("lean", report["full_flow_lean"])):
        lines.append(f"  CPU per {label + ' at c=1 (ms)':<29}" + ", ".join(
            f"{name} {ms:.1f}" for name, ms in row["cpu_ms_per_flow"].items()))
    lines += ["", "Throughput (wrk -t2 -c8)                       req/s    p50 ms   p99 ms   non-2xx"]
    for name in ("trivial_endpoint", "par", "discovery", "lean_par", "peer_oidc_provider_par", "notes_protected",
                 "notes_unprotected", "notes_healthz"):
        row = t[name]
        lines.append(f"  {name:<42} {row['rps']:>8.1f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['non2xx']:>9}")
    for name in ("token_authorization_code", "token_refresh_token", "trivial_endpoint_python"):
        lines.append(f"  {name:<42} {t[name]['rps']:>8.1f}   ({t[name]['tool']})")
    s = report["soak"]
    lines += ["", f"Soak: {s['requests']} pushes from seed-cli at {s['rps']:.0f} req/s, {s['rejected_non2xx']} refused "
              f"(429); pushed_request rows max {s['rows_max']}, last {s['rows_last']}; auth_server RSS "
              f"{s['rss_first_mb']} -> max {s['rss_max_mb']} -> {s['rss_last_mb']} MB; legitimate flows during "
              f"the flood: {s['legit_flows_completed']}/5", "",
              f"Targets (the notes API figures over {t['notes_token_pool_size']} distinct tokens)"]
    for name, row in g.items():
        result = row.get("result", "")
        lines.append(f"  {result:<5} {name:<44} {json.dumps({k: v for k, v in row.items() if k != 'result'})}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
