"""Look at the data before searching (the guide's first advice): ``hpsearch inspect``.

"Before starting, inspect the data, both SNPs and phenotypic distributions. Look for
unexpected, weird patterns that may cause biases or other artefacts."

Genotypes (the lines that have genotypes and a value for the chosen trait, i.e. what a search
would use, read through :func:`hpsearch.data.loading.load_dataset`): allele-frequency spectrum,
missingness per marker and per line, monomorphic markers, duplicated markers and lines,
population structure (PCA of the standardised matrix: variance explained, PC1 against PC2) and
linkage disequilibrium (r²) between markers that are adjacent IN FILE ORDER — which is map order
only when the file is sorted by map (the wheat DArT markers are not). Phenotypes (every trait
of the file, via :func:`hpsearch.data.phenotypes.read_phenotypes`): histograms, outliers
(|z| > 4) and pairwise trait correlations.

Written to an output folder: PNG figures, ``report.md``, ``report.html`` and
``inspection.json``; attached to MLflow as a run with ``hpsearch.role = inspection`` when
tracking is on.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.errors import ConfigError
from hpsearch.reporting import Document, cell

if TYPE_CHECKING:
    import numpy as np

    from hpsearch.data.dataset import GenomicData
    from hpsearch.data.phenotypes import PhenotypeTable

#: |z| above which a phenotype value is listed as an outlier.
OUTLIER_Z = 4.0
#: Minor allele frequency under which markers are counted as rare.
RARE_MAF = 0.05
#: Whole PCA spectrum (Gram matrix) when lines or markers are at most this many; else a
#: randomized SVD of the first PCs.
GRAM_LIMIT = 4000
N_PCS = 20
#: Random marker pairs that give the background LD level.
RANDOM_PAIRS = 5000
_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
_CLI = "command line"


# -- statistics ------------------------------------------------------------------------------------


@dataclass
class GenotypeStats:
    """Numbers about the genotype matrix (marker-level arrays are kept for the figures)."""

    n_lines: int
    n_markers: int
    ploidy: int  # 1 for 0/1 codes (inbred lines, presence/absence), 2 for 0/1/2 dosages
    maf: np.ndarray  # per marker, NaN when all calls are missing
    missing_per_marker: np.ndarray
    missing_per_line: np.ndarray
    monomorphic: list[int]
    duplicated_markers: list[list[int]]  # groups of identical polymorphic marker columns
    duplicated_lines: list[list[int]]  # groups of identical rows
    pc_variance: np.ndarray  # fraction of total variance per PC (first PCs or all)
    pc_scores: np.ndarray  # lines × 2 (PC1, PC2)
    pcs_for: dict[str, int | None]  # PCs needed for 50 / 80 / 95 % (None when not computed)
    adjacent_r2: np.ndarray  # per adjacent pair (j, j+1) in file order; NaN when undefined
    adjacent_r: np.ndarray
    random_r2: np.ndarray
    random_r: np.ndarray
    cross_chromosome_pairs: int = 0

    def facts(self) -> dict[str, Any]:
        """JSON-friendly summary (no per-marker arrays)."""
        import numpy as np

        def mean(values: np.ndarray) -> float | None:
            finite = values[np.isfinite(values)]
            return float(finite.mean()) if finite.size else None

        maf = self.maf[np.isfinite(self.maf)]
        return {
            "n_lines": self.n_lines,
            "n_markers": self.n_markers,
            "coding": "0/1 (one allele count per line)" if self.ploidy == 1 else "0/1/2 dosage",
            "maf_below_0.05": int((maf < RARE_MAF).sum()),
            "maf_below_0.01": int((maf < 0.01).sum()),
            "maf_median": float(np.median(maf)) if maf.size else None,
            "maf_min_polymorphic": float(maf[maf > 0].min()) if (maf > 0).any() else None,
            "monomorphic_markers": len(self.monomorphic),
            "missing_fraction": float(np.mean(self.missing_per_marker)),
            "markers_missing_over_20pct": int((self.missing_per_marker > 0.2).sum()),
            "lines_missing_over_20pct": int((self.missing_per_line > 0.2).sum()),
            "duplicated_marker_groups": len(self.duplicated_markers),
            "redundant_markers": sum(len(g) - 1 for g in self.duplicated_markers),
            "duplicated_line_groups": len(self.duplicated_lines),
            "redundant_lines": sum(len(g) - 1 for g in self.duplicated_lines),
            "pc1_variance": float(self.pc_variance[0]) if self.pc_variance.size else None,
            "pc2_variance": float(self.pc_variance[1]) if self.pc_variance.size > 1 else None,
            "pcs_for_50_80_95pct": self.pcs_for,
            "adjacent_mean_r2": mean(self.adjacent_r2),
            "adjacent_mean_abs_r": mean(np.abs(self.adjacent_r)),
            "random_pairs_mean_r2": mean(self.random_r2),
            "random_pairs_mean_abs_r": mean(np.abs(self.random_r)),
            "adjacent_pairs_r2_over_0.8": int(np.nansum(self.adjacent_r2 > 0.8)),
            "cross_chromosome_pairs_skipped": self.cross_chromosome_pairs,
        }


def as_float(data: GenomicData) -> np.ndarray:
    """The genotypes as float32 with NaN for a missing call (a copy; int8 codes < 0 = missing)."""
    import numpy as np

    values = np.asarray(data.genotypes)
    out = values.astype(np.float32, copy=True)
    if data.missing_code is not None or values.dtype.kind in "iu":
        out[values < 0] = np.nan
    return out


def _groups(rows: Any, keep: Sequence[int]) -> list[list[int]]:
    """Groups (size > 1) of identical rows among ``keep``, by a digest of their bytes."""
    import numpy as np

    seen: dict[bytes, list[int]] = {}
    for index in keep:
        row = np.ascontiguousarray(rows[index])
        digest = hashlib.blake2b(row.tobytes(), digest_size=16).digest()
        seen.setdefault(digest, []).append(int(index))
    return sorted((g for g in seen.values() if len(g) > 1), key=lambda g: g[0])


def genotype_stats(
    x: np.ndarray, *, chromosomes: np.ndarray | None = None, seed: int = 0
) -> GenotypeStats:
    """Every genotype statistic of the report, from a float matrix with NaN = missing."""
    import numpy as np

    n, m = x.shape
    observed = ~np.isnan(x)
    n_obs = observed.sum(axis=0)
    ploidy = 2 if np.nanmax(x, initial=0.0) > 1.0 else 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_obs > 0, np.nansum(x, axis=0) / np.maximum(n_obs, 1), np.nan)
        freq = mean / ploidy
    maf = np.minimum(freq, 1.0 - freq)
    low = np.where(observed, x, np.inf).min(axis=0)
    high = np.where(observed, x, -np.inf).max(axis=0)
    mono_mask = (n_obs == 0) | (low == high)
    monomorphic = np.flatnonzero(mono_mask).tolist()
    polymorphic = np.flatnonzero(~mono_mask)
    sentinel = np.where(observed, x, -1.0).astype(np.float32)  # NaN never equals itself
    duplicated_markers = _groups(sentinel.T, polymorphic.tolist())
    duplicated_lines = _groups(sentinel, range(n))

    # Standardised matrix of the polymorphic markers; a missing call sits at the mean (0).
    z = np.zeros((n, m), dtype=np.float32)
    if polymorphic.size:
        sub = x[:, polymorphic]
        centred = sub - mean[polymorphic]
        sd = np.sqrt(np.nansum(centred**2, axis=0) / np.maximum(n_obs[polymorphic] - 1, 1))
        z[:, polymorphic] = np.nan_to_num(centred / sd, nan=0.0)
    pc_variance, pc_scores, pcs_for = _pca(z[:, polymorphic], seed=seed)

    r = np.full(max(m - 1, 0), np.nan)
    if m > 1:
        both = ~mono_mask[:-1] & ~mono_mask[1:]
        r[both] = _column_r(z, np.arange(m - 1)[both], np.arange(1, m)[both])
    crossing = 0
    if chromosomes is not None and m > 1:
        chrom = np.asarray(chromosomes).astype(str)
        cross = chrom[:-1] != chrom[1:]
        crossing = int(cross.sum())
        r[cross] = np.nan
    rng = np.random.default_rng(seed)
    if polymorphic.size > 1:
        a = rng.choice(polymorphic, RANDOM_PAIRS)
        b = rng.choice(polymorphic, RANDOM_PAIRS)
        distinct = a != b
        random_r = _column_r(z, a[distinct], b[distinct])
    else:
        random_r = np.zeros(0)
    return GenotypeStats(
        n_lines=n,
        n_markers=m,
        ploidy=ploidy,
        maf=maf,
        missing_per_marker=1.0 - n_obs / max(n, 1),
        missing_per_line=1.0 - observed.sum(axis=1) / max(m, 1),
        monomorphic=monomorphic,
        duplicated_markers=duplicated_markers,
        duplicated_lines=duplicated_lines,
        pc_variance=pc_variance,
        pc_scores=pc_scores,
        pcs_for=pcs_for,
        adjacent_r2=r**2,
        adjacent_r=r,
        random_r2=random_r**2,
        random_r=random_r,
        cross_chromosome_pairs=crossing,
    )


def _column_r(z: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of standardised columns ``a[i]`` and ``b[i]`` (exact without missing calls)."""
    import numpy as np

    n = z.shape[0]
    out = np.empty(len(a))
    for start in range(0, len(a), 4096):
        ia, ib = a[start : start + 4096], b[start : start + 4096]
        out[start : start + 4096] = np.einsum("ij,ij->j", z[:, ia], z[:, ib]) / max(n - 1, 1)
    return np.clip(out, -1.0, 1.0)


