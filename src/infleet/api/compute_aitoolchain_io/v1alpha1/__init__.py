"""``compute.aitoolchain.io/v1alpha1``: ``FlexNodeClass``."""
