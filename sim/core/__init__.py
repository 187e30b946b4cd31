"""Helpers below every layer: the shipped configs and data found through the package, plain-dict
config plumbing (`compose`), atomic file writes (`files`) and conf files read and written with the
sources in their comments (`conf_yaml`, on ruamel.yaml). They import nothing else from `sim`,
so the model, the analysis and everything above may use them (tests/test_layers.py)."""
