"""A flame graph of POST /oauth/par under load: `python -m bench.flame [OUT.svg]`.

Starts the auth server as `make bench` does (gunicorn, its own gunicorn.conf.py, 2
workers, the PAR rate limit lifted), pushes with wrk -t2 -c8 and, meanwhile, samples
every worker with py-spy (`pip install py-spy==0.4.3`; sampling another process needs
root or ptrace rights). Writes docs/img/par-push-flame.svg unless told another path.
"""

import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.run import ROOT
from bench.run import WEB
from bench.run import basic
from bench.run import free_port
from bench.run import gunicorn
from bench.run import par_body
from bench.run import wrk

SECONDS = 20
PY_SPY = Path(sys.executable).with_name("py-spy")


def main():
    """Start the server, load it, record, stop."""
    if not PY_SPY.exists() or shutil.which("wrk") is None:
        raise SystemExit("bench.flame needs py-spy in the venv (pip install py-spy==0.4.3) and wrk")
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img" / "par-push-flame.svg"
    out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="parlab-flame-"))
    port, redirect_uri = free_port(), "http://localhost:3000/callback"
    server = gunicorn("auth_server", "auth_server:create_app()", {
        "PORT": str(port), "ISSUER": f"http://localhost:{port}", "DATABASE_URL": f"sqlite:///{workdir}/auth.sqlite",
        "PAR_RATE_LIMIT": str(10**9), "NOTES_WEB_REDIRECT_URI": redirect_uri}, workdir, "/.well-known/jwks.json")
    try:
        body = par_body(redirect_uri, {"audience": "urn:my-notes-api"})
        load = threading.Thread(target=wrk, args=(server.url + "/oauth/par", "post_form.lua",
                                                  {"AUTH": basic(*WEB), "BODY": body}, SECONDS + 4))
        load.start()
        time.sleep(2)  # past the first requests: connections open, caches warm
        # --subprocesses: the gunicorn workers; --nonblocking: never pause them to sample;
        # --nolineno: one box per function, not per line.
        subprocess.run([str(PY_SPY), "record", "--pid", str(server.process.pid), "--subprocesses",
                        "--nonblocking", "--nolineno", "--rate", "200", "--duration", str(SECONDS),
                        "--format", "flamegraph", "--output", str(out)], check=True)
        load.join()
        # The graph names command lines, with this machine's paths in them: drop those.
        text = out.read_text().replace(str(ROOT) + "/", "")
        out.write_text(re.sub(r'[^\s;&"<>]*/bin/(python3?|py-spy|gunicorn)\b', r"\1", text))
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"flame graph: {out}")


if __name__ == "__main__":
    main()
