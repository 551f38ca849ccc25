"""The generic CRD generator: pydantic models become structural schemas Kubernetes accepts."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import (
    CRDInfo,
    PrinterColumn,
    ScaleSubresource,
    custom_resource_definition,
    structural_schema,
)
from infleet.api.resource_kind import ResourceKind
from infleet.apiserver.structural import check_structural


class Inner(ApiModel):
    """An inner object."""

    size_gib: float = Field(gt=0, description="Size in GiB.")


class Sample(ApiModel):
    name: str = Field(min_length=1, description="The name.")
    mode: Literal["a", "b"] = Field(default="a", description="Mode.")
    count: int = Field(default=2, ge=0, le=10)
    surge: int | str | None = Field(default=None, description="Count or percentage.")
    inner: Inner | None = None
    tags: dict[str, str] | None = None
    free: dict[str, Any] | None = None
    anything: Any = None
    items: list[Inner] | None = None
    conditions: Conditions | None = None


def test_schema_keeps_descriptions_bounds_enums_defaults_and_required() -> None:
    schema = structural_schema(Sample)
    props = schema["properties"]
    assert schema["required"] == ["name"]
    assert props["name"] == {"type": "string", "description": "The name.", "minLength": 1}
    assert props["mode"]["enum"] == ["a", "b"]
    assert props["mode"]["default"] == "a"
    assert (props["count"]["minimum"], props["count"]["maximum"], props["count"]["default"]) == (0, 10, 2)
    # pydantic's numeric exclusiveMinimum becomes OpenAPI v3.0's boolean form.
    size = props["inner"]["properties"]["sizeGib"]
    assert (size["type"], size["minimum"], size["exclusiveMinimum"]) == ("number", 0, True)
    assert props["inner"]["description"] == "An inner object."


def test_schema_int_or_string_free_form_maps_and_list_maps() -> None:
    props = structural_schema(Sample)["properties"]
    assert props["surge"] == {"description": "Count or percentage.", "x-kubernetes-int-or-string": True}
    assert props["tags"]["additionalProperties"] == {"type": "string"}
    assert props["free"]["x-kubernetes-preserve-unknown-fields"] is True
    assert props["anything"] == {"x-kubernetes-preserve-unknown-fields": True}
    assert props["items"]["items"]["properties"]["sizeGib"]["type"] == "number"
    conditions = props["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert conditions["items"]["required"] == ["type", "status"]


def test_union_without_structural_form_is_refused_with_the_fix() -> None:
    class Bad(BaseModel):
        value: int | list[str]

    with pytest.raises(ValueError, match=r"Bad\.value: .*int \| str"):
        structural_schema(Bad)


def test_crd_has_subresources_columns_and_names_and_passes_the_structural_check() -> None:
    info = CRDInfo(
        resource=ResourceKind("example.io", "v1alpha1", "Sample", "samples"),
        short_names=("sm",),
        categories=("infleet",),
        printer_columns=(PrinterColumn("Mode", "string", ".spec.mode"),),
        scale=ScaleSubresource(),
    )
    crd = custom_resource_definition(info, Sample, Inner)
    assert crd["metadata"]["name"] == "samples.example.io"
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    columns = version["additionalPrinterColumns"]
    assert columns == [{"name": "Mode", "type": "string", "jsonPath": ".spec.mode"}]
    assert crd["spec"]["names"]["shortNames"] == ["sm"]
    assert crd["spec"]["names"]["categories"] == ["infleet"]
    assert check_structural(version["schema"]["openAPIV3Schema"], "spec.validation.openAPIV3Schema") == []
