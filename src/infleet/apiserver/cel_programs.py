"""One CEL expression as kube-apiserver treats it: compiled with cel-go's errors, run without raising.

cel-rust parses but has no type checker, so what kube-apiserver's checker refuses at CRD creation is
refused here from the parse: names that are not variables, and functions no library provides.
"""

from __future__ import annotations

import re
from typing import Any

import cel

from infleet.apiserver.cel_library import (
    NAMESPACES,
    Function,
    error_text,
    functions_for,
    undeclared_functions,
)

_MACROS = r"(?:all|exists|exists_one|map|filter|transformList|transformMap|transformMapEntry)"
# Names that compile without being variables: type names for type() and the library namespaces.
_KNOWN_NAMES = NAMESPACES | frozenset(
    {"self", "oldSelf", "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type",
     "type"}
)  # fmt: skip
_BOUND = re.compile(rf"\.\s*{_MACROS}\s*\(\s*([A-Za-z_]\w*)\s*,(?:\s*([A-Za-z_]\w*)\s*,)?")
_DEPTH_TOKENS = re.compile(
    rf"'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|(\.\s*{_MACROS}\s*\()|(\()|(\))",
    re.S,
)


def compile_program(source: str) -> tuple[cel.Program | None, str]:
    """The program, or None and cel-go's ``ERROR: <input>...`` text saying why it does not compile."""
    try:
        program = cel.compile(source)
    except Exception as error:  # the library raises ValueError; any failure is the rule's fault
        return None, str(error).removeprefix(f"Failed to parse expression '{source}': ")
    bound = {name for match in _BOUND.finditer(source) for name in match.groups() if name}
    undeclared = [name for name in program.variables() if name not in _KNOWN_NAMES and name not in bound]
    if undeclared:
        return None, f"ERROR: <input>: undeclared reference to '{undeclared[0]}'"
    unknown = undeclared_functions(program.functions())
    if unknown:
        # A function no library provides would fail every evaluation.
        return None, f"ERROR: <input>: undeclared reference to '{unknown[0]}' (in container '')"
    return program, ""


def functions_called(*programs: cel.Program | None) -> dict[str, Function]:
    """The library functions ``programs`` call: a context of all of them costs ~50us more to build."""
    called = frozenset(name for program in programs if program is not None for name in program.functions())
    return functions_for(called)


def comprehension_depth(source: str) -> int:
    """How deeply macros (``all``, ``map``, ...) nest, string literals skipped."""
    stack: list[bool] = []
    depth = deepest = 0
    for match in _DEPTH_TOKENS.finditer(source):
        macro, opening, closing = match.groups()
        if macro or opening:
            stack.append(bool(macro))
            depth += bool(macro)
            deepest = max(deepest, depth)
        elif closing and stack:
            depth -= stack.pop()
    return deepest


def execute(
    program: cel.Program, variables: dict[str, Any], functions: dict[str, Function]
) -> tuple[Any, str | None]:
    """The result, or the error text kube-apiserver would show (never an exception: a 422, not a 500)."""
    try:
        return program.execute(cel.Context(variables, functions)), None
    except KeyError as error:
        return None, f"no such key: {error.args[0] if error.args else error}"
    except Exception as error:  # TypeError, OverflowError, RuntimeError...: the object's or rule's fault
        return None, error_text(str(error))
    except BaseException as error:  # a Rust panic surfaces as pyo3's PanicException, a BaseException
        if type(error).__name__ != "PanicException":
            raise
        return None, f"internal error: {error}"
