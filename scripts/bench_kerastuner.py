"""hpsearch (Ray, 2 concurrent trials, MLflow on) vs KerasTuner RandomSearch: time and best score.

Same data (wheat trait 1, training part of outer fold 1 of ``wheat.sets``), same single inner
holdout split (20 % of those lines, hpsearch's own split, which KerasTuner receives as
``validation_data``), same preprocessing (hpsearch's, fitted on the split's training rows),
same MLP builder, same space (``search_spaces/mlp.yaml`` in KerasTuner's ``HyperParameters``:
conditional momentum/nesterov/units_shrink through ``conditional_scope``; SNP preselection
fixed off on both sides since KerasTuner has no preprocessing hook), same epoch cap, same early
stopping on the validation loss (patience and min_delta searched, best weights restored), same
score (Pearson r of the restored model on the holdout rows) and the same number of trials.
KerasTuner runs its trials one after another (it has no parallel mode on one machine);
hpsearch runs two at a time on a local Ray. Each side runs in a fresh process; the wall times
are spawn → exit (hpsearch's outer refit, which KerasTuner does not do, subtracted). Random
draws differ between the two tools, so the best score is compared over several seeds.

KerasTuner needs ``pip install keras-tuner tensorboard`` (TF 2.21 no longer pulls
tensorboard, and KerasTuner imports it in every trial).

    .venv/bin/python scripts/bench_kerastuner.py [--trials 16] [--epochs 20] [--seeds 2]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as bc

SCRIPT = Path(__file__).resolve()
HOLDOUT = {"holdout": 0.2, "seed": 0}
NO_PRESELECTION = {"preselect_top_k": 0}


def write_configs(
    work: Path, *, trials: int, epochs: int, seed: int, data: bc.BenchData
) -> dict[str, Path]:
    """The hpsearch experiment and the space both sides use."""
    space = bc.write_space(work / "space.yaml", epochs=epochs, fixed=NO_PRESELECTION)
    config = bc.write_experiment(
        work / f"hpsearch-{seed}.yaml",
        data=data,
        space=space,
        trials=trials,
        max_concurrent=2,
        mlflow_uri=f"sqlite:///{work / 'mlflow.db'}",
        inner=HOLDOUT,
        seed=seed,
        name=f"kt-compare-{seed}",
    )
    return {"space": space, "config": config}


# --------------------------------------------------------------------------- KerasTuner side


def keras_tuner_search(
    config: Path, *, trials: int, epochs: int, seed: int, directory: Path
) -> dict[str, Any]:
    """RandomSearch over the MLP space on hpsearch's holdout split; returns time and scores."""
    import numpy as np

    from hpsearch.data.preprocess import PreprocessOptions, Preprocessor
    from hpsearch.metrics import score_predictions
    from hpsearch.models import get_builder
    from hpsearch.training import _keras

    keras = _keras()
    import keras_tuner as kt

    prepared = bc.load_prepared(config)
    data, split = prepared.data, prepared.plans[0].inner[0]
    train, valid = np.asarray(split.train), np.asarray(split.valid)
    pre = Preprocessor(PreprocessOptions.from_params({}), data.task).fit(
        data.genotypes[train], data.target[train]
    )
    x_train = np.asarray(pre.transform(data.genotypes[train]), dtype=np.float32)
    x_valid = np.asarray(pre.transform(data.genotypes[valid]), dtype=np.float32)
    y_train = np.asarray(pre.transform_target(data.target[train]), np.float32).reshape(-1, 1)
    y_valid_fit = np.asarray(pre.transform_target(data.target[valid]), np.float32).reshape(-1, 1)
    y_valid = np.asarray(data.target[valid])
    builder = get_builder("mlp")
    counter = {"built": 0}

    class MLPHyperModel(kt.HyperModel):
        """search_spaces/mlp.yaml in KerasTuner's terms; builds with hpsearch's MLP builder."""

        def params(self, hp: Any) -> dict[str, Any]:
            p: dict[str, Any] = {}
            p["optimizer"] = hp.Choice(
                "optimizer", ["sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamax", "nadam"]
            )
            with hp.conditional_scope("optimizer", ["sgd"]):  # inactive (None) otherwise
                momentum = hp.Float("momentum", 0.0, 0.95)
                nesterov = hp.Boolean("nesterov")
            if p["optimizer"] == "sgd":
                p["momentum"], p["nesterov"] = momentum, nesterov
            p["learning_rate"] = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
            p["n_layers"] = hp.Int("n_layers", 1, 4)
            p["units"] = hp.Int("units", 8, 256, sampling="log")
            with hp.conditional_scope("n_layers", [2, 3, 4]):
                shrink = hp.Choice("units_shrink", [0.25, 0.5, 0.75, 1.0])
                if p["n_layers"] > 1:
                    p["units_shrink"] = shrink
            p["activation"] = hp.Choice(
                "activation", ["relu", "elu", "selu", "tanh", "sigmoid", "softplus", "linear"]
            )
            p["l1"] = hp.Choice("l1", [0.0, 1e-5, 1e-4, 1e-3])
            p["l2"] = hp.Choice("l2", [0.0, 1e-5, 1e-4, 1e-3, 1e-2])
            p["activity_l1"] = hp.Choice("activity_l1", [0.0, 1e-5, 1e-4])
            p["activity_l2"] = hp.Choice("activity_l2", [0.0, 1e-5, 1e-4])
            p["dropout"] = hp.Float("dropout", 0.0, 0.5, step=0.1)
            return p

        def build(self, hp: Any) -> Any:
            counter["built"] += 1
            keras.backend.clear_session(free_memory=False)
            keras.utils.set_random_seed(seed * 1000 + counter["built"])
            return builder(
                self.params(hp), input_shape=(x_train.shape[1],), n_outputs=1, task="regression"
            )

        def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            stop = keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=hp.Choice("patience", [5, 10, 20]),
                min_delta=hp.Choice("min_delta", [0.0, 1e-4, 1e-3]),
                restore_best_weights=True,
            )
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), stop]
            model.fit(
                *args,
                batch_size=hp.Choice("batch_size", [16, 32, 64, 128]),
                epochs=epochs,
                verbose=0,
                **kwargs,
            )
            pred = keras.ops.convert_to_numpy(model(x_valid, training=False)).astype(np.float64)
            pred = np.asarray(pre.inverse_target(pred)).reshape(-1)
            r = score_predictions("regression", y_valid, pred)["pearson_r"]
            return {"val_pearson_r": float(r) if math.isfinite(r) else -1.0}

    tuner = kt.RandomSearch(
        MLPHyperModel(),
        objective=kt.Objective("val_pearson_r", direction="max"),
        max_trials=trials,
        seed=seed,
        directory=str(directory),
        project_name=f"kt-{seed}",
        overwrite=True,
    )
    started = time.perf_counter()
    tuner.search(x_train, y_train, validation_data=(x_valid, y_valid_fit))
    search_s = time.perf_counter() - started
    done = [t for t in tuner.oracle.trials.values() if t.score is not None]
    return {
        "search_s": search_s,
        "n_trials": len(tuner.oracle.trials),
        "n_scored": len(done),
        "scores": [t.score for t in done],
        "best": max((t.score for t in done), default=None),
    }


