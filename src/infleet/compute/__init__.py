"""The compute layer: GPU nodes on demand. NodePools (Karpenter's API) over FlexNodeClasses (clouds,
regions, quotas); the provisioner packs pending GPU pods onto the cheapest offerings and launches
NodeClaims through a ``CloudProvider``; disruption consolidates idle and underused nodes within budgets.
"""
