"""Memory and time per epoch as data grow: int8 PLINK genotypes, one Ray copy, two trials at once.

For each size (lines × markers) the script simulates a data set (hpsearch.data.simulate,
0/1/2 dosages, 1 % missing calls), writes it as a PLINK fileset plus an FID/IID phenotype
TSV, and then, in a fresh child process (so the simulator's own memory does not count):

1. loads it with ``load_dataset`` (int8 dosages, missing = -127; time and peak RSS),
2. starts a local Ray (2 CPUs), puts the GenomicData in the object store once, drops the
   driver's heap copy (the store copy is what workers map),
3. runs two trials concurrently (Ray tasks, ``max_calls=1`` so each is a fresh worker) with
   ``fit_and_score``: one inner holdout split, SNP preselection top-k (default 2000) fitted
   on the training part, an MLP trained for a fixed number of epochs,
4. records per worker: private memory (RssAnon) before/after ``ray.get`` and after touching
   every genotype page (zero-copy ⇒ RssAnon does not grow by the matrix, RssShmem does),
   peak RssAnon / RSS (sampled every 20 ms), time to the first epoch and time per epoch.

Memory ratio = (driver peak private + both workers' peak private + one shared int8 copy) /
int8 matrix size. ``--prepare rows`` runs the trials with a ``_prepare`` that passes row
indices to the Preprocessor instead of row copies (the change proposed for training.py).

Usage: .venv/bin/python scripts/bench_scale.py [--sizes 1000x10000,5000x20000,...]
       [--epochs 5] [--top-k 2000] [--prepare copy[,rows]] [--name bench_scale]
Writes bench_results/<name>.json and .md (after every size, so partial runs keep results).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

from _bench_common import machine, md_table, write_results  # noqa: E402

DEFAULT_SIZES = "1000x10000,5000x20000,10000x50000,20000x100000"
PARAMS = {
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "n_layers": 2,
    "units": 64,
    "batch_size": 64,
}
MB = 1024**2


# --------------------------------------------------------------------------- /proc helpers


def proc_status() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem of this process, in bytes."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(rest.split()[0]) * 1024
    return out


def node_used() -> int:
    """MemTotal - MemAvailable of the whole machine (shared: other users move it too)."""
    info: dict[str, int] = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0]) * 1024
    return info["MemTotal"] - info["MemAvailable"]


class Sampler:
    """Peaks of this process's memory counters (and the node's used memory), every 20 ms."""

    def __init__(self) -> None:
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        now = proc_status()
        now["node_used"] = node_used()
        for key, value in now.items():
            self.peak[key] = max(self.peak.get(key, 0), value)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# --------------------------------------------------------------------------- data


def make_files(n: int, m: int, folder: Path, seed: int) -> dict[str, Any]:
    """Simulate and write ``geno.bed/.bim/.fam`` and ``pheno.tsv`` (FID IID y)."""
    from bed_reader import to_bed

    from hpsearch.data.simulate import simulate

    t0 = time.perf_counter()
    sim = simulate(
        n_lines=n,
        n_markers=m,
        n_traits=1,
        n_chromosomes=10,
        n_qtl=200,
        coding="012",
        missing_rate=0.01,
        seed=seed,
    )
    t_sim = time.perf_counter() - t0
    x = sim.genotypes
    x[x < 0] = -127  # bed-reader's int8 missing code
    t0 = time.perf_counter()
    to_bed(
        folder / "geno.bed",
        x,
        properties={
            "fid": ["F0"] * n,
            "iid": sim.line_ids,
            "sid": sim.marker_ids,
            "chromosome": [str(c) for c in sim.chromosomes],
            "bp_position": np.round(sim.positions * 1e4).astype(np.int64),
        },
    )
    with open(folder / "pheno.tsv", "w") as handle:
        handle.write("FID\tIID\ty\n")
        for line, value in zip(sim.line_ids, sim.phenotypes[:, 0].tolist(), strict=True):
            handle.write(f"F0\t{line}\t{value:.6f}\n")
    t_write = time.perf_counter() - t0
    return {"simulate_s": t_sim, "write_plink_s": t_write, "int8_bytes": int(x.nbytes)}


# --------------------------------------------------------------------------- trials


def _prepare_by_rows(data: Any, split: Any, options: Any, *, rank: int, valid_targets: bool):
    """training._prepare, passing row indices instead of row copies to the Preprocessor."""
    from hpsearch.data.preprocess import Preprocessor
    from hpsearch.training import _encode_target, _Fold

    train, valid = np.asarray(split.train), np.asarray(split.valid)
    pre = Preprocessor(options, data.task).fit(data.genotypes, data.target[train], rows=train)
    x_train = pre.transform(data.genotypes, rows=train)
    x_valid = pre.transform(data.genotypes, rows=valid)
    n_markers = int(x_train.shape[1])
    if rank == 2:
        x_train, x_valid = x_train[:, :, None], x_valid[:, :, None]
    y_train = _encode_target(data.target[train], data.task, data.n_outputs, pre)
    y_valid = np.asarray(data.target[valid])
    y_fit = _encode_target(y_valid, data.task, data.n_outputs, pre) if valid_targets else None
    return _Fold(x_train, y_train, x_valid, y_valid, y_fit, pre, n_markers)


def trial(refs: list, plan: Any, params: dict, seed: int, prepare: str) -> dict[str, Any]:
    """One trial in a fresh Ray worker; returns its timings and memory counters."""
    import ray

    from hpsearch import training
    from hpsearch.models import get_builder
    from hpsearch.trial import Objective

    start = time.perf_counter()
    training.configure_threads(1)  # imports TensorFlow
    tf_import_s = time.perf_counter() - start
    if prepare == "rows":
        training._prepare = _prepare_by_rows  # type: ignore[assignment]
    out: dict[str, Any] = {"before_get": proc_status()}
    with Sampler() as sampler:
        data = ray.get(refs[0])
        out["after_get"] = proc_status()
        out["zero_copy_read_only"] = not data.genotypes.flags.writeable
        rows_per_block = max(1, 16 * MB // max(1, data.n_markers))
        touched = 0
        for a in range(0, data.n_lines, rows_per_block):  # fault in every page of the matrix
            touched += int(data.genotypes[a : a + rows_per_block].sum(dtype=np.int64))
        out["after_touch"] = proc_status()
        stamps: list[float] = []
        fit_start = time.perf_counter()
        result = training.fit_and_score(
            get_builder("mlp"),
            params,
            data,
            plan,
            Objective("pearson_r", "maximize"),
            seed=seed,
            report=lambda step, metrics: stamps.append(time.perf_counter()),
        )
    gaps = np.diff(stamps)
    out.update(
        {
            "status": str(result.status),
            "error": result.error,
            "score": result.score,
            "epochs": len(stamps),
            "tf_import_s": tf_import_s,
            # From fit_and_score's start: preprocessing (stats, p-values, top-k, transform),
            # model build and the first epoch.
            "first_epoch_end_s": (stamps[0] - fit_start) if stamps else None,
            "epoch_s": float(np.median(gaps)) if gaps.size else None,
            "trial_s": time.perf_counter() - start,
            "peak": sampler.peak,
            "pid": os.getpid(),
        }
    )
    return out


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Load, share through Ray, run two concurrent trials per prepare mode; return the facts."""
    import ray

    from hpsearch.data.dataset import FoldPlan, Split
    from hpsearch.data.loading import load_dataset

    folder = Path(args.child)
    facts: dict[str, Any] = {"start": proc_status(), "node_used_start": node_used()}
    with Sampler() as load_sampler:
        t0 = time.perf_counter()
        data, report = load_dataset(
            genotypes=folder / "geno.bed", phenotypes=folder / "pheno.tsv", trait="y"
        )
        facts["load_s"] = time.perf_counter() - t0
    facts["after_load"] = proc_status()
    facts["load_peak"] = load_sampler.peak
    facts["genotype_dtype"] = str(data.genotypes.dtype)
    facts["int8_bytes"] = int(data.genotypes.nbytes)
    facts["load_report"] = {
        k: report[k] for k in ("lines", "markers", "missing_genotype_fraction", "counted_allele")
    }
    rng = np.random.default_rng(0)
    order = rng.permutation(data.n_lines)
    n_test = data.n_lines // 5
    outer_train = np.sort(order[n_test:])
    inner = rng.permutation(outer_train)
    n_valid = inner.size // 5
    plan = FoldPlan(
        outer=Split(outer_train, np.sort(order[:n_test]), "outer"),
        inner=(Split(np.sort(inner[n_valid:]), np.sort(inner[:n_valid]), "inner0"),),
    )
    facts["inner_train_lines"] = int(inner.size - n_valid)

    ray.init(
        address="local",  # our own cluster, never one another user left running
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}},
    )
    with Sampler() as driver_sampler:
        t0 = time.perf_counter()
        ref = ray.put(data)
        facts["put_s"] = time.perf_counter() - t0
        del data  # the driver keeps only the object-store copy
        facts["driver_after_put_and_drop"] = proc_status()
        remote = ray.remote(num_cpus=1, max_calls=1)(trial)
        params = {
            **PARAMS,
            "epochs": args.epochs,
            "patience": args.epochs,
            "preselect_top_k": args.top_k,
        }
        facts["modes"] = {}
        for mode in args.prepare.split(","):
            t0 = time.perf_counter()
            futures = [remote.remote([ref], plan, params, seed, mode) for seed in (1, 2)]
            trials = ray.get(futures)
            facts["modes"][mode] = {"wall_s": time.perf_counter() - t0, "trials": trials}
    facts["driver_peak"] = driver_sampler.peak
    ray.shutdown()
    return facts


