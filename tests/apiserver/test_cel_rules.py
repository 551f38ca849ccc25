"""CRD ``x-kubernetes-validations``: the rules module, then the same rules over HTTP and through kubectl."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from infleet.apiserver.cel_rules import (
    CompiledValidations,
    Outcome,
    compile_validations,
    evaluate,
)
from infleet.apiserver.errors import Cause
from tests.apiserver_harness import Kubectl, ServerThread

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
MERGE = {"Content-Type": "application/merge-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}

SPEC: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-validations": [
        {
            "rule": "!(self.placementType == 'PickFixed' && has(self.affinity))",
            "message": "affinity may not be set when placementType is PickFixed",
        },
        {"rule": "self.cluster == oldSelf.cluster", "message": "cluster is immutable"},
        {"rule": "oldSelf.names.all(x, x in self.names)", "message": "names may only be added"},
    ],
    "properties": {
        "placementType": {"type": "string"},
        "affinity": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "cluster": {"type": "string"},
        "names": {"type": "array", "items": {"type": "string"}},
        "replicas": {
            "type": "integer",
            "x-kubernetes-validations": [
                {"rule": "self <= 10", "messageExpression": "'replicas ' + string(self) + ' is more than 10'"}
            ],
        },
        "ratio": {"type": "number", "x-kubernetes-validations": [{"rule": "self <= 1.0"}]},
        "tags": {
            "type": "array",
            "items": {
                "type": "string",
                "x-kubernetes-validations": [
                    {"rule": "self.matches('^[a-z]+$')", "reason": "FieldValueForbidden"}
                ],
            },
        },
        "limits": {
            "type": "object",
            "additionalProperties": {"type": "integer", "x-kubernetes-validations": [{"rule": "self > 0"}]},
        },
        "servers": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.port == oldSelf.port", "message": "port is immutable"}
                ],
                "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
            },
        },
        "plain": {
            "type": "array",
            "items": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.port == oldSelf.port", "message": "never correlated"}
                ],
                "properties": {"port": {"type": "integer"}},
            },
        },
    },
}
SCHEMA: dict[str, Any] = {"type": "object", "properties": {"spec": SPEC}}


KEPT: dict[str, Any] = {"cluster": "c", "names": []}  # what the spec's transition rules read


def obj(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "x.example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec}


def compiled(schema: dict[str, Any] = SCHEMA) -> CompiledValidations:
    found = compile_validations(schema)
    assert found.causes == ()
    return found


def check(new: dict[str, Any], old: dict[str, Any] | None = None, schema: dict[str, Any] = SCHEMA) -> Outcome:
    return evaluate(compiled(schema), new, old)


def fields(outcome: Outcome) -> dict[str, str]:
    return {cause.field: cause.message for cause in outcome.causes}


def rules_schema(*rules: dict[str, Any], **properties: Any) -> dict[str, Any]:
    spec = {"type": "object", "x-kubernetes-validations": list(rules), "properties": properties}
    return {"type": "object", "properties": {"spec": spec}}


# ---- evaluating ---------------------------------------------------------------------------------


def test_a_passing_object_has_no_causes() -> None:
    outcome = check(obj(placementType="PickN", affinity={"a": 1}, cluster="c", replicas=3, tags=["ab"]))
    assert outcome.causes == []
    assert outcome.warnings == []


def test_a_failing_rule_is_invalid_at_its_node_with_its_message() -> None:
    outcome = check(obj(placementType="PickFixed", affinity={}))
    assert outcome.causes == [
        Cause(
            "FieldValueInvalid",
            'Invalid value: "object": affinity may not be set when placementType is PickFixed',
            "spec",
        )
    ]


def test_without_a_message_the_rule_is_quoted() -> None:
    outcome = check(obj(ratio=1.5))
    assert fields(outcome) == {"spec.ratio": 'Invalid value: "number": failed rule: self <= 1.0'}


def test_message_expression_is_evaluated_and_falls_back_when_it_fails() -> None:
    assert fields(check(obj(replicas=12))) == {
        "spec.replicas": 'Invalid value: "integer": replicas 12 is more than 10'
    }
    failing = rules_schema(
        {"rule": "self.n < 1", "message": "n too big", "messageExpression": "self.missing"},
        {"rule": "self.n < 1", "messageExpression": "'   '"},
        n={"type": "integer"},
    )
    assert [c.message for c in check(obj(n=2), schema=failing).causes] == [
        'Invalid value: "object": n too big',
        'Invalid value: "object": failed rule: self.n < 1',
    ]


def test_field_path_moves_the_cause_to_a_field_or_a_map_key() -> None:
    schema = rules_schema(
        {"rule": "self.min <= self.max", "fieldPath": ".max", "message": "max below min"},
        {"rule": "self.caps.all(k, self.caps[k] < 8)", "fieldPath": ".caps['gpu']"},
        min={"type": "integer"},
        max={"type": "integer"},
        caps={"type": "object", "additionalProperties": {"type": "integer"}},
    )
    outcome = check(obj(min=3, max=1, caps={"gpu": 9}), schema=schema)
    assert set(fields(outcome)) == {"spec.max", "spec.caps[gpu]"}


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("FieldValueForbidden", "Forbidden: failed rule: self.n < 1"),
        ("FieldValueRequired", "Required value: failed rule: self.n < 1"),
        ("FieldValueDuplicate", 'Duplicate value: "object"'),
        ("FieldValueInvalid", 'Invalid value: "object": failed rule: self.n < 1'),
    ],
)
def test_reason_sets_the_cause_type_and_wording(reason: str, message: str) -> None:
    schema = rules_schema({"rule": "self.n < 1", "reason": reason}, n={"type": "integer"})
    assert check(obj(n=2), schema=schema).causes == [Cause(reason, message, "spec")]


def test_item_and_additional_property_rules_run_per_element() -> None:
    outcome = check(obj(tags=["ok", "Bad", "fine", "no-dash"], limits={"gpu": 1, "cpu": 0}))
    assert fields(outcome) == {
        "spec.tags[1]": "Forbidden: failed rule: self.matches('^[a-z]+$')",
        "spec.tags[3]": "Forbidden: failed rule: self.matches('^[a-z]+$')",
        "spec.limits[cpu]": 'Invalid value: "integer": failed rule: self > 0',
    }


def test_transition_rules_run_on_update_only_and_only_against_an_old_value() -> None:
    assert check(obj(cluster="a", names=["x"])).causes == []  # create: no oldSelf
    changed = check(obj(cluster="b", names=["x"]), old=obj(cluster="a", names=["x", "y"]))
    assert [c.message for c in changed.causes] == [
        'Invalid value: "object": cluster is immutable',
        'Invalid value: "object": names may only be added',
    ]
    assert check(obj(cluster="a", names=["x", "y", "z"]), old=obj(cluster="a", names=["x", "y"])).causes == []
    # The old spec had no cluster: a rule reading oldSelf.cluster fails on the missing key, as in Kubernetes.
    assert "no such key: cluster" in fields(check(obj(cluster="b", names=[]), old=obj(names=[])))["spec"]


def test_map_list_items_correlate_by_key_and_plain_list_items_never() -> None:
    old = obj(servers=[{"name": "a", "port": 1}, {"name": "b", "port": 2}], plain=[{"port": 1}], **KEPT)
    new = obj(
        servers=[{"name": "b", "port": 2}, {"name": "a", "port": 9}, {"name": "c", "port": 3}],
        plain=[{"port": 5}],
        **KEPT,
    )
    assert fields(check(new, old=old)) == {"spec.servers[1]": 'Invalid value: "object": port is immutable'}


def test_optional_old_self_runs_on_create_with_an_empty_optional() -> None:
    schema = rules_schema(
        {"rule": "!oldSelf.hasValue() || self.level >= oldSelf.value().level", "optionalOldSelf": True},
        level={"type": "integer"},
    )
    assert check(obj(level=1), schema=schema).causes == []
    assert check(obj(level=3), old=obj(level=2), schema=schema).causes == []
    assert len(check(obj(level=1), old=obj(level=2), schema=schema).causes) == 1
    no_value = rules_schema(
        {"rule": "oldSelf.hasValue()", "optionalOldSelf": True}, level={"type": "integer"}
    )
    assert len(check(obj(level=1), schema=no_value).causes) == 1  # so it did run on create


def test_an_unchanged_value_that_breaks_a_plain_rule_only_warns() -> None:
    outcome = check(obj(ratio=2.0, replicas=1, **KEPT), old=obj(ratio=2.0, replicas=0, **KEPT))
    assert outcome.causes == []
    assert outcome.warnings == ['spec.ratio: Invalid value: "number": failed rule: self <= 1.0']


def test_runtime_errors_are_causes_not_exceptions() -> None:
    schema = rules_schema(
        {"rule": "self.nope == 1"},
        {"rule": "self.n / 0 == 1"},
        {"rule": "self.n + 'a' == 'b'"},
        n={"type": "integer"},
    )
    messages = [c.message for c in check(obj(n=1), schema=schema).causes]
    assert messages[0] == 'Invalid value: "object": no such key: nope evaluating rule: self.nope == 1'
    assert "division by zero" in messages[1]
    assert messages[2].endswith("evaluating rule: self.n + 'a' == 'b'")


def test_values_are_typed_by_the_schema_and_names_escaped() -> None:
    schema = rules_schema(
        {"rule": "self.ratio == 1.0 && self.count == 2 && type(self.count) == int"},
        {"rule": "self.port == 80 || self.port == 'http'"},
        {"rule": "self.__namespace__ == 'ns' && self.max__dash__size == 1 && self.free.any == [1]"},
        ratio={"type": "number"},
        count={"type": "integer"},
        port={"x-kubernetes-int-or-string": True},
        namespace={"type": "string"},
        **{"max-size": {"type": "integer"}},
        free={"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    )
    good = {"ratio": 1, "count": 2.0, "namespace": "ns", "max-size": 1, "free": {"any": [1]}}
    assert check(obj(port=80, **good), schema=schema).causes == []
    assert check(obj(port="http", **good), schema=schema).causes == []


def test_kubernetes_rule_vocabulary() -> None:
    schema = rules_schema(
        {"rule": "size(self.xs) == 3 && self.xs.size() == 3 && self.s.size() == 5"},
        {"rule": "self.xs.exists(x, x == 2) && self.xs.exists_one(x, x > 2) && !self.xs.all(x, x > 1)"},
        {"rule": "self.xs.map(x, x * 2) == [2, 4, 6] && self.xs.filter(x, x > 1) == [2, 3]"},
        {"rule": "2 in self.xs && 'k' in self.m && self.m.k == 'v' && self.m == {'k': 'v'}"},
        {"rule": "self.s.startsWith('he') && self.s.endsWith('lo') && self.s.contains('ll')"},
        {"rule": "self.s.matches('^h[a-z]+$') && self.s < 'world' && self.s.lowerAscii() == 'hello'"},
        {"rule": "has(self.m) && !has(self.absent) && self.xs[0] < self.xs[1]"},
        xs={"type": "array", "items": {"type": "integer"}},
        s={"type": "string"},
        m={"type": "object", "additionalProperties": {"type": "string"}},
        absent={"type": "string"},
    )
    assert check(obj(xs=[1, 2, 3], s="hello", m={"k": "v"}), schema=schema).causes == []
    assert len(check(obj(xs=[1, 2, 4], s="Hello", m={"k": "v"}), schema=schema).causes) == 3  # map, s twice


def test_root_rules_see_name_but_not_the_rest_of_metadata() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.metadata.name.startsWith('t')", "message": "name must start with t"},
            {"rule": "!has(self.metadata.labels)"},
        ],
    }
    thing = obj()
    thing["metadata"]["labels"] = {"a": "b"}
    assert check(thing, schema=schema).causes == []
    thing["metadata"]["name"] = "x"
    assert check(thing, schema=schema).causes == [
        Cause("FieldValueInvalid", 'Invalid value: "object": name must start with t', "")
    ]


def test_absent_and_null_values_are_not_checked() -> None:
    schema = rules_schema(
        n={"type": "integer", "nullable": True, "x-kubernetes-validations": [{"rule": "self > 5"}]}
    )
    assert check(obj(), schema=schema).causes == []
    assert check(obj(n=None), schema=schema).causes == []
    assert len(check(obj(n=1), schema=schema).causes) == 1


def test_nested_comprehensions_over_a_big_list_are_refused_before_they_run() -> None:
    schema = rules_schema(
        {"rule": "self.xs.all(a, self.xs.all(b, self.xs.all(c, a + b + c >= 0)))"},
        xs={"type": "array", "items": {"type": "integer"}},
    )
    assert check(obj(xs=list(range(20))), schema=schema).causes == []
    big = check(obj(xs=list(range(200))), schema=schema)
    assert len(big.causes) == 1
    assert "call cost exceeds limit" in big.causes[0].message


def test_many_cheap_evaluations_share_one_budget() -> None:
    # Each item may cost up to 900^2 (two nested macros over 900 values) but ends at once: exists.
    rule = {"rule": "self.xs.exists(a, self.xs.exists(b, a == b))"}
    per_item = {"type": "object", "x-kubernetes-validations": [rule]}
    per_item["properties"] = {"xs": {"type": "array", "items": {"type": "integer"}}}
    schema = rules_schema(items={"type": "array", "items": per_item})
    row = {"xs": list(range(900))}
    assert check(obj(items=[row] * 5), schema=schema).causes == []
    outcome = check(obj(items=[row] * 20), schema=schema)
    assert len(outcome.causes) == 1
    assert outcome.causes[0].field == "spec.items[12]"  # 12 items fit the 10 million budget, not 13
    assert "running out of cost budget" in outcome.causes[0].message


def test_the_same_schema_compiles_once() -> None:
    assert compile_validations(copy.deepcopy(SCHEMA)) is compile_validations(copy.deepcopy(SCHEMA))


# ---- compiling ----------------------------------------------------------------------------------


def test_a_syntax_error_names_the_rule_with_cel_go_text() -> None:
    found = compile_validations(rules_schema({"rule": "self.n =="}))
    assert [c.field for c in found.causes] == ["properties[spec].x-kubernetes-validations[0].rule"]
    assert "compilation failed: ERROR: <input>:1:10: Syntax error" in found.causes[0].message


@pytest.mark.parametrize(
    ("rule", "where", "says"),
    [
        ({"rule": "slef.n == 1"}, "rule", "undeclared reference to 'slef'"),
        ({"rule": ""}, "rule", "Required value"),
        ({"rule": "true", "messageExpression": "'a' +"}, "messageExpression", "compilation failed"),
        ({"rule": "true", "reason": "Wrong"}, "reason", 'Unsupported value: "Wrong"'),
        ({"rule": "true", "fieldPath": ".nope"}, "fieldPath", "does not refer to a valid field"),
        ({"rule": "true", "fieldPath": "n"}, "fieldPath", "expected [ or . but got: n"),
        ({"rule": "self.n > 0", "optionalOldSelf": True}, "optionalOldSelf", "does not use oldSelf"),
        ({"rule": "true", "message": "two\nlines"}, "message", "without line breaks"),
    ],
)
def test_a_bad_rule_entry_names_its_field(rule: dict[str, Any], where: str, says: str) -> None:
    found = compile_validations(rules_schema(rule, n={"type": "integer"}))
    assert len(found.causes) == 1
    assert found.causes[0].field == f"properties[spec].x-kubernetes-validations[0].{where}"
    assert says in found.causes[0].message
    assert found.root is None  # a rule that does not compile is never run


def test_bound_variables_and_type_names_are_not_undeclared() -> None:
    schema = rules_schema(
        {"rule": "self.xs.all(x, self.xs.exists(y, x == y)) && type(self.xs) == list"},
        {"rule": "self.xs.map(x, x > 0, x).size() >= 0 && math.greatest([1, 2]) == 2"},
        xs={"type": "array", "items": {"type": "integer"}},
    )
    assert check(obj(xs=[1, 2]), schema=schema).causes == []


# ---- over HTTP ----------------------------------------------------------------------------------


def thing_crd(group: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    status = {"type": "object", "properties": {"observed": {"type": "integer"}}}
    status["x-kubernetes-validations"] = [
        {"rule": "self.observed >= oldSelf.observed", "message": "observed went back"}
    ]
    root = schema or {"type": "object", "properties": {"spec": SPEC, "status": status}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"things.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "things", "singular": "thing", "kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def thing(group: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{group}/v1", "kind": "Thing", "metadata": {"name": name}, "spec": spec}


@pytest.fixture(scope="module")
def group(plain_server: ServerThread) -> str:
    name = f"cel{uuid.uuid4().hex[:6]}.example.com"
    with httpx.Client(base_url=plain_server.url("hub"), timeout=10) as client:
        response = client.post(CRDS, json=thing_crd(name))
        assert response.status_code == 201, response.text
    return name


@pytest.fixture
def api(plain_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=plain_server.url("hub"), timeout=10) as client:
        yield client


def things(group: str) -> str:
    return f"/apis/{group}/v1/namespaces/default/things"


def causes(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["reason"] == "Invalid"
    return {cause.get("field", ""): cause["message"] for cause in body["details"]["causes"]}


def test_http_a_bad_object_is_422_naming_the_field_and_a_good_one_is_201(
    api: httpx.Client, group: str
) -> None:
    bad = thing(
        group, "bad", placementType="PickFixed", affinity={"zone": "a"}, tags=["ok", "NO"], replicas=20
    )
    found = causes(api.post(things(group), json=bad))
    assert found == {
        "spec": 'Invalid value: "object": affinity may not be set when placementType is PickFixed',
        "spec.replicas": 'Invalid value: "integer": replicas 20 is more than 10',
        "spec.tags[1]": "Forbidden: failed rule: self.matches('^[a-z]+$')",
    }
    message = api.post(things(group), json=bad).json()["message"]
    assert message.startswith(
        'Thing "bad" is invalid: spec: Invalid value: "object": affinity may not be set'
    )
    good = thing(group, "good", placementType="PickFixed", cluster="east", names=["a"], replicas=2)
    assert api.post(things(group), json=good).status_code == 201, api.post(things(group), json=good).text


def test_http_updates_see_old_self_through_put_patch_and_apply(api: httpx.Client, group: str) -> None:
    created = api.post(things(group), json=thing(group, "immutable", cluster="east", names=["a"]))
    assert created.status_code == 201, created.text
    path = f"{things(group)}/immutable"
    moved = created.json()
    moved["spec"]["cluster"] = "west"
    assert causes(api.put(path, json=moved)) == {"spec": 'Invalid value: "object": cluster is immutable'}
    patch = {"spec": {"names": []}}
    assert causes(api.patch(path, json=patch, headers=MERGE)) == {
        "spec": 'Invalid value: "object": names may only be added'
    }
    applied = yaml.safe_dump(thing(group, "immutable", cluster="west", names=["a"]))
    response = api.patch(
        path, content=applied, headers=APPLY, params={"fieldManager": "test", "force": "true"}
    )
    assert causes(response) == {"spec": 'Invalid value: "object": cluster is immutable'}
    grown = api.patch(path, json={"spec": {"names": ["a", "b"]}}, headers=MERGE)
    assert grown.status_code == 200, grown.text
    assert api.get(path).json()["spec"] == {"cluster": "east", "names": ["a", "b"]}


def test_http_status_updates_run_transition_rules_on_status(api: httpx.Client, group: str) -> None:
    assert api.post(things(group), json=thing(group, "progress", **KEPT)).status_code == 201
    path = f"{things(group)}/progress/status"
    assert api.patch(path, json={"status": {"observed": 3}}, headers=MERGE).status_code == 200
    found = causes(api.patch(path, json={"status": {"observed": 2}}, headers=MERGE))
    assert found == {"status": 'Invalid value: "object": observed went back'}
    assert api.patch(path, json={"status": {"observed": 4}}, headers=MERGE).status_code == 200


def test_http_a_rule_failing_at_run_time_is_422_not_500(api: httpx.Client) -> None:
    group = f"cel{uuid.uuid4().hex[:6]}.example.com"
    schema = rules_schema(
        {"rule": "self.limits.gpu > 0"},
        limits={"type": "object", "additionalProperties": {"type": "integer"}},
    )
    assert api.post(CRDS, json=thing_crd(group, schema)).status_code == 201
    found = causes(api.post(things(group), json=thing(group, "x", limits={"cpu": 1})))
    assert found == {"spec": 'Invalid value: "object": no such key: gpu evaluating rule: self.limits.gpu > 0'}


def test_http_a_crd_with_a_rule_that_does_not_compile_is_422(api: httpx.Client) -> None:
    group = f"cel{uuid.uuid4().hex[:6]}.example.com"
    broken = rules_schema({"rule": "self.placementType == 'PickFixed' &&"}, placementType={"type": "string"})
    found = causes(api.post(CRDS, json=thing_crd(group, broken)))
    where = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    assert list(found) == [where]
    assert "compilation failed: ERROR: <input>:1:37: Syntax error" in found[where]
    assert api.get(f"{CRDS}/things.{group}").status_code == 404


def test_http_a_crd_update_that_breaks_a_rule_is_422(api: httpx.Client, group: str) -> None:
    crd = api.get(f"{CRDS}/things.{group}").json()
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["x-kubernetes-validations"][0]["rule"] = "self.nope("
    assert "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule" in causes(
        api.put(f"{CRDS}/things.{group}", json=crd)
    )


# ---- kubectl ------------------------------------------------------------------------------------


@pytest.mark.kubectl
def test_kubectl_prints_the_rule_message(kubectl: Kubectl, tmp_path: Path) -> None:
    group = f"cel{uuid.uuid4().hex[:6]}.example.com"
    kubectl.run("apply", "-f", "-", input=json.dumps(thing_crd(group)))
    kubectl.run("wait", "--for=condition=Established", f"crd/things.{group}", "--timeout=20s")
    bad = thing(group, "kubectl-bad", placementType="PickFixed", affinity={"zone": "a"})
    result = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert result.returncode != 0
    assert (
        'The Thing "kubectl-bad" is invalid: spec: Invalid value: "object": affinity may not be set'
        in result.stderr
    )
    good = thing(group, "kubectl-good", cluster="east", names=["a"])
    assert "created" in kubectl.run("apply", "-f", "-", input=yaml.safe_dump(good)).stdout
    good["spec"]["cluster"] = "west"
    result = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(good), check=False)
    assert result.returncode != 0
    assert "cluster is immutable" in result.stderr


def test_http_rules_are_not_run_over_values_of_the_wrong_type(api: httpx.Client, group: str) -> None:
    found = causes(api.post(things(group), json=thing(group, "typed", replicas="many", **KEPT)))
    assert set(found) == {"spec.replicas", ""}
    assert found[""].endswith(
        "some validation rules were not checked because the object was invalid; "
        "correct the existing errors to complete validation"
    )
