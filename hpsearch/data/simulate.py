"""A small founder-mosaic simulator: wheat-like lines with LD, QTL off the panel, known truth.

Genome: ``n_chromosomes`` chromosomes of 1.5 Morgans. Founder haplotypes carry alleles drawn
with U-shaped frequencies (Beta(0.5, 0.5)). Each gamete is a mosaic of founders with
Poisson(1.5) crossovers per chromosome, so nearby sites are in LD that decays with distance.
Inbred lines (coding "01", like DArT presence/absence) are one gamete; "012" dosages sum two.
Sites are generated in excess; markers are drawn among those with MAF >= maf_min, QTL among the
remaining ones (so markers only tag QTL through LD). Traits: additive QTL effects plus pairwise
QTL products (a share ``epistasis`` of the genetic variance), effects correlated across traits,
noise scaled so each trait has heritability h2 exactly in the sample; phenotypes standardised.

Only segments are stored per gamete, so allele frequencies of all sites come from segment
counts and only the chosen columns are ever materialised (int8): 20,000 × 100,000 is feasible.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.errors import ConfigError

CHROMOSOME_MORGANS = 1.5
#: Genotype code of a missing call in :attr:`SimulatedData.genotypes` (written as "NA").
MISSING_CODE = -1
_SOURCE = "simulate"


@dataclass
class SimulatedData:
    """A simulated data set with its truth; genotypes use :data:`MISSING_CODE` for missing."""

    genotypes: np.ndarray  # int8 (n, m)
    phenotypes: np.ndarray  # float64 (n, t), each column mean 0, sd 1
    genetic_values: np.ndarray  # float64 (n, t), on the phenotype scale
    folds: np.ndarray  # int64 (n,), 1..n_folds
    line_ids: list[str]
    marker_ids: list[str]
    chromosomes: np.ndarray  # int64 (m,), 1-based
    positions: np.ndarray  # float64 (m,), centiMorgans
    qtl: dict[str, Any]
    params: dict[str, Any]


@dataclass
class _Gametes:
    """Founder segments of all gametes on one chromosome (positions in Morgans)."""

    line: np.ndarray
    founder: np.ndarray
    start: np.ndarray
    end: np.ndarray


def _fail(field: str, must: str, got: Any) -> ConfigError:
    return ConfigError.at(_SOURCE, field, must, got)


def _int_at_least(value: Any, low: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise _fail(field, f"be an integer >= {low}", value)
    return int(value)


def _number_in(value: Any, field: str, must: str, ok: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _fail(field, must, value)
    if not ok(float(value)):
        raise _fail(field, must, value)
    return float(value)


def _trait_correlation_factor(rho: float, n_traits: int) -> np.ndarray:
    """Cholesky factor of the equicorrelation matrix (upper, so Z @ U has correlation rho)."""
    corr = np.full((n_traits, n_traits), rho) + np.eye(n_traits) * (1.0 - rho)
    try:
        return np.linalg.cholesky(corr).T
    except np.linalg.LinAlgError:
        low = -1.0 / (n_traits - 1)
        raise _fail("trait_correlation", f"be above {low:.3g} for {n_traits} traits", rho) from None


def _gametes(rng: np.random.Generator, n_gametes: int, n_lines: int, n_founders: int) -> _Gametes:
    """Poisson crossovers and a founder per segment (never the same founder twice in a row)."""
    crossovers = rng.poisson(CHROMOSOME_MORGANS, n_gametes)
    n_segments = n_gametes + int(crossovers.sum())
    owner = np.repeat(np.arange(n_gametes), crossovers)
    points = rng.random(int(crossovers.sum())) * CHROMOSOME_MORGANS
    points = points[np.lexsort((points, owner))]
    first = np.concatenate([[0], np.cumsum(crossovers + 1)[:-1]]).astype(np.int64)
    last = first + crossovers
    start = np.zeros(n_segments)
    end = np.full(n_segments, CHROMOSOME_MORGANS)
    not_first = np.ones(n_segments, dtype=bool)
    not_first[first] = False
    not_last = np.ones(n_segments, dtype=bool)
    not_last[last] = False
    start[not_first] = points
    end[not_last] = points
    steps = rng.integers(1, n_founders, n_segments)  # n_founders >= 2
    steps[first] = rng.integers(0, n_founders, n_gametes)
    total = np.cumsum(steps)
    base = np.repeat(total[first] - steps[first], crossovers + 1)
    founder = (total - base) % n_founders
    gamete = np.repeat(np.arange(n_gametes), crossovers + 1)
    return _Gametes(line=gamete % n_lines, founder=founder, start=start, end=end)


def _site_frequencies(
    gametes: _Gametes, positions: np.ndarray, haplotypes: np.ndarray, n_gametes: int
) -> np.ndarray:
    """Allele frequency of every site from segment counts (no genotype matrix needed)."""
    n_founders, n_sites = haplotypes.shape
    lo = np.searchsorted(positions, gametes.start, side="left")
    hi = np.searchsorted(positions, gametes.end, side="left")
    delta = np.zeros((n_founders, n_sites + 1), dtype=np.int64)
    np.add.at(delta, (gametes.founder, lo), 1)
    np.add.at(delta, (gametes.founder, hi), -1)
    carriers = np.cumsum(delta, axis=1)[:, :n_sites]
    return (carriers * haplotypes).sum(axis=0) / n_gametes


def _fill(
    out: np.ndarray,
    gametes: _Gametes,
    positions: np.ndarray,
    haplotypes: np.ndarray,
) -> None:
    """Add each gamete's founder alleles at ``positions`` into ``out`` (lines × positions)."""
    lo = np.searchsorted(positions, gametes.start, side="left")
    hi = np.searchsorted(positions, gametes.end, side="left")
    for i in np.flatnonzero(hi > lo):
        a, b = lo[i], hi[i]
        out[gametes.line[i], a:b] += haplotypes[gametes.founder[i], a:b]