# --------------------------------------------------------------------------- driver


def summarise(n: int, m: int, made: dict[str, Any], facts: dict[str, Any]) -> list[dict]:
    """One row per prepare mode: the numbers of the report table."""
    size = facts["int8_bytes"]
    driver_private = max(facts["load_peak"]["RssAnon"], facts["driver_peak"]["RssAnon"])
    rows = []
    for mode, run in facts["modes"].items():
        trials = run["trials"]
        worker_private = [t["peak"]["RssAnon"] for t in trials]
        grew_on_get = [t["after_touch"]["RssAnon"] - t["before_get"]["RssAnon"] for t in trials]
        shared_seen = [t["after_touch"]["RssShmem"] - t["before_get"]["RssShmem"] for t in trials]
        total = driver_private + sum(worker_private) + size
        # Without the fixed cost of the interpreters (TensorFlow alone is ~300 MB per worker):
        driver_growth = driver_private - facts["start"]["RssAnon"]
        worker_growth = [t["peak"]["RssAnon"] - t["before_get"]["RssAnon"] for t in trials]
        data_total = driver_growth + sum(worker_growth) + size
        rows.append(
            {
                "lines": n,
                "markers": m,
                "prepare": mode,
                "int8_mb": size / MB,
                "simulate_s": made["simulate_s"],
                "write_plink_s": made["write_plink_s"],
                "load_s": facts["load_s"],
                "load_peak_rss_mb": facts["load_peak"]["VmHWM"] / MB,
                "put_s": facts["put_s"],
                "driver_peak_private_mb": driver_private / MB,
                "worker_peak_private_mb": [v / MB for v in worker_private],
                "worker_peak_rss_mb": [t["peak"]["VmHWM"] / MB for t in trials],
                "worker_private_growth_on_get_and_touch_mb": [v / MB for v in grew_on_get],
                "worker_shared_growth_on_touch_mb": [v / MB for v in shared_seen],
                "zero_copy_read_only": [t["zero_copy_read_only"] for t in trials],
                "first_epoch_end_s": [t["first_epoch_end_s"] for t in trials],
                "epoch_s": [t["epoch_s"] for t in trials],
                "trial_s": [t["trial_s"] for t in trials],
                "wall_two_trials_s": run["wall_s"],
                "status": [t["status"] for t in trials],
                "errors": [t["error"] for t in trials if t["error"]],
                "scores": [t["score"] for t in trials],
                "total_private_plus_shared_mb": total / MB,
                "ratio_total_to_int8": total / size,
                "ratio_worker_private_to_int8": max(worker_private) / size,
                "driver_private_growth_mb": driver_growth / MB,
                "worker_private_growth_mb": [v / MB for v in worker_growth],
                "ratio_data_dependent_to_int8": data_total / size,
                "tf_import_s": [t["tf_import_s"] for t in trials],
                "node_used_peak_delta_mb": (
                    max(facts["driver_peak"]["node_used"], facts["load_peak"]["node_used"])
                    - facts["node_used_start"]
                )
                / MB,
            }
        )
    return rows


