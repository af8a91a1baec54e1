"""`make attacks`: run the attack lab from the command line and print a table.

    python -m client_app.lab                    every attack (the expiry one waits ~3 s)
    python -m client_app.lab --fast             all but the expiry attack
    python -m client_app.lab -v                 also print every request and response
    python -m client_app.lab mix-up alg-none    only these attacks
    python -m client_app.lab --list             the catalogue, without running anything
    python -m client_app.lab --matrix           the defence matrix: attacks x profiles

It reads the client's own settings (client_app/config.py, from the environment), so it
attacks the stack the client would talk to: ISSUER, AUTH_SERVER_INTERNAL_URL, LAB_CLIENT_ID,
LAB_CLIENT_SECRET (the lab's own client), CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
NOTES_API_URL, CLIENT_BASE_URL. Start the stack first (`make demo` in another terminal).

--matrix runs inside the client app (create_app), since its FAPI 2.0 column signs with
the client's own keys, kept in the client's database: run it where the client runs.

Exit status: 0 when every attack was blocked (--matrix: every cell came out as the specs
say); 1 when one was not blocked, was refused in an unexpected way, or could not run;
2 for a bad command line.
"""

import argparse
import sys
import textwrap

from .. import create_app
from ..config import PROFILE_TITLES
from ..config import Config
from . import attacks
from . import matrix
from .kit import BLOCKED
from .kit import Target

# Column widths of the results table (the section column takes the rest).
COLUMNS = (("#", 3), ("Attack", 34), ("Blocked?", 14), ("Status / error", 34), ("Section", 24))
# The matrix's: the attack, then one column per profile.
MATRIX_COLUMNS = (("Attack", 34), *((PROFILE_TITLES[name], 24) for name in matrix.PROFILE_NAMES))


def client_settings():
    """The client's settings, exactly as the running client reads them (config.py)."""
    return {name: getattr(Config, name) for name in dir(Config) if name.isupper()}


def table(rows, columns=COLUMNS):
    """Rows of cells as a plain-text table; long cells wrap inside their column."""
    lines = []
    for row in [[title for title, _ in columns], *rows]:
        cells = [textwrap.wrap(str(cell), width) or [""] for cell, (_, width) in zip(row, columns)]
        for line in range(max(len(cell) for cell in cells)):
            parts = [(cell[line] if line < len(cell) else "").ljust(width)
                     for cell, (_, width) in zip(cells, columns)]
            lines.append("  ".join(parts).rstrip())
        if len(lines) == 1:
            lines.append("  ".join("-" * width for _, width in columns))
    return "\n".join(lines)


def print_matrix():
    """Run the defence matrix inside the client app and print it; 0 if every cell is as expected."""
    app = create_app()
    with app.app_context():
        print(f"Defence matrix: {len(matrix.ROWS)} attacks against the profiles "
              f"{', '.join(matrix.PROFILE_NAMES)}, on the stack of issuer {app.config['ISSUER']}.", flush=True)
        cells = matrix.run_matrix(Target(app.config), app.config)
    found = {(cell.attack, cell.profile): cell for cell in cells}
    rows = []
    for attack in matrix.ROWS:
        row = [attack.name]
        for name in matrix.PROFILE_NAMES:
            cell = found[attack.slug, name]
            row.append(cell.outcome if cell.as_expected else f"{cell.outcome} (expected {cell.expected})")
        rows.append(row)
    print(table(rows, MATRIX_COLUMNS))
    print()
    for attack in matrix.ROWS:
        print(f"== {attack.name}")
        for name in matrix.PROFILE_NAMES:
            print(textwrap.fill(f"{PROFILE_TITLES[name]}: {matrix.cell_text(found[attack.slug, name])}",
                                width=100, initial_indent="   ", subsequent_indent="     "))
    off = [cell for cell in cells if not cell.as_expected]
    print()
    print(f"{len(cells) - len(off)} of {len(cells)} cells as the specs say they must be.")
    return 1 if off else 0


def details(number, result):
    """One result in full: what was tried, what was seen, every request and response."""
    attack = result.attack
    out = [f"== {number}. {attack.name}: {result.verdict} ({attack.section})",
           f"   tries:    {attack.tries}", f"   expected: {attack.expected}"]
    if result.message:
        out.append(f"   {result.message}")
    out += [f"   {check.verdict}: saw {check.saw} (expected {check.expected})" for check in result.checks]
    for step in result.steps:
        if step.kind == "note":
            out.append(f"   ({step.text})")
            continue
        out.append(f"   -- {'setup: ' if step.setup else ''}{step.title}")
        out.append(f"   > {step.method} {step.url}")
        out += [f"   > {name}: {value}" for name, value in step.request_headers]
        out += [f"   >   {line}" for line in step.request_body.splitlines()]
        out.append(f"   < HTTP {step.status} {step.reason}")
        out += [f"   < {name}: {value}" for name, value in step.response_headers]
        out += [f"   <   {line}" for line in step.response_body.splitlines()]
    return "\n".join(out)


def main(argv=None):
    """Run the attacks, print the table; exit 0 only if every attack was blocked."""
    parser = argparse.ArgumentParser(prog="make attacks", description=__doc__.split("\n")[0])
    parser.add_argument("slugs", nargs="*", metavar="ATTACK", help="run only these attacks (see --list)")
    parser.add_argument("--fast", action="store_true", help="skip the slow request_uri expiry attack")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every request and response")
    parser.add_argument("--list", action="store_true", help="list the attacks and exit")
    parser.add_argument("--matrix", action="store_true",
                        help="run the defence matrix (every matrix attack against classic, PAR and FAPI 2.0)")
    args = parser.parse_args(argv)
    if args.matrix:
        return print_matrix()
    numbers = {attack.slug: number for number, attack in enumerate(attacks.ATTACKS, start=1)}

    if args.list:
        print(table([[numbers[a.slug], a.name, "", a.expected, a.section] for a in attacks.ATTACKS]))
        return 0
    unknown = [slug for slug in args.slugs if slug not in numbers]
    if unknown:
        parser.error(f"unknown attack(s) {', '.join(unknown)}; choose from: {', '.join(numbers)}")

    target = Target(client_settings())
    print(f"Attack lab: attacking the stack of issuer {target.issuer} as client "
          f"{target.client_id!r}, API {target.notes_api}, client {target.client_base}.")
    if not args.fast and not args.slugs:
        print("The request_uri expiry attack waits expires_in + 1 s (3 s for the lab's client).")
    rows, results = [], []
    for result in attacks.each_result(target, include_slow=not args.fast, only=args.slugs,
                                      announce=lambda text: print(f"   ... {text}", flush=True)):
        number = numbers[result.attack.slug]
        print(f"[{number:2}] {result.verdict:13} {result.attack.name}", flush=True)
        results.append((number, result))
        rows.append([number, result.attack.name, result.verdict, result.saw, result.attack.section])

    print()
    print(table(rows))
    failed = [(number, result) for number, result in results if result.verdict != BLOCKED]
    for number, result in results:
        # Attacks not tried at all (a service was down) are summed up once, below.
        if (args.verbose or result.verdict != BLOCKED) and result.steps:
            print()
            print(details(number, result))
    reasons = [line for _, result in failed if not result.steps for line in result.message.splitlines()]
    if reasons:
        print()
    for reason in dict.fromkeys(reasons):
        print(f"Could not run: {reason}")
    print()
    print(f"{len(results) - len(failed)} of {len(results)} attacks blocked.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