def _centre(values: np.ndarray) -> np.ndarray:
    return values - values.mean(axis=0)


def _unit(values: np.ndarray) -> np.ndarray:
    """Centred columns scaled to sd 1 (a zero column stays zero)."""
    centred = _centre(values)
    sd = centred.std(axis=0)
    return centred / np.where(sd > 0, sd, 1.0)


def _orthogonal(noise: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Centred ``noise`` with its projection on centred ``signal`` removed, column by column."""
    noise, signal = _centre(noise), _centre(signal)
    power = (signal**2).sum(axis=0)
    slope = np.divide(
        (noise * signal).sum(axis=0), power, out=np.zeros(power.size), where=power > 0
    )
    return noise - signal * slope


def _epistatic_pairs(rng: np.random.Generator, n_qtl: int, wanted: int) -> np.ndarray:
    """Distinct unordered QTL pairs, drawn at random."""
    wanted = min(wanted, n_qtl * (n_qtl - 1) // 2)
    chosen: dict[tuple[int, int], None] = {}
    while len(chosen) < wanted:
        a = rng.integers(0, n_qtl, 2 * wanted)
        b = rng.integers(0, n_qtl, 2 * wanted)
        for i, j in zip(a.tolist(), b.tolist(), strict=True):
            if i != j:
                chosen.setdefault((min(i, j), max(i, j)), None)
            if len(chosen) == wanted:
                break
    return np.asarray(list(chosen), dtype=np.int64).reshape(-1, 2)


def simulate(
    *,
    n_lines: int = 600,
    n_markers: int = 1200,
    n_chromosomes: int = 5,
    n_founders: int = 12,
    n_traits: int = 2,
    n_qtl: int = 50,
    h2: float | Sequence[float] = 0.5,
    epistasis: float = 0.2,
    trait_correlation: float = 0.5,
    maf_min: float = 0.05,
    n_folds: int = 5,
    coding: str = "01",
    missing_rate: float = 0.0,
    seed: int = 0,
) -> SimulatedData:
    """Simulate lines, markers, QTL and traits; the same seed gives the same data."""
    n_lines = _int_at_least(n_lines, 4, "n_lines")
    n_markers = _int_at_least(n_markers, 1, "n_markers")
    n_chromosomes = _int_at_least(n_chromosomes, 1, "n_chromosomes")
    n_founders = _int_at_least(n_founders, 2, "n_founders")
    n_traits = _int_at_least(n_traits, 1, "n_traits")
    n_qtl = _int_at_least(n_qtl, 1, "n_qtl")
    n_folds = _int_at_least(n_folds, 2, "n_folds")
    seed = _int_at_least(seed, 0, "seed")
    if n_folds > n_lines:
        raise _fail("n_folds", f"be at most n_lines ({n_lines})", n_folds)
    if coding not in ("01", "012"):
        raise _fail("coding", 'be "01" (inbred lines) or "012" (dosages)', coding)
    h2_values = [h2] * n_traits if isinstance(h2, int | float | np.number) else list(h2)
    if len(h2_values) != n_traits:
        raise _fail("h2", f"be one value or {n_traits} values (one per trait)", h2)
    targets = [
        _number_in(v, "h2", "be a heritability in (0, 1]", lambda v: 0 < v <= 1) for v in h2_values
    ]
    epistasis = _number_in(
        epistasis, "epistasis", "be a share of genetic variance in [0, 1)", lambda v: 0 <= v < 1
    )
    if epistasis > 0 and n_qtl < 2:
        raise _fail("n_qtl", "be at least 2 when epistasis > 0", n_qtl)
    rho = _number_in(trait_correlation, "trait_correlation", "be in (-1, 1)", lambda v: -1 < v < 1)
    maf_min = _number_in(maf_min, "maf_min", "be in [0, 0.5)", lambda v: 0 <= v < 0.5)
    missing_rate = _number_in(missing_rate, "missing_rate", "be in [0, 1)", lambda v: 0 <= v < 1)
    upper = _trait_correlation_factor(rho, n_traits) if n_traits > 1 else np.ones((1, 1))

    rng = np.random.default_rng(seed)
    ploidy = 2 if coding == "012" else 1
    n_gametes = ploidy * n_lines
    wanted = n_markers + n_qtl
    per_chromosome: list[tuple[np.ndarray, np.ndarray, _Gametes, np.ndarray]] = []
    for attempt in range(8):
        n_sites = int((2.0 * 2**attempt) * wanted) + 10 * n_chromosomes
        counts = np.full(n_chromosomes, n_sites // n_chromosomes)
        counts[: n_sites % n_chromosomes] += 1
        per_chromosome = []
        for size in counts.tolist():
            positions = np.sort(rng.random(size) * CHROMOSOME_MORGANS)
            freq = rng.beta(0.5, 0.5, size)
            haplotypes = (rng.random((n_founders, size)) < freq).astype(np.int8)
            gametes = _gametes(rng, n_gametes, n_lines, n_founders)
            p = _site_frequencies(gametes, positions, haplotypes, n_gametes)
            per_chromosome.append((positions, haplotypes, gametes, np.minimum(p, 1 - p)))
        maf = np.concatenate([c[3] for c in per_chromosome])
        usable = np.flatnonzero((maf >= maf_min) & (maf > 0))
        if usable.size >= wanted:
            break
    else:
        raise _fail(
            "maf_min",
            f"leave {wanted} usable sites (n_markers + n_qtl) with {n_founders} founders",
            maf_min,
        )
    panel = np.sort(rng.choice(usable, n_markers, replace=False))
    others = np.setdiff1d(usable, panel, assume_unique=True)
    qtl_sites = np.sort(rng.choice(others, n_qtl, replace=False))

    site_chrom = np.concatenate(
        [np.full(c[0].size, k + 1, dtype=np.int64) for k, c in enumerate(per_chromosome)]
    )
    offsets = np.concatenate([[0], np.cumsum([c[0].size for c in per_chromosome])])
    genotypes = np.zeros((n_lines, n_markers), dtype=np.int8)
    qtl_genotypes = np.zeros((n_lines, n_qtl), dtype=np.int8)
    for k, (positions, haplotypes, gametes, _) in enumerate(per_chromosome):
        for chosen, out in ((panel, genotypes), (qtl_sites, qtl_genotypes)):
            inside = (chosen >= offsets[k]) & (chosen < offsets[k + 1])
            cols = np.flatnonzero(inside)
            if cols.size == 0:
                continue
            local = chosen[inside] - offsets[k]
            block = np.zeros((n_lines, cols.size), dtype=np.int8)
            _fill(block, gametes, positions[local], haplotypes[:, local])
            out[:, cols[0] : cols[-1] + 1] = block
    all_positions = np.concatenate([c[0] for c in per_chromosome]) * 100.0

    # Genetic values: additive + epistatic (orthogonalised so the share is exact), per trait.
    xq = _centre(qtl_genotypes.astype(np.float64))
    additive_effects = rng.standard_normal((n_qtl, n_traits)) @ upper
    additive = _unit(xq @ additive_effects)
    if epistasis > 0:
        pairs = _epistatic_pairs(rng, n_qtl, n_qtl)
        products = _centre(xq[:, pairs[:, 0]] * xq[:, pairs[:, 1]])
        pair_effects = rng.standard_normal((len(pairs), n_traits)) @ upper
        interaction = _unit(_orthogonal(products @ pair_effects, additive))
        genetic = np.sqrt(1 - epistasis) * additive + np.sqrt(epistasis) * interaction
    else:
        pairs = np.zeros((0, 2), dtype=np.int64)
        pair_effects = np.zeros((0, n_traits))
        genetic = additive
    noise = _unit(_orthogonal(rng.standard_normal((n_lines, n_traits)), genetic))
    h2_arr = np.asarray(targets)
    genetic_sd = genetic.std(axis=0)
    noise_sd = genetic_sd * np.sqrt((1 - h2_arr) / h2_arr)
    phenotypes = genetic + noise * noise_sd
    centre, scale = phenotypes.mean(axis=0), phenotypes.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    phenotypes = (phenotypes - centre) / scale
    genetic_values = (genetic - genetic.mean(axis=0)) / scale

    if missing_rate > 0:
        rows_per_block = max(1, 4_000_000 // n_markers)
        for start in range(0, n_lines, rows_per_block):
            block = genotypes[start : start + rows_per_block]
            block[rng.random(block.shape) < missing_rate] = MISSING_CODE

    folds = np.empty(n_lines, dtype=np.int64)
    folds[rng.permutation(n_lines)] = np.arange(n_lines) % n_folds + 1

    chromosomes = site_chrom[panel]
    positions_cm = all_positions[panel]
    qtl_chrom = site_chrom[qtl_sites]
    qtl_pos = all_positions[qtl_sites]
    nearest = []
    for c, pos in zip(qtl_chrom.tolist(), qtl_pos.tolist(), strict=True):
        same = np.flatnonzero(chromosomes == c)
        nearest.append(
            int(same[np.argmin(np.abs(positions_cm[same] - pos))]) if same.size else None
        )
    width = len(str(n_lines))
    qtl = {
        "chromosome": qtl_chrom.tolist(),
        "position_cM": np.round(qtl_pos, 4).tolist(),
        "maf": np.round(maf[qtl_sites], 4).tolist(),
        "nearest_marker": nearest,
        "additive_effects": additive_effects.tolist(),
        "epistatic_pairs": pairs.tolist(),
        "epistatic_effects": pair_effects.tolist(),
    }
    params = {
        "n_lines": n_lines,
        "n_markers": n_markers,
        "n_chromosomes": n_chromosomes,
        "n_founders": n_founders,
        "n_traits": n_traits,
        "n_qtl": n_qtl,
        "h2": targets,
        "epistasis": epistasis,
        "trait_correlation": rho,
        "maf_min": maf_min,
        "n_folds": n_folds,
        "coding": coding,
        "missing_rate": missing_rate,
        "seed": seed,
        "chromosome_morgans": CHROMOSOME_MORGANS,
        "sites_generated": int(offsets[-1]),
    }
    return SimulatedData(
        genotypes=genotypes,
        phenotypes=phenotypes,
        genetic_values=genetic_values,
        folds=folds,
        line_ids=[f"L{i + 1:0{width}d}" for i in range(n_lines)],
        marker_ids=[f"m{j}" for j in range(n_markers)],
        chromosomes=chromosomes,
        positions=positions_cm,
        qtl=qtl,
        params=params,
    )


def truth(data: SimulatedData) -> dict[str, Any]:
    """Realised facts computed from the arrays: h2, genetic and phenotypic correlations."""
    g, y = data.genetic_values, data.phenotypes
    h2 = (g.var(axis=0) / y.var(axis=0)).tolist()
    return {
        "h2_target": data.params["h2"],
        "h2_realised": [round(v, 6) for v in h2],
        "genetic_correlation": np.round(
            np.corrcoef(g, rowvar=False).reshape(g.shape[1], g.shape[1]), 6
        ).tolist(),
        "phenotypic_correlation": np.round(
            np.corrcoef(y, rowvar=False).reshape(y.shape[1], y.shape[1]), 6
        ).tolist(),
        "qtl": data.qtl,
        "params": data.params,
    }


def _matrix_bytes(block: np.ndarray) -> bytes:
    """Rows of small codes as space-separated text lines, missing as NA (vectorised)."""
    rows, cols = block.shape
    digit = block != MISSING_CODE
    if digit.all():
        buf = np.empty((rows, cols, 2), dtype=np.uint8)
        buf[..., 0] = block.astype(np.uint8) + ord("0")
        buf[..., 1] = ord(" ")
        buf[:, -1, 1] = ord("\n")
        return buf.tobytes()
    buf = np.empty((rows, cols, 3), dtype=np.uint8)
    keep = np.ones((rows, cols, 3), dtype=bool)
    buf[..., 0] = np.where(digit, block.astype(np.uint8) + ord("0"), ord("N"))
    buf[..., 1] = np.where(digit, ord(" "), ord("A"))
    buf[..., 2] = ord(" ")
    keep[..., 2] = ~digit
    buf[:, -1, 1] = np.where(digit[:, -1], ord("\n"), ord("A"))
    buf[:, -1, 2] = ord("\n")
    return buf[keep].tobytes()


def write_simulated(data: SimulatedData, out_dir: Path, *, prefix: str = "sim") -> dict[str, Path]:
    """Write ``{prefix}.X/.Y/.sets/.map/.truth.json`` (wheat-like text files); return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "genotypes": out / f"{prefix}.X",
        "phenotypes": out / f"{prefix}.Y",
        "folds": out / f"{prefix}.sets",
        "map": out / f"{prefix}.map",
        "truth": out / f"{prefix}.truth.json",
    }
    n, m = data.genotypes.shape
    rows_per_block = max(1, 4_000_000 // max(1, m))
    with open(paths["genotypes"], "wb") as handle:
        for start in range(0, n, rows_per_block):
            handle.write(_matrix_bytes(data.genotypes[start : start + rows_per_block]))
    np.savetxt(paths["phenotypes"], data.phenotypes, fmt="%.6f", delimiter=" ")
    np.savetxt(paths["folds"], data.folds, fmt="%d")
    with open(paths["map"], "w", encoding="utf-8") as handle:
        handle.write("marker chrom pos\n")
        for name, chrom, pos in zip(
            data.marker_ids, data.chromosomes.tolist(), data.positions.tolist(), strict=True
        ):
            handle.write(f"{name} {chrom} {pos:.4f}\n")
    facts = truth(data)
    facts["files"] = {key: path.name for key, path in paths.items()}
    paths["truth"].write_text(json.dumps(facts, indent=1) + "\n", encoding="utf-8")
    return paths
