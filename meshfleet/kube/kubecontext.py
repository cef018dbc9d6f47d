"""Cut a user's kubeconfig down to the one context a cluster of the fleet names.

Why: a kubeconfig file usually holds every cluster the user can reach, with credentials. Only the
named context's cluster and user may reach Pulumi's state (the provider input) or, for a member of
an FSM control plane, the `Cluster` object. The result must also stand on its own, because the
control plane that receives it has none of the user's files: this is `kubectl config view
--minify --flatten --context <name>` (files referenced by the entries are inlined as `*-data`,
other relative paths made absolute against the file that names them, as kubectl resolves them).

A kubeconfig given whole as text (a stack secret, an entry of `--kubeconfigs-file`) goes through
`one_context`: the context the fleet names if the text holds it, else its only context, and never
completed from this machine's files (it must stand on its own where it was written).

Pure: the caller reads the files; `read` is only asked for certificate and key files the chosen
entries reference. Error messages name files, lines and keys, never a byte of their content
(PyYAML's own messages quote the offending line, so they are not passed on); the names of
contexts, clusters and users are quoted only when they are plain names, never when an entry holds
something else where a name should be (a mapping, a long string that may be a token).
"""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import yaml


class ContextError(Exception):
    """The kubeconfig cannot give the named context; the message is safe to show (no content)."""


@dataclass(frozen=True)
class KubeconfigFile:
    """One kubeconfig as read: where it is (a file, to resolve its relative paths; or what a text given
    whole is, for messages) and its text."""

    path: PurePath | str
    text: str


# Entry section -> (file field, inlined data field); kubectl's --flatten inlines exactly these.
_INLINED = {
    "cluster": (("certificate-authority", "certificate-authority-data"),),
    "user": (("client-certificate", "client-certificate-data"), ("client-key", "client-key-data")),
}
# Paths kubectl resolves against the kubeconfig's directory but --flatten leaves as paths.
_RESOLVED = {"user": ("tokenFile",)}


