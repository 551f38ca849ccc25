"""The rules kube-apiserver checks on built-in workloads beyond their OpenAPI schema.

The schemas say a Deployment's ``replicas`` is an int32; kube-apiserver's hand-written validation also
says it is not negative, that a rolling update may surge or be unavailable but not neither, that the
selector matches the template and that a pod has containers with unique names. These are those rules,
for the kinds the embedded clusters run, with kube-apiserver's field paths and wording. They run after
defaulting, on objects whose types the schema has already checked, and skip what has the wrong type
(the schema reported it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from infleet.apiserver.errors import Cause
from infleet.apiserver.selectors import LabelSelector

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PERCENT = re.compile(r"^(\d+)%$")
_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet")

Rule = Callable[[Mapping[str, Any]], list[Cause]]


def builtin_causes(group: str, kind: str, obj: Mapping[str, Any]) -> list[Cause]:
    """Why ``obj`` of a built-in kind is invalid beyond its schema (empty when it is valid)."""
    rule = _RULES.get((group, kind))
    return rule(obj) if rule is not None else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _not_negative(spec: Mapping[str, Any], field: str, path: str) -> list[Cause]:
    value = spec.get(field)
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {value}: must be greater than or equal to 0",
                f"{path}.{field}",
            )
        ]
    return []


# -- pods ----------------------------------------------------------------------------------------


def pod_spec_causes(spec: Mapping[str, Any], path: str) -> list[Cause]:
    """Containers are required, named as DNS labels, unique by name, and have an image."""
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [Cause("FieldValueRequired", "Required value", f"{path}.containers")]
    causes = _not_negative(spec, "terminationGracePeriodSeconds", path)
    causes += _not_negative(spec, "activeDeadlineSeconds", path)
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            causes += _container_causes(_mapping(container), f"{path}.{group}[{index}]", seen)
    return causes


def _container_causes(container: Mapping[str, Any], path: str, seen: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    name = container.get("name")
    if not isinstance(name, str) or not name:
        causes.append(Cause("FieldValueRequired", "Required value", f"{path}.name"))
    elif len(name) > 63 or not _DNS1123_LABEL.match(name):
        causes.append(
            Cause(
                "FieldValueInvalid",
                f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower case '
                "alphanumeric characters or '-', and must start and end with an alphanumeric character",
                f"{path}.name",
            )
        )
    elif name in seen:
        causes.append(Cause("FieldValueDuplicate", f'Duplicate value: "{name}"', f"{path}.name"))
    if isinstance(name, str):
        seen.add(name)
    image = container.get("image")
    if not isinstance(image, str) or not image.strip():
        causes.append(Cause("FieldValueRequired", "Required value", f"{path}.image"))
    return causes


def _pod(obj: Mapping[str, Any]) -> list[Cause]:
    return pod_spec_causes(_mapping(obj.get("spec")), "spec")


# -- workloads -----------------------------------------------------------------------------------


def _workload(obj: Mapping[str, Any]) -> list[Cause]:
    spec = _mapping(obj.get("spec"))
    causes: list[Cause] = []
    for field in ("replicas", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        causes += _not_negative(spec, field, "spec")
    causes += _selector_causes(spec)
    template = _mapping(spec.get("template"))
    causes += pod_spec_causes(_mapping(template.get("spec")), "spec.template.spec")
    return causes


def _selector_causes(spec: Mapping[str, Any]) -> list[Cause]:
    """apps/v1 requires a non-empty selector that selects the pod template's labels."""
    raw = spec.get("selector")
    if raw is None:
        return [Cause("FieldValueRequired", "Required value", "spec.selector")]
    try:
        selector = LabelSelector.from_dict(_mapping(raw))
    except ValueError as exc:
        return [Cause("FieldValueInvalid", f"Invalid value: {exc}", "spec.selector")]
    if selector.is_empty:
        return [Cause("FieldValueInvalid", "Invalid value: empty selector is invalid", "spec.selector")]
    labels = _mapping(_mapping(_mapping(spec.get("template")).get("metadata")).get("labels"))
    if not selector.matches({str(key): str(value) for key, value in labels.items()}):
        return [
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_go_string_map(labels)}: `selector` does not match template `labels`",
                "spec.template.metadata.labels",
            )
        ]
    return []


def _go_string_map(labels: Mapping[str, Any]) -> str:
    """Labels as kube-apiserver prints them in this message: ``map[string]string{"app":"web"}``."""
    pairs = ", ".join(f'"{key}":"{value}"' for key, value in sorted(labels.items()))
    return f"map[string]string{{{pairs}}}"


def _deployment(obj: Mapping[str, Any]) -> list[Cause]:
    spec = _mapping(obj.get("spec"))
    causes = _workload(obj)
    deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds", 0)
    if isinstance(deadline, int) and isinstance(min_ready, int) and min_ready >= 0 and deadline <= min_ready:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {deadline}: must be greater than minReadySeconds",
                "spec.progressDeadlineSeconds",
            )
        )
    return causes + _strategy_causes(_mapping(spec.get("strategy")))


def _strategy_causes(strategy: Mapping[str, Any]) -> list[Cause]:
    kind = strategy.get("type")
    if kind not in ("Recreate", "RollingUpdate"):
        return [
            Cause(
                "FieldValueNotSupported",
                f'Unsupported value: {_show(kind)}: supported values: "Recreate", "RollingUpdate"',
                "spec.strategy.type",
            )
        ]
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is None:
            return []
        return [
            Cause(
                "FieldValueForbidden",
                "Forbidden: may not be specified when strategy `type` is 'Recreate'",
                "spec.strategy.rollingUpdate",
            )
        ]
    return _rolling_update_causes(_mapping(rolling), "spec.strategy.rollingUpdate")


