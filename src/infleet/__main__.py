"""Allow ``python -m infleet``, used by tests and benchmarks to start subprocesses."""

from infleet.cli.main import main

raise SystemExit(main())
