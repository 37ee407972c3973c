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

``--mode search`` measures the product instead (issue 6's check): for each size the same
files plus an experiment YAML (MLP with PARAMS fixed, a grid over two learning rates = two
different trials, top-k and epochs as given, outer kfold 5 fold 1, inner holdout 0.2, Ray
with 2 concurrent trials, MLflow on a sqlite store in the work folder), then ``hpsearch run
CONFIG --quiet`` as a subprocess. Every 0.2 s the script sums PSS (and Private, Pss_Shmem)
from /proc/PID/smaps_rollup over that process and every process it starts (Ray's GCS,
raylet, workers); reported: tree peak PSS / int8 size, driver and largest trial-worker peak
PSS, wall time, the trials' scores, exit code, RAM and whether the peak stayed within 24 GB.

Usage: .venv/bin/python scripts/bench_scale.py [--mode tasks|search]
       [--sizes 1000x10000,5000x20000,...] [--epochs 5] [--top-k 2000]
       [--prepare copy[,rows]] (tasks only) [--name bench_scale | bench_scale_search]
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


def meminfo() -> dict[str, int]:
    """/proc/meminfo of the machine, in bytes."""
    info: dict[str, int] = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0]) * 1024
    return info


def node_used() -> int:
    """MemTotal - MemAvailable of the whole machine (shared: other users move it too)."""
    info = meminfo()
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


# --------------------------------------------------------------------------- search mode

SAMPLE_S = 0.2
LIMIT_BYTES = 24 * 1024**3  # issue 6: two concurrent trials within 24 GB
LEARNING_RATES = (1e-3, 3e-4)  # grid over two values: exactly two different trials
SMAPS_KEYS = ("Rss", "Pss", "Pss_Shmem", "Private_Clean", "Private_Dirty")


def proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, start time in clock ticks) of every process on the machine."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()  # the name may hold spaces
        except OSError:
            continue  # exited meanwhile
        table[int(entry.name)] = (int(fields[1]), int(fields[19]))
    return table


