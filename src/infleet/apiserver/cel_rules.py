"""CRD ``x-kubernetes-validations``: compiling CEL rules once per schema and evaluating them per write.

CRD admission (``crds``) refuses rules that do not compile; :func:`admission.admit` calls :func:`evaluate`
for every custom-resource write, with the stored object on updates so transition rules see ``oldSelf``.
CEL is ``common-expression-language`` (cel-rust), not ``cel-python``: it gives cel-go's parse errors
(``ERROR: <input>:1:10: ...``), lists a program's variables (so ``oldSelf`` marks transition rules), has
optionals for ``optionalOldSelf``, ships type hints and ran our rules ~50x faster. Cost is bounded by an
estimate, not metered: see :func:`_estimated_cost`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cel

from infleet.apiserver.cel_library import Function
from infleet.apiserver.cel_programs import compile_program, comprehension_depth, execute, functions_called
from infleet.apiserver.cel_values import node_count, root_value, to_cel
from infleet.apiserver.errors import Cause

VALIDATIONS = "x-kubernetes-validations"
# kube-apiserver's limits (celconfig.PerCallLimit, RuntimeCELCostBudget), applied to our estimate.
PER_CALL_COST_LIMIT = 1_000_000
OBJECT_COST_BUDGET = 10_000_000
_MESSAGE_EXPRESSION_MAX = 5 * 1024
_REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired")
_FIELD_PATH_STEP = re.compile(r"\.([^.\[\]']+)|\['((?:\\.|[^'\\])*)'\]")
_MISSING: Any = object()


@dataclass(frozen=True)
class CompiledRule:
    """One ``x-kubernetes-validations`` entry, ready to run."""

    source: str
    program: cel.Program
    message: str
    message_expression: cel.Program | None
    reason: str
    field_path: tuple[tuple[str, bool], ...]  # (name, is a map key) steps below the node
    uses_old_self: bool
    optional_old_self: bool
    depth: int  # how deeply comprehensions nest: the exponent of the cost estimate
    # The library functions the rule and its messageExpression call.
    functions: dict[str, Function] = field(compare=False, hash=False)

    def __str__(self) -> str:
        """How kube-apiserver names a rule in errors: its message, else its text."""
        return self.message or self.source.strip()


@dataclass(frozen=True)
class RuleNode:
    """A schema node with rules on it or below it; subtrees without rules are left out."""

    schema: Mapping[str, Any]
    rules: tuple[CompiledRule, ...]
    properties: Mapping[str, RuleNode]
    additional: RuleNode | None
    items: RuleNode | None


@dataclass(frozen=True)
class CompiledValidations:
    """Every rule of one schema; ``causes`` (paths relative to the schema root) say what did not compile."""

    root: RuleNode | None
    causes: tuple[Cause, ...]


@dataclass
class Outcome:
    """What evaluating one object found: refusals, and ratcheted failures of unchanged values."""

    causes: list[Cause] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    budget: int = OBJECT_COST_BUDGET
    exhausted: bool = False


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _quote(text: str) -> str:
    return json.dumps(text)


def _refuse(causes: list[Cause], where: str, message: str, reason: str = "FieldValueInvalid") -> None:
    causes.append(Cause(reason, message, where))


# ---- compiling --------------------------------------------------------------------------------


def compile_validations(schema: Mapping[str, Any]) -> CompiledValidations:
    """The compiled rules of ``schema``; the same schema text compiles once (CRD check and serving)."""
    return _compile_text(json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str))


@functools.lru_cache(maxsize=256)
def _compile_text(text: str) -> CompiledValidations:
    causes: list[Cause] = []
    root = _compile_node(json.loads(text), "", causes)
    return CompiledValidations(root, tuple(causes))


def _compile_node(schema: Any, path: str, causes: list[Cause]) -> RuleNode | None:
    if not isinstance(schema, Mapping):
        return None
    rules = _compile_rules(schema, path, causes)
    properties: dict[str, RuleNode] = {}
    declared = schema.get("properties")
    if isinstance(declared, Mapping):
        for name, sub in declared.items():
            child = _compile_node(sub, _join(path, f"properties[{name}]"), causes)
            if child is not None:
                properties[name] = child
    additional = _compile_node(
        schema.get("additionalProperties"), _join(path, "additionalProperties"), causes
    )
    items = _compile_node(schema.get("items"), _join(path, "items"), causes)
    if not rules and not properties and additional is None and items is None:
        return None
    return RuleNode(schema, rules, properties, additional, items)


def _compile_rules(schema: Mapping[str, Any], path: str, causes: list[Cause]) -> tuple[CompiledRule, ...]:
    entries = schema.get(VALIDATIONS)
    where = _join(path, VALIDATIONS)
    if entries is None:
        return ()
    if not isinstance(entries, list):
        _refuse(causes, where, "Invalid value: must be a list of rules", "FieldValueTypeInvalid")
        return ()
    compiled = (_compile_rule(entry, schema, f"{where}[{i}]", causes) for i, entry in enumerate(entries))
    return tuple(rule for rule in compiled if rule is not None)


def _compile_rule(
    entry: Any, schema: Mapping[str, Any], where: str, causes: list[Cause]
) -> CompiledRule | None:
    source = entry.get("rule") if isinstance(entry, Mapping) else None
    if not isinstance(source, str) or not source.strip():
        _refuse(causes, f"{where}.rule", "Required value: rule is not specified", "FieldValueRequired")
        return None
    found = len(causes)
    program = _compile_expression(source, f"{where}.rule", causes)
    message_expression = _compile_message_expression(entry, where, causes)
    message = _checked_message(entry, where, causes)
    reason = _checked_reason(entry, where, causes)
    field_path = _checked_field_path(entry, schema, where, causes)
    uses_old_self = program is not None and "oldSelf" in program.variables()
    optional_old_self = entry.get("optionalOldSelf") is True
    if optional_old_self and program is not None and not uses_old_self:
        detail = "Invalid value: true: may not be set if the rule does not use oldSelf"
        _refuse(causes, f"{where}.optionalOldSelf", detail)
    if program is None or len(causes) > found:
        return None
    return CompiledRule(
        source, program, message, message_expression, reason, field_path, uses_old_self,
        optional_old_self, comprehension_depth(source), functions_called(program, message_expression),
    )  # fmt: skip


def _compile_expression(source: str, where: str, causes: list[Cause]) -> cel.Program | None:
    """A compiled program, or None and a cause carrying cel-go's ``ERROR: <input>:line:col`` text."""
    program, detail = compile_program(source)
    if program is None:
        _refuse(causes, where, f"Invalid value: {_quote(source)}: compilation failed: {detail}")
    return program


