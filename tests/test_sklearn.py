"""minidl.sklearn: scikit-learn's own estimator checks, nested parameters, pickling, and the
estimators inside GridSearchCV, cross_val_score, Pipeline and joblib workers."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from extras import require

require("sklearn", "sklearn")  # before the imports below, which need it (hence their E402)

from joblib import Parallel, delayed  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import (  # noqa: E402
    check_classifiers_train,
    check_regressors_train,
    parametrize_with_checks,
)

import minidl  # noqa: E402
from minidl.datasets import digits  # noqa: E402
from minidl.sklearn import MinidlClassifier, MinidlRegressor  # noqa: E402

# Small and quick, so the ~110 checks take a few seconds; the defaults run in a slow test below.
FAST = {"layers": [{"type": "dense", "units": 16, "activation": "relu"}], "epochs": 20,
        "optimizer": {"type": "adam", "learning_rate": 0.01}}  # fmt: skip
HIDDEN = [{"type": "dense", "units": 16, "activation": "relu"}]

#: Checks that cannot run in this process, with the reason (docs/guide-sklearn.md lists them).
SKIPPED = {
    "check_array_api_input": "needs SCIPY_ARRAY_API=1 before scipy is imported; run in a subprocess below",
}


def _expected_failures(estimator: object) -> dict[str, str]:
    return {}  # none: every check scikit-learn runs on these estimators passes


@parametrize_with_checks(
    [MinidlClassifier(**FAST), MinidlRegressor(**FAST)], expected_failed_checks=_expected_failures
)
def test_scikit_learn_estimator_checks(estimator: object, check: object) -> None:
    name = getattr(check, "func", check).__name__
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    if name.endswith("_data_not_an_array"):
        require("pandas", "sklearn")  # these checks pass data frames; without pandas they skip
    check(estimator)


@pytest.mark.slow
def test_the_default_parameters_learn_what_the_training_checks_ask() -> None:
    # the fast settings above run every check; the defaults (100 ReLU units, Adam 0.001, 200
    # epochs) must also reach the checks' accuracy (> 0.83) and R^2 (> 0.5)
    check_classifiers_train("MinidlClassifier", MinidlClassifier())
    check_regressors_train("MinidlRegressor", MinidlRegressor())


@pytest.mark.slow
def test_array_api_check_passes_with_dispatch_enabled() -> None:
    code = (
        "from sklearn.utils.estimator_checks import check_array_api_input as check\n"
        "from minidl.sklearn import MinidlClassifier, MinidlRegressor\n"
        "for e in (MinidlClassifier(epochs=5, layers=[]), MinidlRegressor(epochs=5, layers=[])):\n"
        "    check(type(e).__name__, e, array_namespace='numpy', expect_only_array_outputs=False)\n"
    )
    env = {**os.environ, "SCIPY_ARRAY_API": "1", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------------------------- parameters
def test_nested_parameters_are_listed_and_set() -> None:
    model = MinidlClassifier(HIDDEN, optimizer="sgd")
    params = model.get_params()
    assert params["optimizer__learning_rate"] == 0.01 and params["layers__0__units"] == 16
    assert params["loss__reduction"] == "mean"  # the loss in effect: sparse cross-entropy
    model.set_params(optimizer__learning_rate=0.1, layers__0__units=8, epochs=3)
    assert model.optimizer == {"type": "sgd", "learning_rate": 0.1}
    assert model.layers == [{"type": "dense", "units": 8, "activation": "relu"}]
    assert HIDDEN[0]["units"] == 16  # the list the estimator was given is not changed
    assert MinidlClassifier().set_params(layers__0__units=5).layers[0]["units"] == 5  # the default layer


def test_nested_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="'adam' takes learning_rate, beta_1, beta_2, epsilon"):
        MinidlClassifier().set_params(optimizer__lr=0.1)
    with pytest.raises(ValueError, match=r"layers__<i>__<argument> with i from 0 to 0"):
        MinidlClassifier().set_params(layers__3__units=5)
    with pytest.raises(ValueError, match="Invalid parameter 'epochs__x'"):
        MinidlClassifier().set_params(epochs__x=1)


def test_a_nested_parameter_reaches_the_network() -> None:
    x, y = digits()
    model = MinidlClassifier(HIDDEN, epochs=1, random_state=0).set_params(
        optimizer="sgd", optimizer__learning_rate=0.25, layers__0__units=7
    )
    model.fit(x[:100], y[:100])
    assert model.model_.optimizer.learning_rate == 0.25 and model.model_.layers[0].units == 7


def test_pipeline_sets_nested_parameters_through_its_steps() -> None:
    pipe = make_pipeline(StandardScaler(), MinidlClassifier(HIDDEN))
    assert "minidlclassifier__optimizer__learning_rate" in pipe.get_params()
    pipe.set_params(minidlclassifier__optimizer__learning_rate=0.05)
    assert pipe[-1].optimizer == {"type": "adam", "learning_rate": 0.05}


# ----------------------------------------------------------------------------------- behaviour
def test_string_labels_probabilities_and_decisions() -> None:
    x, y = digits()
    names = np.array(["even", "odd"])[y[:300] % 2]
    model = MinidlClassifier(HIDDEN, epochs=10, random_state=0).fit(x[:300], names)
    assert list(model.classes_) == ["even", "odd"]
    proba = model.predict_proba(x[300:400])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(model.predict(x[300:400]), model.classes_[proba.argmax(axis=1)])
    assert np.array_equal(model.decision_function(x[300:400]) > 0, proba[:, 1] > proba[:, 0])
    assert model.score(x[300:400], np.array(["even", "odd"])[y[300:400] % 2]) > 0.8


def test_binary_crossentropy_gives_one_sigmoid_column() -> None:
    x, y = digits()
    model = MinidlClassifier(HIDDEN, loss="binary_crossentropy", epochs=5, random_state=0)
    model.fit(x[:200], y[:200] % 2)
    assert model.model_.output_shape == (1,)
    assert model.predict_proba(x[:3]).shape == (3, 2)
    with pytest.raises(ValueError, match="binary_crossentropy takes 2 classes; y holds 10"):
        MinidlClassifier(HIDDEN, loss="binary_crossentropy").fit(x[:200], y[:200])


def test_a_network_without_probability_outputs_has_no_predict_proba() -> None:
    x, y = digits()
    given = [*HIDDEN, {"type": "dense", "units": 10}]  # linear outputs, one-hot targets under MSE
    model = MinidlClassifier(given, output="given", loss="mse", epochs=5, random_state=0)
    model.fit(x[:200], y[:200])
    assert not hasattr(model, "predict_proba")
    assert np.array_equal(model.decision_function(x[:5]).argmax(axis=1), model.predict(x[:5]))
    with pytest.raises(ValueError, match=r"outputs samples of shape \(10,\), but the classes needs 3"):
        MinidlClassifier(given, output="given").fit(x[:200], y[:200] % 3)
    with pytest.raises(ValueError, match=r"output must be 'auto'.*received 'last'"):
        MinidlClassifier(output="last").fit(x[:20], y[:20])


def test_regressor_takes_1d_and_2d_targets() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y2 = np.column_stack([x @ [1.0, -2.0, 0.5], x[:, 0] - x[:, 2]])
    model = MinidlRegressor(HIDDEN, epochs=40, random_state=0).fit(x, y2)
    assert model.predict(x).shape == (200, 2) and model.score(x, y2) > 0.9
    assert MinidlRegressor(HIDDEN, epochs=2, random_state=0).fit(x, y2[:, 0]).predict(x).shape == (200,)


def test_a_configuration_gives_network_loss_optimizer_and_settings() -> None:
    x, y = digits()
    model = MinidlClassifier(config="digits", epochs=2, validation_split=0.0).fit(x[:300], y[:300])
    assert [layer.units for layer in model.model_.layers] == [128, 10]  # the file's network, complete
    assert model.model_.seed == 0 and model.model_.optimizer.learning_rate == 0.001
    assert model.get_params()["optimizer__learning_rate"] == 0.001
    again = MinidlClassifier(config="digits", epochs=2, validation_split=0.0).fit(x[:300], y[:300])
    assert np.array_equal(model.predict_proba(x), again.predict_proba(x))  # the file's seed


def test_partial_fit_continues_exactly_where_fit_stopped() -> None:
    x, y = digits()
    two = MinidlClassifier(HIDDEN, epochs=2, random_state=3).fit(x[:300], y[:300])
    one = MinidlClassifier(HIDDEN, epochs=1, random_state=3).fit(x[:300], y[:300])
    one.partial_fit(x[:300], y[:300])
    assert np.array_equal(two.predict_proba(x), one.predict_proba(x))
    stream = MinidlClassifier(HIDDEN, random_state=0).partial_fit(x[:50], y[:50], classes=np.arange(10))
    assert len(stream.classes_) == 10 and len(stream.history_["loss"]) == 1
    with pytest.raises(ValueError, match="not among the classes"):
        MinidlClassifier(HIDDEN).partial_fit(x[:50], y[:50] % 2).partial_fit(x[:50], y[:50])


# ------------------------------------------------------------------------------ pickle and clone
def test_pickle_carries_the_network_as_a_minidl_file() -> None:
    x, y = digits()
    model = MinidlClassifier(HIDDEN, epochs=3, random_state=0).fit(x[:300], y[:300])
    state = model.__getstate__()
    assert "model_" not in state and state["_minidl_network"][:2] == b"PK"  # a zip: JSON and .npy
    assert "model_" in vars(model)  # pickling leaves the estimator whole
    data = pickle.dumps(model)
    assert b"minidl.model" not in data and b"Sequential" not in data  # no live network object
    again = pickle.loads(data)
    assert np.array_equal(again.predict_proba(x), model.predict_proba(x))
    # the optimizer state and the shuffling generator came along: training goes on identically
    model.partial_fit(x[:300], y[:300])
    again.partial_fit(x[:300], y[:300])
    assert np.array_equal(again.predict_proba(x), model.predict_proba(x))


def test_clone_gives_an_unfitted_copy_with_the_same_parameters() -> None:
    x, y = digits()
    stop = minidl.EarlyStopping(monitor="loss", patience=1)
    model = MinidlClassifier(HIDDEN, epochs=2, random_state=0, callbacks=[stop])
    model.fit(x[:200], y[:200])
    copy = clone(model)
    assert not hasattr(copy, "model_") and copy.get_params(deep=False) == model.get_params(deep=False) | {
        "callbacks": copy.callbacks
    }
    assert copy.callbacks[0] is not stop and stop.model is None  # deep copies; the fit used copies too
    assert copy.fit(x[:200], y[:200]).predict(x[:50]).tolist() == model.predict(x[:50]).tolist()


# ------------------------------------------------------------------------ scikit-learn's tools
def test_cross_val_score_and_a_pipeline_with_a_scaler() -> None:
    x, y = digits()
    adam = {"type": "adam", "learning_rate": 0.01}
    model = MinidlClassifier(HIDDEN, epochs=10, optimizer=adam, random_state=0)
    pipe = make_pipeline(StandardScaler(), model)
    scores = cross_val_score(pipe, x[:600], y[:600], cv=3)
    assert scores.shape == (3,) and scores.min() > 0.75 and scores.mean() > 0.8, scores


def _fit_and_predict(model: MinidlClassifier, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return model.fit(x, y).predict_proba(x)


def test_a_fit_does_not_depend_on_the_blas_threads_of_the_process() -> None:
    # what makes a joblib worker (given fewer threads) agree with the main process, quickly
    from threadpoolctl import threadpool_limits

    x, y = digits()
    model = MinidlClassifier([{"type": "dense", "units": 32, "activation": "relu"}], epochs=2, random_state=7)
    with threadpool_limits(1):
        one = _fit_and_predict(clone(model), x, y)
    with threadpool_limits(2):
        two = _fit_and_predict(clone(model), x, y)
    assert np.array_equal(one, two)
    with pytest.raises(ValueError, match="blas_threads must be a positive integer or None; received 0"):
        clone(model).set_params(blas_threads=0).fit(x[:50], y[:50])


@pytest.mark.slow
def test_grid_search_with_two_jobs_and_bit_identical_fits_in_workers() -> None:
    # one test for both, so the joblib worker processes start once (seconds on a busy machine)
    x, y = digits()
    x, y = x[:900], y[:900]  # half the digits: the test is about the machinery, not the score
    grid = {"optimizer__learning_rate": [0.001, 0.03], "layers__0__units": [8, 32]}
    search = GridSearchCV(MinidlClassifier(HIDDEN, epochs=5, random_state=0), grid, cv=2, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no failed fit is hidden as a warning and a NaN score
        search.fit(x, y)
    assert search.best_params_ == {"layers__0__units": 32, "optimizer__learning_rate": 0.03}
    assert search.best_score_ > 0.85 and search.best_estimator_.model_.layers[0].units == 32
    serial = GridSearchCV(MinidlClassifier(HIDDEN, epochs=5, random_state=0), grid, cv=2, n_jobs=1).fit(x, y)
    assert np.array_equal(serial.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"])
    # the same random_state, in this process and in a worker (which has fewer BLAS threads)
    model = MinidlClassifier([{"type": "dense", "units": 32, "activation": "relu"}], epochs=3, random_state=7)
    here = _fit_and_predict(clone(model), x, y)
    there = Parallel(n_jobs=2)(delayed(_fit_and_predict)(clone(model), x, y) for _ in range(2))
    assert all(np.array_equal(here, p) for p in there)  # bit for bit, not merely close


def test_missing_scikit_learn_names_the_extra() -> None:
    code = "import sys; sys.modules['sklearn'] = None\nimport minidl.sklearn\n"
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert "pip install 'minidl[sklearn]'" in done.stderr, done.stderr
