"""The model: the array engine (`engine`), its world builder (`world`), the per-member state
(`state`), the sampled population and graph, the compiled policy, the regime table (`regimes`), the
metric registry (`metrics`), the config schema (`config`), keyed random numbers, and one module
per behavioural rule in `rules/` (awareness, consent, friction, content, ledger)."""
