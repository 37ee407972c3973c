"""Marker order: chromosome/position sorting, the shuffled control, map files, load-time use."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.data.loading import load_dataset
from hpsearch.data.marker_order import (
    align_map,
    chromosome_key,
    is_identity,
    map_order,
    marker_order,
    read_map,
    shuffled_order,
)
from hpsearch.data.simulate import simulate, write_simulated
from hpsearch.errors import ConfigError, DataError


def test_chromosomes_sort_naturally_with_prefixes_and_letters():
    names = ["X", "10", "chr2", "1B", "2A", "1A", "MT", "Chr1"]
    assert sorted(names, key=chromosome_key) == ["Chr1", "1A", "1B", "chr2", "2A", "10", "MT", "X"]


def test_map_order_sorts_by_chromosome_then_position_ties_in_file_order():
    chrom = np.array(["2", "1", "10", "1", "2", "1"], dtype=object)
    pos = np.array([5.0, 9.0, 1.0, 3.0, 5.0, 3.0])
    order = map_order(chrom, pos)
    assert order.tolist() == [3, 5, 1, 0, 4, 2]
    assert sorted(order.tolist()) == list(range(6))
    with pytest.raises(ValueError):
        map_order(chrom, pos[:3])


def test_shuffled_control_is_a_seeded_permutation():
    a, b, c = shuffled_order(50, 7), shuffled_order(50, 7), shuffled_order(50, 8)
    assert sorted(a.tolist()) == list(range(50))
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()
    assert not is_identity(a) and is_identity(np.arange(5)) and is_identity(None)


def test_marker_order_kinds_and_errors():
    chrom, pos = np.array(["1", "1"], dtype=object), np.array([2.0, 1.0])
    assert marker_order("file", n_markers=2) is None
    assert marker_order("map", n_markers=2, chromosomes=chrom, positions=pos).tolist() == [1, 0]
    assert sorted(marker_order("shuffled", n_markers=9, seed=1).tolist()) == list(range(9))
    with pytest.raises(ConfigError, match=r"exp.yaml: preprocess.marker_order: must be one of"):
        marker_order("sorted", n_markers=2, source="exp.yaml")
    with pytest.raises(ConfigError, match="marker map"):
        marker_order("map", n_markers=2)
    with pytest.raises(ConfigError, match="marker_order_seed"):
        marker_order("shuffled", n_markers=2, seed=-1)


def test_read_map_formats(write):
    three = read_map(write("a.map", "marker chrom pos\nm1 2 0.5\nm0 1 3.25\n"))
    assert three.marker_ids == ["m1", "m0"] and three.chromosomes.tolist() == ["2", "1"]
    assert three.positions.tolist() == [0.5, 3.25]
    reordered = read_map(write("b.csv", "chr,pos,snp\n1,10,s1\n1,5,s2\n"))
    assert reordered.marker_ids == ["s1", "s2"] and reordered.positions.tolist() == [10.0, 5.0]
    plink = read_map(write("c.map", "1 rs1 0 1000\n1 rs2 0 500\n"))
    assert plink.marker_ids == ["rs1", "rs2"] and plink.positions.tolist() == [1000.0, 500.0]
    with pytest.raises(DataError, match=r"row 3, column 3: must be a numeric position"):
        read_map(write("d.map", "marker chrom pos\nm1 1 0.5\nm2 1 far\n"))
    with pytest.raises(DataError, match="once"):
        read_map(write("e.map", "m1 1 0.5\nm1 1 0.7\nm2 2 1.0\n"))
    with pytest.raises(DataError, match="list every genotype marker"):
        align_map(three, ["m0", "m9"])


def test_loading_with_a_map_file_puts_scrambled_columns_back_in_map_order(tmp_path):
    sim = simulate(n_lines=20, n_markers=15, n_chromosomes=3, seed=2)
    paths = write_simulated(sim, tmp_path)
    scrambled = np.random.default_rng(0).permutation(15)
    header = " ".join(sim.marker_ids[j] for j in scrambled)
    rows = [" ".join(str(v) for v in row[scrambled]) for row in sim.genotypes]
    geno = tmp_path / "scrambled.X"
    geno.write_text(header + "\n" + "\n".join(rows) + "\n")
    data, report = load_dataset(
        genotypes=geno,
        phenotypes=paths["phenotypes"],
        trait=0,
        map_file=paths["map"],
        marker_order_kind="map",
    )
    assert data.marker_ids == sim.marker_ids  # the simulator numbers markers in map order
    np.testing.assert_array_equal(data.genotypes, sim.genotypes.astype(np.float32))
    np.testing.assert_allclose(data.positions, sim.positions, atol=1e-4)
    assert report["marker_map"] == str(paths["map"])
    shuffled, _ = load_dataset(
        genotypes=paths["genotypes"],
        phenotypes=paths["phenotypes"],
        trait=0,
        marker_order_kind="shuffled",
        marker_order_seed=3,
    )
    order = shuffled_order(15, 3)
    assert shuffled.marker_ids == [sim.marker_ids[j] for j in order]
    np.testing.assert_array_equal(shuffled.genotypes, sim.genotypes[:, order])


def test_map_order_without_a_map_and_unknown_kinds_are_config_errors(write):
    geno, pheno = write("g.txt", "0 1\n1 1\n2 0\n"), write("y.txt", "1.5\n2.5\n0.5\n")
    with pytest.raises(ConfigError, match="marker map"):
        load_dataset(genotypes=geno, phenotypes=pheno, trait=0, marker_order_kind="map")
    with pytest.raises(ConfigError, match="must be one of file, map, shuffled"):
        load_dataset(genotypes=geno, phenotypes=pheno, trait=0, marker_order_kind="chrom")
