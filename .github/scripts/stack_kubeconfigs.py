"""CI: give a stack its kubeconfigs from the GitHub environment's secret, as stack secrets.

Why: committed stack files hold no kubeconfig, and a stack secret for a cluster wins over the
fleet file's source, so CI runs the same fleet a laptop runs with contexts. The environment's
secret MESHFLEET_KUBECONFIGS is a JSON object, cluster name -> kubeconfig text (one context
each). Each text reaches `pulumi config set --secret` on its standard input (pulumi's
config.go:803-817 reads the value there), never on a command line or in the log; the file it
writes stays on the runner.

Usage: stack_kubeconfigs.py <stack>
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: stack_kubeconfigs.py <stack>", file=sys.stderr)
        return 2
    stack = argv[1]
    raw = os.environ.get("MESHFLEET_KUBECONFIGS", "")
    if not raw.strip():
        print("::error::the environment has no MESHFLEET_KUBECONFIGS secret (a JSON object: cluster -> kubeconfig)")
        return 1
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:  # the message would quote the secret: only its position is shown
        print(f"::error::MESHFLEET_KUBECONFIGS is not JSON (line {e.lineno}, column {e.colno})")
        return 1
    if not isinstance(data, dict) or not data:
        print("::error::MESHFLEET_KUBECONFIGS must be a JSON object mapping cluster names to kubeconfig texts")
        return 1
    bad = sorted(str(k) for k, v in data.items() if not LABEL.fullmatch(str(k)) or not isinstance(v, str))
    if bad:
        print(f"::error::MESHFLEET_KUBECONFIGS: entries {', '.join(bad)} are not cluster name -> kubeconfig text")
        return 1
    for name in sorted(data):
        subprocess.run(
            ["pulumi", "config", "set", "--secret", "--path", f"kubeconfigs.{name}", "--stack", stack],
            input=data[name],
            text=True,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    print(f"stack {stack}: kubeconfigs set as secrets for {', '.join(sorted(data))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