def smaps_rollup(pid: int) -> dict[str, int] | None:
    """Rss, Pss, Pss_Shmem and Private_* of one process in bytes (None once it has exited)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in SMAPS_KEYS:
                    out[key] = int(rest.split()[0]) * 1024
    except OSError:
        return None
    return out or None


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def shm_used() -> int:
    """Bytes in use on /dev/shm (machine-wide: Ray's object store file lives there)."""
    st = os.statvfs("/dev/shm")
    return (st.f_blocks - st.f_bfree) * st.f_frsize


class TreeSampler:
    """Memory of a process and every process it starts (Ray's GCS, raylet, workers), summed.

    A process once seen in the tree keeps counting while it lives (same pid, same start
    time), even after its parent exits and it is re-parented. PSS splits each shared page
    between the processes that map it, so the object store's copy of the genotypes counts
    once however many workers map it; Pss_Shmem is that shared-memory part.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.known: dict[int, int] = {}  # pid -> start time
        self.label: dict[int, str] = {}
        self.peak_pss: dict[int, int] = {}
        self.peak = {"pss": 0, "private": 0, "shmem": 0, "rss": 0, "processes": 0}
        self.peak["node_used"] = self.peak["shm_used"] = 0
        self.samples = 0

    def alive(self) -> list[int]:
        table = proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        todo = [self.root] if self.root in table else []
        while todo:
            pid = todo.pop()
            self.known.setdefault(pid, table[pid][1])
            todo.extend(children.get(pid, ()))
        return [p for p, start in self.known.items() if table.get(p, (0, -1))[1] == start]

    def sample(self) -> int:
        """One sample; returns how many processes of the tree are alive."""
        totals = dict.fromkeys(("pss", "private", "shmem", "rss"), 0)
        pids = self.alive()
        for pid in pids:
            mem = smaps_rollup(pid)
            if mem is None:
                continue
            self.label[pid] = cmdline(pid) or self.label.get(pid, "")  # Ray retitles workers
            totals["pss"] += mem.get("Pss", 0)
            totals["private"] += mem.get("Private_Clean", 0) + mem.get("Private_Dirty", 0)
            totals["shmem"] += mem.get("Pss_Shmem", 0)
            totals["rss"] += mem.get("Rss", 0)
            self.peak_pss[pid] = max(self.peak_pss.get(pid, 0), mem.get("Pss", 0))
        now = {**totals, "processes": len(pids), "node_used": node_used(), "shm_used": shm_used()}
        for key, value in now.items():
            self.peak[key] = max(self.peak[key], value)
        self.samples += 1
        return len(pids)

    def is_worker(self, pid: int) -> bool:
        """A Ray worker (idle or running a task/actor), not one of Ray's own agents."""
        label = self.label.get(pid, "")
        if label.startswith("ray::"):
            return not label.split()[0].endswith("Agent")
        return "default_worker.py" in label


def write_search_config(folder: Path, *, epochs: int, top_k: int, seed: int) -> Path:
    """Space (PARAMS fixed, two learning rates) and experiment YAML, as a user writes them."""
    import yaml

    space = {name: {"type": "fixed", "value": value} for name, value in PARAMS.items()}
    space["learning_rate"] = {"type": "ordinal", "values": list(LEARNING_RATES)}
    space["epochs"] = {"type": "fixed", "value": epochs}
    space["patience"] = {"type": "fixed", "value": 1000}  # never stops early
    space["preselect_top_k"] = {"type": "fixed", "value": top_k}
    (folder / "space.yaml").write_text(yaml.safe_dump({"parameters": space}, sort_keys=False))
    config = {
        "name": "bench-scale",
        "data": {"genotypes": "geno.bed", "phenotypes": "pheno.tsv", "trait": "y",
                 "task": "regression"},
        "evaluation": {"outer": {"kfold": 5, "folds": [1], "seed": seed},
                       "inner": {"holdout": 0.2, "seed": seed}, "metric": "pearson_r"},
        "model": "mlp",
        "space": "space.yaml",
        "stages": [{"strategy": "grid", "trials": len(LEARNING_RATES)}],
        "execution": {"executor": "ray", "max_concurrent": 2, "cpus_per_trial": 1,
                      "max_retries": 0},
        "tracking": {"mlflow": True, "uri": f"sqlite:///{folder / 'mlflow.db'}",
                     "experiment": "bench-scale"},
        "output": "runs",
        "seed": seed,
    }  # fmt: skip
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_search(folder: Path, config: Path) -> dict[str, Any]:
    """``hpsearch run CONFIG --quiet`` in ``folder``, its process tree sampled every 0.2 s."""
    hpsearch = Path(sys.executable).with_name("hpsearch")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "RAY_USAGE_STATS_ENABLED": "0"}
    with open(folder / "stdout.txt", "w") as out, open(folder / "stderr.txt", "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(hpsearch), "run", str(config), "--quiet"], cwd=folder, env=env,
            stdout=out, stderr=err,
        )  # fmt: skip
        sampler = TreeSampler(proc.pid)
        while proc.poll() is None:
            sampler.sample()
            time.sleep(SAMPLE_S)
        wall = time.perf_counter() - start
        deadline = time.perf_counter() + 30  # Ray's processes end after the driver
        while sampler.sample() and time.perf_counter() < deadline:
            time.sleep(SAMPLE_S)
    trials = []
    for journal in sorted((folder / "runs").glob("*/*/trials.jsonl")):
        for line in journal.read_text().splitlines():
            rec = json.loads(line)
            trials.append(
                {
                    "fold": journal.parent.name,
                    "trial_id": rec["trial_id"],
                    "learning_rate": rec["params"].get("learning_rate"),
                    "status": rec["status"],
                    "score": rec.get("score"),
                    "duration_s": rec.get("duration_s"),
                    "worker_pid": (rec.get("info") or {}).get("worker_pid"),
                }
            )
    summaries = list((folder / "runs").glob("*/summary.json"))
    workers = [p for p in sampler.known if sampler.is_worker(p)]
    trial_workers = {t["worker_pid"] for t in trials} & set(sampler.known)
    top = sorted(sampler.peak_pss.items(), key=lambda kv: -kv[1])[:10]
    return {
        "exit_code": proc.returncode,
        "wall_s": wall,
        "stderr_tail": (folder / "stderr.txt").read_text()[-3000:],
        "peak": sampler.peak,
        "samples": sampler.samples,
        "processes_seen": len(sampler.known),
        "left_running": sampler.sample(),
        "driver_peak_pss": sampler.peak_pss.get(proc.pid, 0),
        "worker_peak_pss": {str(p): sampler.peak_pss.get(p, 0) for p in workers},
        "trial_worker_peak_pss": {str(p): sampler.peak_pss.get(p, 0) for p in trial_workers},
        "trials": trials,
        "summary": json.loads(summaries[0].read_text()) if summaries else None,
        "top_processes": [
            {"pid": p, "peak_pss_mb": v / MB, "cmd": sampler.label.get(p, "")[:100]} for p, v in top
        ],
    }


