"""Hydra entry point: `python -m sim.run [overrides]`, or a sweep: `python -m sim.run -m ...`.

Thin on purpose: compose the config, turn it into plain data, validate it with the one pydantic
schema (every problem reported at once, before any work), check that the machine can hold it, then
run plain Python. One folder holds one run: a run claims its folder first (sim.run.claim: of two
runs started into one folder at once, the second stops, exit 2), a single run refuses a folder that
already holds results unless `+replace=true` is given, and writes its files into place only when
complete (sim.run.folder.execute). In a sweep, each job first clears its own folder of an earlier sweep's
results; a job that fails is recorded in its folder (failure.json: its settings and error) instead
of stopping the others; the end-of-sweep callback (sim.analysis.aggregate) then reports it, with
any job that never finished, and exits non-zero.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException, HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.analysis.aggregate import record_failure
from sim.analysis.posterior import PosteriorError
from sim.core.run_folder import FAILURE, NOTES_DIR, holds_results
from sim.model.config import ConfigError, validate_config
from sim.model.memory import NotEnoughMemory, check_memory, floor_note
from sim.run.claim import FolderBusy, acquire, release
from sim.run.compose import CONF_DIR, register_resolvers
from sim.run.folder import clear_results, clear_stale, execute

EXIT_BAD_CONFIG = 2
REPLACE_KEY = "replace"  # `+replace=true`: a single run may replace the results in its folder

register_resolvers()


class UsageError(Exception):
    """A refusal before any work (exit 2): the message is one line saying what to do."""


def _replace_flag(raw: dict) -> bool:
    value = raw.pop(REPLACE_KEY, False)
    if not isinstance(value, bool):
        problem = f"{REPLACE_KEY} = {value!r}: must be true or false"
        raise ConfigError(f"invalid configuration (1 problem(s)):\n  - {problem}")
    return value


def _run_info(hydra_cfg) -> dict:
    return {
        "overrides": list(hydra_cfg.overrides.task),
        "choices": {k: v for k, v in OmegaConf.to_container(hydra_cfg.runtime.choices).items() if "hydra/" not in k},
        "mode": "multirun" if hydra_cfg.mode == RunMode.MULTIRUN else "run",
        "job": hydra_cfg.job.num if hydra_cfg.mode == RunMode.MULTIRUN else None,
    }


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    info = _run_info(hydra_cfg)
    try:  # the folder is this run's from here (of two runs started into it at once, one stops)
        token = acquire(out_dir)
    except FolderBusy as err:  # nothing is written: the folder is the other run's
        if multirun:  # no failure.json either (the folder is not this job's): the sweep fails with it
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_BAD_CONFIG)
    try:
        _run(cfg, out_dir, info, multirun, token)
    finally:
        release(out_dir, token)


def _run(cfg: DictConfig, out_dir: Path, info: dict, multirun: bool, token: str) -> None:
    if multirun:  # a rerun of a sweep into the same folder: no earlier result may survive a failure
        clear_results(out_dir)
        clear_stale(out_dir)
    try:
        raw = OmegaConf.to_container(cfg, resolve=True)
        replace = _replace_flag(raw)
        config = validate_config(raw)
        if not multirun and holds_results(out_dir) and not replace:
            raise UsageError(
                f"{out_dir} already holds a run's results: add +replace=true to replace them, "
                "or choose another folder (hydra.run.dir=DIR)"
            )
        preflight(config, Path(HydraConfig.get().sweep.dir) if multirun else None)
        if multirun:  # a job killed from outside (the out-of-memory killer) fails alone, with its record
            run_isolated(lambda: execute(config, out_dir, info, token), out_dir, info)
        else:
            execute(config, out_dir, info, token)
    except Exception as err:
        if multirun:
            record_failure(out_dir, info["overrides"], err, info)
            return
        if isinstance(err, (ConfigError, UsageError, NotEnoughMemory, FolderBusy, PosteriorError)):
            print(f"error: {err}" if not isinstance(err, ConfigError) else err, file=sys.stderr)
            sys.exit(EXIT_BAD_CONFIG)
        raise


def preflight(config, sweep_dir: Path | None = None) -> None:
    """What can be known before any work: a posterior ensemble's posterior, whole; the memory the
    run needs; the precision of a small sample (said once per sweep, not once per job)."""
    if config.uncertainty.mode == "posterior":
        from sim.run.ensemble import posterior_of

        posterior_of(config)
    check_memory(config)
    note = floor_note(config)
    if note:
        print_once(note, sweep_dir)


def print_once(note: str, sweep_dir: Path | None) -> None:
    """Print `note` to stderr; in a sweep, only from the first job that has it (jobs are separate
    processes: a marker file created exclusively decides which)."""
    if sweep_dir is not None:
        marker = sweep_dir / NOTES_DIR / hashlib.sha256(note.encode()).hexdigest()[:16]
        marker.parent.mkdir(parents=True, exist_ok=True)
        try:
            marker.open("x").close()
        except FileExistsError:
            return
    print(note, file=sys.stderr)


def run_isolated(work, out_dir: Path, info: dict) -> None:
    """Run a sweep job's work in a forked child process and wait for it. An exception there is
    recorded by the child (failure.json); a child killed by a signal (e.g. by the out-of-memory
    killer) is recorded here, so one killed job never takes the sweep's worker, and the other jobs,
    down with it. Where fork is not available the work runs in this process."""
    if not hasattr(os, "fork"):
        work()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: do the work, record a failure, never return into the launcher
        code = 0
        # The child leaves by os._exit, which runs no finalizer: a multiprocessing lock made here (tqdm
        # makes one for its first bar) would stay registered with the resource tracker, which then warns
        # of "leaked semaphore objects" at the sweep's end, one per job. One job is one process, so
        # tqdm's write lock need only be a thread lock.
        from tqdm import tqdm

        tqdm.set_lock(threading.RLock())
        try:
            work()
        except BaseException as err:  # noqa: BLE001 - every failure is recorded
            record_failure(out_dir, info["overrides"], err, info)
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        hint = " (the out-of-memory killer sends SIGKILL)" if number == signal.SIGKILL else ""
        record_failure(out_dir, info["overrides"], ChildProcessError(f"the job was killed by {name}{hint}"), info)
    elif os.WEXITSTATUS(status) != 0 and not (out_dir / FAILURE).exists():
        record_failure(out_dir, info["overrides"], ChildProcessError(f"exit status {os.WEXITSTATUS(status)}"), info)


def yaml_error_line(err: yaml.YAMLError) -> str:
    """A YAML syntax error as one line: file, line and what is wrong."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    start = getattr(err, "context_mark", None)
    where = ""
    if mark is not None:
        name = Path(mark.name)
        try:
            name = name.resolve().relative_to(Path.cwd())
        except ValueError:
            pass
        where = f"{name} line {mark.line + 1}: "
        if start is not None and start.line != mark.line:
            where = f"{name} line {mark.line + 1} (from line {start.line + 1}): "
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    what = ", ".join(p for p in parts if p) or str(err).splitlines()[0]
    return f"error: {where}YAML syntax error ({what})"


