"""Each shared word is defined once: kinds, well-known label and annotation keys, engine metric names and
instance shapes live in ``infleet.api`` and nowhere else in the source tree (nor in the benchmarks).

The scan reads string literals (docstrings excluded) from every module's syntax tree, so a key typed
inline, a second constant, or an instance type hard-coded beside the catalog all fail here.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from infleet.api import engine_metrics, kubernetes
from infleet.api.aitoolchain_io.v1 import model_deployment
from infleet.api.catalog import load_catalog
from infleet.api.resource_kind import ResourceKind

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "src" / "infleet").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")])
API = ROOT / "src" / "infleet" / "api"

# A qualified key: DNS-subdomain prefix, a slash, a name (or nothing: a prefix such as node-role's).
_KEY = re.compile(
    r"^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+(io|com|sh|org|dev|net|ai)/([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"
)
_API_VERSION = re.compile(r"/v\d+((alpha|beta)\d+)?$")
_METRIC_PREFIXES = (*engine_metrics.PREFIXES, "kaito_")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _literals(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in skip:
            if isinstance(node.value, str):
                yield node.lineno, node.value
            elif isinstance(node.value, bytes):
                yield node.lineno, node.value.decode("latin-1")


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_label_and_annotation_keys_are_spelled_only_in_api_labels() -> None:
    strays = [
        f"{_where(path, line)} {value!r}"
        for path in SOURCES
        # Cluster property names have the same form as label keys; fleet_properties is their one home.
        if path not in (API / "labels.py", API / "fleet_properties.py")
        for line, value in _literals(path)
        if _KEY.match(value) and not _API_VERSION.search(value)
    ]
    assert not strays, "import these keys from infleet.api.labels (add missing ones there):\n" + "\n".join(
        strays
    )


def test_every_key_in_api_labels_is_distinct_or_a_named_alias() -> None:
    values = [value for _, value in _literals(API / "labels.py")]
    assert [v for v, n in Counter(values).items() if n > 1] == []


def test_engine_metric_names_are_spelled_only_in_api_engine_metrics() -> None:
    strays = [
        f"{_where(path, line)} {value!r}"
        for path in SOURCES
        if path != API / "engine_metrics.py"
        for line, value in _literals(path)
        if value.startswith(_METRIC_PREFIXES) and len(value) > len("sglang:")
    ]
    assert not strays, "import these names from infleet.api.engine_metrics:\n" + "\n".join(strays)


def test_resource_kinds_are_constructed_only_in_the_api_and_each_once() -> None:
    defined: list[tuple[str, str]] = []
    strays = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ResourceKind":
                args = [a.value for a in node.args[:3] if isinstance(a, ast.Constant)]
                if len(args) < 3:
                    continue  # built from another description (a lightkube class), not a definition
                if not path.is_relative_to(API):
                    strays.append(_where(path, node.lineno))
                defined.append((args[0], args[2]))
    assert not strays, (
        "name kinds with constants from infleet.api (kubernetes.py or the group's module):\n"
        + ("\n".join(strays))
    )
    assert [kind for kind, n in Counter(defined).items() if n > 1] == []


def test_the_api_server_serves_builtin_kinds_from_the_same_constants() -> None:
    strays = [
        _where(path, node.lineno)
        for path in SOURCES
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "ResourceType"
        and any(k.arg == "kind" and isinstance(k.value, ast.Constant) for k in node.keywords)
    ]
    assert not strays, "build served types from infleet.api.kubernetes constants:\n" + "\n".join(strays)


def test_builtin_kinds_and_infleet_kinds_do_not_collide() -> None:
    kinds = [
        value
        for module in (kubernetes, model_deployment)
        for value in vars(module).values()
        if isinstance(value, ResourceKind)
    ]
    # One kind may be served in several versions (autoscaling v1 and v2); no two kinds share a name.
    assert len({(k.group, k.version, k.kind) for k in kinds}) == len(kinds)
    assert len({(k.group, k.version, k.plural) for k in kinds}) == len(kinds)
    assert len({(k.group, k.kind) for k in kinds}) == len({(k.group, k.plural) for k in kinds})


def test_instance_shapes_live_only_in_the_catalog() -> None:
    names = {shape.name for shape in load_catalog().instance_types}
    assert "p5.48xlarge" in names
    strays = [
        f"{_where(path, line)} {value!r}"
        for path in SOURCES
        for line, value in _literals(path)
        if value in names
    ]
    assert not strays, "read instance types from infleet/api/catalog/instance_types.yaml:\n" + "\n".join(
        strays
    )
