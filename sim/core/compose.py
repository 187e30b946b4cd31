"""The shipped configs, found through the package, and plain-dict config plumbing.

`conf/` sits at the project's top level (the design card fixes it there) and is packaged as
`sim/conf` (a link in the source tree, copied into a wheel), so `importlib.resources` finds it
from an editable install and from a wheel alike. Every caller that composes the shipped config
outside `python -m sim.run` (tests, the explorer, calibration, experiments) uses `compose_raw`.
Below the model (sim.core): it imports nothing else from `sim`.
"""

from __future__ import annotations

import os
from datetime import datetime
from importlib import resources
from pathlib import Path

CONF_DIR = Path(str(resources.files("sim").joinpath("conf")))
DATA_DIR = Path(str(resources.files("sim").joinpath("data")))
UNIQUE_RESOLVER = "sim.unique"


def unique_tag() -> str:
    """Microseconds and process id: two runs started in the same second never share a folder."""
    return f"{datetime.now():%f}-{os.getpid()}"


def register_resolvers() -> None:
    """`${sim.unique:}` in the default output folders (conf/config.yaml's hydra section). Cached per
    config, so every use in one run (and Hydra's copy of the cache into each sweep job) agrees."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver(UNIQUE_RESOLVER):
        OmegaConf.register_new_resolver(UNIQUE_RESOLVER, unique_tag, use_cache=True)


try:  # registered on import: every process that composes the shipped config (sweep workers too)
    register_resolvers()
except ImportError:  # pragma: no cover - omegaconf absent: no Hydra composition either
    pass


def compose_raw(overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The shipped config with Hydra override strings, composed and resolved as a plain dict."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def get_key(raw: dict, dotted: str, default=KeyError):
    """The value at a dotted key (list indices allowed); `default` if given and the key is absent."""
    node = raw
    for part in dotted.split("."):
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            if default is KeyError:
                raise KeyError(dotted) from None
            return default
    return node


def set_key(raw: dict, dotted: str, value) -> None:
    """Set a dotted key (list indices allowed) wholesale in a plain config dict."""
    parts = dotted.split(".")
    node = get_key(raw, ".".join(parts[:-1])) if len(parts) > 1 else raw
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value
