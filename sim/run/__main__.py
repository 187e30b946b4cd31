"""Hydra entry point: `python -m sim.run [overrides]`, or a sweep: `python -m sim.run -m ...`.

Thin on purpose: compose the config, turn it into plain data, validate it with the one pydantic
schema (every problem reported at once, before any work), then run plain Python. In a sweep, a
job that fails is recorded in its folder (failure.json: its settings and error) instead of
stopping the others; the end-of-sweep callback (sim.analysis.aggregate) then reports it and exits non-zero.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from sim.analysis.aggregate import record_failure
from sim.model.config import ConfigError, validate_config
from sim.run.compose import CONF_DIR
from sim.run.folder import execute

EXIT_BAD_CONFIG = 2


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        config = validate_config(OmegaConf.to_container(cfg, resolve=True))
        execute(config, out_dir)
    except Exception as err:
        if hydra_cfg.mode == RunMode.MULTIRUN:
            record_failure(out_dir, list(hydra_cfg.overrides.task), err)
            return
        if isinstance(err, ConfigError):
            print(err, file=sys.stderr)
            sys.exit(EXIT_BAD_CONFIG)
        raise


if __name__ == "__main__":
    main()
