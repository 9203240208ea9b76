"""ENAS recurrent space: decisions and JSON, one trace for every cell, children equal shared."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nash.layers.enas_rnn import EnasRecurrent, WordDropout
from keras_nash.spaces.enas import (
    ENAS_PTB_DECISIONS,
    RECURRENT_ACTIVATIONS,
    RecurrentArchitecture,
    RecurrentSpace,
    architecture_from_json,
    get_space,
)

VOCAB, HIDDEN, NODES, BPTT, BATCH = 20, 8, 4, 5, 3
SPACE = RecurrentSpace(num_nodes=NODES, hidden_size=HIDDEN, seed=0)


def _batch(seed=0, batch=BATCH):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, (batch, BPTT + 1)).astype("int32")
    state = rng.normal(size=(batch, HIDDEN)).astype("float32")
    return tokens[:, :-1], tokens[:, 1:], state


def test_decisions_and_json_round_trip():
    assert SPACE.num_decisions == 2 * NODES - 1 == len(SPACE.decision_sizes())
    assert SPACE.decision_sizes() == [4, 1, 4, 2, 4, 3, 4]
    rng = np.random.default_rng(0)
    archs = [SPACE.random_architecture(rng) for _ in range(30)]
    assert len({a.to_json() for a in archs}) > 20
    for arch in archs:
        text = arch.to_json()
        assert json.loads(text)["schema_version"] == 1 and json.loads(text)["space"] == "recurrent"
        assert architecture_from_json(text) == arch == RecurrentArchitecture.from_json(text)
        vector = SPACE.encode(arch)
        assert vector.dtype == np.int32 and SPACE.decode(vector) == arch
        assert all(0 <= v < n for v, n in zip(vector, SPACE.decision_sizes()))

    # The authors' final cell (scripts/ptb_final.sh): 12 nodes, 6 loose ends averaged.
    ptb = RecurrentSpace().decode(ENAS_PTB_DECISIONS)
    assert ptb.num_nodes == 12 and ptb.loose_ends == (3, 4, 7, 9, 10, 11)
    assert tuple(RecurrentSpace().encode(ptb)) == ENAS_PTB_DECISIONS
    assert {a for _, a in ptb.nodes} | {ptb.first_activation} == {"tanh", "relu"}


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: RecurrentArchitecture("gelu", ()), "first_activation='gelu'"),
        (
            lambda: RecurrentArchitecture("tanh", ((0, "relu"), (2, "tanh"))),
            r"`nodes\[1\]` \(node 3\) must read a previous node in \[0, 1\]",
        ),
        (lambda: RecurrentArchitecture("tanh", ((-1, "relu"),)), r"nodes\[0\]"),
        (
            lambda: RecurrentArchitecture("tanh", ((0, "swish"),)),
            r"nodes\[0\]` \(node 2\) activation",
        ),
        (
            lambda: RecurrentArchitecture("tanh", ((0,),)),
            r"`nodes\[0\]` must be a \(previous, activation\)",
        ),
        (lambda: RecurrentArchitecture("tanh", ((True, "relu"),)), r"nodes\[0\]"),
        (lambda: SPACE.validate(RecurrentArchitecture("tanh", ())), "4 nodes"),
        (lambda: SPACE.encode("tanh"), "RecurrentArchitecture"),
        (
            lambda: SPACE.decode([0, 0, 0, 2, 0, 0, 0]),
            r"`vector\[3\]` \(node 3's input node\) must be in \[0, 1\]",
        ),
        (lambda: SPACE.decode([4, 0, 0, 0, 0, 0, 0]), r"`vector\[0\]` \(node 1's activation\)"),
        (lambda: SPACE.decode([0, 0, 0]), "7 decisions"),
        (
            lambda: architecture_from_json(json.dumps({"space": "recurrent", "schema_version": 2})),
            "schema_version",
        ),
        (
            lambda: RecurrentArchitecture.from_dict({"space": "recurrent", "schema_version": 1}),
            "first_activation",
        ),
        (lambda: RecurrentSpace(num_nodes=0), "num_nodes=0"),
        (lambda: RecurrentSpace(state_dropout=1.0), "state_dropout=1.0"),
        (lambda: SPACE.build_shared_model(1), "vocab_size=1"),
        (lambda: EnasRecurrent(3, 4, decisions=[0, 1, 0, 0, 0]), r"`decisions\[1\]`"),
    ],
)
def test_bad_architectures_and_arguments_are_named(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_config_round_trip():
    space = RecurrentSpace(
        num_nodes=5, hidden_size=16, state_dropout=0.1, weights_per_activation=True, seed=3
    )
    config = space.get_config()
    assert json.loads(json.dumps(config)) == config
    again = get_space(config)
    assert isinstance(again, RecurrentSpace) and again.get_config() == config
    assert get_space("recurrent").get_config()["hidden_size"] == 720


def _train_step(shared, optimizer, counts):
    specs = [
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((SPACE.num_decisions,), tf.int32),
        tf.TensorSpec((None, HIDDEN)),
    ]

    @tf.function(input_signature=specs)
    def step(tokens, targets, arch, state):
        counts["train_step"] += 1  # runs only while tracing
        with tf.GradientTape() as tape:
            logits, final_state = shared(((tokens, arch), state), training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
            )
        grads = tape.gradient(loss, shared.trainable_variables)
        optimizer.apply(grads, shared.trainable_variables)
        return loss, tf.stop_gradient(final_state)

    return step


def test_one_trace_for_100_architectures_and_children_match(tmp_path):
    shared = SPACE.build_shared_model(VOCAB)
    optimizer = keras.optimizers.SGD(0.25, global_clipnorm=10.0)  # the authors' search lr, bound
    optimizer.build(shared.trainable_variables)
    counts = {"train_step": 0}
    step = _train_step(shared, optimizer, counts)
    rng = np.random.default_rng(1)
    archs = [SPACE.random_architecture(rng) for _ in range(100)]
    state = np.zeros((BATCH, HIDDEN), "float32")
    before = shared.cell.node_norms[0].moving_mean.numpy().copy()
    for i, arch in enumerate(archs):
        tokens, targets, _ = _batch(i % 4)
        loss, state = step(tokens, targets, tf.constant(SPACE.encode(arch)), state)
        assert np.isfinite(float(loss))
    assert counts == {"train_step": 1}
    assert not np.allclose(shared.cell.node_norms[0].moving_mean.numpy(), before)

    tokens, _, state = _batch(7)
    for arch in archs[:3] + [SPACE.decode([1, 0, 2, 0, 0, 1, 3])]:
        child = SPACE.build_child_model(arch, VOCAB)
        SPACE.copy_shared_weights(shared, child, arch)
        expected = shared(((tokens, tf.constant(SPACE.encode(arch))), state), training=False)
        got = child((tokens, state), training=False)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g.numpy(), e.numpy(), atol=1e-5, rtol=0)
        assert child.count_params() < shared.count_params()
    path = str(tmp_path / "child.keras")
    child.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    again = reloaded.predict((tokens, state), verbose=0)
    for g, e in zip(again, expected):
        np.testing.assert_allclose(g, e.numpy(), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="not the child's architecture"):
        SPACE.copy_shared_weights(shared, child, archs[0] if archs[0] != arch else archs[1])


def test_children_match_with_weights_per_activation_and_no_batch_norm():
    space = RecurrentSpace(
        num_nodes=3, hidden_size=HIDDEN, batch_norm=False, weights_per_activation=True
    )
    shared = space.build_shared_model(VOCAB)
    assert tuple(shared.cell.kernels[2].shape) == (2 * 4, HIDDEN, 2 * HIDDEN)  # (input, f) pairs
    tokens, _, state = _batch(3)
    for vector in ([0, 0, 1, 1, 3], [3, 0, 2, 0, 0], [2, 0, 0, 1, 2]):
        arch = space.decode(vector)
        child = space.build_child_model(arch, VOCAB)
        space.copy_shared_weights(shared, child)
        expected = shared(((tokens, tf.constant(vector, tf.int32)), state))
        for g, e in zip(child((tokens, state)), expected):
            np.testing.assert_allclose(g.numpy(), e.numpy(), atol=1e-5, rtol=0)


def _act(name, x):
    return {
        "tanh": np.tanh,
        "relu": lambda v: np.maximum(v, 0),
        "identity": lambda v: v,
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    }[name](x)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_loose_end_average_against_numpy(batch_norm):
    # Node 2 and node 3 read node 1, node 4 reads node 3: loose ends are nodes 2 and 4.
    arch = RecurrentArchitecture("relu", ((0, "tanh"), (0, "sigmoid"), (2, "identity")))
    assert arch.loose_ends == (1, 3)
    cell = EnasRecurrent(NODES, HIDDEN, batch_norm=batch_norm)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(BATCH, 1, HIDDEN)).astype("float32")
    h = rng.normal(size=(BATCH, HIDDEN)).astype("float32")
    vector = SPACE.encode(arch)
    out, final = cell(x, h, tf.constant(vector), training=False)
    kernels = [k.numpy() for k in cell.kernels]
    norm = (lambda v: v / np.sqrt(2.0)) if batch_norm else (lambda v: v)  # fresh BN, epsilon 1

    def highway(prev, pre, activation):
        pre = norm(pre)
        c = 1 / (1 + np.exp(-pre[:, HIDDEN:]))
        return prev + c * (_act(activation, pre[:, :HIDDEN]) - prev)

    nodes = [highway(h, np.concatenate([x[:, 0], h], 1) @ kernels[0][0], "relu")]
    for n, (previous, activation) in enumerate(arch.nodes, start=1):
        nodes.append(highway(nodes[previous], nodes[previous] @ kernels[n][previous], activation))
    expected = norm((nodes[1] + nodes[3]) / 2)
    np.testing.assert_allclose(final.numpy(), expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.numpy()[:, 0], expected, atol=1e-5, rtol=0)


def test_dropouts_are_seeded_and_training_only():
    tokens = np.array([[3, 4, 3, 3, 5, 4, 3, 4]] * 4, "int32")
    embeddings = np.ones((4, 8, 2), "float32")
    out = WordDropout(0.5, seed=1)(embeddings, tokens, training=True).numpy()[:, :, 0]
    for row, words in zip(out, tokens):
        for s in range(8):
            if any(row[t] == 0 and words[t] == words[s] for t in range(s)):
                assert row[s] == 0  # a word dropped once stays dropped later in its sequence
    assert set(np.unique(out)) <= {0.0, 2.0}
    again = WordDropout(0.5, seed=1)(embeddings, tokens, training=True).numpy()[:, :, 0]
    np.testing.assert_array_equal(out, again)
    assert np.all(WordDropout(0.5, seed=1)(embeddings, tokens).numpy() == 1)

    shared = SPACE.build_shared_model(VOCAB)
    tokens, _, state = _batch(2)
    arch = tf.constant(SPACE.encode(SPACE.random_architecture(np.random.default_rng(0))))
    first = shared(((tokens, arch), state), training=False)[0].numpy()
    np.testing.assert_array_equal(first, shared(((tokens, arch), state), training=False)[0].numpy())
    assert not np.allclose(first, shared(((tokens, arch), state), training=True)[0].numpy())
    assert RECURRENT_ACTIVATIONS == ("tanh", "relu", "identity", "sigmoid")
