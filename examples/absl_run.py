"""An absl-flags program that runs a NASH search: the pattern of `python -m keras_nash`, small
enough to copy into your own project.

    python examples/absl_run.py --n_steps=2 --output_dir=runs/absl_nash
"""

from absl import app, flags, logging

import keras_nash

N_STEPS = flags.DEFINE_integer("n_steps", 2, "Hill-climbing steps.")
N_NEIGHBORS = flags.DEFINE_integer("n_neighbors", 3, "Neighbours per step, incumbent included.")
EPOCHS = flags.DEFINE_integer("epochs_per_neighbor", 2, "Epochs per neighbour.")
DATASET = flags.DEFINE_string("dataset", "default", "'default', an .npz file or a tfds name.")
OUTPUT_DIR = flags.DEFINE_string("output_dir", "runs", "Project directory.")
SEED = flags.DEFINE_integer("seed", 1, "Random seed.")


def main(argv):
    del argv
    logging.set_verbosity(
        logging.INFO
    )  # keras_nash's lines (one per trial) come through absl's handler
    data = keras_nash.datasets.load(DATASET.value, batch_size=64, seed=SEED.value)
    tuner = keras_nash.NashTuner(
        keras_nash.seed_models.simple_cnn(data.input_shape, data.num_classes, filters=(16, 32, 64)),
        n_steps=N_STEPS.value,
        n_neighbors=N_NEIGHBORS.value,
        n_morphisms=2,
        epochs_per_neighbor=EPOCHS.value,
        pretrain_epochs=4,
        final_epochs=4,
        directory=OUTPUT_DIR.value,
        project_name="absl_nash",
        seed=SEED.value,
    )  # overwrite=False: run it again and it resumes where it stopped
    tuner.search(data.train, validation_data=data.validation, verbose=0)
    best = tuner.get_best_models(1)[0]
    print(f"test accuracy: {best.evaluate(data.test, verbose=0, return_dict=True)['accuracy']:.4f}")


if __name__ == "__main__":
    app.run(main)
