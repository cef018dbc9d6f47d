"""One member cluster as a Pulumi component: its own provider and everything meshfleet applies there.

Why: one provider per cluster, bound explicitly on every object (never inherited, never the
ambient default provider, which Pulumi.yaml disables), so that no object can land in the wrong
cluster. The provider carries the fleet's stable cluster id, so rotating a kubeconfig or renaming
the cluster updates the provider instead of replacing every object behind it (provider.go:486-501).

Addresses: the component, the provider and each object are named from the cluster's name; a
renamed cluster lists its `formerNames`, which become aliases of all three, so the engine finds
the old state instead of creating first (it runs every create before any delete) and failing on
objects that already exist.

The provider sends no `deleteUnreachable`/`skipUpdateUnreachable` unless the fleet marks the
cluster decommissioned: an explicit value, even `false`, would override the provider's
PULUMI_K8S_* environment variables (provider.go:619-649) and stay in the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.objects import crd_name, is_patch, logical_name, register, sink_body
from components.settings import Settings, StackConfigError
from meshfleet.core.plan import ClusterPlan, ObjectId, PlannedObject


@dataclass(frozen=True)
class Identity:
    """Who a cluster is to Pulumi: its name, stable id, former names, and whether it is gone."""

    name: str
    id: str
    former_names: tuple[str, ...] = ()
    decommissioned: bool = False

    def aliases(self, current: str) -> list[pulumi.Alias]:
        """Aliases for a resource named `current` from this cluster's name, one per former name."""
        prefix = self.name
        assert current.startswith(prefix), current
        return [pulumi.Alias(name=old + current[len(prefix) :]) for old in self.former_names]


@dataclass
class Preflight:
    """The CRDs a cluster's objects need, each read through the cluster's provider."""

    versions: dict[str, set[str]] = field(default_factory=dict)

    def need(self, obj: PlannedObject) -> str | None:
        name = crd_name(obj)
        if name is not None:
            self.versions.setdefault(name, set()).add(obj.api_version.rpartition("/")[2])
        return name


class MemberCluster(pulumi.ComponentResource):
    """A cluster of the fleet (the FSM control plane too) and the objects applied to it."""

    TYPE = "meshfleet:index:MemberCluster"

    provider: k8s.Provider
    objects: dict[ObjectId, pulumi.CustomResource]

    def __init__(
        self,
        identity: Identity,
        cluster: ClusterPlan | None,
        kubeconfigs: Mapping[str, pulumi.Output[str]],
        settings: Settings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`cluster` is None for a decommissioned cluster; `kubeconfigs` holds this cluster's and those
        its `Cluster` objects carry, all secret."""
        name = identity.name
        super().__init__(
            self.TYPE,
            name,
            None,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=identity.aliases(name))),
        )
        self.identity = identity
        switches: dict[str, Any] = {}
        if identity.decommissioned:
            # Unreachable by construction (kubeconfig.placeholder): its objects leave the state
            # unread and undeleted (provider.go:1919-1925, 2574-2583). The provider is updated, not
            # replaced, because its cluster_identifier stays, and the updated provider is the one
            # the engine deletes with (registry.go:984-1012). Inferred from source, not observed.
            switches["delete_unreachable"] = True
        self.provider = k8s.Provider(
            name,
            kubeconfig=kubeconfigs[name],
            cluster_identifier=identity.id,
            enable_server_side_apply=True,
            **switches,
            opts=pulumi.ResourceOptions(parent=self, aliases=identity.aliases(name)),
        )
        self.objects = {}
        if cluster is not None:
            self._apply_all(cluster, kubeconfigs, settings)
        self.register_outputs({})

    def _apply_all(
        self, cluster: ClusterPlan, kubeconfigs: Mapping[str, pulumi.Output[str]], settings: Settings
    ) -> None:
        applied = cluster.applied()
        preflight = Preflight()
        needs = {obj.id: preflight.need(obj) for obj in applied}
        checked = {crd: self._read_crd(crd, versions) for crd, versions in sorted(preflight.versions.items())}
        # In the plan's order, which puts namespaces first and each object after those it must wait for (an
        # FSM export after its Service): each depends on its namespace and on those objects.
        namespaces = {obj.name for obj in applied if obj.kind == "Namespace" and obj.api_version == "v1"}
        for obj in applied:
            depends_on: list[pulumi.Input[pulumi.Resource]] = []
            if obj.namespace in namespaces:
                depends_on.append(self.objects[ObjectId("v1", "Namespace", "", obj.namespace)])
            crd = needs[obj.id]
            if crd is not None:
                depends_on.append(checked[crd])
            depends_on.extend(self.objects[first] for first in obj.after)
            self._apply(obj, kubeconfigs, settings, depends_on)

    def _read_crd(self, crd: str, versions: set[str]) -> pulumi.Output[pulumi.Resource]:
        """Read `crd` through this cluster's provider; the Output fails unless it serves `versions`.

        Reads run in preview too (pulumi's step.go:1313-1315); a missing CRD is the engine's error
        "resource '<crd>' does not exist" (step.go:1366-1368) on the resource named
        `<cluster>:crd:<crd>`, so preview names both. Without this, preview skips objects whose
        kind the API server does not know (provider.go:1728) and `up` fails after retries.
        """
        cluster = self.identity.name
        read = k8s.apiextensions.v1.CustomResourceDefinition.get(
            f"{cluster}:crd:{crd}", crd, opts=pulumi.ResourceOptions(parent=self, provider=self.provider)
        )

        def served(spec: Any) -> pulumi.Resource:
            if not isinstance(spec, Mapping):
                # No state came back (e.g. PULUMI_K8S_SKIP_UPDATE_UNREACHABLE on a cluster that is down).
                pulumi.log.warn(f"cluster {cluster}: could not check the CRD {crd}; it was read without a spec")
                return read
            listed = [v for v in spec.get("versions") or [] if isinstance(v, Mapping)]
            have = {str(v.get("name")) for v in listed if v.get("served")}
            missing = sorted(versions - have)
            if missing:
                raise StackConfigError(
                    f"cluster {cluster}: the CRD {crd} does not serve {', '.join(missing)} (it serves "
                    f"{', '.join(sorted(have)) or 'nothing'}); install the version of its controller that does"
                )
            return read

        return read.spec.apply(served)

    def _apply(
        self,
        obj: PlannedObject,
        kubeconfigs: Mapping[str, pulumi.Output[str]],
        settings: Settings,
        depends_on: list[pulumi.Input[pulumi.Resource]],
    ) -> pulumi.CustomResource:
        body = sink_body(obj, None if obj.kubeconfig_of is None else kubeconfigs[obj.kubeconfig_of])
        patch = is_patch(obj)
        name = logical_name(self.identity.name, obj)
        opts = pulumi.ResourceOptions(
            parent=self,
            provider=self.provider,
            depends_on=depends_on or None,
            # A patch is retained: deleting it would hand back fields a CRD may require, which the
            # API server rejects (provider.go:2627-2633); so protecting it would add nothing. A patch
            # that only adds annotations (Cilium's global Service) is deleted: its fields go back,
            # which withdraws the service from the fleet, so it is protected like a created object
            # (the policy pack's protected-registrations asks for it).
            protect=settings.protect and (not patch or obj.relinquish),
            retain_on_delete=obj.retain or (patch and not obj.relinquish),
            aliases=self.identity.aliases(name),
        )
        resource = register(name, obj, body, opts)
        self.objects[obj.id] = resource
        return resource
