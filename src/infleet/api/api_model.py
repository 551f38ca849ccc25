"""The base class of every Infleet API type: camelCase JSON names, Python names in code.

Spec and status models of all kinds derive from :class:`ApiModel`; ``infleet.api.crd`` reads their JSON
Schema (by alias) to generate CRDs, and controllers parse objects with ``model_validate``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Fields are snake_case in Python and camelCase on the wire; unknown fields are refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", use_attribute_docstrings=False
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON form as stored in the API: camelCase names, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
