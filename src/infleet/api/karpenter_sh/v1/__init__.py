"""``karpenter.sh/v1``: ``NodePool`` and ``NodeClaim``."""
