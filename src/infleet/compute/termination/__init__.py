"""Termination: a deleted NodeClaim's node is tainted, drained and deleted, its instance terminated, and
only then is the ``karpenter.sh/termination`` finalizer released."""
