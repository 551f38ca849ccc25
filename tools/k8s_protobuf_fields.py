"""Generate ``src/infleet/apiserver/protobuf_fields.json``: the protobuf field table of the built-in kinds.

Kubernetes clients written in Go (kubectl's ``create`` generators, client-go typed clients) send
built-in objects as ``application/vnd.kubernetes.protobuf``. Decoding those bodies needs, for every
message, each field's number, wire type, JSON name and the Go shape behind it (a pointer keeps a zero
value, a non-pointer ``omitempty`` field drops it, a ``json:",inline"`` field merges into its parent).

All of that is written in one place upstream: the struct tags of the Go types, e.g.
``Replicas *int32 `json:"replicas,omitempty" protobuf:"varint,1,opt,name=replicas"```. The field
numbers are the ones ``generated.proto`` publishes (they are generated from these tags). This script
reads the ``types.go`` files of a checkout of ``k8s.io/api`` and ``k8s.io/apimachinery`` and writes the
table; the server reads nothing else. Run it again when a newer Kubernetes adds fields:

    python tools/k8s_protobuf_fields.py --api ~/src/k8s.io/api --apimachinery ~/src/k8s.io/apimachinery

Types whose JSON is not their message's (``Time``, ``MicroTime``, ``Duration``, ``IntOrString``,
``Quantity``, ``RawExtension``, ``FieldsV1``) are named, not described: the decoder knows their shape.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "infleet" / "apiserver" / "protobuf_fields.json"

# Go package (import path under its module) -> the short key the table names types by.
API_PACKAGES = [
    "core/v1",
    "apps/v1",
    "batch/v1",
    "rbac/v1",
    "networking/v1",
    "policy/v1",
    "scheduling/v1",
    "coordination/v1",
    "discovery/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "storage/v1",
    "events/v1",
    "authentication/v1",
    "authorization/v1",
    "node/v1",
]
MACHINERY_PACKAGES = {
    "pkg/apis/meta/v1": "meta/v1",
    "pkg/types": "types",
    "pkg/util/intstr": "intstr",
    "pkg/api/resource": "resource",
    "pkg/runtime": "runtime",
}
# Types the decoder renders itself (their JSON is not the JSON of their message).
SPECIAL = {
    "meta/v1.Time": "time",
    "meta/v1.MicroTime": "microtime",
    "meta/v1.Duration": "duration",
    "meta/v1.FieldsV1": "rawjson",
    "runtime.RawExtension": "rawjson",
    "intstr.IntOrString": "intorstring",
    "resource.Quantity": "quantity",
}
SCALARS = {"string", "bool", "int32", "int64", "uint32", "uint64", "float64", "float32"}
# Message kinds sent in request bodies besides the group versions' own kinds.
EXTRA_ROOTS = {"meta.k8s.io/v1": {"DeleteOptions": "meta/v1.DeleteOptions"}}

_TYPE_DECL = re.compile(r"^type\s+(\w+)\s+(=\s*)?(.+?)\s*(\{)?\s*$")
_FIELD = re.compile(r"^\s*(?:(\w+)\s+)?([\w.*\[\]]+)\s+`([^`]*)`")
_TAG = re.compile(r'(\w+):"([^"]*)"')
_IMPORT = re.compile(r'^\s*(?:import\s+)?(\w+\s+)?"([^"]+)"\s*$')


@dataclass
class GoField:
    name: str
    go_type: str
    tags: dict[str, str]


@dataclass
class GoPackage:
    key: str
    group: str | None = None
    structs: dict[str, list[GoField]] = field(default_factory=dict)
    named: dict[str, str] = field(default_factory=dict)  # type X <underlying>
    kinds: list[str] = field(default_factory=list)  # structs that embed TypeMeta
    imports: dict[str, dict[str, str]] = field(default_factory=dict)  # struct -> alias -> key


def _source_files(folder: Path) -> list[Path]:
    skip = ("_test.go", "generated.pb.go", "_generated.go")
    return sorted(
        p for p in folder.glob("*.go") if not p.name.endswith(skip) and not p.name.startswith("zz_generated")
    )


def _imports(lines: list[str], keys_by_path: dict[str, str]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    in_block = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("import ("):
            in_block = True
            continue
        if in_block and stripped == ")":
            in_block = False
            continue
        if in_block or stripped.startswith("import "):
            match = _IMPORT.match(stripped)
            if match and match.group(2) in keys_by_path:
                alias = (match.group(1) or "").strip() or match.group(2).rsplit("/", 1)[-1]
                aliases[alias] = keys_by_path[match.group(2)]
    return aliases


def _parse_field(line: str) -> GoField | None:
    """A struct field line (``Name Type `tags```, or an embedded ``pkg.Type `tags```)."""
    code = line.split("//", 1)[0] if "`" not in line else line
    match = _FIELD.match(code)
    if not match:
        return None
    go_type = match.group(2)
    name = match.group(1) or go_type.rsplit(".", 1)[-1].lstrip("*")
    return GoField(name, go_type, dict(_TAG.findall(match.group(3))))


def read_package(folder: Path, key: str, keys_by_path: dict[str, str]) -> GoPackage:
    package = GoPackage(key)
    for path in _source_files(folder):
        lines = path.read_text(encoding="utf-8").splitlines()
        aliases = _imports(lines, keys_by_path)
        struct: str | None = None
        for line in lines:
            if match := re.match(r'^const GroupName = "([^"]*)"', line):
                package.group = match.group(1)
            if struct is None:
                decl = _TYPE_DECL.match(line)
                if decl and decl.group(3) == "struct" and decl.group(4):
                    struct = decl.group(1)
                    package.structs[struct] = []
                    package.imports[struct] = aliases
                elif decl and not decl.group(4) and not decl.group(3).startswith(("interface", "func")):
                    package.named[decl.group(1)] = decl.group(3)
                    package.imports[decl.group(1)] = aliases
            elif line.startswith("}"):
                struct = None
            elif go_field := _parse_field(line):
                if go_field.go_type.endswith("TypeMeta") and not go_field.tags.get("protobuf"):
                    package.kinds.append(struct)
                package.structs[struct].append(go_field)
    return package


class TableBuilder:
    """Walks the types reachable from the kinds and describes each message's fields."""

    def __init__(self, packages: dict[str, GoPackage]) -> None:
        self.packages = packages
        self.messages: dict[str, list[list[object]]] = {}
        self._pending: list[str] = []

    def qualify(self, go_type: str, package: str, owner: str) -> str:
        if "." in go_type:
            alias, name = go_type.split(".", 1)
            imported = self.packages[package].imports[owner].get(alias)
            if imported is None:
                raise SystemExit(f"{package}.{owner}: unknown import {alias!r} in {go_type}")
            return f"{imported}.{name}"
        return go_type if go_type in SCALARS or go_type == "byte" else f"{package}.{go_type}"

    def resolve(self, go_type: str, package: str, owner: str, label: str) -> tuple[object, bool]:
        """The table's type for a Go type expression, and whether it is repeated on the wire."""
        if go_type == "[]byte":
            return "bytes", False
        if go_type.startswith("[]"):
            element, _ = self.resolve(go_type[2:].lstrip("*"), package, owner, "opt")
            return element, True
        if go_type.startswith("map["):
            return self._map(go_type, package, owner), True
        qualified = self.qualify(go_type, package, owner)
        if qualified in SCALARS or qualified in SPECIAL:
            return SPECIAL.get(qualified, qualified), False
        type_package, name = qualified.rsplit(".", 1)
        source = self.packages.get(type_package)
        if source is None:
            raise SystemExit(f"{package}.{owner}: type {qualified} is outside the packages read")
        if name in source.structs:
            if qualified not in self.messages and qualified not in self._pending:
                self._pending.append(qualified)
            return "@" + qualified, False
        underlying = source.named.get(name)
        if underlying is None:
            raise SystemExit(f"{package}.{owner}: cannot resolve {qualified}")
        resolved, repeated = self.resolve(underlying, type_package, name, label)
        if repeated and label == "opt" and not underlying.startswith("map["):
            # A named slice sent as one optional field is a message whose field 1 holds the items.
            return ["items", resolved], False
        return resolved, repeated

    def _map(self, go_type: str, package: str, owner: str) -> list[object]:
        key_type, value_type = re.fullmatch(r"map\[([^\]]+)\](.+)", go_type).groups()  # type: ignore[union-attr]
        key, _ = self.resolve(key_type, package, owner, "opt")
        # A named slice as a map value resolves to its "items" message, as gogo wraps it.
        value, _ = self.resolve(value_type, package, owner, "opt")
        return ["map", key, value]

    def describe(self, qualified: str) -> None:
        package, name = qualified.rsplit(".", 1)
        fields: list[list[object]] = []
        for go_field in self.packages[package].structs[name]:
            proto = go_field.tags.get("protobuf", "")
            if not proto or proto == "-":
                continue
            parts = proto.split(",")
            number = int(parts[1])
            label = next((p for p in parts[2:] if p in ("opt", "rep", "req")), "opt")
            json_tag = go_field.tags.get("json", go_field.name).split(",")
            json_name, options = json_tag[0], set(json_tag[1:])
            base = go_field.go_type.lstrip("*")
            table_type, repeated = self.resolve(base, package, name, label)
            flags = "".join(
                flag
                for flag, on in (
                    ("r", repeated),
                    ("p", go_field.go_type.startswith("*")),
                    ("o", "omitempty" in options),
                    ("z", "omitzero" in options),
                    ("i", not json_name),
                )
                if on
            )
            fields.append([number, json_name, table_type, flags])
        self.messages[qualified] = sorted(fields, key=lambda f: int(str(f[0])))

    def build(self, roots: list[str]) -> dict[str, list[list[object]]]:
        self._pending.extend(roots)
        while self._pending:
            qualified = self._pending.pop()
            if qualified not in self.messages:
                self.describe(qualified)
        return dict(sorted(self.messages.items()))


