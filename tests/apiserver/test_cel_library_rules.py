"""CRD rules written for kube-apiserver with the Kubernetes CEL libraries, driven by real kubectl and HTTP.

The schema follows Gateway API's style: addresses checked with ``isIP``, networks with ``cidr``, URLs with
``url``, sizes with ``quantity``, names with the format library.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.apiserver_harness import Kubectl, ServerThread

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

ROUTE_SPEC: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-validations": [
        {
            "rule": "!has(self.maxBodySize) || quantity(self.maxBodySize).isLessThan(quantity('64Mi'))",
            "message": "maxBodySize must be less than 64Mi",
            "fieldPath": ".maxBodySize",
        },
        {
            "rule": "self.ports.isSorted() && self.ports.min() > 0",
            "message": "ports must be sorted and positive",
        },
    ],
    "properties": {
        "hostname": {
            "type": "string",
            "x-kubernetes-validations": [
                {
                    "rule": "!format.dns1123Subdomain().validate(self).hasValue()",
                    "messageExpression": (
                        "'hostname: ' + format.dns1123Subdomain().validate(self).value().join(', ')"
                    ),
                }
            ],
        },
        "addresses": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"type": {"type": "string"}, "value": {"type": "string"}},
                "x-kubernetes-validations": [
                    {
                        "rule": "self.type != 'IPAddress' || isIP(self.value)",
                        "message": "value must be an IP address",
                    },
                    {
                        "rule": (
                            "self.type != 'IPAddress' || !isIP(self.value) "
                            "|| ip(self.value).isGlobalUnicast()"
                        ),
                        "message": "value must be a unicast address",
                    },
                ],
            },
        },
        "allowedSources": {
            "type": "array",
            "items": {
                "type": "string",
                "x-kubernetes-validations": [
                    {
                        "rule": "isCIDR(self) && cidr(self) == cidr(self).masked()",
                        "message": "must be a network address",
                    }
                ],
            },
        },
        "backendURL": {
            "type": "string",
            "x-kubernetes-validations": [
                {
                    "rule": "isURL(self) && url(self).getScheme() in ['http', 'https']",
                    "message": "must be an http(s) URL",
                }
            ],
        },
        "maxBodySize": {"type": "string"},
        "ports": {"type": "array", "items": {"type": "integer"}},
        "minVersion": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "semver(self, true).isGreaterThan(semver('1.0.0'))"}],
        },
    },
}

GOOD: dict[str, Any] = {
    "hostname": "api.example.com",
    "addresses": [{"type": "IPAddress", "value": "10.0.0.7"}, {"type": "Hostname", "value": "x.example.com"}],
    "allowedSources": ["10.0.0.0/8", "2001:db8::/32"],
    "backendURL": "https://backend.example.com:8443/v1",
    "maxBodySize": "8Mi",
    "ports": [80, 443],
    "minVersion": "v1.2",
}


def route_crd(group: str, spec: dict[str, Any] = ROUTE_SPEC) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"routes.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "routes", "singular": "route", "kind": "Route"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec}}},
                }
            ],
        },
    }


def route(group: str, name: str, **changes: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Route",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {**GOOD, **changes},
    }


def new_group() -> str:
    return f"libs{uuid.uuid4().hex[:6]}.example.com"


# ---- kubectl ------------------------------------------------------------------------------------


@pytest.mark.kubectl
def test_kubectl_accepts_a_valid_route_and_rejects_each_library_rule(kubectl: Kubectl) -> None:
    group = new_group()
    kubectl.run("apply", "-f", "-", input=json.dumps(route_crd(group)))
    kubectl.run("wait", "--for=condition=Established", f"crd/routes.{group}", "--timeout=30s")
    created = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(route(group, "good")))
    assert f"route.{group}/good created" in created.stdout

    bad = route(
        group,
        "bad",
        hostname="API_example",
        addresses=[{"type": "IPAddress", "value": "10.0.0"}, {"type": "IPAddress", "value": "127.0.0.1"}],
        allowedSources=["10.1.0.0/8"],
        backendURL="ftp://files.example.com",
        maxBodySize="1Gi",
        ports=[443, 80],
        minVersion="0.9",
    )
    result = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert result.returncode != 0
    error = result.stderr
    assert error.startswith('The Route "bad" is invalid: \n* '), error
    expected = [
        'spec.addresses[0]: Invalid value: "object": value must be an IP address',
        'spec.addresses[1]: Invalid value: "object": value must be a unicast address',
        'spec.allowedSources[0]: Invalid value: "string": must be a network address',
        'spec.backendURL: Invalid value: "string": must be an http(s) URL',
        'spec.hostname: Invalid value: "string": hostname: a lowercase RFC 1123 subdomain must consist of',
        'spec.maxBodySize: Invalid value: "object": maxBodySize must be less than 64Mi',
        'spec: Invalid value: "object": ports must be sorted and positive',
        'spec.minVersion: Invalid value: "string": '
        "failed rule: semver(self, true).isGreaterThan(semver('1.0.0'))",
    ]
    for line in expected:
        assert f"* {line}" in error, error
    assert "routes" not in kubectl.run("get", "routes", "-o", "name").stdout.replace(
        f"route.{group}/good", ""
    )


@pytest.mark.kubectl
def test_kubectl_refuses_a_crd_whose_rule_calls_an_unknown_function(kubectl: Kubectl) -> None:
    group = new_group()
    spec = {
        "type": "object",
        "properties": {
            "address": {"type": "string", "x-kubernetes-validations": [{"rule": "self.isIPv4Address()"}]}
        },
    }
    result = kubectl.run("apply", "-f", "-", input=json.dumps(route_crd(group, spec)), check=False)
    assert result.returncode != 0
    assert (
        f'The CustomResourceDefinition "routes.{group}" is invalid: '
        "spec.validation.openAPIV3Schema.properties[spec].properties[address]"
        ".x-kubernetes-validations[0].rule: "
        'Invalid value: "self.isIPv4Address()": compilation failed: '
        "ERROR: <input>: undeclared reference to 'isIPv4Address' (in container '')"
    ) in result.stderr
    assert kubectl.run("get", "crd", f"routes.{group}", check=False).returncode != 0


# ---- HTTP ---------------------------------------------------------------------------------------


@pytest.fixture
def api(plain_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=plain_server.url("hub"), timeout=20) as client:
        yield client


def test_http_a_library_error_at_run_time_is_422_naming_field_and_rule(api: httpx.Client) -> None:
    group = new_group()
    spec = {
        "type": "object",
        "properties": {
            "limit": {
                "type": "string",
                "x-kubernetes-validations": [{"rule": "quantity(self).isGreaterThan(quantity('0'))"}],
            },
            "address": {"type": "string", "x-kubernetes-validations": [{"rule": "ip(self).family() == 4"}]},
        },
    }
    assert api.post(CRDS, json=route_crd(group, spec)).status_code == 201
    path = f"/apis/{group}/v1/namespaces/default/routes"
    body = {"apiVersion": f"{group}/v1", "kind": "Route", "metadata": {"name": "r"}}
    response = api.post(path, json={**body, "spec": {"limit": "lots", "address": "::ffff:1.2.3.4"}})
    assert response.status_code == 422, response.text
    status = response.json()
    assert status["reason"] == "Invalid"
    causes = {cause["field"]: cause["message"] for cause in status["details"]["causes"]}
    assert causes == {
        "spec.limit": (
            'Invalid value: "string": quantities must match the regular expression '
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' evaluating rule: "
            "quantity(self).isGreaterThan(quantity('0'))"
        ),
        "spec.address": (
            'Invalid value: "string": IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed '
            "evaluating rule: ip(self).family() == 4"
        ),
    }
    accepted = api.post(path, json={**body, "spec": {"limit": "2", "address": "10.0.0.1"}})
    assert accepted.status_code == 201, accepted.text