# --------------------------------------------------------------------------- children


def _child(args: argparse.Namespace) -> int:
    config = Path(args.config)
    if args.child == "kerastuner":
        out = keras_tuner_search(
            config,
            trials=args.trials,
            epochs=args.epochs,
            seed=args.seed,
            directory=Path(args.work) / f"kt-{args.seed}-{time.time_ns()}",
        )
    else:
        out = bc.run_hpsearch(bc.load_prepared(config))
    Path(args.out).write_text(json.dumps(out, default=str))
    return 0


def _run_child(kind: str, config: Path, work: Path, args: list[str]) -> dict[str, Any]:
    out = work / f"{kind}-{time.time_ns()}.json"
    command = [bc.python(), str(SCRIPT), "--child", kind, "--config", str(config)]
    command += ["--work", str(work), "--out", str(out), *args]
    load = bc.load_average()[0]
    started = time.perf_counter()
    with open(work / f"{kind}.log", "ab") as log:
        code = subprocess.run(command, env=bc.quiet_env(), stdout=log, stderr=log).returncode
    wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"{kind} failed (exit {code}); see {work / (kind + '.log')}")
    result = json.loads(out.read_text())
    result["process_wall"] = wall
    result["wall"] = wall - float(result.get("outer_refit") or 0.0)
    result["load_before"] = load
    return result