def _rolling_update_causes(rolling: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    causes += _int_or_percent_causes(surge, f"{path}.maxSurge", at_most_100=False)
    causes += _int_or_percent_causes(unavailable, f"{path}.maxUnavailable", at_most_100=True)
    if not causes and _is_zero(surge) and _is_zero(unavailable):
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_show(unavailable)}: may not be 0 when `maxSurge` is 0",
                f"{path}.maxUnavailable",
            )
        )
    return causes


def _int_or_percent_causes(value: Any, path: str, at_most_100: bool) -> list[Cause]:
    if value is None:
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            return [
                Cause(
                    "FieldValueInvalid", f"Invalid value: {value}: must be greater than or equal to 0", path
                )
            ]
        return []
    percent = _PERCENT.match(value) if isinstance(value, str) else None
    if percent is None:
        return [
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_show(value)}: a valid percent string must be a numeric string "
                "followed by an ending '%' (e.g. '1%',  or '93%')",
                path,
            )
        ]
    if at_most_100 and int(percent.group(1)) > 100:
        return [
            Cause("FieldValueInvalid", f"Invalid value: {_show(value)}: must not be greater than 100%", path)
        ]
    return []


def _is_zero(value: Any) -> bool:
    # An absent value defaults to 25%, which is not zero.
    return value == 0 or (
        isinstance(value, str) and _PERCENT.match(value) is not None and int(value[:-1]) == 0
    )


def _statefulset(obj: Mapping[str, Any]) -> list[Cause]:
    spec = _mapping(obj.get("spec"))
    causes = _workload(obj)
    policy = spec.get("podManagementPolicy")
    if policy is not None and policy not in ("OrderedReady", "Parallel"):
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f'Unsupported value: {_show(policy)}: supported values: "OrderedReady", "Parallel"',
                "spec.podManagementPolicy",
            )
        )
    update = _mapping(spec.get("updateStrategy"))
    kind = update.get("type")
    if kind is not None and kind not in ("OnDelete", "RollingUpdate"):
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f'Unsupported value: {_show(kind)}: supported values: "OnDelete", "RollingUpdate"',
                "spec.updateStrategy.type",
            )
        )
    causes += _not_negative(
        _mapping(update.get("rollingUpdate")), "partition", "spec.updateStrategy.rollingUpdate"
    )
    return causes


# -- batch ---------------------------------------------------------------------------------------


def _job_restart_policy(template: Mapping[str, Any], path: str) -> list[Cause]:
    policy = _mapping(template.get("spec")).get("restartPolicy")
    if policy in ("OnFailure", "Never"):
        return []
    return [
        Cause(
            "FieldValueNotSupported",
            f'Unsupported value: {_show(policy)}: supported values: "OnFailure", "Never"',
            f"{path}.spec.restartPolicy",
        )
    ]


def _job(obj: Mapping[str, Any]) -> list[Cause]:
    """Counts are not negative, pods restart OnFailure or Never, the selector selects the template."""
    spec = _mapping(obj.get("spec"))
    causes: list[Cause] = []
    for field in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ):
        causes += _not_negative(spec, field, "spec")
    template = _mapping(spec.get("template"))
    causes += _selector_causes(spec)
    causes += pod_spec_causes(_mapping(template.get("spec")), "spec.template.spec")
    return causes + _job_restart_policy(template, "spec.template")


_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-]+$")
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def _schedule_causes(schedule: Any) -> list[Cause]:
    if not isinstance(schedule, str) or not schedule.strip():
        return [Cause("FieldValueRequired", "Required value", "spec.schedule")]
    text = schedule.strip()
    if text.startswith("@"):
        if text in _CRON_DESCRIPTORS or text.startswith("@every "):
            return []
        problem = f"unrecognized descriptor: {text}"
    else:
        fields = text.split()
        if len(fields) != 5:
            problem = f"expected exactly 5 fields, found {len(fields)}: {text}"
        elif bad := [field for field in fields if not _CRON_FIELD.match(field)]:
            problem = f"failed to parse {bad[0]!r}"
        else:
            return []
    return [Cause("FieldValueInvalid", f"Invalid value: {_show(schedule)}: {problem}", "spec.schedule")]


def _cronjob(obj: Mapping[str, Any]) -> list[Cause]:
    spec = _mapping(obj.get("spec"))
    name = _mapping(obj.get("metadata")).get("name")
    causes: list[Cause] = []
    if isinstance(name, str) and len(name) > 52:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be no more than 52 characters',
                "metadata.name",
            )
        )
    causes += _schedule_causes(spec.get("schedule"))
    for field in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        causes += _not_negative(spec, field, "spec")
    template = _mapping(_mapping(_mapping(spec.get("jobTemplate")).get("spec")).get("template"))
    causes += pod_spec_causes(_mapping(template.get("spec")), "spec.jobTemplate.spec.template.spec")
    return causes + _job_restart_policy(template, "spec.jobTemplate.spec.template")


_RULES: dict[tuple[str, str], Rule] = {
    ("", "Pod"): _pod,
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "ReplicaSet"): _workload,
    ("apps", "DaemonSet"): _workload,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
}