def search_size(n: int, m: int, *, epochs: int, top_k: int, seed: int, workdir: Path) -> dict:
    """Simulate one size, run the search on it, and return its report row (with raw facts)."""
    print(f"[{time.strftime('%H:%M:%S')}] {n} x {m}: simulating", flush=True)
    made = make_files(n, m, workdir, seed)
    config = write_search_config(workdir, epochs=epochs, top_k=top_k, seed=seed)
    print(f"[{time.strftime('%H:%M:%S')}] {n} x {m}: hpsearch run", flush=True)
    facts = run_search(workdir, config)
    size, peak = made["int8_bytes"], facts["peak"]
    workers = facts["trial_worker_peak_pss"] or facts["worker_peak_pss"]  # none if all failed
    return {
        "lines": n,
        "markers": m,
        "int8_mb": size / MB,
        "simulate_s": made["simulate_s"],
        "write_plink_s": made["write_plink_s"],
        "exit_code": facts["exit_code"],
        "wall_s": facts["wall_s"],
        "tree_peak_pss_mb": peak["pss"] / MB,
        "ratio_tree_peak_pss_to_int8": peak["pss"] / size,
        "tree_peak_private_mb": peak["private"] / MB,
        "tree_peak_shmem_pss_mb": peak["shmem"] / MB,
        "tree_peak_rss_mb": peak["rss"] / MB,
        "driver_peak_pss_mb": facts["driver_peak_pss"] / MB,
        "largest_worker_peak_pss_mb": max(workers.values(), default=0) / MB,
        "ray_workers_seen": len(facts["worker_peak_pss"]),
        "trial_workers": len(facts["trial_worker_peak_pss"]),
        "max_processes": peak["processes"],
        "dev_shm_used_peak_mb": peak["shm_used"] / MB,
        "node_used_peak_mb": peak["node_used"] / MB,
        "within_24gb": peak["pss"] <= LIMIT_BYTES,
        "scores": [t["score"] for t in facts["trials"]],
        "status": [t["status"] for t in facts["trials"]],
        "trial_s": [t["duration_s"] for t in facts["trials"]],
        "raw": facts,
    }