def compare(
    *,
    trials: int = 16,
    epochs: int = 20,
    seeds: int = 2,
    write: bool = True,
    name: str = "bench_kerastuner",
) -> dict[str, Any]:
    """For each seed: KerasTuner then hpsearch (order alternating), each in a fresh process."""
    data = bc.find_data()
    if data is None:
        raise SystemExit("bench_kerastuner: neither ../shared/data/wheat.* nor DATA/example.*")
    try:
        import keras_tuner  # noqa: F401
        import tensorboard  # noqa: F401
    except ImportError as exc:
        raise SystemExit(
            f"bench_kerastuner: {exc}; run '.venv/bin/pip install keras-tuner tensorboard'"
        ) from None
    machine = bc.machine()
    runs: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="hpsearch-bench-kt-"))
    try:
        for seed in range(seeds):
            files = write_configs(work, trials=trials, epochs=epochs, seed=seed, data=data)
            extra = ["--trials", str(trials), "--epochs", str(epochs), "--seed", str(seed)]
            order = ("kerastuner", "hpsearch") if seed % 2 == 0 else ("hpsearch", "kerastuner")
            pair = {}
            for kind in order:
                pair[kind] = _run_child(kind, files["config"], work, extra)
                print(
                    f"seed {seed} {kind:<10} wall {pair[kind]['wall']:7.2f} s "
                    f"best {pair[kind]['best']}",
                    flush=True,
                )
            runs.append({"seed": seed, **pair})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = summarise(runs, machine, data=data.label, trials=trials, epochs=epochs)
    out["markdown"] = markdown(out)
    if write:
        json_path, md_path = bc.write_results(name, out, out["markdown"])
        out["files"] = [str(json_path), str(md_path)]
    return out


def summarise(
    runs: list[dict[str, Any]], machine: dict[str, Any], *, data: str, trials: int, epochs: int
) -> dict[str, Any]:
    ratios = [r["hpsearch"]["wall"] / r["kerastuner"]["wall"] for r in runs]
    best_h = [r["hpsearch"]["best"] for r in runs]
    best_k = [r["kerastuner"]["best"] for r in runs]
    return {
        "machine": machine,
        "data": data,
        "trials": trials,
        "epochs_cap": epochs,
        "runs": runs,
        "time_ratio_median": bc.median(ratios),
        "time_ratios": ratios,
        "hpsearch_wall_median": bc.median([r["hpsearch"]["wall"] for r in runs]),
        "kerastuner_wall_median": bc.median([r["kerastuner"]["wall"] for r in runs]),
        "best_hpsearch_median": bc.median([b for b in best_h if b is not None]),
        "best_kerastuner_median": bc.median([b for b in best_k if b is not None]),
        "best_hpsearch": best_h,
        "best_kerastuner": best_k,
        "load_average_end": bc.load_average(),
    }


def markdown(out: dict[str, Any]) -> str:
    rows = []
    for r in out["runs"]:
        h, k = r["hpsearch"], r["kerastuner"]
        rows.append((r["seed"], k["wall"], h["wall"], h["wall"] / k["wall"], k["best"], h["best"]))
    rows.append(
        (
            "median",
            out["kerastuner_wall_median"],
            out["hpsearch_wall_median"],
            out["time_ratio_median"],
            out["best_kerastuner_median"],
            out["best_hpsearch_median"],
        )
    )
    return "\n".join(
        [
            f"{out['trials']} random MLP trials on {out['data']} (training part of outer fold 1, "
            f"one 20 % holdout split, epoch cap {out['epochs_cap']}, early stopping on val_loss): "
            "KerasTuner RandomSearch (sequential) vs hpsearch (Ray, 2 concurrent trials, MLflow "
            "on). Wall = fresh process spawn to exit (hpsearch's outer refit subtracted), s; best "
            "= Pearson r on the holdout rows. Target: time ratio <= 0.6 with an equal or better "
            "best score.",
            "",
            bc.md_table(
                (
                    "seed",
                    "KerasTuner wall",
                    "hpsearch wall",
                    "time ratio",
                    "KerasTuner best r",
                    "hpsearch best r",
                ),
                rows,
            ),
            "",
            f"Machine: {out['machine']['cpus']} CPUs, shared; load average at start "
            f"{out['machine']['load_average_start'][0]:.1f}, at end "
            f"{out['load_average_end'][0]:.1f}.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=2, help="repeats with other random draws")
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--name", default="bench_kerastuner", help="results file name")
    parser.add_argument("--child", choices=("kerastuner", "hpsearch"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    out = compare(trials=args.trials, epochs=args.epochs, seeds=args.seeds, name=args.name)
    print(out["markdown"])
    print("\n".join(out.get("files", [])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
