"""Tests for keras_nash.spaces.darts.genotypes: genotypes, their JSON form and their derivation."""

import json

import numpy as np
import pytest

from keras_nash.layers.ops import PRIMITIVES
from keras_nash.spaces import darts
from keras_nash.spaces.darts import DartsSpace, genotypes
from keras_nash.spaces.darts.genotypes import (
    DARTS_V2,
    Genotype,
    check_cell_settings,
    derive_genotype,
)

COL = {name: index for index, name in enumerate(PRIMITIVES)}


def _hand_built_alpha():
    alpha = np.zeros((14, 8))
    # node 0: edges 0 (input 0), 1 (input 1)
    alpha[0, COL["sep_conv_3x3"]] = 5.0
    alpha[1, COL["skip_connect"]] = 3.0
    # node 1: edges 2, 3, 4 (inputs 0, 1, 2); edge 3 is all 'none', which never counts
    alpha[2, COL["max_pool_3x3"]] = 2.0
    alpha[3, COL["none"]] = 10.0
    alpha[4, COL["dil_conv_3x3"]] = 4.0
    # node 2: edges 5..8 (inputs 0..3)
    alpha[6, COL["avg_pool_3x3"]] = 3.5
    alpha[8, COL["sep_conv_5x5"]] = 3.0
    # node 3: edges 9..13 (inputs 0..4)
    alpha[9, COL["dil_conv_5x5"]] = 1.0
    alpha[13, COL["skip_connect"]] = 2.0
    return alpha


def test_derive_hand_built_alpha():
    genotype = derive_genotype(_hand_built_alpha(), np.zeros((14, 8)))
    assert genotype.normal == (
        ("sep_conv_3x3", 0),
        ("skip_connect", 1),
        ("dil_conv_3x3", 2),
        ("max_pool_3x3", 0),
        ("avg_pool_3x3", 1),
        ("sep_conv_5x5", 3),
        ("skip_connect", 4),
        ("dil_conv_5x5", 0),
    )
    # Uniform alpha: ties go to the first edges and the first non-'none' operation (as DARTS).
    assert genotype.reduce == (("max_pool_3x3", 0), ("max_pool_3x3", 1)) * 4
    assert genotype.normal_concat == genotype.reduce_concat == (2, 3, 4, 5)


def test_derive_without_none_and_fewer_steps():
    primitives = ("skip_connect", "sep_conv_3x3")
    alpha = np.zeros((5, 2))
    alpha[:, 1] = 1.0
    alpha[2, 0] = 5.0
    genotype = derive_genotype(alpha, alpha, primitives, steps=2, multiplier=2)
    assert genotype.normal == (
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
    )
    assert genotype.normal_concat == (2, 3)


def test_json_round_trip():
    for genotype in (DARTS_V2, derive_genotype(_hand_built_alpha(), -_hand_built_alpha())):
        text = genotype.to_json()
        assert json.loads(text)["schema_version"] == 1
        assert Genotype.from_json(text) == genotype
    with pytest.raises(ValueError, match="schema_version=99"):
        Genotype.from_dict({**DARTS_V2.to_dict(), "schema_version": 99})


def test_darts_v2_is_the_published_cell():
    assert DARTS_V2.normal[:2] == (("sep_conv_3x3", 0), ("sep_conv_3x3", 1))
    assert DARTS_V2.normal[-1] == ("dil_conv_3x3", 2)
    assert DARTS_V2.reduce[2] == ("skip_connect", 2)
    assert DARTS_V2.normal_concat == DARTS_V2.reduce_concat == (2, 3, 4, 5)


def test_bad_input():
    with pytest.raises(ValueError, match=r"alpha_normal.shape=\(14, 7\)"):
        derive_genotype(np.zeros((14, 7)), np.zeros((14, 8)))
    with pytest.raises(ValueError, match=r"alpha_reduce.shape=\(13, 8\)"):
        derive_genotype(np.zeros((14, 8)), np.zeros((13, 8)))
    with pytest.raises(ValueError, match="steps=0"):
        derive_genotype(np.zeros((14, 8)), np.zeros((14, 8)), steps=0)
    with pytest.raises(ValueError, match="primitives"):
        derive_genotype(np.zeros((14, 2)), np.zeros((14, 2)), ["none", "sep_conv_4x4"])
    with pytest.raises(ValueError, match="primitives"):
        DartsSpace(primitives=("none",))
    with pytest.raises(ValueError, match="channels=6, partial_channels=4"):
        DartsSpace(channels=6, partial_channels=4)


def test_cell_settings_name_the_argument():
    assert check_cell_settings(["skip_connect", "none"], 3.0, 2) == (("skip_connect", "none"), 3, 2)
    with pytest.raises(ValueError, match="multiplier=5"):
        check_cell_settings(PRIMITIVES, 4, 5)
    with pytest.raises(ValueError, match="steps=1.5"):
        check_cell_settings(PRIMITIVES, 1.5, 1)
    with pytest.raises(ValueError, match="stem_multiplier=0"):
        DartsSpace(stem_multiplier=0)
    with pytest.raises(ValueError, match="cells=2"):
        DartsSpace(cells=2)


def test_darts_module_still_exports_the_genotype_names():
    # The tuners and older code import these from keras_nash.spaces.darts.
    for name in (
        "DARTS_V2",
        "GENOTYPE_SCHEMA_VERSION",
        "DartsSpace",
        "Genotype",
        "check_alpha",
        "derive_genotype",
    ):
        assert getattr(darts, name) is getattr(genotypes, name)
    for name in ("DartsSearchNetwork", "DartsEvalNetwork", "DropPathSchedule"):
        assert hasattr(darts, name)
