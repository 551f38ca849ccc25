"""The embedded Kubernetes-compatible API server.

It serves many logical clusters from one process, stores objects in SQLite and knows no Infleet kind:
everything it serves is a built-in Kubernetes kind or a CustomResourceDefinition registered over HTTP.
"""