def _pca(z: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, int | None]]:
    """(variance fraction per PC, lines × 2 scores, PCs for 50/80/95 %)."""
    import numpy as np

    n, m = z.shape
    if n < 2 or m < 2:
        return np.zeros(0), np.zeros((n, 2)), {"50%": None, "80%": None, "95%": None}
    total = float(np.square(z, dtype=np.float64).sum())
    if min(n, m) <= GRAM_LIMIT:
        # Eigenvalues of the smaller Gram matrix are the squared singular values of z: the
        # whole spectrum at a fraction of an SVD's cost (0.1 s instead of 1-6 s on wheat).
        z64 = z.astype(np.float64)
        gram = z64 @ z64.T if n <= m else z64.T @ z64
        eigen, vectors = np.linalg.eigh(gram)
        eigen, vectors = np.clip(eigen[::-1], 0.0, None), vectors[:, ::-1]
        variance = eigen / total
        cumulative = np.cumsum(variance)
        pcs_for: dict[str, int | None] = {
            f"{int(q * 100)}%": int(np.searchsorted(cumulative, q - 1e-12) + 1)
            for q in (0.5, 0.8, 0.95)
        }
        top = vectors[:, :2]
        scores = top * np.sqrt(eigen[:2]) if n <= m else z64 @ top
    else:
        from sklearn.utils.extmath import randomized_svd

        u, s, _ = randomized_svd(z, n_components=min(N_PCS, n - 1, m - 1), random_state=seed)
        variance = s**2 / total
        pcs_for = {"50%": None, "80%": None, "95%": None}
        scores = u[:, :2] * s[:2]
    if scores.shape[1] < 2:
        scores = np.column_stack([scores, np.zeros(n)])
    return variance, scores, pcs_for


