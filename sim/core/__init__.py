"""Helpers below every layer: the shipped configs and data found through the package, plain-dict
config plumbing (`compose`) and atomic file writes (`files`). They import nothing else from `sim`,
so the model, the analysis and everything above may use them (tests/test_layers.py)."""
