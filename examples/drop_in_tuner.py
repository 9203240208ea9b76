"""NASH as a drop-in keras-tuner tuner in a plain Keras script.

Bring your own seed network (any functional model of supported layers), search, and use the best
model like any Keras model. Runs in a few minutes on a CPU on the embedded CIFAR-10 subset.

The search logs one line per trial to stderr (the "keras_nash" logger; no set-up needed). Quiet
it with `logging.getLogger("keras_nash").setLevel(logging.WARNING)`.

    python examples/drop_in_tuner.py
"""

import keras

import keras_nash

# Data: the embedded CIFAR-10 subset (2,800 train / 350 validation / 350 test), as tf.data.
data = keras_nash.datasets.load("default", batch_size=64, augment=True, seed=1)

# Your own seed network, in plain Keras.
inputs = keras.Input(data.input_shape)
x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
x = keras.layers.BatchNormalization()(x)
x = keras.layers.ReLU()(x)
x = keras.layers.MaxPooling2D()(x)
x = keras.layers.Conv2D(32, 3, padding="same", use_bias=False)(x)
x = keras.layers.BatchNormalization()(x)
x = keras.layers.ReLU()(x)
x = keras.layers.GlobalAveragePooling2D()(x)
outputs = keras.layers.Dense(data.num_classes, activation="softmax")(x)
seed_model = keras.Model(inputs, outputs)

# Same call shapes as keras_tuner.RandomSearch; short settings for a CPU (paper: 5 steps x 8
# neighbours x 5 morphisms, 17 epochs each, 100 final epochs).
tuner = keras_nash.NashTuner(
    seed_model,
    objective="val_accuracy",
    n_steps=2,
    n_neighbors=3,
    n_morphisms=2,
    epochs_per_neighbor=2,
    pretrain_epochs=4,
    final_epochs=4,
    directory="runs",
    project_name="drop_in_nash",
    overwrite=True,
    seed=1,
)
tuner.search(data.train, validation_data=data.validation, verbose=0)
tuner.results_summary(3)

best = tuner.get_best_models(1)[0]
print("best architecture:", tuner.get_best_architectures(1)[0])
print("test accuracy:", best.evaluate(data.test, verbose=0, return_dict=True)["accuracy"])
