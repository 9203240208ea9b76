"""The keras_nash layer library: every layer is registered for `.keras` serialisation."""

from keras_nash.layers.morph import ConvBNReLU, DiracInitializer, LambdaSum
