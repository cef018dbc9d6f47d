"""One member cluster as a Pulumi component: its own provider and everything meshfleet applies there.

Why: one provider per cluster, bound explicitly on every object (never inherited, never the
ambient default provider, which Pulumi.yaml disables), so that no object can land in the wrong
cluster. The provider carries the fleet's stable cluster id, so rotating a kubeconfig updates the
provider instead of replacing every object behind it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.objects import ignore_changes, logical_name, register, sink_body
from components.settings import Settings
from meshfleet.core.plan import ClusterPlan, ObjectId, PlannedObject


class MemberCluster(pulumi.ComponentResource):
    """A cluster of the fleet (the FSM control plane too) and the objects applied to it."""

    TYPE = "meshfleet:index:MemberCluster"

    provider: k8s.Provider
    objects: dict[ObjectId, pulumi.CustomResource]

    def __init__(
        self,
        cluster: ClusterPlan,
        kubeconfigs: Mapping[str, pulumi.Output[str]],
        settings: Settings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`kubeconfigs` holds this cluster's and those its `Cluster` objects carry, all secret."""
        super().__init__(self.TYPE, cluster.name, None, opts)
        self.cluster = cluster
        self.provider = k8s.Provider(
            cluster.name,
            kubeconfig=kubeconfigs[cluster.name],
            cluster_identifier=cluster.id,
            enable_server_side_apply=True,
            delete_unreachable=settings.delete_unreachable,
            skip_update_unreachable=settings.skip_update_unreachable,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.objects = {}
        applied = cluster.applied()
        # Namespaces first, whatever the plan's order, so that objects can depend on them.
        namespaces: dict[str, pulumi.CustomResource] = {}
        for obj in sorted(applied, key=lambda o: o.kind != "Namespace"):
            depends_on: list[pulumi.Resource] = []
            if obj.namespace and obj.namespace in namespaces:
                depends_on.append(namespaces[obj.namespace])
            resource = self._apply(obj, kubeconfigs, settings, depends_on)
            if obj.kind == "Namespace" and obj.api_version == "v1":
                namespaces[obj.name] = resource
        self.register_outputs({})

    def _apply(
        self,
        obj: PlannedObject,
        kubeconfigs: Mapping[str, pulumi.Output[str]],
        settings: Settings,
        depends_on: list[pulumi.Resource],
    ) -> pulumi.CustomResource:
        body = sink_body(obj)
        if obj.kubeconfig_of is not None:
            # FSM reads the member's kubeconfig from the Cluster object's spec in plain text; here
            # it stays a secret Output, so only the API server ever sees the bytes.
            body["spec"] = {**body.get("spec", {}), "kubeconfig": kubeconfigs[obj.kubeconfig_of]}
        opts = pulumi.ResourceOptions(
            parent=self,
            provider=self.provider,
            depends_on=depends_on or None,
            # A patch only ever owns fields of an object FSM owns; protecting it would only block
            # handing those fields back.
            protect=settings.protect and not obj.patch,
            retain_on_delete=obj.retain,
            ignore_changes=ignore_changes(obj),
        )
        resource = register(logical_name(self.cluster.name, obj), obj, body, opts)
        self.objects[obj.id] = resource
        return resource