def _compile_message_expression(
    entry: Mapping[str, Any], where: str, causes: list[Cause]
) -> cel.Program | None:
    source = entry.get("messageExpression")
    if source is None or source == "":
        return None
    if not isinstance(source, str):
        _refuse(
            causes, f"{where}.messageExpression", "Invalid value: must be a string", "FieldValueTypeInvalid"
        )
        return None
    return _compile_expression(source, f"{where}.messageExpression", causes)


def _checked_message(entry: Mapping[str, Any], where: str, causes: list[Cause]) -> str:
    message = entry.get("message")
    if message is None:
        return ""
    if not isinstance(message, str) or "\n" in message:
        _refuse(causes, f"{where}.message", "Invalid value: message must be a string without line breaks")
        return ""
    return message.strip()


def _checked_reason(entry: Mapping[str, Any], where: str, causes: list[Cause]) -> str:
    reason = entry.get("reason")
    if reason is None:
        return "FieldValueInvalid"
    if reason not in _REASONS:
        supported = ", ".join(_quote(r) for r in _REASONS)
        detail = f"Unsupported value: {_quote(str(reason))}: supported values: {supported}"
        _refuse(causes, f"{where}.reason", detail, "FieldValueNotSupported")
        return "FieldValueInvalid"
    return str(reason)


def _checked_field_path(
    entry: Mapping[str, Any], schema: Mapping[str, Any], where: str, causes: list[Cause]
) -> tuple[tuple[str, bool], ...]:
    text = entry.get("fieldPath")
    if text is None or text == "":
        return ()
    try:
        return parse_field_path(str(text), schema)
    except ValueError as error:
        detail = f"Invalid value: {_quote(str(text))}: fieldPath must be a valid path: {error}"
        _refuse(causes, f"{where}.fieldPath", detail)
        return ()


