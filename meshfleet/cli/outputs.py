"""The commands that write outputs: `render` (files, GitOps, a cluster on stdout), `schema`, `kubeconfig-secret`.

Why: the commands that write files or secrets share the renderer, the GitOps layout and the
kubeconfig readers, which the other commands never import.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from meshfleet.cli import terminal
from meshfleet.cli.common import (
    Run,
    display_name,
    load,
    plural,
    refused,
    select_clusters,
)
from meshfleet.cli.exitcodes import EXIT_OK, EXIT_USER
from meshfleet.cli.parser import STDIN

if TYPE_CHECKING:
    from meshfleet.core.plan import Plan


# ---------------------------------------------------------------------------------------------
# render


def stream_cluster(plan: Plan, name: str) -> Iterator[str]:
    """One cluster's applied objects as YAML documents, in the kustomization's order (for kubectl -f -).

    Objects that would hold a member's kubeconfig carry the annotation naming its source instead."""
    from meshfleet.sinks import layout

    cluster = plan.cluster(name)
    for f in layout.render_cluster(plan, cluster):
        if f.name == "kustomization.yaml" or f.name.startswith("predicted."):
            continue
        yield "---\n" + f.text


def render(run: Run) -> int:
    from meshfleet.sinks import gitops
    from meshfleet.sinks.render import render as write_tree

    args = run.args
    source = display_name(args.fleet)
    with run.progress:
        plan = load(run, args.fleet)
        if refused(run, plan):
            return EXIT_USER
        if args.stdout:
            [name] = args.clusters
            select_clusters(plan, [name], source)
            run.progress.done()
            for document in stream_cluster(plan, name):
                sys.stdout.write(document)
            return EXIT_OK
        extra = None
        if args.gitops is not None:
            source_repo = gitops.Source(args.repo_url, args.revision, args.path_prefix)
            stem = "fleet" if args.fleet == STDIN else Path(args.fleet).stem
            extra = gitops.files(plan, args.gitops, source_repo, gitops.resource_name(stem))
        kubeconfigs = None
        if args.with_kubeconfigs:
            from meshfleet.kube import secrets

            run.progress.step("reading the members' kubeconfigs")
            given = Path(args.kubeconfigs_file) if args.kubeconfigs_file else None
            fleet_file = Path.cwd() / "fleet.yaml" if args.fleet == STDIN else Path(args.fleet)
            kubeconfigs = secrets.kubeconfigs_for_render(plan, fleet_file, given)
        rewrites = {"flux": gitops.flux_rewrite, "argocd": gitops.argocd_rewrite}
        rewrite = rewrites[args.gitops](plan) if args.gitops else None
        run.progress.step(f"rendering {plural(len(plan.clusters), 'cluster')} into {args.out}")
        written = write_tree(plan, args.out, extra=extra, kubeconfigs=kubeconfigs, rewrite=rewrite, detach_cleanup=True)
    if not run.quiet:
        print(render_summary(source, args.out, written, [c.name for c in plan.clusters]))
    for note in gitops.notes(plan, args.gitops, args.with_kubeconfigs, source, args.out):
        print(note, file=sys.stderr)
    return EXIT_OK


def render_summary(source: str, out: str, written: list[str], clusters: list[str]) -> str:
    """Every cluster of the fleet, the ones written and the ones with nothing to write."""
    empty = [c for c in clusters if c not in written]
    text = f"{source}: wrote {', '.join(written) or 'nothing'} under {out}"
    if empty:
        text += f"; nothing to write for {', '.join(empty)}"
    return text


# ---------------------------------------------------------------------------------------------
# schema, completion


def schema(run: Run) -> int:
    from meshfleet.fleet.schema import fleet_json_schema

    text = json.dumps(fleet_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if run.args.out:
        from meshfleet.sinks import output

        output.replace_file(run.args.out, text)  # atomic, no symbolic link followed, like a render
    else:
        sys.stdout.write(text)
    return EXIT_OK


def kubeconfig_secret(run: Run) -> int:
    """The Secret Flux substitutes member kubeconfigs from; never printed to a terminal."""
    from meshfleet.errors import InputError
    from meshfleet.kube import secrets
    from meshfleet.sinks import gitops
    from meshfleet.sinks.yaml_text import dump_yaml

    args = run.args
    with run.progress:
        plan = load(run, args.fleet)
    if not gitops.kubeconfig_holders(plan):
        raise InputError(
            f"{args.fleet}: no object of this fleet holds a member's kubeconfig "
            "(no FSM control plane, no Istio cluster)"
        )
    if terminal.isatty(sys.stdout):
        raise InputError(
            "the Secret holds kubeconfigs, so it is not printed to a terminal; pipe it, e.g. "
            f"`meshfleet kubeconfig-secret {args.fleet} | kubectl apply --server-side -f -`"
        )
    given = Path(args.kubeconfigs_file) if args.kubeconfigs_file else None
    kubeconfigs = secrets.kubeconfigs_for_render(plan, Path(args.fleet), given)
    secret = gitops.substitution_secret(gitops.resource_name(Path(args.fleet).stem), kubeconfigs)
    sys.stdout.write(
        f"# meshfleet kubeconfig-secret {Path(args.fleet).name}: the values Flux substitutes into "
        "its rendered objects\n" + dump_yaml(secret)
    )
    return EXIT_OK