def _commit(folder: Path) -> str:
    """The checkout's tag (when HEAD is one) and commit, so the table says which release it describes."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, check=False
        )
        return result.stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    tag = git("describe", "--tags", "--exact-match")
    return f"{tag} ({commit})" if tag else commit


def _render(table: dict[str, dict[str, object]]) -> str:
    """Compact JSON with one kind version or message per line, so a regenerated table diffs well."""

    def compact(value: object) -> str:
        return json.dumps(value, separators=(",", ":"))

    sections = []
    for section, entries in table.items():
        lines = [f"{compact(name)}:{compact(value)}" for name, value in entries.items()]
        sections.append(f"{compact(section)}:{{\n" + ",\n".join(lines) + "\n}")
    return "{\n" + ",\n".join(sections) + "\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api", type=Path, required=True, help="a checkout of k8s.io/api")
    parser.add_argument("--apimachinery", type=Path, required=True, help="a checkout of k8s.io/apimachinery")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    keys_by_path = {f"k8s.io/api/{p}": p for p in API_PACKAGES}
    keys_by_path |= {f"k8s.io/apimachinery/{p}": k for p, k in MACHINERY_PACKAGES.items()}
    packages = {key: read_package(args.api / key, key, keys_by_path) for key in API_PACKAGES}
    for path, key in MACHINERY_PACKAGES.items():
        packages[key] = read_package(args.apimachinery / path, key, keys_by_path)
    kinds: dict[str, dict[str, str]] = {}
    for key in API_PACKAGES:
        package = packages[key]
        api_version = f"{package.group}/{key.split('/')[1]}" if package.group else "v1"
        for kind in package.kinds:
            if not kind.endswith("List"):
                kinds.setdefault(api_version, {})[kind] = f"{key}.{kind}"
    kinds |= EXTRA_ROOTS
    roots = [message for by_kind in kinds.values() for message in by_kind.values()]
    messages = TableBuilder(packages).build(roots)
    table = {
        "source": {
            "k8s.io/api": _commit(args.api),
            "k8s.io/apimachinery": _commit(args.apimachinery),
            "generator": "tools/k8s_protobuf_fields.py",
        },
        "kinds": {version: dict(sorted(by_kind.items())) for version, by_kind in sorted(kinds.items())},
        "messages": messages,
    }
    args.out.write_text(_render(table), encoding="utf-8")
    print(
        f"{len(messages)} messages, {sum(len(v) for v in kinds.values())} kinds -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
