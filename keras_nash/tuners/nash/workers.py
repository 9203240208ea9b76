"""Distributed NASH: a worker that dies in the middle of a trial and never comes back.

keras-tuner keeps a worker's trial RUNNING until that worker (the same tuner id) asks for a trial
again, and its chief waits for every worker it has seen; NASH's oracle waits for a step's running
trials before it plans the next step, so one dead worker would stall the whole search forever.
The chief's oracle records each running trial's last sign of progress (its start, then every
epoch's end: `NashTuner.on_epoch_end` sends the chief an empty `update_trial`, since keras-tuner
1.4 reports nothing per epoch); a trial silent for longer than its timeout is handed, with its
history, to the next other worker that asks for a trial, and the silent worker is forgotten (one
that does come back asks again and gets new work). A worker that was only slow learns at its
next epoch's end, once the trial has ended elsewhere, that it is no longer its own: its training
stops without writing a checkpoint. Whichever of the two ends the trial first scores it; the
other's end is ignored.

A worker can also die between two trials, holding none (an idle worker asks the chief for a
trial in a loop). It stalls nothing until the search ends, but keras-tuner's chief then waits for
it before it exits: once the search has ended, a worker that holds no trial and has not called
for longer than the heartbeat timeout (`forget_dead`, through `NashOracle.tuner_ids`) is
forgotten.
"""

import time

from keras_nash.logs import logger

# Seconds of silence after which a running trial is re-issued, when its duration cannot be
# estimated yet (no measured parent) and the user set no `heartbeat_timeout`.
UNMEASURED_TIMEOUT = 3600.0
# The least automatic timeout, and how many times a trial's expected seconds it allows.
MIN_TIMEOUT = 600.0
EXPECTED_TIMES = 3.0


def beat(oracle, trial_id):
    """Record a sign of progress of a running trial."""
    oracle._heartbeats[trial_id] = time.time()


def contact(oracle, tuner_id):
    """Record that the worker `tuner_id` called the chief."""
    oracle._contacts[tuner_id] = time.time()


def forget_dead(oracle, tuner_ids: set) -> None:
    """Drop from `tuner_ids` (keras-tuner's set of the workers its chief waits for before it
    exits) each worker that holds no trial and has not called for longer than the heartbeat
    timeout (10 minutes by default): it died between two trials."""
    limit = oracle.heartbeat_timeout or MIN_TIMEOUT
    now = time.time()
    for tuner_id in list(tuner_ids):
        silence = now - oracle._contacts.setdefault(tuner_id, now)
        if tuner_id not in oracle.ongoing_trials and silence > limit:
            tuner_ids.discard(tuner_id)
            logger.warning(
                "NASH: worker %s has not called for %.1f s since the search ended (the timeout: "
                "%.1f s); the chief no longer waits for it.",
                tuner_id,
                silence,
                limit,
            )


def owner(oracle, trial_id):
    """The tuner id now running `trial_id`, or None."""
    for tuner_id, trial in oracle.ongoing_trials.items():
        if trial.trial_id == trial_id:
            return tuner_id
    return None


def timeout(oracle, trial) -> float:
    """Seconds of silence after which `trial` is re-issued: the oracle's `heartbeat_timeout`, or
    by default 3 times the trial's expected seconds (from its parent's measured speed), at least
    10 minutes, and an hour before anything is measured."""
    if oracle.heartbeat_timeout is not None:
        return oracle.heartbeat_timeout
    expected = oracle._expected(trial.hyperparameters.values)
    if expected is None:
        return UNMEASURED_TIMEOUT
    return max(MIN_TIMEOUT, EXPECTED_TIMES * expected[0])


def take_over(oracle, tuner_id):
    """Give `tuner_id` the running trial of another worker that has been silent for longer than
    its `timeout` and return it, or None when there is none."""
    if tuner_id in oracle.ongoing_trials:  # keras-tuner gives a worker back its own trial
        return None
    now = time.time()
    for silent_id, trial in list(oracle.ongoing_trials.items()):
        silence = now - oracle._heartbeats.setdefault(trial.trial_id, now)
        if silent_id == tuner_id or silence <= min(MIN_TIMEOUT, oracle.heartbeat_timeout or 1e9):
            continue  # idle workers ask in a loop: the timeout is estimated only past this
        limit = timeout(oracle, trial)
        if silence <= limit:
            continue
        del oracle.ongoing_trials[silent_id]
        oracle.tuner_ids.discard(silent_id)  # else keras-tuner's chief waits for it forever
        oracle.tuner_ids.add(tuner_id)
        oracle.ongoing_trials[tuner_id] = trial
        beat(oracle, trial.trial_id)
        oracle._reissued.append(
            {"trial_id": trial.trial_id, "from": silent_id, "to": tuner_id, "silent_s": silence}
        )
        logger.warning(
            "NASH: worker %s has sent nothing for trial %s in %.1f s (its timeout: %.1f s); the "
            "trial is re-issued to worker %s.",
            silent_id,
            trial.trial_id,
            silence,
            limit,
            tuner_id,
        )
        oracle.save()
        return trial
    return None
