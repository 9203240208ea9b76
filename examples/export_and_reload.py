"""Export a network found by a search so that it serves raw images, and load each form back.

Writes model.keras, a SavedModel (serving signature), model.tflite, architecture.json and
preprocessing.json. With `preprocessing=data`, every exported model standardises raw images
itself (Rescaling + Normalization with the training split's statistics, `data.preprocessing`),
so it is fed uint8 pixels straight from the files; the script checks that each reloaded form
predicts on raw images what the trained network predicts on the pipeline's standardised ones.

    python examples/export_and_reload.py [EXPORT_DIR]
"""

import json
import sys

import keras
import numpy as np
import tensorflow as tf

import keras_nash

export_dir = sys.argv[1] if len(sys.argv) > 1 else "exported/nash_example"
data = keras_nash.datasets.load("default", batch_size=64, seed=1)

# A morphed network (what a NASH search produces): the seed grown by three morphisms, trained
# briefly.
arch = keras_nash.seed_models.simple_cnn_architecture(
    data.input_shape, data.num_classes, filters=(16, 32, 64)
)
arch = keras_nash.morphisms.apply(arch, keras_nash.morphisms.random_morphisms(arch, 3, rng=0))
model = keras_nash.build_model(arch)
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(data.train, epochs=1, verbose=0)

paths = keras_nash.export(model, export_dir, architecture=arch, preprocessing=data)
print("exported:", paths)
print("preprocessing:", json.load(open(paths["preprocessing"])))

# The same test images twice: raw uint8 pixels (what a user has), and standardised by the pipeline.
raw = keras_nash.datasets.load_arrays("default", seed=1).test[0][:16]
expected = model.predict(next(iter(data.test))[0][:16], verbose=0)

reloaded = keras.saving.load_model(paths["keras"])  # plain Keras, safe mode
saved_model = tf.saved_model.load(paths["saved_model"])
interpreter = tf.lite.Interpreter(model_path=paths["tflite"])
input_index = interpreter.get_input_details()[0]["index"]
interpreter.resize_tensor_input(input_index, raw.shape)
interpreter.allocate_tensors()
interpreter.set_tensor(input_index, raw)  # the TFLite model's input is uint8
interpreter.invoke()

print("raw input:", raw.dtype, raw.shape)
print("max |difference| .keras:     ", np.abs(reloaded.predict(raw, verbose=0) - expected).max())
print(
    "max |difference| SavedModel: ",
    np.abs(saved_model.serve(tf.constant(raw)).numpy() - expected).max(),
)
print(
    "max |difference| TFLite:     ",
    np.abs(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]) - expected).max(),
)
print(
    "predicted classes:",
    [data.class_names[i] for i in reloaded.predict(raw[:4], verbose=0).argmax(axis=1)],
)
print("architecture:", keras_nash.Architecture.from_json(open(paths["json"]).read()))
