"""The keras_nash layer library: every layer is registered for `.keras` serialisation.

- Morphism layers (NASH): `DiracInitializer`, `ConvBNReLU` (identity-initialised insert),
  `LambdaSum` (the lambda-weighted sum of a skip connection).
- Candidate operations (DARTS, EG-NAS, ENAS micro): the `OPS` registry (name ->
  `constructor(channels, strides, affine)`) over `Zero`, `Identity` (Keras's own
  `keras.layers.Identity`), `FactorizedReduce`, `ReLUConvBN`, `SepConv`, `DilConv`, `PoolBN`;
  `PRIMITIVES`, DARTS's eight names. The registry and the convolutions are in `ops`, `Zero`
  and `PoolBN` in `pooling`, the shared batch norm (`FusedBatchNorm`, Keras's batch norm in
  TensorFlow's fused kernel) and base classes in `base`.
- `Cutout`, DARTS's training-only square hole at a network's input; `DropPath`, a path
  dropped per example in training (`augment.DropPathSchedule` ramps its rate).
- `MixedOp` (softmax(alpha)-weighted sum of the ops on an edge, optional partial channels) and
  the cells: `SearchCell`, `FixedCell`, `AuxiliaryHead`.
"""

from keras_nash.layers.augment import Cutout, DropPath
from keras_nash.layers.base import FusedBatchNorm
from keras_nash.layers.cells import AuxiliaryHead, FixedCell, SearchCell
from keras_nash.layers.mixed import MixedOp
from keras_nash.layers.morph import ConvBNReLU, DiracInitializer, LambdaSum
from keras_nash.layers.ops import (
    OPS,
    PRIMITIVES,
    DilConv,
    FactorizedReduce,
    Identity,
    PoolBN,
    ReLUConvBN,
    SepConv,
    Zero,
)

__all__ = [
    "OPS",
    "PRIMITIVES",
    "AuxiliaryHead",
    "ConvBNReLU",
    "Cutout",
    "DropPath",
    "DilConv",
    "DiracInitializer",
    "FactorizedReduce",
    "FixedCell",
    "FusedBatchNorm",
    "Identity",
    "LambdaSum",
    "MixedOp",
    "PoolBN",
    "ReLUConvBN",
    "SearchCell",
    "SepConv",
    "Zero",
]
