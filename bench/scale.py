"""`make bench-scale`: three auth_server replicas against one, on the same PostgreSQL.

docker-compose.scale.yml runs three replicas on one PostgreSQL behind nginx, with
client_app and notes_api in front of them. This starts that stack under a project name
of its own (with bench/docker-compose.scale.bench.yml: rate limits lifted, images of
its own, free host ports), then measures, through nginx both times:

1. three replicas: PAR throughput (wrk -t2 -c8 on POST /oauth/par) and full-flow
   throughput (the 12 steps through client_app, as in `make bench`, 8 at a time);
2. one replica: the same, with nginx sending every request to auth_server_1 and the
   other two stopped. Same proxy, same PostgreSQL, same client_app and notes_api.

Writes bench/results/scale.json (each figure and the ratios three/one), prints them,
and takes the stack down with its volumes, whatever happened.
"""

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from bench.run import ROOT
from bench.run import SECONDS
from bench.run import WEB
from bench.run import basic
from bench.run import free_ports
from bench.run import full_flow
from bench.run import machine
from bench.run import measure_flows
from bench.run import par_body
from bench.run import wrk

PROJECT = "parlab-bench-scale"
FLOWS = int(os.environ.get("BENCH_SCALE_FLOWS", "80"))
COMPOSE = ["docker", "compose", "-p", PROJECT, "-f", "docker-compose.scale.yml",
           "-f", "bench/docker-compose.scale.bench.yml"]


def compose(env, *args):
    """Run `docker compose` on the bench's project; its output goes to ours."""
    subprocess.run([*COMPOSE, *args], cwd=ROOT, env=env, check=True)


def one_replica_conf(folder):
    """auth_proxy/nginx.conf with auth_server_1 alone upstream, written into folder."""
    conf = (ROOT / "auth_proxy" / "nginx.conf").read_text()
    lines = [line for line in conf.splitlines(keepends=True)
             if line.strip() not in ("server auth_server_2:9000;", "server auth_server_3:9000;")]
    assert len(lines) == len(conf.splitlines()) - 2, "auth_proxy/nginx.conf no longer lists the replicas as expected"
    path = Path(folder) / "one-replica.nginx.conf"
    path.write_text("".join(lines))
    return path


def measure(stack, redirect_uri):
    """PAR throughput and full-flow throughput against the issuer behind the proxy."""
    full_flow(stack)  # warm-up: client_app's discovery and JWKS caches, every connection pool
    par = wrk(stack["auth_server"].url + "/oauth/par", "post_form.lua", {
        "AUTH": basic(*WEB), "BODY": par_body(redirect_uri, {"audience": "urn:my-notes-api"})})
    return {"par": par, "full_flow": measure_flows(stack, 8, FLOWS)}


def main():
    """Start the stack, measure three replicas then one, write the JSON, take it down."""
    ports = dict(zip(("AUTH_PORT", "CLIENT_PORT", "API_PORT"), map(str, free_ports(3))))
    stack = {"auth_server": SimpleNamespace(url=f"http://localhost:{ports['AUTH_PORT']}"),
             "client_app": SimpleNamespace(url=f"http://localhost:{ports['CLIENT_PORT']}")}
    redirect_uri = stack["client_app"].url + "/callback"
    report = {"machine": machine(), "seconds_per_wrk_run": SECONDS, "flows_per_run": FLOWS}
    with tempfile.TemporaryDirectory(prefix="parlab-bench-scale-") as folder:
        env = {**os.environ, **ports, "BENCH_PROXY_CONF": str(ROOT / "auth_proxy" / "nginx.conf")}
        try:
            started = time.monotonic()
            compose(env, "up", "--detach", "--build", "--wait", "--wait-timeout", "300")
            report["stack_up_s"] = round(time.monotonic() - started, 1)
            report["three_replicas"] = measure(stack, redirect_uri)
            # The proxy, recreated with auth_server_1 alone upstream; then the others stop.
            env["BENCH_PROXY_CONF"] = str(one_replica_conf(folder))
            compose(env, "up", "--detach", "--no-deps", "--wait", "auth_proxy")
            compose(env, "stop", "auth_server_2", "auth_server_3")
            report["one_replica"] = measure(stack, redirect_uri)
        finally:
            compose(env, "down", "--volumes", "--remove-orphans")
    three, one = report["three_replicas"], report["one_replica"]
    report["ratios_three_to_one"] = {
        "par": round(three["par"]["rps"] / one["par"]["rps"], 2),
        "full_flow": round(three["full_flow"]["flows_per_s"] / one["full_flow"]["flows_per_s"], 2),
    }
    out = ROOT / "bench" / "results" / "scale.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\nJSON: {out.relative_to(ROOT)}")


def table(report):
    """The readable table."""
    m = report["machine"]
    lines = [f"PAR Lab scale-out benchmark — {m['cpus']} CPUs ({m['cpu']}), Docker, PostgreSQL, nginx", "",
             "issuer behind nginx          PAR req/s  PAR p50 ms  flows/s (c=8)  flow p50 ms"]
    for name in ("three_replicas", "one_replica"):
        par, flow = report[name]["par"], report[name]["full_flow"]
        lines.append(f"  {name.replace('_', ' '):<26} {par['rps']:>9.1f} {par['p50_ms']:>11.2f}"
                     f" {flow['flows_per_s']:>14.1f} {flow['p50_ms']:>12.1f}")
    ratios = report["ratios_three_to_one"]
    lines += ["", f"three replicas / one: PAR {ratios['par']}x, full flow {ratios['full_flow']}x"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
