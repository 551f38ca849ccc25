"""Talking to any Kubernetes API: clients from a kubeconfig, informers, the workqueue, the Reconciler
contract, the Manager and leader election. Controllers of every layer build on this package.
"""
