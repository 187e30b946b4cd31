"""pyabc's multicore sampler, with each worker's particles simulated in batches (sim.model.batch).

pyabc simulates one particle at a time. `BatchedMulticoreSampler` runs, in each of its worker
processes, `batch` threads that each draw and simulate particles exactly as pyabc's
`MulticoreEvalParallelSampler` does (the same shared counters, the same ordering of results by
evaluation index, so there is no bias toward fast simulations); their model calls meet in a
`sim.model.batch.Gatherer`, which runs them as one batch. Only one thread of a process computes at
a time, so a worker uses one core, as before, and pays the model's fixed cost per day once per
batch instead of once per particle.

The model must run its simulations through `sim.model.batch.Gatherer.active` when it is set
(sim.analysis.abc_fit.Simulator does).
"""

from __future__ import annotations

import random
import threading
from ctypes import c_longlong
from functools import partial

import cloudpickle
import numpy as np
from pyabc.sampler import MulticoreEvalParallelSampler
from pyabc.sampler.multicore_evaluation_parallel import DONE
from pyabc.sampler.multicorebase import get_if_worker_healthy
from pyabc.sampler.util import get_mp_context


def _work(simulate_one, queue, n_eval, n_acc, n, check_max_eval, max_eval, all_accepted, *, sample_factory, batch):
    """One worker process: `batch` threads run pyabc's own worker loop, their simulations gathered."""
    from sim.model.batch import Gatherer

    if isinstance(simulate_one, bytes):
        simulate_one = cloudpickle.loads(simulate_one)
    random.seed()
    np.random.seed()
    Gatherer.active = gatherer = Gatherer(batch)
    errors: list[BaseException] = []

    def loop():
        try:
            sample = sample_factory()
            while (
                n_acc.value < n
                and (not all_accepted or n_eval.value < n)
                and (not check_max_eval or n_eval.value < max_eval)
            ):
                with n_eval.get_lock():
                    particle_id = n_eval.value
                    n_eval.value += 1
                new_sim = simulate_one()
                sample.append(new_sim)
                if new_sim.accepted:
                    with n_acc.get_lock():
                        n_acc.value += 1
                    queue.put((particle_id, sample))
                    sample = sample_factory()
        except BaseException as error:  # raised again in the process, so pyabc sees the worker fail
            errors.append(error)
        finally:
            gatherer.leave()

    threads = [threading.Thread(target=loop) for _ in range(batch)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    queue.put(DONE)


class BatchedMulticoreSampler(MulticoreEvalParallelSampler):
    """`MulticoreEvalParallelSampler` whose workers simulate `batch` particles at a time."""

    def __init__(self, n_procs: int | None = None, batch: int = 16, **kwargs):
        super().__init__(n_procs=n_procs, **kwargs)
        self.batch = batch

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):
        """pyabc's own method (pyabc 0.13, multicore_evaluation_parallel.py), starting our workers."""
        ctx = get_mp_context()
        n_eval, n_acc = ctx.Value(c_longlong), ctx.Value(c_longlong)
        n_eval.value = n_acc.value = 0
        queue = ctx.Queue()
        if self.pickle:
            simulate_one = cloudpickle.dumps(simulate_one)
        args = (simulate_one, queue, n_eval, n_acc, n, self.check_max_eval, max_eval, all_accepted)
        worker = partial(_work, sample_factory=self._create_empty_sample, batch=self.batch)
        processes = [ctx.Process(target=worker, args=args, daemon=self.daemon) for _ in range(self.n_procs)]
        for proc in processes:
            proc.start()
        id_results, n_done = [], 0
        while n_done < len(processes):  # empty the queue fully, so no worker blocks on it
            val = get_if_worker_healthy(processes, queue)
            if val == DONE:
                n_done += 1
            else:
                id_results.append(val)
        for proc in processes:
            proc.join()
        id_results.sort(key=lambda x: x[0])  # the first n accepted by evaluation index: no bias to fast runs
        self.nr_evaluations_ = n_eval.value
        sample = self._create_empty_sample()
        for _, result in id_results[:n]:
            sample += result
        if sample.n_accepted < n:
            sample.ok = False
        return sample
