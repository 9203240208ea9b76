"""Export a network found by a search to TensorFlow formats and load each one back.

Writes model.keras, a SavedModel (serving signature), model.tflite and architecture.json, then
checks that every reloaded form predicts what the original does.

    python examples/export_and_reload.py [EXPORT_DIR]
"""

import sys

import keras
import numpy as np
import tensorflow as tf

import keras_nash

export_dir = sys.argv[1] if len(sys.argv) > 1 else "exported/nash_example"
data = keras_nash.datasets.load("default", batch_size=64, seed=1)

# A morphed network (what a NASH search produces): the seed grown by three morphisms, trained briefly.
arch = keras_nash.seed_models.simple_cnn_architecture(data.input_shape, data.num_classes, filters=(16, 32, 64))
morphs = keras_nash.morphisms.random_morphisms(arch, 3, rng=0)
model = keras_nash.build_model(keras_nash.morphisms.apply(arch, morphs))
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(data.train, epochs=1, verbose=0)

paths = keras_nash.export(model, export_dir, architecture=keras_nash.morphisms.apply(arch, morphs))
print("exported:", paths)

x = next(iter(data.test))[0].numpy()[:16]
expected = model.predict(x, verbose=0)

reloaded = keras.saving.load_model(paths["keras"])  # plain Keras, safe mode
saved_model = tf.saved_model.load(paths["saved_model"])
interpreter = tf.lite.Interpreter(model_path=paths["tflite"])
interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], x.shape)
interpreter.allocate_tensors()
interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
interpreter.invoke()

print("max |difference| .keras:     ", np.abs(reloaded.predict(x, verbose=0) - expected).max())
print("max |difference| SavedModel: ", np.abs(np.asarray(saved_model.serve(x)) - expected).max())
print("max |difference| TFLite:     ", np.abs(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]) - expected).max())
print("architecture:", keras_nash.Architecture.from_json(open(paths["json"]).read()))
