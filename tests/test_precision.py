"""Every tuner searches in a mixed precision end to end, and keeps it across keras-tuner's
trials (whose `clear_session` resets Keras's global dtype policy to float32)."""

import keras
import numpy as np
import pytest

from keras_nash import morphisms, precision, seed_models
from keras_nash.tuners.enas.controller import Controller
from keras_nash.tuners.nash.tuner import NashTuner
from tests.scripts import resume_run


@pytest.fixture
def global_policy():
    """Set Keras's global dtype policy for a test; float32 again afterwards."""
    yield keras.config.set_dtype_policy
    keras.config.set_dtype_policy("float32")


def test_resolve_checks_and_reads_the_global_policy(global_policy):
    assert precision.resolve() == "float32"
    global_policy("mixed_bfloat16")
    assert precision.resolve() == "mixed_bfloat16"
    assert precision.resolve("mixed_float16") == "mixed_float16"
    with pytest.raises(
        ValueError, match=r"`precision` must be one of .*Received: precision='float16'"
    ):
        precision.resolve("float16")
    global_policy("bfloat16")
    with pytest.raises(
        ValueError, match="The global dtype policy 'bfloat16' is not a search precision"
    ):
        precision.resolve()


def _policies(model):
    return {layer.dtype_policy.name for layer in model._flatten_layers(include_self=False)}


# float16's own path, loss scaling, is in the weight step every supernet shares (DARTS, the
# language model), DARTS's alpha step and the final training (compile adds it): DARTS and the
# language model cover it; every image search runs in bfloat16.
@pytest.mark.parametrize(
    "algorithm, policy",
    [
        ("darts", "mixed_bfloat16"),
        ("egnas", "mixed_bfloat16"),
        ("enas", "mixed_bfloat16"),
        ("darts", "mixed_float16"),
        ("enas_recurrent", "mixed_float16"),
    ],
)
def test_supernet_searches_run_in_the_policy_set_before_the_tuner(
    algorithm, policy, global_policy, tmp_path
):
    global_policy(policy)  # as a script would: the tuner takes it as its precision
    tuner = resume_run.search(algorithm, str(tmp_path), overwrite=True)
    assert tuner.precision == policy
    losses = [t["loss"] for t in resume_run.summary(tuner)["trials"]]
    assert len(losses) == 3 and np.all(np.isfinite(losses))  # 2 search epochs, the final
    final = tuner.get_best_models(1)[0]
    assert _policies(final) == {policy}, "the final network (built after clear_session)"
    if algorithm.startswith("enas"):  # the controller stays in float32
        keras.config.set_dtype_policy(policy)
        assert Controller(**tuner.controller_kwargs).lstm.dtype_policy.name == "float32"
    keras.config.set_dtype_policy("float32")
    supernet = tuner.load_model(tuner.oracle.trials["0000"])
    assert _policies(supernet) == {policy}, "an epoch's supernet"
    if policy == "mixed_float16":
        assert isinstance(final.optimizer, keras.optimizers.LossScaleOptimizer)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_nash_children_keep_the_precision_and_their_parents_function(policy, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, 64)
    seed = seed_models.simple_cnn((8, 8, 3), 3, filters=(4, 4, 4))
    tuner = NashTuner(
        seed,
        precision=policy,
        n_steps=1,
        n_neighbors=2,
        n_morphisms=2,
        epochs_per_neighbor=1,
        pretrain_epochs=1,
        final_epochs=1,
        seed=3,
        directory=str(tmp_path),
        project_name="nash_bf16",
    )
    assert keras.config.dtype_policy().name == policy  # set to build the seed
    keras.config.set_dtype_policy("float32")
    try:
        tuner.search(x[:48], y[:48], validation_data=(x[48:], y[48:]), batch_size=16, verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    children = [t for t in tuner.oracle.trials.values() if t.metrics.exists("preservation_error")]
    assert children and all(t.status == "COMPLETED" for t in children)
    errors = [t.metrics.get_last_value("preservation_error") for t in children]
    assert max(errors) <= morphisms.default_tolerance(policy)  # 1e-1 bfloat16, 3e-2 float16
    assert _policies(tuner.get_best_models(1)[0]) == {policy}


def test_a_supernet_search_resumes_only_in_its_precision(tmp_path):
    tuner_class, config = resume_run.CONFIGS["darts"]
    tuner_class(
        **config, precision="mixed_float16", directory=str(tmp_path), project_name="p"
    ).save()
    with pytest.raises(
        ValueError, match=r"searched with precision='mixed_float16'.*Received: precision='float32'"
    ):
        tuner_class(**config, precision="float32", directory=str(tmp_path), project_name="p")
    resumed = tuner_class(
        **config, precision="mixed_float16", directory=str(tmp_path), project_name="p"
    )
    assert resumed.precision == "mixed_float16"
