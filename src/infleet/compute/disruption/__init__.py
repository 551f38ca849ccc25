"""Disruption: Karpenter's singleton loop that takes nodes away (empty, expired, underused or replaceable
by a cheaper shape) within budgets, plus spot-interruption handling; with Infleet's guards for model
serving (loading replicas, one replica of a deployment at a time, warm GPU buffers)."""
