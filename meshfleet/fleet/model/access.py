"""Access rules: which service accounts may call which service, in which clusters, for which requests.

Why: an access rule is the user's words for a grant; the SMI, Cilium and Istio adapters each write
it in their own objects (`meshfleet.core.access` resolves where it holds).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
)

from meshfleet.fleet import names
from meshfleet.fleet.model.selection import ClusterSelection
from meshfleet.fleet.model.services import SELECTION_HELP
from meshfleet.fleet.model.values import (
    FindingCode,
    ObjectName,
    ServiceAccountRef,
    ServiceRef,
    Strict,
    acknowledge_field,
)

HttpMethod = Literal["*", "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]


HeaderName = Annotated[str, AfterValidator(names.http_header_name)]
HeaderRegex = Annotated[str, AfterValidator(lambda v: names.regex(v, "header value"))]


def _any_method() -> list[HttpMethod]:
    """A match's methods when none are written: any (a lambda would be typed list[str])."""
    return ["*"]


class HttpMatch(Strict):
    """Requests an access rule lets through: path, methods and headers (an HTTPRouteGroup match)."""

    name: ObjectName = Field(description="The match's name in the HTTPRouteGroup.", examples=["all"])
    pathRegex: Annotated[str, AfterValidator(lambda v: names.regex(v, "pathRegex"))] = Field(
        default=".*",
        description="A regular expression the request path matches (default `.*`, any path).",
        examples=["/"],
    )
    methods: Annotated[list[HttpMethod], Field(min_length=1)] = Field(
        default_factory=_any_method,
        description="The HTTP methods allowed: `GET`, `HEAD`, `PUT`, `POST`, `DELETE`, `CONNECT`, `OPTIONS`, `TRACE`, "
        "`PATCH`, or `*` for any (the default).",
        examples=[["GET"]],
    )
    headers: list[dict[HeaderName, HeaderRegex]] | None = Field(
        default=None,
        description="Header matches: each maps header names to regular expressions their values match.",
        examples=[[{"x-tenant": "blue"}]],
    )


class AccessRule(Strict):
    """`from` service accounts may call the service `to` in the clusters `in`, for the `http` matches."""

    from_: Annotated[list[ServiceAccountRef], Field(min_length=1, alias="from")] = Field(
        description="The service accounts that may call, as `namespace/serviceaccount`.", examples=[["curl/curl"]]
    )
    to: ServiceRef = Field(description="The service they may call, as `namespace/name`, one of `services`.")
    in_: ClusterSelection | None = Field(
        default=None,
        alias="in",
        description=f"Clusters where the grant holds: {SELECTION_HELP}; default where the service is reachable.",
        examples=[["cluster-2"]],
    )
    http: Annotated[list[HttpMatch], Field(min_length=1)] = Field(
        default_factory=lambda: [HttpMatch(name="all")],
        description="The requests the grant lets through (default one match `all`: any path, any method).",
    )
    acknowledge: list[FindingCode] = acknowledge_field()
