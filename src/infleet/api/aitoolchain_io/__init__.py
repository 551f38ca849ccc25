"""The ``aitoolchain.io`` API group, one subpackage per version."""
