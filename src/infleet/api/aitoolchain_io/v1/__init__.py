"""``aitoolchain.io/v1``: the kinds of Infleet's own group, one module each."""