def search_markdown(rows: list[dict], info: dict[str, Any]) -> str:
    headers = [
        "lines × markers", "int8 MB", "tree peak PSS MB", "tree peak / int8",
        "driver peak PSS MB", "largest worker peak PSS MB", "tree peak private MB",
        "tree peak shmem PSS MB", "processes", "run wall s", "scores", "exit", "≤ 24 GB",
    ]  # fmt: skip
    table = [
        [
            f"{r['lines']:,} × {r['markers']:,}",
            r["int8_mb"],
            r["tree_peak_pss_mb"],
            r["ratio_tree_peak_pss_to_int8"],
            r["driver_peak_pss_mb"],
            r["largest_worker_peak_pss_mb"],
            r["tree_peak_private_mb"],
            r["tree_peak_shmem_pss_mb"],
            r["max_processes"],
            r["wall_s"],
            " / ".join("n/a" if s is None else f"{s:.3f}" for s in r["scores"]),
            r["exit_code"],
            "yes" if r["within_24gb"] else "NO",
        ]
        for r in rows
    ]
    notes = (
        f"\n\nMachine: {info['machine']['cpus']} CPUs, {info['machine']['cpu']}, "
        f"{info['mem_total_mb']:,.0f} MB RAM; `hpsearch run --quiet`: MLP {PARAMS} with "
        f"learning rate in {list(LEARNING_RATES)} (grid, 2 trials), top-k {info['top_k']}, "
        f"{info['epochs']} epochs, outer kfold 5 fold 1, inner holdout 0.2, Ray executor "
        "with 2 concurrent trials, MLflow on (sqlite). Memory of the driver and every process "
        f"it starts (Ray's GCS, raylet, workers), sampled every {SAMPLE_S} s: PSS from "
        "/proc/PID/smaps_rollup splits shared pages between the processes that map them, so "
        "the object store's copy of the int8 matrix counts once; tree peak = the largest sum "
        "over one sample; private = Private_Clean + Private_Dirty; shmem = Pss_Shmem (Ray's "
        "object store on /dev/shm). Run wall = start of `hpsearch run` to its exit (Python "
        "and Ray start, PLINK load, both trials, outer refit and test, MLflow)."
    )
    return (
        "# bench_scale --mode search: `hpsearch run` at scale\n\n"
        + md_table(headers, table)
        + notes
    )


def main_search(args: argparse.Namespace) -> int:
    """Every size in turn; results written after each; exit 1 if any run failed."""
    info = {
        "machine": machine(),
        "mem_total_mb": meminfo()["MemTotal"] / MB,
        "epochs": args.epochs,
        "top_k": args.top_k,
        "params": PARAMS,
        "learning_rates": LEARNING_RATES,
    }
    rows: list[dict] = []
    for size in args.sizes.split(","):
        n, m = (int(v) for v in size.lower().split("x"))
        folder = Path(tempfile.mkdtemp(prefix=f"bench_scale_search_{n}x{m}_"))
        try:
            row = search_size(
                n, m, epochs=args.epochs, top_k=args.top_k, seed=args.seed, workdir=folder
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        rows.append(row)
        print(
            f"  int8 {row['int8_mb']:.0f} MB, tree peak PSS {row['tree_peak_pss_mb']:.0f} MB "
            f"(x{row['ratio_tree_peak_pss_to_int8']:.2f}), driver "
            f"{row['driver_peak_pss_mb']:.0f} MB, worker {row['largest_worker_peak_pss_mb']:.0f}"
            f" MB, wall {row['wall_s']:.0f} s, exit {row['exit_code']}, scores {row['scores']}",
            flush=True,
        )
        if row["exit_code"] != 0:
            print(row["raw"]["stderr_tail"], file=sys.stderr)
        info["machine"]["load_average_end"] = os.getloadavg()
        write_results(args.name, {"info": info, "rows": rows}, search_markdown(rows, info))
    return int(any(r["exit_code"] != 0 for r in rows))


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
    parser.add_argument("--mode", choices=("tasks", "search"), default="tasks")
    parser.add_argument("--name", help="results name (default bench_scale[_search])")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(args), default=str))
        return 0
    if args.mode == "search":
        args.name = args.name or "bench_scale_search"
        return main_search(args)
    args.name = args.name or "bench_scale"

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
