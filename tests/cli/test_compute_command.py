"""``infleet compute --mode``: infleet by default, karpenter and auto on request, anything else refused."""

from __future__ import annotations

import pytest

from infleet.cli.main import build_parser


def test_mode_defaults_to_infleet_and_takes_karpenter_or_auto() -> None:
    parser = build_parser()
    assert parser.parse_args(["compute", "--context", "member"]).mode == "infleet"
    for mode in ("karpenter", "auto"):
        assert parser.parse_args(["compute", "--context", "member", "--mode", mode]).mode == mode


def test_an_unknown_mode_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compute", "--context", "member", "--mode", "cluster-autoscaler"])
    assert "invalid choice: 'cluster-autoscaler'" in capsys.readouterr().err
