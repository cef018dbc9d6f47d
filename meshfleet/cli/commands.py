"""What each `meshfleet` command does once its arguments are parsed.

Why: start-up time is paid on every run, in editors and pre-commit hooks too, so each command
imports the part of the pipeline it uses inside its own function: `validate` never loads the diff,
the renderer or the kubeconfig readers.

The commands live by concern: `common` (the invocation, reading a fleet, warnings, JSON), `show`
(validate, plan, routes), `outputs` (render, schema, kubeconfig-secret) and `compare` (diff); this
module maps each command's name to its function.
"""

from __future__ import annotations

import sys

from meshfleet.cli.common import Run, release_kept, report
from meshfleet.cli.compare import diff
from meshfleet.cli.exitcodes import EXIT_OK
from meshfleet.cli.outputs import kubeconfig_secret, render, schema
from meshfleet.cli.show import plan, routes, validate


def completion(run: Run) -> int:
    from argcomplete.shell_integration import shellcode

    sys.stdout.write(shellcode(["meshfleet"], shell=run.args.shell))
    return EXIT_OK


COMMANDS = {
    "validate": validate,
    "plan": plan,
    "routes": routes,
    "render": render,
    "diff": diff,
    "schema": schema,
    "kubeconfig-secret": kubeconfig_secret,
    "completion": completion,
}

__all__ = ["COMMANDS", "Run", "release_kept", "report"]