@dataclass
class TraitStats:
    name: str
    kind: str  # numeric | categorical | text (too many levels: an ID or a free-text column)
    n: int
    n_missing: int
    mean: float | None = None
    sd: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    skewness: float | None = None
    outliers: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def phenotype_stats(table: PhenotypeTable) -> tuple[list[TraitStats], Any]:
    """Per-trait statistics and the pairwise-complete correlation matrix of numeric traits."""
    import numpy as np

    frame = table.frame
    out = []
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind == "f":
            values = column.to_numpy(dtype=float)
            ok = values[np.isfinite(values)]
            stats = TraitStats(str(name), "numeric", int(ok.size), int(values.size - ok.size))
            if ok.size:
                mean, sd = float(ok.mean()), float(ok.std(ddof=1)) if ok.size > 1 else 0.0
                stats.mean, stats.sd = mean, sd
                stats.minimum, stats.maximum = float(ok.min()), float(ok.max())
                if sd > 0:
                    stats.skewness = float(np.mean(((ok - mean) / ok.std()) ** 3))
                    z = (values - mean) / sd
                    for row in np.flatnonzero(np.abs(np.nan_to_num(z)) > OUTLIER_Z).tolist():
                        line = (
                            f"line {frame.index[row]}" if table.has_ids else f"data row {row + 1}"
                        )
                        stats.outliers.append(
                            {"line": line, "value": float(values[row]), "z": float(z[row])}
                        )
            out.append(stats)
        else:
            present = [v for v in column.tolist() if v is not None]
            counts: dict[str, int] = {}
            for value in present:
                counts[str(value)] = counts.get(str(value), 0) + 1
            kind = "categorical" if len(counts) <= 20 else "text"
            stats = TraitStats(str(name), kind, len(present), len(column) - len(present))
            stats.counts = dict(sorted(counts.items())) if kind == "categorical" else {}
            out.append(stats)
    numeric = [s.name for s in out if s.kind == "numeric"]
    frame_numeric = frame[[c for c in frame.columns if str(c) in numeric]]
    correlations = frame_numeric.corr(method="pearson", min_periods=3) if len(numeric) > 1 else None
    return out, correlations


