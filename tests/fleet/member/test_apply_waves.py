"""KubeFleet's wave order."""

from __future__ import annotations

from infleet.fleet.member.apply_waves import UNKNOWN_WAVE, in_waves, wave_of


def test_namespaces_come_first_workloads_late_and_unknown_kinds_last() -> None:
    order = [
        ("aitoolchain.io", "ModelDeployment"),
        ("apps", "Deployment"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("", "ConfigMap"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("", "Namespace"),
        ("rbac.authorization.k8s.io", "Role"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("", "Service"),
    ]
    waves = in_waves(order, key=lambda item: item)
    assert waves == [
        [("", "Namespace")],
        [("", "ConfigMap"), ("apiextensions.k8s.io", "CustomResourceDefinition")],
        [("rbac.authorization.k8s.io", "Role")],
        [("rbac.authorization.k8s.io", "RoleBinding")],
        [("apps", "Deployment"), ("", "Service")],
        [("admissionregistration.k8s.io", "ValidatingWebhookConfiguration")],
        [("aitoolchain.io", "ModelDeployment")],
    ]


def test_the_group_matters_not_only_the_kind() -> None:
    assert wave_of("example.com", "Deployment") == UNKNOWN_WAVE
    assert wave_of("apps", "Deployment") < UNKNOWN_WAVE
