"""Disruption: Karpenter's singleton loop that takes nodes away (empty, drifted, expired, underused, or
replaceable by a cheaper node, alone or several at once) within budgets, validating consolidation commands
before acting, plus spot-interruption handling; with Infleet's guards for model serving (loading
replicas, one replica of a deployment at a time, warm GPU buffers)."""