def parse_field_path(text: str, schema: Mapping[str, Any]) -> tuple[tuple[str, bool], ...]:
    """``.spec.limits['gpu']`` under ``schema`` as steps; ValueError when it leaves the schema."""
    steps: list[tuple[str, bool]] = []
    position, node = 0, schema
    while position < len(text):
        match = _FIELD_PATH_STEP.match(text, position)
        if match is None:
            raise ValueError(f"expected [ or . but got: {text[position:]}")
        name = match.group(1) if match.group(1) is not None else re.sub(r"\\(.)", r"\1", match.group(2))
        node, is_key = _field_path_step(node, name)
        steps.append((name, is_key))
        position = match.end()
    return tuple(steps)


def _field_path_step(node: Mapping[str, Any], name: str) -> tuple[Mapping[str, Any], bool]:
    properties = node.get("properties")
    if isinstance(properties, Mapping) and properties:
        child = properties.get(name)
        if not isinstance(child, Mapping):
            raise ValueError("does not refer to a valid field")
        return child, False
    additional = node.get("additionalProperties")
    if isinstance(additional, Mapping):
        return additional, True
    raise ValueError("does not refer to a valid field")


# ---- evaluating -------------------------------------------------------------------------------


def evaluate(
    validations: CompiledValidations, obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> Outcome:
    """Run every rule whose value is present in ``obj``; ``old`` is the stored object on updates."""
    outcome = Outcome()
    if validations.root is not None:
        old_root = root_value(old) if old is not None else _MISSING
        _walk(validations.root, root_value(obj), old_root, "", outcome)
    return outcome


def _walk(node: RuleNode, value: Any, old: Any, path: str, outcome: Outcome) -> None:
    # Rules see only present, non-null values (kube-apiserver: a nullable field is checked from above).
    if value is None or outcome.exhausted:
        return
    if old is None:
        old = _MISSING
    if node.rules:
        _evaluate_node(node, value, old, path, outcome)
    if isinstance(value, dict):
        _walk_object(node, value, old, path, outcome)
    elif isinstance(value, list) and node.items is not None:
        _walk_items(node, node.items, value, old, path, outcome)


def _walk_object(node: RuleNode, value: dict[str, Any], old: Any, path: str, outcome: Outcome) -> None:
    old_map = old if isinstance(old, dict) else {}
    for name, child in node.properties.items():
        if name in value:
            _walk(child, value[name], old_map.get(name, _MISSING), _join(path, name), outcome)
    if node.additional is not None:
        for key, item in value.items():
            if key not in node.properties:
                _walk(node.additional, item, old_map.get(key, _MISSING), f"{path}[{key}]", outcome)


def _walk_items(
    node: RuleNode, items: RuleNode, value: list[Any], old: Any, path: str, outcome: Outcome
) -> None:
    old_items = _old_items_by_key(node.schema, old)
    for index, item in enumerate(value):
        previous = old_items.get(_item_key(node.schema, item), _MISSING) if old_items else _MISSING
        _walk(items, item, previous, f"{path}[{index}]", outcome)


def _old_items_by_key(schema: Mapping[str, Any], old: Any) -> dict[str, Any]:
    """Old items of a map list by their keys; other lists do not correlate, so their items get none."""
    keys = schema.get("x-kubernetes-list-map-keys")
    if (
        schema.get("x-kubernetes-list-type") != "map"
        or not isinstance(keys, list)
        or not isinstance(old, list)
    ):
        return {}
    return {_item_key(schema, item): item for item in old if isinstance(item, dict)}


def _item_key(schema: Mapping[str, Any], item: Any) -> str:
    keys = schema.get("x-kubernetes-list-map-keys")
    if not isinstance(item, dict) or not isinstance(keys, list):
        return ""
    return json.dumps([item.get(str(key)) for key in keys], default=str)


def _evaluate_node(node: RuleNode, value: Any, old: Any, path: str, outcome: Outcome) -> None:
    self_value = to_cel(value, node.schema)
    old_value = to_cel(old, node.schema) if old is not _MISSING else _MISSING
    size = node_count(value, PER_CALL_COST_LIMIT)
    old_size = node_count(old, PER_CALL_COST_LIMIT) if old is not _MISSING else 0
    type_name = _type_name(node.schema, value)
    for rule in node.rules:
        if rule.uses_old_self and old is _MISSING and not rule.optional_old_self:
            continue  # a transition rule needs a previous value to compare with
        cost = _estimated_cost(rule, size + (old_size if rule.uses_old_self else 0))
        if not _charge(outcome, rule, cost, path, type_name):
            return
        variables = _variables(rule, self_value, old_value)
        result, error = execute(rule.program, variables, rule.functions)
        if error is not None:
            detail = f"{error} evaluating rule: {rule}"
            outcome.causes.append(
                Cause("FieldValueInvalid", f"Invalid value: {_quote(type_name)}: {detail}", path)
            )
        elif result is not True:
            _fail(rule, variables, value, old, path, type_name, outcome)


def _estimated_cost(rule: CompiledRule, size: int) -> int:
    """An upper bound on the work of one evaluation: values' nodes to the power of the macro nesting.

    cel-rust neither meters nor interrupts an evaluation, so a rule is refused before it starts rather
    than stopped while it runs: ``self.all(a, self.all(b, ...))`` over 2,000 items is 4 million steps.
    """
    cost: int = (size + 1) ** max(1, rule.depth)
    return cost


def _charge(outcome: Outcome, rule: CompiledRule, cost: int, path: str, type_name: str) -> bool:
    if cost > PER_CALL_COST_LIMIT:
        detail = f"no further validation rules will be run due to call cost exceeds limit for rule: {rule}"
    elif cost > outcome.budget:
        detail = (
            "validation failed due to running out of cost budget, no further validation rules will be run"
        )
    else:
        outcome.budget -= cost
        return True
    outcome.causes.append(Cause("FieldValueInvalid", f"Invalid value: {_quote(type_name)}: {detail}", path))
    outcome.exhausted = True
    return False


def _variables(rule: CompiledRule, self_value: Any, old_value: Any) -> dict[str, Any]:
    variables = {"self": self_value}
    if rule.optional_old_self:
        present = old_value is not _MISSING
        variables["oldSelf"] = cel.OptionalValue.of(old_value) if present else cel.OptionalValue.none()
    elif rule.uses_old_self:
        variables["oldSelf"] = old_value
    return variables


def _fail(
    rule: CompiledRule,
    variables: dict[str, Any],
    value: Any,
    old: Any,
    path: str,
    type_name: str,
    outcome: Outcome,
) -> None:
    cause = _failure_cause(rule, _detail(rule, variables, outcome), _extend(path, rule.field_path), type_name)
    # Ratcheting (on by default since 1.30): an unchanged value that breaks a plain rule only warns.
    if not rule.uses_old_self and old is not _MISSING and old == value:
        outcome.warnings.append(f"{cause.field}: {cause.message}" if cause.field else cause.message)
    else:
        outcome.causes.append(cause)


def _detail(rule: CompiledRule, variables: dict[str, Any], outcome: Outcome) -> str:
    """The evaluated messageExpression when it yields a one-line string, else message or the rule."""
    default = rule.message or f"failed rule: {rule.source.strip()}"
    if rule.message_expression is None:
        return default
    result, error = execute(rule.message_expression, variables, rule.functions)
    outcome.budget -= 1
    if error is not None or not isinstance(result, str):
        return default
    text = result.strip()
    if not text or "\n" in text or len(text) > _MESSAGE_EXPRESSION_MAX:
        return default
    return text


def _failure_cause(rule: CompiledRule, detail: str, path: str, type_name: str) -> Cause:
    if rule.reason == "FieldValueForbidden":
        return Cause(rule.reason, f"Forbidden: {detail}", path)
    if rule.reason == "FieldValueRequired":
        return Cause(rule.reason, f"Required value: {detail}", path)
    if rule.reason == "FieldValueDuplicate":
        return Cause(rule.reason, f"Duplicate value: {_quote(type_name)}", path)
    return Cause("FieldValueInvalid", f"Invalid value: {_quote(type_name)}: {detail}", path)


def _extend(path: str, steps: tuple[tuple[str, bool], ...]) -> str:
    for name, is_key in steps:
        path = f"{path}[{name}]" if is_key else _join(path, name)
    return path


def _type_name(schema: Mapping[str, Any], value: Any) -> str:
    declared = schema.get("type")
    if isinstance(declared, str) and declared:
        return declared
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "number" if isinstance(value, float) else "string"
