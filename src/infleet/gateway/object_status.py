"""The status the gateway reports on its API objects, in Gateway API style: ``Accepted`` (it takes the
object), ``ResolvedRefs`` (every ModelDeployment, Secret and routing profile it names was found) and
``Ready`` (a ModelRoute has a backend to send requests to; a GatewayKey can be used), each with
observedGeneration, plus what a ModelRoute resolved to (backends, regions, clusters, deployments).
Pure: builds status mutations from the verdicts of ``declared_routes``; ``StatusWriter`` writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from infleet.gateway.declared_routes import Finding, KeyVerdict, RouteVerdict
from infleet.kube.conditions import set_condition

StatusMutation = Callable[[dict[str, Any]], None]

ACCEPTED = "Accepted"
RESOLVED_REFS = "ResolvedRefs"
READY = "Ready"


def route_mutation(
    verdict: RouteVerdict, file_names: Collection[str], profiles: Collection[str], now: float
) -> StatusMutation:
    """The status of one ModelRoute. `file_names` are the public names and aliases the gateway's
    configuration file serves (the file wins); `profiles` the routing profiles the gateway has."""
    model = verdict.model
    accepted, refs = verdict.accepted, verdict.refs
    if model is not None and model.name in file_names:
        accepted = Finding(
            False,
            "ModelNameTakenByConfigFile",
            f"spec.model {model.name!r} is served by the gateway's configuration file, which wins: remove it "
            "there or rename spec.model",
        )
    elif model is not None and accepted.ok and not accepted.message:
        aliases = f" (aliases {', '.join(model.aliases)})" if model.aliases else ""
        accepted = Finding(True, ACCEPTED, f"routed as model {model.name!r}{aliases}")
    if model is not None and model.profile not in profiles:
        missing = (
            f"spec.profile: the gateway has no routing profile {model.profile!r} and routes with 'default'; "
            f"use one of {', '.join(sorted(profiles))}"
        )
        refs = Finding(False, "ProfileNotFound", f"{refs.message}; {missing}" if not refs.ok else missing)
    backends = model.backends if model is not None and accepted.ok else []
    ready = _route_ready(verdict, accepted, len(backends))
    regions = sorted({b.region for b in backends if b.region})
    clusters = sorted({b.cluster for b in backends if b.cluster})
    clouds = sorted({b.cloud for b in backends if b.cloud})

    def mutate(status: dict[str, Any]) -> None:
        _conditions(
            status, verdict.generation, now, (ACCEPTED, accepted), (RESOLVED_REFS, refs), (READY, ready)
        )
        status["backends"] = len(backends)
        status["deployments"] = verdict.deployments
        for field, values in (("regions", regions), ("clouds", clouds), ("clusters", clusters)):
            if values:
                status[field] = values
            else:
                status.pop(field, None)

    return mutate


def key_mutation(verdict: KeyVerdict, now: float) -> StatusMutation:
    """The status of one GatewayKey: Ready once it is accepted and its Secret holds the key."""
    accepted, refs = verdict.accepted, verdict.refs
    if accepted.ok and refs.ok:
        ready = Finding(True, READY, "clients may use the key")
    else:
        failed = refs if accepted.ok else accepted
        ready = Finding(False, failed.reason, f"the gateway refuses the key: {failed.message}")
    if accepted.ok and not accepted.message:
        accepted = Finding(True, ACCEPTED, "the gateway takes the key")

    def mutate(status: dict[str, Any]) -> None:
        _conditions(
            status, verdict.generation, now, (ACCEPTED, accepted), (RESOLVED_REFS, refs), (READY, ready)
        )

    return mutate


def _route_ready(verdict: RouteVerdict, accepted: Finding, backends: int) -> Finding:
    if not accepted.ok:
        return Finding(False, "NotAccepted", "the route is not routed; its Accepted condition says why")
    if backends:
        return Finding(True, READY, f"{backends} backend(s) take requests")
    model = verdict.model
    if model is not None and model.wake:
        names = ", ".join(f"{w.namespace}/{w.name}" for w in model.wake)
        return Finding(
            False,
            "NoReadyBackends",
            f"no ready replica; requests wait while the gateway wakes ModelDeployment {names}",
        )
    return Finding(
        False,
        "NoReadyBackends",
        "no ready replica or provider: requests get 503; check the ModelDeployments in spec.deployments "
        "(or spec.deploymentSelector) and spec.providers",
    )


def _conditions(
    status: dict[str, Any], generation: int | None, now: float, *findings: tuple[str, Finding]
) -> None:
    conditions = status.setdefault("conditions", [])
    for type_, finding in findings:
        set_condition(conditions, type_, finding.ok, finding.reason, finding.message, generation, now)
