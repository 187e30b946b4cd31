"""Hydra entry point: `python -m sim.run [overrides]`.

Thin on purpose: compose the config, turn it into plain data, validate it with the one pydantic
schema (every problem reported at once, before any work), then run plain Python.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError, validate_config
from sim.outputs import execute

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
EXIT_BAD_CONFIG = 2


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    try:
        config = validate_config(OmegaConf.to_container(cfg, resolve=True))
    except ConfigError as err:
        print(err, file=sys.stderr)
        sys.exit(EXIT_BAD_CONFIG)
    execute(config, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
