"""Table cells of the non-workload kinds (nodes, networking, storage, access, policy, autoscaling).

Each renderer takes the stored object and the time now and returns one cell as kube-apiserver's
printers fill it; ``builtin_kinds`` wires them into columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from infleet.api.labels import NODE_ROLE_LABEL, NODE_ROLE_PREFIX, STORAGE_CLASS_BETA_ANNOTATION
from infleet.apiserver.printer_cells import (
    NONE,
    dig,
    first_n,
    format_labels,
    format_selector,
    items,
    mapping,
    number,
    or_none,
    since,
)
from infleet.apiserver.tables import parse_timestamp

_LOAD_BALANCER_WIDTH = 16
_ACCESS_MODES = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def created_at(obj: Mapping[str, Any], _now: datetime) -> str:
    """The CREATED AT cell of kinds without a printer: the creation time in RFC 3339."""
    parsed = parse_timestamp(str(dig(obj, "metadata", "creationTimestamp") or ""))
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if parsed else ""


def data_count(obj: Mapping[str, Any], _now: datetime) -> int:
    return len(mapping(obj.get("data"))) + len(mapping(obj.get("binaryData")))


def namespace_status(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(dig(obj, "status", "phase") or "Active")


def service_account_secrets(obj: Mapping[str, Any], _now: datetime) -> int:
    return len(items(obj.get("secrets")))


# -- nodes ---------------------------------------------------------------------------------------


def node_status(obj: Mapping[str, Any], _now: datetime) -> str:
    ready = [c for c in items(dig(obj, "status", "conditions")) if dig(c, "type") == "Ready"]
    status = ["Unknown"] if not ready else ["Ready" if dig(ready[0], "status") == "True" else "NotReady"]
    if dig(obj, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    return ",".join(status)


def node_roles(obj: Mapping[str, Any], _now: datetime) -> str:
    roles = set()
    for key, value in mapping(dig(obj, "metadata", "labels")).items():
        if key.startswith(NODE_ROLE_PREFIX) and key.removeprefix(NODE_ROLE_PREFIX):
            roles.add(key.removeprefix(NODE_ROLE_PREFIX))
        elif key == NODE_ROLE_LABEL and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or NONE


def node_address(kind: str) -> Any:
    def render(obj: Mapping[str, Any], _now: datetime) -> str:
        for address in items(dig(obj, "status", "addresses")):
            if dig(address, "type") == kind:
                return str(dig(address, "address"))
        return NONE

    return render


def node_info(field: str) -> Any:
    def render(obj: Mapping[str, Any], _now: datetime) -> str:
        return str(dig(obj, "status", "nodeInfo", field) or "<unknown>")

    return render


# -- services and networking ---------------------------------------------------------------------


def service_cluster_ip(obj: Mapping[str, Any], _now: datetime) -> str:
    ips = items(dig(obj, "spec", "clusterIPs"))
    return str(ips[0]) if ips else NONE


def _load_balancer(status: Any) -> str:
    found = sorted(
        {
            str(dig(i, "ip") or dig(i, "hostname"))
            for i in items(dig(status, "ingress"))
            if dig(i, "ip") or dig(i, "hostname")
        }
    )
    return ",".join(found)


def _clipped(text: str) -> str:
    # Tables are rendered once for every output format, so the default (clipped) form is sent.
    return text[: _LOAD_BALANCER_WIDTH - 3] + "..." if len(text) > _LOAD_BALANCER_WIDTH else text


def service_external_ip(obj: Mapping[str, Any], _now: datetime) -> str:
    spec = mapping(obj.get("spec"))
    external = [str(ip) for ip in items(spec.get("externalIPs"))]
    kind = spec.get("type", "ClusterIP")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        balancer = _clipped(_load_balancer(dig(obj, "status", "loadBalancer")))
        found = [*(balancer.split(",") if balancer else []), *external]
        return ",".join(found) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def service_ports(obj: Mapping[str, Any], _now: datetime) -> str:
    text = []
    for port in (mapping(p) for p in items(dig(obj, "spec", "ports"))):
        protocol = port.get("protocol", "TCP")
        node_port = number(port.get("nodePort"))
        text.append(
            f"{port.get('port')}:{node_port}/{protocol}" if node_port else f"{port.get('port')}/{protocol}"
        )
    return ",".join(text) or NONE


def service_selector(obj: Mapping[str, Any], _now: datetime) -> str:
    return format_labels(dig(obj, "spec", "selector"))


def endpoints(obj: Mapping[str, Any], _now: datetime) -> str:
    subsets = items(obj.get("subsets"))
    if not subsets:
        return NONE
    found: list[str] = []
    for subset in subsets:
        addresses = [str(dig(a, "ip")) for a in items(dig(subset, "addresses"))]
        ports = items(dig(subset, "ports"))
        if not ports:
            found += addresses
        for port in ports:
            found += [f"{ip}:{dig(port, 'port')}" for ip in addresses]
    return first_n(found, len(found), empty="")


def endpoint_slice_ports(obj: Mapping[str, Any], _now: datetime) -> str:
    ports = [mapping(p) for p in items(obj.get("ports"))]
    text = [str(p["port"]) if p.get("port") is not None else str(p.get("name") or "*") for p in ports]
    return first_n(text, len(text), empty="<unset>")


def endpoint_slice_endpoints(obj: Mapping[str, Any], _now: datetime) -> str:
    addresses = [str(a) for e in items(obj.get("endpoints")) for a in items(dig(e, "addresses"))]
    return first_n(addresses, len(addresses), empty="<unset>")


def ingress_class(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(dig(obj, "spec", "ingressClassName") or NONE)


def ingress_hosts(obj: Mapping[str, Any], _now: datetime) -> str:
    rules = items(dig(obj, "spec", "rules"))
    hosts = [str(dig(rule, "host")) for rule in rules[:3] if dig(rule, "host")]
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if len(rules) > 3 else text


def ingress_address(obj: Mapping[str, Any], _now: datetime) -> str:
    return _clipped(_load_balancer(dig(obj, "status", "loadBalancer")))


def ingress_ports(obj: Mapping[str, Any], _now: datetime) -> str:
    return "80, 443" if items(dig(obj, "spec", "tls")) else "80"


def ingress_class_parameters(obj: Mapping[str, Any], _now: datetime) -> str:
    parameters = dig(obj, "spec", "parameters")
    if not isinstance(parameters, Mapping):
        return NONE
    kind = str(parameters.get("kind", ""))
    if parameters.get("apiGroup"):
        kind += f".{parameters['apiGroup']}"
    return f"{kind}/{parameters.get('name', '')}"


def network_policy_pod_selector(obj: Mapping[str, Any], _now: datetime) -> str:
    return format_selector(dig(obj, "spec", "podSelector"))


# -- storage -------------------------------------------------------------------------------------


def _access_modes(modes: Any) -> str:
    wanted = {str(m) for m in items(modes)}
    return ",".join(short for long, short in _ACCESS_MODES.items() if long in wanted)


def _storage_class(obj: Mapping[str, Any]) -> str:
    annotated = dig(obj, "metadata", "annotations", STORAGE_CLASS_BETA_ANNOTATION)
    return str(annotated or dig(obj, "spec", "storageClassName") or "")


def _phase(obj: Mapping[str, Any]) -> str:
    return (
        "Terminating" if dig(obj, "metadata", "deletionTimestamp") else str(dig(obj, "status", "phase") or "")
    )


def claim_status(obj: Mapping[str, Any], _now: datetime) -> str:
    return _phase(obj)


def claim_capacity(obj: Mapping[str, Any], _now: datetime) -> str:
    if not dig(obj, "spec", "volumeName"):
        return ""
    return str(dig(obj, "status", "capacity", "storage") or "0")


def claim_access_modes(obj: Mapping[str, Any], _now: datetime) -> str:
    return _access_modes(dig(obj, "status", "accessModes")) if dig(obj, "spec", "volumeName") else ""


def storage_class_of(obj: Mapping[str, Any], _now: datetime) -> str:
    return _storage_class(obj)


def volume_attributes_class(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(dig(obj, "spec", "volumeAttributesClassName") or "<unset>")


def volume_mode(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(dig(obj, "spec", "volumeMode") or "<unset>")


def volume_capacity(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(dig(obj, "spec", "capacity", "storage") or "0")


def volume_access_modes(obj: Mapping[str, Any], _now: datetime) -> str:
    return _access_modes(dig(obj, "spec", "accessModes"))


def volume_status(obj: Mapping[str, Any], _now: datetime) -> str:
    return _phase(obj)


def volume_claim(obj: Mapping[str, Any], _now: datetime) -> str:
    claim = dig(obj, "spec", "claimRef")
    return f"{dig(claim, 'namespace') or ''}/{dig(claim, 'name') or ''}" if isinstance(claim, Mapping) else ""


def storage_class_reclaim_policy(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(obj.get("reclaimPolicy") or "Delete")


def storage_class_binding_mode(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(obj.get("volumeBindingMode") or "Immediate")


def storage_class_expansion(obj: Mapping[str, Any], _now: datetime) -> bool:
    return bool(obj.get("allowVolumeExpansion"))


# -- access, policy, scheduling, quota, autoscaling ----------------------------------------------


def role_ref(obj: Mapping[str, Any], _now: datetime) -> str:
    return f"{dig(obj, 'roleRef', 'kind') or ''}/{dig(obj, 'roleRef', 'name') or ''}"


def binding_subjects(kind: str) -> Any:
    """USERS, GROUPS or SERVICEACCOUNTS of a binding, ``, ``-joined (service accounts as namespace/name)."""

    def render(obj: Mapping[str, Any], _now: datetime) -> str:
        found = []
        for subject in (mapping(s) for s in items(obj.get("subjects"))):
            if subject.get("kind") != kind:
                continue
            name = str(subject.get("name", ""))
            found.append(f"{subject.get('namespace', '')}/{name}" if kind == "ServiceAccount" else name)
        return ", ".join(found)

    return render


def priority_class_preemption(obj: Mapping[str, Any], _now: datetime) -> str:
    return or_none(obj.get("preemptionPolicy"))


def quota_usage(limits: bool) -> Any:
    """REQUEST or LIMIT of a ResourceQuota: ``name: used/hard`` for each resource with a hard limit."""

    def render(obj: Mapping[str, Any], _now: datetime) -> str:
        hard = mapping(dig(obj, "status", "hard"))
        used = mapping(dig(obj, "status", "used"))
        text = [
            f"{name}: {used.get(name, '0')}/{hard[name]}"
            for name in sorted(hard)
            if (name.split(".", 1)[0] == "limits" and "." in name) == limits
        ]
        return ", ".join(text)

    return render


def hpa_reference(obj: Mapping[str, Any], _now: datetime) -> str:
    target = mapping(dig(obj, "spec", "scaleTargetRef"))
    return f"{target.get('kind', '')}/{target.get('name', '')}"


def hpa_min_pods(obj: Mapping[str, Any], _now: datetime) -> str:
    value = dig(obj, "spec", "minReplicas")
    return str(value) if isinstance(value, int) else "<unset>"


def hpa_targets(obj: Mapping[str, Any], _now: datetime) -> str:
    """TARGETS: ``cpu: 40%/80%`` per metric (``<unknown>`` until measured), the first two shown."""
    spec = mapping(obj.get("spec"))
    if "targetCPUUtilizationPercentage" in spec or obj.get("apiVersion") == "autoscaling/v1":
        current = dig(obj, "status", "currentCPUUtilizationPercentage")
        target = spec.get("targetCPUUtilizationPercentage")
        current_text = f"{current}%" if current is not None else "<unknown>"
        return f"cpu: {current_text}/{f'{target}%' if target else '<auto>'}"
    metrics = [mapping(m) for m in items(spec.get("metrics"))]
    if not metrics:
        return NONE
    statuses = items(dig(obj, "status", "currentMetrics"))
    text = [_metric_text(m, mapping(statuses[i]) if i < len(statuses) else {}) for i, m in enumerate(metrics)]
    return ", ".join(text[:2]) + (f" + {len(text) - 2} more..." if len(text) > 2 else "")


def _metric_text(metric: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    kind = str(metric.get("type", ""))
    field = kind[:1].lower() + kind[1:]
    source, current = mapping(metric.get(field)), mapping(dig(status, field, "current"))
    target = mapping(source.get("target"))
    if kind in ("Resource", "ContainerResource"):
        name = source.get("name", "")
        if target.get("averageValue") is not None:
            return f"{name}: {current.get('averageValue', '<unknown>')}/{target['averageValue']}"
        now = current.get("averageUtilization")
        wanted = target.get("averageUtilization")
        now_text = f"{now}%" if now is not None else "<unknown>"
        return f"{name}: {now_text}/{f'{wanted}%' if wanted is not None else '<auto>'}"
    if kind == "Pods":
        return f"{current.get('averageValue', '<unknown>')}/{target.get('averageValue')}"
    if kind in ("Object", "External"):
        if target.get("averageValue") is not None:
            return f"{current.get('averageValue', '<unknown>')}/{target['averageValue']} (avg)"
        return f"{current.get('value', '<unknown>')}/{target.get('value')}"
    return "<unknown type>"


def hpa_replicas(obj: Mapping[str, Any], _now: datetime) -> int:
    return number(dig(obj, "status", "currentReplicas"))


# -- events --------------------------------------------------------------------------------------


def _event_first(obj: Mapping[str, Any], now: datetime) -> str:
    return since(obj.get("firstTimestamp"), now) or since(obj.get("eventTime"), now) or "<unknown>"


def event_last_seen(obj: Mapping[str, Any], now: datetime) -> str:
    observed = dig(obj, "series", "lastObservedTime")
    if observed:
        return since(observed, now) or "<unknown>"
    return since(obj.get("lastTimestamp"), now) or _event_first(obj, now)


def event_first_seen(obj: Mapping[str, Any], now: datetime) -> str:
    return _event_first(obj, now)


def event_object(obj: Mapping[str, Any], _now: datetime) -> str:
    kind = str(dig(obj, "involvedObject", "kind") or "").lower()
    name = dig(obj, "involvedObject", "name")
    return f"{kind}/{name}" if name else kind


def event_source(obj: Mapping[str, Any], _now: datetime) -> str:
    component = dig(obj, "source", "component") or obj.get("reportingComponent") or ""
    instance = dig(obj, "source", "host") or obj.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else str(component)


def event_message(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(obj.get("message") or "").strip()


def event_count(obj: Mapping[str, Any], _now: datetime) -> int:
    series = number(dig(obj, "series", "count"))
    return series or number(obj.get("count")) or 1


def event_name(obj: Mapping[str, Any], _now: datetime) -> str:
    return str(dig(obj, "metadata", "name") or "")