def one_context(text: str, *, cluster: str, source: str, wanted: str | None) -> str:
    """A kubeconfig given whole as text, cut to one context: `wanted` (the context the fleet names for
    `cluster`) when the text holds it, else the text's only context.

    Several contexts and no way to choose, or entries that name files (a text given whole is not
    completed from this machine's files), are a ContextError naming `cluster` and `source` (what the
    text is: "the stack secret meshfleet:kubeconfigs.cluster-1"), never a byte of the text.
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    contexts = doc.get("contexts") if isinstance(doc, dict) else None
    if not isinstance(contexts, list):
        raise ContextError(f"cluster {cluster}: {source} is not a kubeconfig (no contexts list)")
    names = [c.get("name") for c in contexts if isinstance(c, dict)]
    chosen: object = wanted
    if wanted is None or wanted not in names:
        if len(names) != 1:
            raise ContextError(
                f"cluster {cluster}: {source} holds {len(names)} contexts"
                + (f" and not {shown_name(wanted)}, the one the fleet file names" if wanted is not None else "")
                + "; it must hold exactly one (e.g. `kubectl config view --minify --flatten --context <name>`)"
            )
        chosen = names[0]
    if not isinstance(chosen, str):
        raise ContextError(f"cluster {cluster}: the only context of {source} has no name (or one that is not a string)")
    try:
        return reduce_to_context([KubeconfigFile(source, text)], chosen, None)
    except ContextError as e:
        raise ContextError(f"cluster {cluster}: {e}") from None


def reduce_to_context(
    files: Sequence[KubeconfigFile],
    context: str,
    read: Callable[[PurePath], bytes] | None,
) -> str:
    """The kubeconfig text holding only `context`, its cluster and its user, current-context set.

    `files` are merged as kubectl merges $KUBECONFIG: for each context, cluster and user name,
    the first file that defines it wins. `read` None: the kubeconfigs are texts given whole, whose
    file references are refused and whose relative paths are left as they are.
    """
    if not files:
        raise ContextError("no kubeconfig file to read")
    docs = [(f.path, _parse(f)) for f in files]
    texts = {f.path: f.text for f in files}
    ctx_path, ctx_entry, ctx_index = _find(docs, "contexts", context)
    if ctx_entry is None or ctx_path is None:
        known = sorted({n for _, d in docs for n in _names(d, "contexts")})
        odd = sum(_odd_names(d, "contexts") for _, d in docs)
        where = ", ".join(str(f.path) for f in files)
        listed = ", ".join(known) if known else "none"
        if odd:
            listed += f"; and {odd} entr{'ies' if odd > 1 else 'y'} whose name is not a plain name, not shown"
        raise ContextError(f"context {shown_name(context)} is not in {where} (contexts there: {listed})")
    at = _at(texts[ctx_path], ("contexts", ctx_index))
    body = ctx_entry.get("context")
    if not isinstance(body, dict):
        raise ContextError(f"context {shown_name(context)} in {ctx_path}{at} has no 'context' mapping")

    out: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [],
        "users": [],
        "contexts": [{"name": context, "context": dict(body)}],
        "current-context": context,
    }
    for section, field in (("clusters", "cluster"), ("users", "user")):
        ref = body.get(field)
        if ref is None or ref == "":
            if field == "cluster":
                raise ContextError(f"context {shown_name(context)} in {ctx_path}{at} names no cluster")
            continue  # a context without a user connects anonymously
        ref_at = _at(texts[ctx_path], ("contexts", ctx_index, "context", field))
        if not isinstance(ref, str):
            raise ContextError(f"context {shown_name(context)} in {ctx_path}{ref_at}: '{field}' is not a name")
        path, entry, index = _find(docs, section, ref)
        if path is None or entry is None:
            raise ContextError(
                f"context {shown_name(context)} in {ctx_path}{ref_at} names {field} "
                f"{shown_name(ref)}, which no kubeconfig file defines"
            )
        inner = entry.get(field)
        if not isinstance(inner, dict):
            raise ContextError(
                f"{field} {shown_name(ref)} in {path}{_at(texts[path], (section, index))} has no '{field}' mapping"
            )
        out[section].append({"name": ref, field: _self_contained(field, ref, inner, path, read)})
    return yaml.safe_dump(out, sort_keys=False, default_flow_style=False)


def _parse(f: KubeconfigFile) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(f.text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ContextError(f"{f.path} is not valid YAML{at}") from None
    except yaml.YAMLError:
        raise ContextError(f"{f.path} is not valid YAML") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ContextError(f"{f.path} is not a kubeconfig (the top level is not a mapping)")
    return doc


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/+-]{0,62}")


def shown_name(value: object) -> str:
    """A context, cluster or user name as a message may show it: quoted when it is a plain name
    (at most 63 characters, no spaces or control characters), else only what kind of value it is."""
    if isinstance(value, str) and _PLAIN_NAME.fullmatch(value):
        return repr(value)
    kind = (
        "a string"
        if isinstance(value, str)
        else "a mapping"
        if isinstance(value, dict)
        else "a list"
        if isinstance(value, list)
        else "a value"
    )
    return f"({kind} that is not a plain name, not shown)"


def _names(doc: dict[str, Any], section: str) -> list[str]:
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        return []
    return [
        e["name"]
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("name"), str) and _PLAIN_NAME.fullmatch(e["name"])
    ]


def _odd_names(doc: dict[str, Any], section: str) -> int:
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        return 0
    return sum(
        1
        for e in entries
        if isinstance(e, dict) and "name" in e and not (isinstance(e["name"], str) and _PLAIN_NAME.fullmatch(e["name"]))
    )


def _find(
    docs: Sequence[tuple[PurePath | str, dict[str, Any]]], section: str, name: str
) -> tuple[PurePath | str | None, dict[str, Any] | None, int]:
    for path, doc in docs:
        entries = doc.get(section) or []
        if not isinstance(entries, list):
            raise ContextError(f"{path}: '{section}' is not a list")
        for i, e in enumerate(entries):
            if isinstance(e, dict) and e.get("name") == name:
                return path, e, i
    return None, None, -1


def _at(text: str, path: tuple[str | int, ...]) -> str:
    """` at line N` for a key path in a kubeconfig's text ('' when it cannot be placed).

    Composed by libyaml again, only when a message needs it: nodes carry marks, values are not read.
    """
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return ""
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return ""
    return f" at line {node.start_mark.line + 1}" if node is not None else ""


def _self_contained(
    field: str, name: str, entry: dict[str, Any], origin: PurePath | str, read: Callable[[PurePath], bytes] | None
) -> dict[str, Any]:
    result = dict(entry)
    for file_key, data_key in _INLINED[field]:
        ref = result.pop(file_key, None)
        if ref is None or ref == "":
            continue
        if data_key in result:
            continue  # kubectl prefers the inline data; the file is ignored
        if read is None or not isinstance(origin, PurePath):
            raise ContextError(
                f"{field} {shown_name(name)} in {origin} names its {file_key} file, and a kubeconfig given as "
                f"text is not completed from this machine's files: inline it as {data_key} "
                "(kubectl config view --minify --flatten)"
            )
        target = _resolve(str(ref), origin.parent)
        try:
            raw = read(target)
        except OSError as e:
            raise ContextError(
                f"{field} {shown_name(name)}: cannot read its {file_key} file {target} "
                f"({e.strerror or type(e).__name__})"
            ) from None
        result[data_key] = base64.b64encode(raw).decode("ascii")
    if not isinstance(origin, PurePath):
        return result  # given whole: its paths stay as written
    base = origin.parent
    for key in _RESOLVED.get(field, ()):
        if isinstance(result.get(key), str) and result[key]:
            result[key] = str(_resolve(result[key], base))
    exec_ = result.get("exec")
    if isinstance(exec_, dict) and isinstance(exec_.get("command"), str):
        command = exec_["command"]
        # kubectl resolves a relative command only when it is a path, not a name looked up in $PATH.
        if "/" in command and not posixpath.isabs(command):
            result["exec"] = {**exec_, "command": str(_resolve(command, base))}
    return result


def _resolve(ref: str, base: PurePath) -> PurePath:
    p = PurePath(ref)
    return p if p.is_absolute() else base / p
