"""Table cells of the workload kinds (pods and what runs them), as kube-apiserver's printers fill them.

``builtin_kinds`` names these renderers in its columns; each takes the stored object and the time
now and returns one cell. Wide-only columns are computed here too: kube-apiserver always sends them
and kubectl hides priority-1 columns unless asked for ``-o wide``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infleet.apiserver.printer_cells import (
    NONE,
    container_cells,
    dig,
    format_labels,
    format_selector,
    items,
    mapping,
    number,
    since,
)
from infleet.apiserver.tables import human_age, parse_timestamp

# -- pods ----------------------------------------------------------------------------------------


def pod_ready(obj: Mapping[str, Any], _now: datetime) -> str:
    containers = items(dig(obj, "spec", "containers"))
    statuses = [mapping(s) for s in items(dig(obj, "status", "containerStatuses"))]
    ready = sum(1 for s in statuses if s.get("ready") and "running" in mapping(s.get("state")))
    return f"{ready}/{len(containers)}"


def pod_status(obj: Mapping[str, Any], _now: datetime) -> str:
    """The STATUS column: the phase, or the reason a container is waiting or stopped."""
    phase = dig(obj, "status", "phase")
    reason = str(dig(obj, "status", "reason") or phase or "")
    for condition in items(dig(obj, "status", "conditions")):
        if dig(condition, "type") == "PodScheduled" and dig(condition, "reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_reason = _init_reason(obj)
    reason = init_reason if init_reason is not None else _container_reason(obj, reason)
    if dig(obj, "metadata", "deletionTimestamp"):
        if dig(obj, "status", "reason") == "NodeLost":
            return "Unknown"
        if phase not in ("Succeeded", "Failed"):
            return "Terminating"
    return reason


def _container_reason(obj: Mapping[str, Any], reason: str) -> str:
    """The last container's waiting or terminated reason, else ``reason`` (Completed pods whose
    restartable containers still run read Running or NotReady)."""
    running = False
    for status in reversed([mapping(s) for s in items(dig(obj, "status", "containerStatuses"))]):
        state = mapping(status.get("state"))
        terminated = mapping(state.get("terminated"))
        if dig(state, "waiting", "reason"):
            reason = str(dig(state, "waiting", "reason"))
        elif terminated.get("reason"):
            reason = str(terminated["reason"])
        elif terminated:
            signal = number(terminated.get("signal"))
            reason = f"Signal:{signal}" if signal else f"ExitCode:{number(terminated.get('exitCode'))}"
        elif status.get("ready") and "running" in state:
            running = True
    if reason == "Completed" and running:
        return "Running" if _condition_true(obj, "Ready") else "NotReady"
    return reason


def _init_reason(obj: Mapping[str, Any]) -> str | None:
    """``Init:N/M`` style status while init containers run, None once they are done."""
    init_containers = items(dig(obj, "spec", "initContainers"))
    for index, status in enumerate(mapping(s) for s in items(dig(obj, "status", "initContainerStatuses"))):
        state = mapping(status.get("state"))
        terminated = mapping(state.get("terminated"))
        if terminated and number(terminated.get("exitCode")) == 0:
            continue
        if terminated:
            if terminated.get("reason"):
                return f"Init:{terminated['reason']}"
            signal = number(terminated.get("signal"))
            return (
                f"Init:Signal:{signal}" if signal else f"Init:ExitCode:{number(terminated.get('exitCode'))}"
            )
        waiting = dig(state, "waiting", "reason")
        if waiting and waiting != "PodInitializing":
            return f"Init:{waiting}"
        return f"Init:{index}/{len(init_containers)}"
    return None


def _condition_true(obj: Mapping[str, Any], kind: str) -> bool:
    return any(
        dig(c, "type") == kind and dig(c, "status") == "True" for c in items(dig(obj, "status", "conditions"))
    )


def pod_restarts(obj: Mapping[str, Any], now: datetime) -> str:
    """``3`` or ``3 (5m ago)``: restarts of the containers and when the last one ended."""
    statuses = [mapping(s) for s in items(dig(obj, "status", "containerStatuses"))]
    restarts = sum(number(s.get("restartCount")) for s in statuses)
    finished = [
        parsed
        for s in statuses
        if (parsed := parse_timestamp(str(dig(s, "lastState", "terminated", "finishedAt") or ""))) is not None
    ]
    if restarts and finished:
        return f"{restarts} ({human_age(max(finished), now)} ago)"
    return str(restarts)


def pod_ip(obj: Mapping[str, Any], _now: datetime) -> str:
    ips = items(dig(obj, "status", "podIPs"))
    first = dig(ips[0], "ip") if ips else dig(obj, "status", "podIP")
    return str(first) if first else NONE


def pod_node(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(dig(obj, "spec", "nodeName") or NONE)


def pod_nominated_node(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(dig(obj, "status", "nominatedNodeName") or NONE)


def pod_readiness_gates(obj: Mapping[str, Any], _now: datetime) -> str:
    gates = [dig(gate, "conditionType") for gate in items(dig(obj, "spec", "readinessGates"))]
    if not gates:
        return NONE
    true = sum(1 for gate in gates if _condition_true(obj, str(gate)))
    return f"{true}/{len(gates)}"


# -- controllers of pods -------------------------------------------------------------------------


def ready_of_desired(obj: Mapping[str, Any], _now: datetime) -> str:
    """``ready/desired`` (Deployment and StatefulSet READY)."""
    return f"{number(dig(obj, 'status', 'readyReplicas'))}/{number(dig(obj, 'spec', 'replicas'))}"


def template_containers(obj: Mapping[str, Any], _now: datetime) -> str:
    return container_cells(dig(obj, "spec", "template"))[0]


def template_images(obj: Mapping[str, Any], _now: datetime) -> str:
    return container_cells(dig(obj, "spec", "template"))[1]


def selector(obj: Mapping[str, Any], _now: datetime) -> str:
    return format_selector(dig(obj, "spec", "selector"))


def deployment_selector(obj: Mapping[str, Any], _now: datetime) -> str:
    # Deployments print the parsed selector, which is empty text (not <none>) for an empty one.
    text = format_selector(dig(obj, "spec", "selector"))
    return "" if text == NONE else text


def rc_selector(obj: Mapping[str, Any], _now: datetime) -> str:
    return format_labels(dig(obj, "spec", "selector"))


def daemonset_node_selector(obj: Mapping[str, Any], _now: datetime) -> str:
    return format_labels(dig(obj, "spec", "template", "spec", "nodeSelector"))


def job_status(obj: Mapping[str, Any], _now: datetime) -> str:
    if _job_condition(obj, "Complete"):
        return "Complete"
    if _job_condition(obj, "Failed"):
        return "Failed"
    if dig(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    if _job_condition(obj, "Suspended"):
        return "Suspended"
    if _job_condition(obj, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_condition(obj: Mapping[str, Any], kind: str) -> bool:
    for condition in items(dig(obj, "status", "conditions")):
        if dig(condition, "type") == kind:
            return bool(dig(condition, "status") == "True")
    return False


def job_completions(obj: Mapping[str, Any], _now: datetime) -> str:
    succeeded = number(dig(obj, "status", "succeeded"))
    completions = dig(obj, "spec", "completions")
    if isinstance(completions, int):
        return f"{succeeded}/{completions}"
    parallelism = number(dig(obj, "spec", "parallelism"))
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def job_duration(obj: Mapping[str, Any], now: datetime) -> str:
    started = parse_timestamp(str(dig(obj, "status", "startTime") or ""))
    if started is None:
        return ""
    completed = parse_timestamp(str(dig(obj, "status", "completionTime") or ""))
    return human_age(started, completed or now)


def cronjob_timezone(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(dig(obj, "spec", "timeZone") or NONE)


def cronjob_suspend(obj: Mapping[str, Any], _now: datetime) -> bool:
    return bool(dig(obj, "spec", "suspend"))


def cronjob_active(obj: Mapping[str, Any], _now: datetime) -> int:
    return len(items(dig(obj, "status", "active")))


def cronjob_last_schedule(obj: Mapping[str, Any], now: datetime) -> str:
    return since(dig(obj, "status", "lastScheduleTime"), now) or NONE


def cronjob_containers(obj: Mapping[str, Any], _now: datetime) -> str:
    return container_cells(dig(obj, "spec", "jobTemplate", "spec", "template"))[0]


def cronjob_images(obj: Mapping[str, Any], _now: datetime) -> str:
    return container_cells(dig(obj, "spec", "jobTemplate", "spec", "template"))[1]


def cronjob_selector(obj: Mapping[str, Any], _now: datetime) -> str:
    return format_selector(dig(obj, "spec", "jobTemplate", "spec", "selector"))


def controller_revision_controller(obj: Mapping[str, Any], _now: datetime) -> str:
    """``statefulset.apps/web``: the controller owner as ``kind.group/name``."""
    for owner in items(dig(obj, "metadata", "ownerReferences")):
        if dig(owner, "controller") is True:
            group = str(dig(owner, "apiVersion") or "").rpartition("/")[0]
            kind = str(dig(owner, "kind") or "").lower()
            return f"{kind}.{group}/{dig(owner, 'name')}" if group else f"{kind}/{dig(owner, 'name')}"
    return NONE


def pdb_bound(field: str) -> Any:
    """MIN AVAILABLE / MAX UNAVAILABLE: the value as written, ``N/A`` when unset."""

    def render(obj: Mapping[str, Any], _now: datetime) -> str:
        value = dig(obj, "spec", field)
        return "N/A" if value is None else str(value)

    return render


def pdb_allowed(obj: Mapping[str, Any], _now: datetime) -> int:
    return number(dig(obj, "status", "disruptionsAllowed"))
