"""Flux's post-build substitution, as kustomize-controller applies it, for tests that have no Flux.

kustomize-controller (fluxcd/pkg `kustomize/kustomize_varsub.go`, used by
`internal/controller/kustomization_controller.go` after `kustomize build`) does, per resource of the
build: skip it when a label or annotation `kustomize.toolkit.fluxcd.io/substitute` is `disabled`;
check every variable name against `^[_[:alpha:]][_[:alpha:][:digit:]]*$`; remove every newline from
the Secret's values; run envsubst over the resource's YAML text (`fluxcd/pkg/envsubst`: `${NAME}` is
replaced by its value, or by nothing when the Secret lacks it, and `$$` stands for one `$`); then
read the text back as YAML. The functions of `${...}` (defaults, substrings) are not simulated: a
rendered tree must not contain them, and `substitute` fails on one.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute"
_NAME = re.compile(r"^[_A-Za-z][_A-Za-z0-9]*$")
_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}")


def _disabled(doc: dict[str, Any]) -> bool:
    meta = doc.get("metadata") or {}
    return "disabled" in ((meta.get("labels") or {}).get(ANNOTATION), (meta.get("annotations") or {}).get(ANNOTATION))


def envsubst(text: str, variables: dict[str, str]) -> str:
    """One resource's text with its variables replaced, as fluxcd/pkg/envsubst does (non-strict)."""

    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name is None:
            return "$"
        assert _NAME.match(name), f"${{{name}}} is not a plain variable; Flux would read it as a function or fail"
        return variables.get(name, "")

    return _TOKEN.sub(replace, text)


def substitute(built: str, secret_data: dict[str, str]) -> list[dict[str, Any]]:
    """The objects Flux applies from `kubectl kustomize` output, with variables from a Secret's data."""
    for name in secret_data:
        assert _NAME.match(name), f"Flux refuses the variable name {name!r}"
    variables = {k: v.replace("\n", "") for k, v in secret_data.items()}
    out = []
    for chunk in re.split(r"^---\n", built, flags=re.M):
        doc = yaml.safe_load(chunk)
        if not doc:
            continue
        out.append(doc if _disabled(doc) else yaml.safe_load(envsubst(chunk, variables)))
    return out
