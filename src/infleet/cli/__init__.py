"""The ``infleet`` command line."""
