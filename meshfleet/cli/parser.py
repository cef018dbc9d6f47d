"""The command line's grammar: commands, options, their help and examples, and its usage errors.

Why: the parser runs on every start, before any fleet is read, so it imports nothing heavy (the
defaults it shows are copied here and a test holds them to the modules that own them). Every
usage error exits 2 and names the closest valid word when there is one.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

from meshfleet import __version__
from meshfleet.cli.exitcodes import EXIT_USAGE

DEFAULT_BUDGET = 1500
"""`plan --budget` without N (meshfleet.sinks.shard.DEFAULT_BUDGET)."""
DEFAULT_MAX_DELETE_SHARE = 0.5
"""`diff --max-delete-share` (meshfleet.diff.DEFAULT_MAX_DELETE_SHARE)."""
MARKDOWN_BUDGET = 60_000
"""`diff --budget` (meshfleet.diff.MARKDOWN_BUDGET)."""
MARKDOWN_MIN_BUDGET = 10_000
"""The least `diff --budget` (meshfleet.diff.MARKDOWN_MIN_BUDGET)."""
GITOPS_ENGINES = ("argocd", "flux")
"""`render --gitops` (meshfleet.sinks.gitops.ENGINES)."""
COLOR_CHOICES = ("auto", "always", "never")
SHELLS = ("bash", "zsh", "fish")
STDIN = "-"

FLEET_HELP = "a fleet file (YAML), or - to read it from standard input"


def suggestion(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to a mistyped `word`, if one is close enough to be what was meant."""
    import difflib

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`; did you mean X?` for a close match, else nothing: to append to an error message."""
    close = suggestion(word, choices)
    return f"; did you mean {close}?" if close else ""


class UsageExit(Exception):
    """A usage error found while parsing (exit 2), raised instead of exiting so tests can call main()."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class Parser(argparse.ArgumentParser):
    """argparse with exit 2 on every usage error, suggestions for mistyped words, no abbreviations."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageExit(self, message)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is not None and value not in choices:
            names = [str(c) for c in choices]
            raise argparse.ArgumentError(
                action, f"invalid choice: {value!r} (choose from {', '.join(names)}){did_you_mean(str(value), names)}"
            )


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1 (e.g. 0.5)")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _markdown_budget(text: str) -> int:
    value = _positive(text)
    if value < MARKDOWN_MIN_BUDGET:
        raise argparse.ArgumentTypeError(f"{text}: a comment needs at least {MARKDOWN_MIN_BUDGET:,} bytes")
    return value


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _common(suppress: bool) -> Parser:
    """--color and --quiet, accepted before or after the command (after it, they only override)."""
    default: Callable[[Any], Any] = (lambda _v: argparse.SUPPRESS) if suppress else (lambda v: v)
    common = Parser(add_help=False)
    group = common.add_argument_group("output")
    group.add_argument(
        "--color",
        choices=COLOR_CHOICES,
        default=default("auto"),
        metavar="WHEN",
        help="colour on a terminal: auto (the default; off when NO_COLOR is set), always, never",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="no progress, no success messages; problems are still reported",
    )
    return common


STRICT_HELP = "fail (exit 1) on a warning the fleet does not acknowledge"


def add_check_options(parser: argparse.ArgumentParser, strict_help: str = STRICT_HELP) -> None:
    """Options about how strictly a fleet is judged, shared by every command that loads one."""
    parser.add_argument("--strict", action="store_true", help=strict_help)


def _format(parser: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    parser.add_argument(
        "-o",
        "--format",
        choices=choices,
        default=choices[0],
        metavar="FORMAT",
        help=f"output format: {', '.join(choices)} (default: {choices[0]})",
    )


def _cluster(parser: argparse.ArgumentParser, help_text: str) -> argparse.Action:
    return parser.add_argument("--cluster", action="append", metavar="NAME", dest="clusters", help=help_text)


def build_parser() -> Parser:
    """The whole `meshfleet` grammar; cheap to build, imports nothing from the pipeline."""
    common = _common(suppress=False)
    sub_common = _common(suppress=True)
    p = Parser(
        prog="meshfleet",
        description="One fleet file, every member cluster's multi-cluster mesh objects: check, plan, compare and "
        "render them.",
        epilog=_examples(
            "meshfleet validate fleet/*.yaml",
            "meshfleet plan fleet/demo.yaml --summary",
            "meshfleet routes fleet/demo.yaml --cluster cluster-2",
            "meshfleet diff fleet/prod.yaml --base main...HEAD",
            "meshfleet render fleet/demo.yaml --out out",
            "meshfleet render fleet/demo.yaml --cluster cluster-2 --stdout | kubectl diff --server-side -f -",
        )
        + "\n\nexit codes: 0 success, 1 a problem in your input (with file:line), 2 bad usage,\n"
        "3 a risky diff under --fail-on-risk, 70 a bug in meshfleet.\n"
        "Run `meshfleet COMMAND --help` for a command's options and examples.",
        parents=[common],
    )
    p.add_argument("--version", action="version", version=f"meshfleet {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    v = sub.add_parser(
        "validate",
        parents=[sub_common],
        help="check fleet files; report every problem with file:line",
        description="Check fleet files: YAML, keys, types, names and every cross-cluster rule. Every problem of "
        "every file is reported at once, with its file:line:column, key path and fix.",
        epilog=_examples(
            "meshfleet validate fleet/demo.yaml fleet/prod.yaml",
            "meshfleet validate --format json fleet/*.yaml",
            "generate-fleet | meshfleet validate -",
        ),
    )
    v.add_argument("fleets", nargs="+", metavar="FLEET", help=FLEET_HELP + "; several may be given")
    _format(v, ("text", "json"))
    add_check_options(v)

    pl = sub.add_parser(
        "plan",
        parents=[sub_common],
        help="show per cluster what is applied, what is predicted, every import",
        description="Plan a fleet and show each cluster's objects: applied (meshfleet writes them) and predicted "
        "(the mesh's controllers write them), with every import's endpoints. With --shards or "
        "--budget, propose how to split the clusters into Pulumi stacks instead.",
        epilog=_examples(
            "meshfleet plan fleet/demo.yaml",
            "meshfleet plan fleet/prod.yaml --summary",
            "meshfleet plan fleet/mixed.yaml --cluster fsm-eu --cluster fsm-us",
            "meshfleet plan fleet/demo.yaml -o json",
            "meshfleet plan fleet/prod.yaml --budget 800",
            "meshfleet plan fleet/prod.yaml --shards 4",
        ),
    )
    pl.add_argument("fleet", metavar="FLEET", help=FLEET_HELP)
    _format(pl, ("text", "json"))
    _cluster(pl, "show only this cluster (repeat for more)")
    pl.add_argument("--summary", action="store_true", help="one line per cluster: its role, key and object counts")
    stacks = pl.add_mutually_exclusive_group()
    stacks.add_argument(
        "--shards",
        type=_positive,
        metavar="N",
        help="propose N Pulumi stacks: clusters packed by applied objects, with their config",
    )
    stacks.add_argument(
        "--budget",
        type=_positive,
        nargs="?",
        const=DEFAULT_BUDGET,
        metavar="N",
        help=f"propose stacks of at most N resources each (N defaults to {DEFAULT_BUDGET})",
    )
    add_check_options(pl)

    r = sub.add_parser(
        "render",
        parents=[sub_common],
        help="write DIR/<cluster>/ manifests (kustomize-ready), or one to stdout",
        description="Render every cluster's objects as DIR/<cluster>/: one file per object and a kustomization.yaml "
        "listing the applied ones. The whole directory is replaced at once, and a directory meshfleet "
        "did not write is never replaced. With --cluster NAME --stdout, print that cluster's applied "
        "objects as a stream of YAML documents instead (for kubectl diff -f -).",
        epilog=_examples(
            "meshfleet render fleet/demo.yaml --out out",
            "meshfleet render fleet/demo.yaml --cluster cluster-2 --stdout | kubectl diff --server-side -f -",
            "meshfleet render fleet/prod.yaml --out deploy/prod --gitops flux --repo-url ssh://git@example.com/fleet.git",
        ),
    )
    r.add_argument("fleet", metavar="FLEET", help=FLEET_HELP)
    r.add_argument("--out", metavar="DIR", help="the output directory (replaced as a whole; created if missing)")
    r.add_argument(
        "--stdout",
        action="store_true",
        help="with --cluster: print its applied objects as YAML documents instead of writing DIR",
    )
    _cluster(r, "with --stdout: the cluster to print")
    r.add_argument(
        "--gitops",
        choices=GITOPS_ENGINES,
        metavar="ENGINE",
        help="also write DIR/argocd/ or DIR/flux/: one application per cluster (argocd or flux)",
    )
    r.add_argument("--repo-url", metavar="URL", help="the git repository the engine pulls DIR from (with --gitops)")
    r.add_argument("--revision", default="main", metavar="REV", help="the branch it follows (default: main)")
    r.add_argument("--path-prefix", metavar="PATH", help="DIR's path inside the repository (default: --out)")
    r.add_argument(
        "--with-kubeconfigs",
        action="store_true",
        help="write each member's kubeconfig into the objects that need it (never done otherwise)",
    )
    r.add_argument(
        "--kubeconfigs-file",
        metavar="FILE",
        help="with --with-kubeconfigs: a YAML map cluster -> kubeconfig text for stack-secret clusters",
    )
    add_check_options(r)

    d = sub.add_parser(
        "diff",
        parents=[sub_common],
        help="what changes where between two fleets, or a fleet and a git revision",
        description="Plan two fleets and compare the plans: risks first, then who answers and who may call "
        "(per consumer and service), then services, then each cluster's objects, field by field. "
        "Give OLD and NEW, or one FLEET and --base REV to compare it with its version at a git "
        "revision.",
        epilog=_examples(
            "meshfleet diff fleet/demo.yaml fleet/demo-standalone.yaml",
            "meshfleet diff fleet/prod.yaml --base main",
            "meshfleet diff fleet/prod.yaml --base origin/main...HEAD --format markdown",
            "meshfleet diff fleet/prod.yaml --base main --format markdown --budget 30000 --full-diff 'the CI log'",
            "meshfleet diff fleet/prod.yaml --base main --exit-code --fail-on-risk",
        )
        + "\n\nexit codes: 0 the diff is printed (with --exit-code: nothing changed), 1 a fleet is broken\n"
        "(with --exit-code: also when something changed), 2 bad usage, 3 a risk under --fail-on-risk.",
    )
    d.add_argument(
        "fleets",
        nargs="+",
        metavar="FLEET",
        help="OLD NEW, or one FLEET with --base; - reads one of them from standard input",
    )
    d.add_argument(
        "--base",
        metavar="REV",
        help="compare FLEET with its version at git revision REV; A...B means the merge base of A and B",
    )
    _format(d, ("text", "markdown", "json"))
    d.add_argument("--exit-code", action="store_true", help="exit 1 when something changes, 0 when nothing does")
    d.add_argument("--fail-on-risk", action="store_true", help="exit 3 when the diff names a risk")
    d.add_argument(
        "--max-delete-share",
        type=_share,
        default=DEFAULT_MAX_DELETE_SHARE,
        metavar="SHARE",
        help=f"flag a cluster losing more than this share of its objects (default: {DEFAULT_MAX_DELETE_SHARE})",
    )
    d.add_argument(
        "--budget",
        type=_markdown_budget,
        default=MARKDOWN_BUDGET,
        metavar="BYTES",
        help=f"with --format markdown: the most bytes the comment takes (default {MARKDOWN_BUDGET:,}; "
        "what does not fit is counted, with a pointer to the whole diff)",
    )
    d.add_argument(
        "--full-diff",
        metavar="WHERE",
        help="with --format markdown: where readers find the whole diff (e.g. the CI run's artifact), "
        "named when the comment leaves something out",
    )
    add_check_options(d, "exit 1 when the new fleet has a warning it does not acknowledge (the diff is printed first)")

    _routes_parser(sub, sub_common)

    s = sub.add_parser(
        "schema",
        parents=[sub_common],
        help="print the fleet file's JSON Schema",
        description="Print the JSON Schema of fleet files (the one in fleet/schema.json), for editors and CI.",
        epilog=_examples("meshfleet schema --out fleet/schema.json"),
    )
    s.add_argument("--out", metavar="FILE", help="write it to FILE (replaced atomically) instead of standard output")

    k = sub.add_parser(
        "kubeconfig-secret",
        parents=[sub_common],
        help="print the Secret Flux fills member kubeconfigs from (pipe it to kubectl apply -f -)",
        description="Print the Secret the Flux Kustomizations of `render --gitops flux` substitute the members' "
        "kubeconfigs from. It holds kubeconfigs, so it is never printed to a terminal: pipe it.",
        epilog=_examples(
            "meshfleet kubeconfig-secret fleet/demo.yaml | kubectl apply --server-side -f -",
            "meshfleet kubeconfig-secret fleet/prod.yaml --kubeconfigs-file kubeconfigs.yaml | "
            "kubectl apply --server-side -f -",
        ),
    )
    k.add_argument("fleet", metavar="FLEET", help="a fleet file (YAML)")
    k.add_argument(
        "--kubeconfigs-file", metavar="FILE", help="a YAML map cluster -> kubeconfig text for stack-secret clusters"
    )

    c = sub.add_parser(
        "completion",
        parents=[sub_common],
        help="print the shell completion script for bash, zsh or fish",
        description="Print a script that completes meshfleet's commands, options and cluster names in your shell.",
        epilog=_examples(
            'eval "$(meshfleet completion bash)"          # in ~/.bashrc',
            'eval "$(meshfleet completion zsh)"           # in ~/.zshrc',
            "meshfleet completion fish > ~/.config/fish/completions/meshfleet.fish",
        ),
    )
    c.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    return p


def _routes_parser(sub: Any, common: Parser) -> None:
    ro = sub.add_parser(
        "routes",
        parents=[common],
        help="per consumer and service: who answers, in what shares, who may call",
        description="Per consuming cluster and service: which clusters answer and in what shares (steady, and "
        "when the local copy is down), and which source identities may call it, with which methods "
        "and paths, enforced where. Computed from the plan and what each mesh really does with it.",
        epilog=_examples(
            "meshfleet routes fleet/demo.yaml",
            "meshfleet routes fleet/demo.yaml --cluster cluster-2 --service httpbin/httpbin",
            "meshfleet routes fleet/prod.yaml --from storefront/web -o markdown",
            "meshfleet routes fleet/prod.yaml -o json",
        ),
    )
    ro.add_argument("fleet", metavar="FLEET", help=FLEET_HELP)
    ro.add_argument("--cluster", metavar="NAME", help="only the consuming cluster NAME")
    ro.add_argument("--service", metavar="NS/NAME", help="only the service NS/NAME")
    ro.add_argument(
        "--from",
        dest="source",
        metavar="NS/SA",
        help="only what the service account NS/SA may call (and what any workload may)",
    )
    _format(ro, ("text", "markdown", "json"))
    add_check_options(ro)


_NUMBER = re.compile(r"^[+-]?[0-9][0-9_.,]*$")


def _bare_budget(argv: list[str]) -> list[str]:
    """`--budget FLEET` means the default budget, not a budget named FLEET: argparse would take the
    file name as N. Only a word that looks like a number is N."""
    out = list(argv)
    for i, word in enumerate(out[:-1]):
        if word == "--":
            break
        if word == "--budget" and not _NUMBER.match(out[i + 1]):
            out[i] = f"--budget={DEFAULT_BUDGET}"
    return out


def parse(parser: Parser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse argv; unknown options are usage errors that name the closest known option."""
    args, extra = parser.parse_known_args(_bare_budget(list(argv)))
    if extra:
        chosen = _subparser(parser, getattr(args, "command", None)) or parser
        options = [o for o in chosen._option_string_actions if o.startswith("--")]
        first = extra[0]
        hint = did_you_mean(first.split("=", 1)[0], options) if first.startswith("-") else ""
        chosen.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    return args


def _subparser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            found: argparse.ArgumentParser = action.choices[command]
            return found
    return None


def subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of one command (for its usage line in errors found after parsing)."""
    return _subparser(parser, command) or parser


def print_usage_error(exc: UsageExit) -> None:
    exc.parser.print_usage(sys.stderr)
    sys.stderr.write(f"{exc.parser.prog}: error: {exc.message}\n")


__all__ = ["EXIT_USAGE", "Parser", "UsageExit", "build_parser", "did_you_mean", "parse", "suggestion"]