# -- figures ---------------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def maf_figure(stats: GenotypeStats) -> Any:
    import numpy as np

    maf = stats.maf[np.isfinite(stats.maf)]
    figure = _figure(6.4, 4.0)
    axes = figure.add_subplot()
    axes.hist(maf, bins=np.linspace(0.0, 0.5, 21), color="C0", edgecolor="white")
    rare = int((maf < RARE_MAF).sum())
    axes.axvline(RARE_MAF, color="C3", linestyle="--", label=f"MAF {RARE_MAF}: {rare} below")
    axes.set_xlim(0.0, 0.5)
    axes.set_xlabel("minor allele frequency")
    axes.set_ylabel("markers")
    mono = len(stats.monomorphic)
    axes.set_title(
        f"Allele-frequency spectrum: {stats.n_markers} markers, {stats.n_lines} lines"
        + (f" ({mono} monomorphic)" if mono else "")
    )
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def missingness_figure(stats: GenotypeStats) -> Any:
    import numpy as np

    figure = _figure(9.0, 3.8)
    for k, (values, what) in enumerate(
        ((stats.missing_per_marker, "marker"), (stats.missing_per_line, "line"))
    ):
        axes = figure.add_subplot(1, 2, k + 1)
        if np.any(values > 0):
            axes.hist(values, bins=np.linspace(0.0, 1.0, 41), color="C0", edgecolor="white")
            axes.set_xlim(0.0, 1.0)
        else:
            axes.text(0.5, 0.5, "no missing calls", ha="center", va="center", fontsize=12)
            axes.set_xlim(0.0, 1.0)
        axes.set_xlabel(f"fraction of calls missing per {what}")
        axes.set_ylabel(f"{what}s")
        axes.set_title(f"Missingness per {what} (mean {values.mean():.2%})")
        axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def pca_figure(
    stats: GenotypeStats, *, colour: np.ndarray | None, colour_label: str, classes: Any = None
) -> Any:
    import numpy as np

    figure = _figure(11.0, 4.4)
    scree = figure.add_subplot(1, 2, 1)
    shown = stats.pc_variance[:N_PCS] * 100
    xs = np.arange(1, len(shown) + 1)
    scree.bar(xs, shown, color="C0", label="per PC")
    scree.set_xlabel("principal component")
    scree.set_ylabel("variance explained (%)")
    scree.set_xticks(xs[:: max(1, len(xs) // 10)])
    twin = scree.twinx()
    twin.plot(xs, np.cumsum(shown), "o-", color="C1", markersize=3, label="cumulative")
    twin.set_ylabel("cumulative (%)", color="C1")
    twin.set_ylim(0, max(100.0, float(np.cumsum(shown)[-1]) if len(shown) else 100.0))
    scree.set_title(f"Genotype PCA: first {len(shown)} PCs (standardised markers)")
    scree.grid(alpha=0.3)
    scatter = figure.add_subplot(1, 2, 2)
    pc = stats.pc_scores
    v = stats.pc_variance
    if colour is not None and classes is None:
        points = scatter.scatter(pc[:, 0], pc[:, 1], c=colour, cmap="viridis", s=10, alpha=0.8)
        figure.colorbar(points, ax=scatter, label=colour_label)
    elif colour is not None:
        for code, label in enumerate(classes):
            keep = colour == code
            scatter.scatter(pc[keep, 0], pc[keep, 1], s=10, alpha=0.8, label=str(label))
        scatter.legend(title=colour_label, fontsize=8)
    else:
        scatter.scatter(pc[:, 0], pc[:, 1], s=10, alpha=0.8)
    scatter.set_xlabel(f"PC1 ({v[0]:.1%} of variance)" if v.size else "PC1")
    scatter.set_ylabel(f"PC2 ({v[1]:.1%} of variance)" if v.size > 1 else "PC2")
    scatter.set_title("Population structure: PC1 against PC2")
    scatter.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def ld_figure(stats: GenotypeStats) -> Any:
    import numpy as np

    figure = _figure(11.0, 4.0)
    along = figure.add_subplot(1, 2, 1)
    r2 = stats.adjacent_r2
    xs = np.arange(1, len(r2) + 1)
    along.plot(xs, r2, ".", markersize=2.5, alpha=0.6, color="C0")
    along.set_xlabel("marker position in the file (pair j, j+1)")
    along.set_ylabel("r² with the next marker")
    along.set_ylim(-0.02, 1.02)
    along.set_title("LD between adjacent markers, in FILE order")
    along.grid(alpha=0.3)
    hist = figure.add_subplot(1, 2, 2)
    bins = np.linspace(0.0, 1.0, 41)
    finite = r2[np.isfinite(r2)]
    hist.hist(finite, bins=bins, density=True, alpha=0.6, color="C0",
              label=f"adjacent pairs (mean {finite.mean() if finite.size else 0:.3f})")  # fmt: skip
    rnd = stats.random_r2
    hist.hist(rnd, bins=bins, density=True, alpha=0.5, color="C1",
              label=f"random pairs (mean {rnd.mean() if rnd.size else 0:.3f})")  # fmt: skip
    hist.set_yscale("log")
    hist.set_xlabel("r²")
    hist.set_ylabel("density (log scale)")
    hist.set_title("r²: adjacent against random marker pairs")
    hist.legend(fontsize=8)
    hist.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def phenotype_figure(
    traits: Sequence[TraitStats], table: PhenotypeTable, *, chosen: str | None = None
) -> Any:
    import numpy as np

    shown = [t for t in traits if t.kind in ("numeric", "categorical")]
    columns = min(3, max(1, len(shown)))
    rows = max(1, math.ceil(len(shown) / columns))
    figure = _figure(4.2 * columns, 3.3 * rows)
    for k, trait in enumerate(shown):
        axes = figure.add_subplot(rows, columns, k + 1)
        mark = " (searched)" if trait.name == chosen else ""
        if trait.kind == "numeric":
            values = table.frame[_column(table, trait.name)].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            bins = int(np.clip(np.histogram_bin_edges(values, bins="fd").size - 1, 10, 60))
            axes.hist(values, bins=bins, color="C0", edgecolor="white")
            if trait.outliers:
                label = f"{len(trait.outliers)} outlier(s), |z| > {OUTLIER_Z:g}"
                axes.plot([o["value"] for o in trait.outliers], [0] * len(trait.outliers), "^",
                          color="C3", markersize=9, clip_on=False, label=label)  # fmt: skip
                axes.legend(fontsize=8)
            axes.set_xlabel("value")
            axes.set_title(f"trait {trait.name}{mark}: n {trait.n}, mean {_r(trait.mean, 2):.2f}, "
                           f"sd {_r(trait.sd, 2):.2f}", fontsize=9)  # fmt: skip
        else:
            labels = list(trait.counts)
            axes.bar(range(len(labels)), [trait.counts[x] for x in labels], color="C0")
            axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
            axes.set_xlabel("class")
            axes.set_title(f"trait {trait.name}{mark}: n {trait.n}", fontsize=9)
        axes.set_ylabel("lines")
        axes.grid(alpha=0.3)
    figure.suptitle("Phenotype distributions", fontsize=11)
    figure.tight_layout()
    return figure


def _column(table: PhenotypeTable, name: str) -> Any:
    return next(c for c in table.frame.columns if str(c) == name)


def correlation_figure(correlations: Any) -> Any:
    names = [str(c) for c in correlations.columns]
    size = max(3.8, 0.7 * len(names) + 2.4)
    figure = _figure(size + 0.8, size)
    axes = figure.add_subplot()
    image = axes.imshow(correlations.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axes.set_yticks(range(len(names)), names)
    if len(names) <= 15:
        for i in range(len(names)):
            for j in range(len(names)):
                value = correlations.iat[i, j]
                colour = "white" if abs(value) > 0.6 else "black"
                axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color=colour)
    figure.colorbar(image, ax=axes, label="Pearson r (pairwise complete)")
    axes.set_title("Correlations between traits")
    figure.tight_layout()
    return figure


# -- the inspection -------------------------------------------------------------------------------


@dataclass
class Inspection:
    """What ``inspect_data`` wrote, and the numbers it found."""

    folder: Path
    facts: dict[str, Any]
    figures: list[Path]


def inspect_data(
    *,
    genotypes: str | Path,
    phenotypes: str | Path,
    out_dir: str | Path,
    trait: int | str = 0,
    task: str | None = None,
    genotype_options: Mapping[str, Any] | None = None,
    phenotype_options: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> Inspection:
    """Compute the inspection, write figures and the report into ``out_dir``."""
    from hpsearch.data.loading import load_dataset
    from hpsearch.data.phenotypes import read_phenotypes
    from hpsearch.tracking.journal import write_json_atomic

    data, load_report = load_dataset(
        genotypes=genotypes,
        phenotypes=phenotypes,
        trait=trait,
        task=task,
        genotype_options=dict(genotype_options or {}),
        phenotype_options=dict(phenotype_options or {}),
        source=source,
    )
    table = read_phenotypes(phenotypes, **dict(phenotype_options or {}))
    stats = genotype_stats(as_float(data), chromosomes=data.chromosomes)
    traits, correlations = phenotype_stats(table)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    figures: list[Path] = []

    def save(figure: Any, name: str) -> str:
        path = folder / f"{name}.png"
        figure.savefig(path)
        figures.append(path)
        return path.name

    classes = data.classes if data.task != "regression" else None
    images = {
        "maf": save(maf_figure(stats), "maf_spectrum"),
        "missing": save(missingness_figure(stats), "missingness"),
        "pca": save(
            pca_figure(
                stats, colour=data.target, colour_label=f"trait {data.trait}", classes=classes
            ),
            "pca",
        ),
        "phenotypes": save(phenotype_figure(traits, table, chosen=data.trait), "phenotypes"),
    }
    if stats.n_markers > 1:
        images["ld"] = save(ld_figure(stats), "ld_adjacent")
    if correlations is not None:
        images["correlations"] = save(correlation_figure(correlations), "trait_correlations")
    facts = {
        "genotypes": str(genotypes),
        "phenotypes": str(phenotypes),
        "trait": data.trait,
        "task": data.task,
        "load_report": load_report,
        "genotype": stats.facts(),
        "monomorphic_markers": [data.marker_ids[i] for i in stats.monomorphic],
        "duplicated_markers": [[data.marker_ids[i] for i in g] for g in stats.duplicated_markers],
        "duplicated_lines": [[data.line_ids[i] for i in g] for g in stats.duplicated_lines],
        "traits": [asdict(t) for t in traits],
        "trait_correlations": (
            {
                str(a): {str(b): _finite(correlations.loc[a, b]) for b in correlations.columns}
                for a in correlations.index
            }
            if correlations is not None
            else None
        ),
    }
    write_json_atomic(folder / "inspection.json", facts)
    _document(facts, stats, traits, images).write(folder)
    return Inspection(folder, facts, figures)


def _r(value: float | None, digits: int = 4) -> float | None:
    """Rounded for display, without a negative zero (a standardised mean of -7e-17 is 0)."""
    return None if value is None else round(value, digits) + 0.0


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _ids(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (f" … ({len(names)} in all)" if len(names) > limit else "")


def _document(
    facts: Mapping[str, Any],
    stats: GenotypeStats,
    traits: Sequence[TraitStats],
    images: Mapping[str, str],
) -> Document:
    g = facts["genotype"]
    report = facts["load_report"]
    doc = Document(f"Data inspection: {Path(facts['genotypes']).name}")
    doc.paragraph(
        f"Genotypes `{facts['genotypes']}`, phenotypes `{facts['phenotypes']}`. Genotype "
        f"statistics cover the {g['n_lines']} lines that have genotypes and a value for trait "
        f"`{facts['trait']}` ({facts['task']}), i.e. the lines a search would use; "
        f"{report.get('dropped_missing_trait', 0)} lines were dropped for a missing trait value."
    )
    doc.heading("Markers")
    doc.table(
        ["fact", "value"],
        [
            ["lines × markers", f"{g['n_lines']} × {g['n_markers']}"],
            ["coding", g["coding"]],
            ["markers with MAF < 0.05", g["maf_below_0.05"]],
            ["markers with MAF < 0.01", g["maf_below_0.01"]],
            ["median MAF", g["maf_median"]],
            ["monomorphic markers", g["monomorphic_markers"]],
            ["missing calls (fraction)", g["missing_fraction"]],
            ["markers / lines with > 20 % missing",
             f"{g['markers_missing_over_20pct']} / {g['lines_missing_over_20pct']}"],
            ["duplicated markers (groups; redundant copies)",
             f"{g['duplicated_marker_groups']}; {g['redundant_markers']}"],
            ["duplicated lines (groups; redundant copies)",
             f"{g['duplicated_line_groups']}; {g['redundant_lines']}"],
        ],
    )  # fmt: skip
    doc.image(images["maf"], "allele-frequency spectrum")
    doc.image(images["missing"], "missingness per marker and per line")
    notes = []
    if facts["monomorphic_markers"]:
        notes.append(f"Monomorphic (carry no information): {_ids(facts['monomorphic_markers'])}")
    for group in facts["duplicated_markers"][:10]:
        notes.append(f"Identical marker columns: {_ids(group)}")
    for group in facts["duplicated_lines"][:10]:
        notes.append(f"Identical lines (same genotype at every marker): {_ids(group)}")
    if notes:
        doc.bullets(notes)
    doc.heading("Population structure")
    pcs = g["pcs_for_50_80_95pct"]
    needed = (
        f" {pcs['50%']} / {pcs['80%']} / {pcs['95%']} PCs explain 50 / 80 / 95 %."
        if pcs.get("50%")
        else ""
    )
    doc.paragraph(
        f"PCA of the standardised genotype matrix (monomorphic markers left out, missing calls "
        f"at the marker mean): PC1 explains {cell(100 * (g['pc1_variance'] or 0), 1)} % of the "
        f"variance, PC2 {cell(100 * (g['pc2_variance'] or 0), 1)} %.{needed}"
    )
    doc.image(images["pca"], "genotype PCA")
    if "ld" in images:
        doc.heading("Linkage disequilibrium between adjacent markers")
        doc.paragraph(
            "Markers are paired with their neighbour in FILE order, which is map order only "
            "when the file is sorted by map position (wheat DArT markers are not). Mean r² "
            f"of adjacent pairs {cell(g['adjacent_mean_r2'])} (mean |r| "
            f"{cell(g['adjacent_mean_abs_r'])}) against {cell(g['random_pairs_mean_r2'])} "
            f"(mean |r| {cell(g['random_pairs_mean_abs_r'])}) for {RANDOM_PAIRS} random pairs; "
            f"{g['adjacent_pairs_r2_over_0.8']} adjacent pairs have r² > 0.8. Adjacent LD "
            "close to the random level means the column order carries little locality for "
            "CNN/LSTM models."
        )
        doc.image(images["ld"], "LD between adjacent markers")
    doc.heading("Phenotypes")
    doc.table(
        ["trait", "kind", "n", "missing", "mean", "sd", "min", "max", "skewness",
         f"outliers (abs z > {OUTLIER_Z:g})"],
        [
            [t.name, t.kind, t.n, t.n_missing, _r(t.mean), _r(t.sd), _r(t.minimum),
             _r(t.maximum), _r(t.skewness),
             len(t.outliers) if t.kind == "numeric" else None]
            for t in traits
        ],
    )  # fmt: skip
    outliers = [
        f"trait `{t.name}`: {o['line']} = {cell(o['value'], 3)} (z = {o['z']:.1f})"
        for t in traits
        for o in t.outliers[:20]
    ]
    if outliers:
        doc.bullets(outliers)
    doc.image(images["phenotypes"], "phenotype distributions")
    if "correlations" in images:
        doc.image(images["correlations"], "correlations between traits")
        corr = facts["trait_correlations"]
        names = list(corr)
        doc.table(["trait", *names], [[a, *(corr[a][b] for b in names)] for a in names])
    return doc


# -- MLflow -------------------------------------------------------------------------------------


def log_inspection(
    inspection: Inspection, *, uri: str | None, experiment: str, name: str
) -> tuple[str, str]:
    """An MLflow run (``hpsearch.role = inspection``) holding the facts and every file;
    returns (store URI with credentials masked, run id)."""
    from mlflow.entities import Metric

    from hpsearch.reporting.search_report import mlflow_calls, mlflow_experiment
    from hpsearch.tracking.mlflow_tracker import (
        ROLE_TAG,
        make_params,
        mask_credentials,
        mlflow_key,
    )

    client, experiment_id, resolved = mlflow_experiment(uri, experiment)
    g = inspection.facts["genotype"]
    metrics = {mlflow_key(k): float(v) for k, v in g.items() if isinstance(v, (int, float))}
    with mlflow_calls():
        run = client.create_run(
            experiment_id,
            run_name=name,
            tags={ROLE_TAG: "inspection", "hpsearch.trait": str(inspection.facts["trait"])},
        )
        run_id = run.info.run_id
        params = {
            "genotypes": inspection.facts["genotypes"],
            "phenotypes": inspection.facts["phenotypes"],
            "trait": inspection.facts["trait"],
            **{
                f"pcs_for_{share.rstrip('%')}pct": count
                for share, count in (g.get("pcs_for_50_80_95pct") or {}).items()
            },
        }
        stamp = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()],
            params=make_params(params),
            synchronous=True,
        )
        client.log_artifacts(run_id, str(inspection.folder), "inspection")
        client.set_terminated(run_id)
    return mask_credentials(resolved), run_id


# -- command line -------------------------------------------------------------------------------


def add_inspect_parser(subparsers: Any) -> None:
    """``hpsearch inspect CONFIG`` or ``hpsearch inspect GENOTYPES --phenotypes FILE ...``."""
    parser = subparsers.add_parser(
        "inspect",
        help="look at the data before searching: MAF, missingness, duplicates, PCA, LD, traits",
        description=(
            "Inspect genotypes and phenotypes: an experiment config's data (YAML), or a "
            "genotype file with --phenotypes. Writes PNG figures, report.md and report.html."
        ),
    )
    parser.add_argument("source", type=Path, metavar="CONFIG|GENOTYPES")
    parser.add_argument("--phenotypes", type=Path, help="phenotype file (with a genotype file)")
    parser.add_argument(
        "--trait", help="trait name or 0-based column (default: the config's, or 0)"
    )
    parser.add_argument("--out", type=Path, help="output folder (default: inspection-<name>)")
    parser.add_argument("--mlflow", action="store_true", help="log an 'inspection' run to MLflow")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    parser.add_argument(
        "--experiment", help="MLflow experiment (default: the config's, else 'inspection')"
    )


def cmd_inspect(args: argparse.Namespace) -> int:
    source: Path = args.source
    if args.mlflow and args.no_mlflow:
        raise ConfigError.at(_CLI, "--mlflow", "not come with --no-mlflow", "both")
    uri: str | None = None
    track = bool(args.mlflow)
    experiment = args.experiment or "inspection"
    if args.phenotypes is None:
        if source.suffix.lower() not in _CONFIG_SUFFIXES:
            raise ConfigError.at(
                _CLI, "--phenotypes", "be given with a genotype file", "nothing",
                "or name an experiment config (.yaml)",
            )  # fmt: skip
        from hpsearch.config import load_config

        config = load_config(source)
        data = config.data
        options = {
            "genotypes": data.genotypes,
            "phenotypes": data.phenotypes,
            "trait": args.trait if args.trait is not None else data.trait,
            "task": data.task,
            "genotype_options": data.genotype_options,
            "phenotype_options": data.phenotype_options,
            "source": config.source,
        }
        out = args.out or Path(config.output) / f"inspection-{config.name}"
        track = (config.tracking.mlflow or args.mlflow) and not args.no_mlflow
        uri = config.tracking.uri
        experiment = args.experiment or config.tracking.experiment or config.name
        name = f"inspection: {config.name}"
    else:
        for flag, path in (("GENOTYPES", source), ("--phenotypes", args.phenotypes)):
            if not path.exists():
                raise ConfigError.at(_CLI, flag, "name an existing file", str(path))
        options = {
            "genotypes": source,
            "phenotypes": args.phenotypes,
            "trait": args.trait if args.trait is not None else 0,
            "source": _CLI,
        }
        out = args.out or Path(f"inspection-{source.stem}")
        name = f"inspection: {source.name}"
    inspection = inspect_data(out_dir=out, **options)
    g = inspection.facts["genotype"]
    print(
        f"{g['n_lines']} lines × {g['n_markers']} markers; MAF < 0.05: {g['maf_below_0.05']}; "
        f"monomorphic: {g['monomorphic_markers']}; duplicated markers: {g['redundant_markers']}; "
        f"duplicated lines: {g['redundant_lines']}; PC1 {100 * (g['pc1_variance'] or 0):.1f} %"
    )
    print(f"report: {inspection.folder / 'report.md'} (and report.html, PNG figures)")
    if track:
        try:
            where, run_id = log_inspection(inspection, uri=uri, experiment=experiment, name=name)
        except Exception as exc:  # the files are written; MLflow is a mirror
            from hpsearch.tracking.mlflow_tracker import mask_credentials

            problem = mask_credentials(f"{type(exc).__name__}: {exc}")
            print(f"hpsearch: the inspection was not logged to MLflow ({problem})")
        else:
            print(f"MLflow: run {run_id} in {where} (experiment {experiment!r})")
    return 0