def markdown(rows: list[dict], info: dict[str, Any]) -> str:
    headers = [
        "lines × markers", "prepare", "int8 MB", "load s", "driver peak private MB",
        "worker peak private MB (2 trials)", "worker private growth on get+touch MB",
        "worker private growth in trial MB", "total / int8", "data-dependent / int8",
        "prep + 1st epoch s", "epoch s", "2 trials wall s",
    ]  # fmt: skip

    def pair(values: list, fmt: str = "{:.0f}") -> str:
        return " / ".join("n/a" if v is None else fmt.format(v) for v in values)

    table = [
        [
            f"{r['lines']:,} × {r['markers']:,}",
            r["prepare"],
            r["int8_mb"],
            r["load_s"],
            r["driver_peak_private_mb"],
            pair(r["worker_peak_private_mb"]),
            pair(r["worker_private_growth_on_get_and_touch_mb"]),
            pair(r["worker_private_growth_mb"]),
            r["ratio_total_to_int8"],
            r["ratio_data_dependent_to_int8"],
            pair(r["first_epoch_end_s"], "{:.1f}"),
            pair(r["epoch_s"], "{:.2f}"),
            r["wall_two_trials_s"],
        ]
        for r in rows
    ]
    notes = (
        f"\n\nMachine: {info['machine']['cpus']} CPUs, {info['machine']['cpu']}; "
        f"top-k {info['top_k']}, {info['epochs']} epochs, MLP {PARAMS}. "
        "Private = RssAnon (not shared); the int8 matrix lives once in Ray's object store "
        "(shared memory) and is mapped by both workers. total / int8 = (driver peak private "
        "+ both workers' peak private + one shared int8 copy) / int8 size; data-dependent / "
        "int8 = the same with each process's private memory before the data arrived (Python, "
        "TensorFlow: ~300 MB per worker) subtracted. 'copy' is "
        "training.py as it is (row copies of the int8 training part per fit/transform); "
        "'rows' passes row indices to the Preprocessor instead."
    )
    return "# bench_scale: int8 genotypes at scale\n\n" + md_table(headers, table) + notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--top-k", type=int, default=2000)
    parser.add_argument("--prepare", default="copy")
    parser.add_argument("--name", default="bench_scale")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(args), default=str))
        return 0

    info = {"machine": machine(), "epochs": args.epochs, "top_k": args.top_k, "params": PARAMS}
    rows: list[dict] = []
    raw: list[dict] = []
    for size in args.sizes.split(","):
        n, m = (int(v) for v in size.lower().split("x"))
        folder = Path(tempfile.mkdtemp(prefix=f"bench_scale_{n}x{m}_"))
        try:
            print(f"[{time.strftime('%H:%M:%S')}] {n} x {m}: simulating", flush=True)
            made = make_files(n, m, folder, args.seed)
            print(f"[{time.strftime('%H:%M:%S')}] {n} x {m}: measuring", flush=True)
            env = {
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "PYTHONPATH": str(REPO),
                # A private Ray on 127.0.0.1, as hpsearch's executor starts it.
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                "RAY_AUTH_MODE": "disabled",
                "RAY_USAGE_STATS_ENABLED": "0",
            }
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(folder),
                   "--epochs", str(args.epochs), "--top-k", str(args.top_k),
                   "--prepare", args.prepare]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, env=env)
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
            if done.returncode != 0 or not lines:
                print(done.stderr[-4000:], file=sys.stderr)
                raise SystemExit(f"child failed for {n} x {m} (exit {done.returncode})")
            facts = json.loads(lines[-1][len("RESULT ") :])
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        raw.append({"lines": n, "markers": m, "files": made, "facts": facts})
        new = summarise(n, m, made, facts)
        rows.extend(new)
        for r in new:
            print(
                f"  {r['prepare']}: int8 {r['int8_mb']:.0f} MB, total/int8 "
                f"{r['ratio_total_to_int8']:.2f}, worker private "
                f"{[round(v) for v in r['worker_peak_private_mb']]} MB, epoch "
                f"{r['epoch_s']} s, status {r['status']}",
                flush=True,
            )
        info["machine"]["load_average_end"] = os.getloadavg()
        write_results(args.name, {"info": info, "rows": rows, "raw": raw}, markdown(rows, info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
