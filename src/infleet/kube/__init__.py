"""Talking to any Kubernetes API: clients from a kubeconfig, informers, the workqueue, the Reconciler
contract, the Manager and leader election. Controllers of every layer build on this package.

Entry points: ``cluster_client.ClientFactory``, ``manager.Manager`` (``informer()``, ``controller()``,
``add()``, ``run()``), ``reconciler.Request/Result/TerminalError``, and the helpers in ``conditions``,
``finalizers``, ``owner_references``, ``status_patch`` and ``events``.
"""