def cli() -> None:
    """Run `main` with Hydra's errors made short: a YAML syntax error in a config file is one line
    (exit 2); Hydra's own errors print their message (exit 1), as Hydra does."""
    full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let exceptions reach us instead of Hydra's long report
    try:
        main()
    except yaml.YAMLError as err:
        print(yaml_error_line(err), file=sys.stderr)
        sys.exit(EXIT_BAD_CONFIG)
    except (HydraException, OmegaConfBaseException) as err:
        if full_error:
            raise
        cause = err.__cause__
        if isinstance(cause, yaml.YAMLError):
            print(yaml_error_line(cause), file=sys.stderr)
            sys.exit(EXIT_BAD_CONFIG)
        print(str(err), file=sys.stderr)
        if isinstance(err, CompactHydraException) and isinstance(cause, OmegaConfBaseException):
            print(str(cause), file=sys.stderr)
        elif not isinstance(err, CompactHydraException):
            traceback.print_exc()
        sys.exit(1)
    except FolderBusy as err:  # a sweep job's folder that another run is writing: the sweep stops there
        _report_broken_sweep()
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_BAD_CONFIG)
    except Exception:
        _report_broken_sweep()
        raise


def _report_broken_sweep() -> None:
    """When the launcher itself fails (e.g. joblib cancels a sweep whose worker died), Hydra runs no
    end-of-sweep callback: aggregate here, so the jobs that never finished are listed as missing."""
    try:
        hydra_cfg = HydraConfig.get()
        if hydra_cfg.mode != RunMode.MULTIRUN:
            return
        sweep_dir = Path(hydra_cfg.sweep.dir)
    except Exception:  # noqa: BLE001 - no sweep under way
        return
    from sim.analysis.aggregate import aggregate, report

    try:
        print(report(aggregate(sweep_dir), sweep_dir), file=sys.stderr)
    except Exception as err:  # noqa: BLE001 - the original error is what matters
        print(f"aggregation of {sweep_dir} failed too: {err}", file=sys.stderr)


if __name__ == "__main__":
    cli()
