"""The import contracts cover every package, including ones added later.

import-linter checks the layers exhaustively itself; contracts that name packages one by one (the API
server reached only over HTTP, the fleet's hub and member agent independent, triage reaching the gateway
only over HTTP) are checked here against the packages that exist, so a new package cannot escape them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "infleet"


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _packages() -> set[str]:
    return {f"infleet.{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}


def test_every_package_but_the_cli_is_forbidden_to_import_the_api_server() -> None:
    (contract,) = [c for c in _contracts() if c.get("forbidden_modules") == ["infleet.apiserver"]]
    missing = _packages() - {"infleet.cli", "infleet.apiserver"} - set(contract["source_modules"])
    assert not missing, f"add {sorted(missing)} to source_modules of {contract['name']!r} in pyproject.toml"


def test_the_layers_contract_is_exhaustive_over_the_package() -> None:
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    assert layers["containers"] == ["infleet"]
    assert layers["exhaustive"] is True


def test_contracts_for_the_fleet_and_triage_exist_once_their_packages_do() -> None:
    contracts = _contracts()
    if (PACKAGE / "fleet").exists():
        assert any(
            c["type"] == "independence" and set(c["modules"]) == {"infleet.fleet.hub", "infleet.fleet.member"}
            for c in contracts
        ), "add the independence contract of infleet.fleet.hub and infleet.fleet.member (see pyproject.toml)"
    if (PACKAGE / "triage").exists():
        assert any(
            c["type"] == "forbidden"
            and "infleet.triage" in c["source_modules"]
            and "infleet.gateway" in c["forbidden_modules"]
            for c in contracts
        ), "add the contract forbidding infleet.triage to import infleet.gateway (see pyproject.toml)"
