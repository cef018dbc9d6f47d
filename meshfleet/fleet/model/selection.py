"""Cluster selection: a list of names, `all`, or a label selector, normalised to one `Selection`.

Why: exports, imports, traffic policies, overrides, access rules and resources all choose clusters
in these three ways; one model and one matcher give the words one meaning everywhere.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    model_validator,
)

from meshfleet.fleet import resources as _resources
from meshfleet.fleet.model.values import ClusterName, LabelKey, LabelValue, Strict


class LabelRequirement(Strict):
    """One requirement on a cluster's labels, as in a Kubernetes label selector."""

    key: LabelKey = Field(description="The label key the requirement is about.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="`In`: the label has one of `values`; `NotIn`: it is absent or has none of them; "
        "`Exists`: the cluster has the label; `DoesNotExist`: it has not. In and NotIn need values, "
        "Exists and DoesNotExist take none."
    )
    values: list[LabelValue] = Field(
        default_factory=list, description="The values for In and NotIn.", examples=[["eu", "us"]]
    )

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(Strict):
    """Clusters chosen by their `labels`: every matchLabels entry and every matchExpressions requirement holds."""

    matchLabels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="Labels a chosen cluster has, with exactly these values.",
        examples=[{"region": "eu"}],
    )
    matchExpressions: list[LabelRequirement] = Field(
        default_factory=list,
        description="Requirements on a chosen cluster's labels, all of which hold.",
        examples=[[{"key": "region", "operator": "In", "values": ["eu", "us"]}]],
    )

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.matchLabels.items()):
            return False
        for req in self.matchExpressions:
            present = req.key in labels
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
            if req.operator == "In" and labels.get(req.key) not in req.values:
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
        return True


class Selection(Strict):
    """Normalised form of a cluster choice; users write a list, `all`, or a label selector."""

    names: list[ClusterName] | None = None
    all: bool = False
    selector: LabelSelector | None = None


def _to_selection(v: Any) -> Any:
    if isinstance(v, Selection):
        return v
    if isinstance(v, list):
        return {"names": v}
    if v == "all":
        return {"all": True}
    if isinstance(v, dict):
        return {"selector": v}
    raise ValueError("expected a list of cluster names, the word 'all', or a label selector {matchLabels: {...}}")


ClusterSelection = Annotated[
    Selection,
    BeforeValidator(_to_selection, json_schema_input_type=list[ClusterName] | Literal["all"] | LabelSelector),
]
_resources.resolve_types(ClusterSelection)
