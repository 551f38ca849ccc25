"""Infleet's API layer: resource types, validation and the data catalogs every other layer reads."""
