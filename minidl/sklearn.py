"""scikit-learn estimators around minidl networks: ``MinidlClassifier``, ``MinidlRegressor``.

They open what scikit-learn's estimator interface opens: ``GridSearchCV``, ``cross_val_score``,
``Pipeline``, and joblib with its process, Dask and Ray backends. The network is written the way
minidl users write it (layer names or config dicts, or a bundled/file configuration); every
constructor argument is a hyperparameter, and so is every argument of the optimizer, the loss
and each layer, addressed as scikit-learn addresses nested parameters
(``optimizer__learning_rate``, ``layers__0__units``).

This is the only module of minidl that imports scikit-learn (``pip install 'minidl[sklearn]'``).
A fitted estimator pickles its network in minidl's own safe file format (see
``minidl.io.to_bytes``), never as live objects. See docs/guide-sklearn.md.
"""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as _exc:  # validate_data is new in 1.6: an older scikit-learn lands here too
    raise ImportError(
        f"minidl.sklearn needs scikit-learn 1.6 or newer ({_exc}); install it with: "
        "pip install 'minidl[sklearn]' (or pip install 'scikit-learn>=1.6')."
    ) from _exc

from . import config as config_module
from . import io, losses, optimizers
from . import layers as layers_module
from ._threads import blas_threads, check_threads
from .activations import Activation, Sigmoid, Softmax
from .callbacks import Callback
from .layers import Dense
from .model import Sequential

__all__ = ["MinidlClassifier", "MinidlRegressor", "DEFAULT_LAYERS", "DEFAULTS"]

#: The hidden layers used when neither ``layers`` nor ``config`` is given (scikit-learn's
#: ``MLPClassifier`` default: one hidden layer of 100 ReLU units).
DEFAULT_LAYERS: tuple[dict[str, Any], ...] = ({"type": "dense", "units": 100, "activation": "relu"},)
#: The value of each setting left at None when no configuration gives it.
DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "epochs": 200,
    "batch_size": 32,
    "shuffle": True,
    "validation_split": 0.0,
    "dtype": "float64",
}
# The settings a configuration file can give, and where in it they are.
_FROM_CONFIG = {
    "loss": ("compile", "loss"),
    "optimizer": ("compile", "optimizer"),
    "epochs": ("fit", "epochs"),
    "batch_size": ("fit", "batch_size"),
    "shuffle": ("fit", "shuffle"),
    "validation_split": ("fit", "validation_split"),
    "dtype": ("model", "dtype"),
}
_COMPONENTS = ("optimizer", "loss")  # parameters whose own arguments are nested parameters
_OUTPUTS = ("auto", "given")
_PICKLED_NETWORK = "_minidl_network"  # the key of the network's file bytes in a pickle's state


class _MinidlEstimator(BaseEstimator):  # type: ignore[misc]  # scikit-learn is untyped: its classes are Any
    """What the classifier and the regressor share: parameters, the network, fit and pickling."""

    #: The loss chosen when neither ``loss`` nor the configuration names one.
    _default_loss: str = "mse"

    def __init__(
        self,
        layers: Sequence[Any] | None = None,
        *,
        config: str | os.PathLike[str] | config_module.TrainingConfig | None = None,
        output: str | None = None,
        loss: Any = None,
        optimizer: Any = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        shuffle: bool | None = None,
        validation_split: float | None = None,
        callbacks: Sequence[Callback] | None = None,
        random_state: int | np.random.RandomState | np.random.Generator | None = None,
        verbose: int = 0,
        dtype: str | None = None,
        blas_threads: int | None = 1,
    ) -> None:
        # scikit-learn's rule: store the arguments as given, check and use them only in fit
        self.layers = layers
        self.config = config
        self.output = output
        self.loss = loss
        self.optimizer = optimizer
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype
        self.blas_threads = blas_threads

    # ------------------------------------------------------------------ nested parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments; with ``deep=True`` also every argument of the optimizer,
        the loss and each layer in effect, as ``optimizer__<arg>``, ``loss__<arg>`` and
        ``layers__<i>__<arg>`` (what ``set_params`` and a grid search can set)."""
        params: dict[str, Any] = super().get_params(deep=False)
        if not deep:
            return params
        try:
            for name in _COMPONENTS:
                spec = self._effective(name)
                if spec is not None:
                    params.update((f"{name}__{k}", v) for k, v in _arguments(spec, _registry(name)).items())
            for i, spec in enumerate(self._effective("layers")):
                params.update((f"layers__{i}__{k}", v) for k, v in _arguments(spec, None).items())
        except Exception:  # noqa: BLE001 - get_params never raises: a bad config is reported by fit
            pass
        return params

    def set_params(self, **params: Any) -> _MinidlEstimator:
        """Sets parameters, plain (``epochs=50``) or nested (``optimizer__learning_rate=0.1``,
        ``loss__reduction="sum"``, ``layers__0__units=32``), and returns the estimator.

        A nested parameter turns the component into a config dict with that argument set (the
        optimizer's name, the loss's or the layer's and its other arguments kept), so
        ``optimizer="sgd"`` with ``optimizer__learning_rate=0.1`` becomes
        ``{"type": "sgd", "learning_rate": 0.1}``. An argument the component does not take
        raises ValueError naming the ones it does.
        """
        valid = super().get_params(deep=False)
        nested: list[tuple[str, str, Any]] = []
        for key, value in params.items():
            name, delim, rest = key.partition("__")
            if name not in valid or (delim and name not in (*_COMPONENTS, "layers")):
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. Valid parameters are "
                    f"{sorted(valid)}, and nested ones optimizer__<arg>, loss__<arg>, layers__<i>__<arg>."
                )
            if delim:
                nested.append((name, rest, value))
            else:
                setattr(self, name, value)
        for name, rest, value in nested:  # after the plain ones: optimizer="sgd" first, then its arguments
            if name == "layers":
                self._set_layer_argument(rest, value)
            else:
                setattr(self, name, _with_argument(self._effective(name), rest, value, _registry(name), name))
        return self

    def _set_layer_argument(self, rest: str, value: Any) -> None:
        index, delim, argument = rest.partition("__")
        specs = list(self._effective("layers"))
        if not delim or not index.isdigit() or int(index) >= len(specs):
            raise ValueError(
                f"Invalid parameter 'layers__{rest}': give layers__<i>__<argument> with i from 0 to "
                f"{len(specs) - 1} (the network has {len(specs)} layers before the output)."
            )
        i = int(index)
        specs[i] = _with_argument(specs[i], argument, value, None, f"layers__{i}")
        self.layers = specs

    def _effective(self, name: str) -> Any:
        """The value in effect for ``name``: the estimator's own, else the configuration's, else
        the default."""
        value = getattr(self, name)
        if value is not None:
            return value
        if name == "layers":
            if self.config is not None:
                return list(self._config().model.get("layers", []))
            return [dict(spec) for spec in DEFAULT_LAYERS]
        if self.config is not None and name in _FROM_CONFIG:
            section, key = _FROM_CONFIG[name]
            table = getattr(self._config(), section)
            if key in table:
                return table[key]
        return self._default_loss if name == "loss" else DEFAULTS.get(name)

    def _config(self) -> config_module.TrainingConfig:
        if isinstance(self.config, config_module.TrainingConfig):
            return self.config
        if isinstance(self.config, (str, os.PathLike)):
            return config_module.load(self.config if isinstance(self.config, str) else Path(self.config))
        raise ValueError(
            f"config must be a bundled configuration's name, a path to a TOML file or a "
            f"minidl.config.TrainingConfig; received {type(self.config).__name__}."
        )

    # ------------------------------------------------------------------ fitting
    def _seed(self) -> int | None:
        if self.random_state is None and self.config is not None:
            return self._config().model.get("seed")
        if isinstance(self.random_state, np.random.Generator):
            return int(self.random_state.integers(2**31 - 1))
        if isinstance(self.random_state, (int, np.integer)) and not isinstance(self.random_state, bool):
            if self.random_state < 0:
                raise ValueError(
                    f"random_state must be a non-negative integer; received {self.random_state}."
                )
            return int(self.random_state)
        # None (numpy's global generator, scikit-learn's convention) or a RandomState
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _output_mode(self) -> str:
        if self.output is None:
            return "given" if self.config is not None else "auto"
        if self.output not in _OUTPUTS:
            raise ValueError(
                f"output must be 'auto' (add an output layer that fits the target), 'given' (the "
                f"last layer is the output) or None (auto, or given with a config); received {self.output!r}."
            )
        return self.output

    def _build(self, n_features: int, loss: losses.Loss, output: dict[str, Any] | None) -> Sequential:
        specs = [copy.deepcopy(spec) for spec in self._effective("layers")]
        if output is not None:
            specs.append(output)
        dtype = self._effective("dtype")
        model = Sequential(specs, input_shape=(n_features,), seed=self._seed(), dtype=dtype)
        model.compile(loss=loss, optimizer=copy.deepcopy(self._effective("optimizer")))
        return model

    def _train(self, model: Sequential, x: np.ndarray, targets: np.ndarray, epochs: int) -> None:
        callbacks = copy.deepcopy(list(self.callbacks or ()))  # the estimator's own stay untouched
        with blas_threads(check_threads(self.blas_threads, "blas_threads")):
            model.fit(
                x, targets, epochs=epochs, batch_size=self._effective("batch_size"),
                shuffle=self._effective("shuffle"), validation_split=self._effective("validation_split"),
                callbacks=callbacks, verbose=self.verbose,
            )  # fmt: skip
        self.history_ = {key: list(values) for key, values in model.history.history.items()}

    def _network_outputs(self, x: Any) -> np.ndarray:
        check_is_fitted(self)
        x = validate_data(self, x, reset=False, dtype=(np.float64, np.float32))
        with blas_threads(check_threads(self.blas_threads, "blas_threads")):
            outputs: np.ndarray = self.model_.predict(x)
        return outputs

    def _check_width(self, model: Sequential, width: int, what: str) -> None:
        if model.output_shape != (width,):
            raise ValueError(
                f"The network outputs samples of shape {model.output_shape}, but {what} needs {width} "
                f"column(s); fix the last layer, or pass output='auto' to have one added."
            )

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__ itself
        model = state.pop("model_", None)
        if model is not None:  # the network as a minidl file: arrays and JSON, nothing executable
            state[_PICKLED_NETWORK] = io.to_bytes(model)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        data = state.pop(_PICKLED_NETWORK, None)
        if data is not None:
            where = f"The pickled {type(self).__name__}'s network"
            state["model_"] = io.from_bytes(data, Sequential, where=where)
        super().__setstate__(state)


class MinidlClassifier(ClassifierMixin, _MinidlEstimator):  # type: ignore[misc]  # as above
    """A minidl network as a scikit-learn classifier.

    Args:
        layers: the hidden layers, as a model takes them (names, config dicts such as
            ``{"type": "dense", "units": 32, "activation": "relu"}``, or layer instances, which
            are copied through their configuration); None: one layer of 100 ReLU units, or the
            configuration's layers. Input sizes are inferred from the data.
        config: a bundled configuration's name, a TOML file or a ``TrainingConfig``: its network
            (complete, with its output layer), loss, optimizer and fit settings are used for
            every argument left at None; its ``[data]`` is ignored (the data come from ``fit``).
        output: ``"auto"`` adds an output layer that fits the classes and the loss; ``"given"``
            takes the last layer as the output; None means ``"given"`` with a ``config`` and
            ``"auto"`` otherwise.
        loss: a loss name, dict or instance; None: ``"sparse_categorical_crossentropy"`` (or the
            configuration's). The targets take the loss's form: class indices for a sparse
            loss, 0/1 for a one-column output, one-hot columns otherwise.
        optimizer: an optimizer name, dict or instance; None: ``"adam"`` (or the configuration's).
        epochs: passes over the data in ``fit`` (None: 200 or the configuration's).
        batch_size: samples per update (None: 32 or the configuration's).
        shuffle: shuffle each epoch (None: True or the configuration's).
        validation_split: the fraction held out from the end of the training data and reported
            as ``val_loss`` in ``history_`` (None: 0 or the configuration's).
        callbacks: minidl callbacks (EarlyStopping, ...); each fit works on copies.
        random_state: seeds the initial weights and the shuffling. An int gives bit-identical
            results wherever the fit runs; a RandomState or Generator is drawn from; None draws
            from numpy's global generator (scikit-learn's convention), or takes the
            configuration's seed.
        verbose: 0 silent, 1 a progress bar, 2 one line per epoch.
        dtype: ``"float64"`` or ``"float32"`` (None: float64 or the configuration's).
        blas_threads: BLAS threads for fit and predict. 1 (the default) makes the result depend
            only on the parameters and the data, not on where the fit runs: OpenBLAS sums a
            long matrix product differently over 2 threads (last-bit differences), and a joblib
            worker gets fewer threads than the main process. None keeps the process's setting
            (faster for large networks on many cores, reproducible only on the same setting).

    Attributes:
        classes_: the class labels, sorted (any type scikit-learn accepts, strings included).
        model_: the fitted ``minidl.Sequential``.
        history_: the History's figures per epoch (``{"loss": [...], ...}``) of the last fit.
        n_features_in_: the number of input features (and ``feature_names_in_`` for data frames).
    """

    _default_loss = "sparse_categorical_crossentropy"

    def fit(self, X: Any, y: Any) -> MinidlClassifier:
        """Builds a fresh network from the parameters and trains it for ``epochs`` on ``(X, y)``.

        Args:
            X: the training samples, ``(n_samples, n_features)``.
            y: their class labels.
        """
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        self._start(X, y, np.unique(y))
        self._train(self.model_, X, self._targets(y), self._effective("epochs"))
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MinidlClassifier:
        """Trains one more epoch on ``(X, y)``, starting the network on the first call.

        The first call needs every class label, in ``classes`` or in ``y``; later calls continue
        the same network, optimizer state and shuffling generator (after ``fit`` too).

        Args:
            X: the training samples, ``(n_samples, n_features)``.
            y: their class labels.
            classes: every class label, needed on the first call when ``y`` lacks some.
        """
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, dtype=(np.float64, np.float32))
        if first:
            self._start(X, y, np.unique(y) if classes is None else np.unique(np.asarray(classes)))
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(
                f"classes={classes!r} differs from the classes of the first call, {self.classes_!r}."
            )
        self._train(self.model_, X, self._targets(y), 1)
        return self

    def _start(self, X: np.ndarray, y: np.ndarray, classes: np.ndarray) -> None:
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"MinidlClassifier takes one label per sample; received targets of type {kind!r}."
            )
        if len(classes) < 2:
            raise ValueError(
                f"MinidlClassifier needs samples of at least 2 classes; y holds 1 class ({classes[0]!r})."
            )
        self.classes_ = classes
        loss = losses.get(copy.deepcopy(self._effective("loss")))
        output = None
        if self._output_mode() == "auto":
            binary = isinstance(loss, losses.BinaryCrossentropy)
            if binary and len(classes) != 2:
                raise ValueError(
                    f"binary_crossentropy takes 2 classes; y holds {len(classes)}: use the default loss."
                )
            output = {"type": "dense", "units": 1 if binary else len(classes),
                      "activation": "sigmoid" if binary else "softmax"}  # fmt: skip
        self.model_ = self._build(X.shape[1], loss, output)
        width = self.model_.output_features
        needed = len(classes) if loss.sparse_targets or width != 1 else 1
        self._check_width(self.model_, needed, "the classes")
        if width == 1 and len(classes) != 2:
            raise ValueError(f"A network with one output column separates 2 classes; y holds {len(classes)}.")
        self._probabilities = _outputs_probabilities(self.model_)

    def _targets(self, y: np.ndarray) -> np.ndarray:
        index = np.searchsorted(self.classes_, y)
        found = self.classes_[np.minimum(index, len(self.classes_) - 1)]
        unknown = (index >= len(self.classes_)) | (found != y)
        if unknown.any():
            raise ValueError(
                f"y holds labels {np.unique(y[unknown])!r} not among the classes {self.classes_!r}."
            )
        if self.model_.loss is not None and self.model_.loss.sparse_targets:
            return index
        if self.model_.output_features == 1:
            return index.astype(self.model_.dtype)
        return np.eye(len(self.classes_), dtype=self.model_.dtype)[index]

    def predict(self, X: Any) -> np.ndarray:
        """The class label of each sample: the most probable class (or output above 0.5).

        Args:
            X: the samples, ``(n_samples, n_features)``.
        """
        outputs = self._network_outputs(X)
        index = (outputs[:, 0] > 0.5).astype(int) if outputs.shape[1] == 1 else outputs.argmax(axis=1)
        labels: np.ndarray = self.classes_[index]
        return labels

    def _has_probabilities(self) -> bool:
        return getattr(self, "_probabilities", True)  # unknown before fit: the default network has them

    @available_if(_has_probabilities)  # type: ignore[untyped-decorator]  # scikit-learn's, untyped
    def predict_proba(self, X: Any) -> np.ndarray:
        """The probability of each class, columns in the order of ``classes_``.

        Available when the network's outputs are probabilities (a softmax output, or one
        sigmoid column ``p`` read as ``[1 - p, p]``).

        Args:
            X: the samples, ``(n_samples, n_features)``.
        """
        outputs = self._network_outputs(X).astype(np.float64)
        if outputs.shape[1] == 1:
            return np.hstack([1.0 - outputs, outputs])
        return outputs

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores whose largest entry (or, for two classes, whose sign) gives the prediction.

        With probability outputs these are log-odds ``log(p1 / p0)`` for two classes and
        log-probabilities otherwise; without, the network's outputs (minus 0.5 for one column).

        Args:
            X: the samples, ``(n_samples, n_features)``.
        """
        outputs = self._network_outputs(X).astype(np.float64)
        if not self._probabilities:
            return outputs[:, 0] - 0.5 if outputs.shape[1] == 1 else outputs
        tiny = np.finfo(np.float64).tiny  # keeps the logarithms finite where a probability underflowed
        if outputs.shape[1] == 1:
            p = np.clip(outputs[:, 0], tiny, 1.0)
            return np.log(p) - np.log(np.clip(1.0 - outputs[:, 0], tiny, 1.0))
        log = np.log(np.clip(outputs, tiny, None))
        return log[:, 1] - log[:, 0] if outputs.shape[1] == 2 else log


class MinidlRegressor(RegressorMixin, _MinidlEstimator):  # type: ignore[misc]  # as above
    """A minidl network as a scikit-learn regressor, for 1-D or 2-D targets.

    The arguments are ``MinidlClassifier``'s, except that the loss defaults to ``"mse"``
    and ``output="auto"`` adds a linear Dense layer with one unit per target column. ``score``
    is R^2. ``predict`` returns the shape of the ``y`` it was fitted on.

    Attributes:
        model_: the fitted ``minidl.Sequential``.
        history_: the History's figures per epoch of the last fit.
        n_features_in_: the number of input features (and ``feature_names_in_`` for data frames).
    """

    _default_loss = "mse"

    def fit(self, X: Any, y: Any) -> MinidlRegressor:
        """Builds a fresh network from the parameters and trains it for ``epochs`` on ``(X, y)``.

        Args:
            X: the training samples, ``(n_samples, n_features)``.
            y: their targets, 1-D or ``(n_samples, n_outputs)``.
        """
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), multi_output=True, y_numeric=True)
        self._start(X, y)
        self._train(self.model_, X, self._targets(y), self._effective("epochs"))
        return self

    def partial_fit(self, X: Any, y: Any) -> MinidlRegressor:
        """Trains one more epoch on ``(X, y)``, starting the network on the first call.

        Args:
            X: the training samples, ``(n_samples, n_features)``.
            y: their targets, 1-D or ``(n_samples, n_outputs)``.
        """
        first = not hasattr(self, "model_")
        X, y = validate_data(
            self, X, y, reset=first, dtype=(np.float64, np.float32), multi_output=True, y_numeric=True
        )
        if first:
            self._start(X, y)
        elif (1 if y.ndim == 1 else y.shape[1]) != self.n_outputs_:
            raise ValueError(
                f"y has {1 if y.ndim == 1 else y.shape[1]} column(s); the first fit had {self.n_outputs_}."
            )
        self._train(self.model_, X, self._targets(y), 1)
        return self

    def _start(self, X: np.ndarray, y: np.ndarray) -> None:
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self._y_ndim = y.ndim
        loss = losses.get(copy.deepcopy(self._effective("loss")))
        auto = self._output_mode() == "auto"
        output = {"type": "dense", "units": self.n_outputs_} if auto else None
        self.model_ = self._build(X.shape[1], loss, output)
        self._check_width(self.model_, self.n_outputs_, "y")

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=self.model_.dtype).reshape(len(y), self.n_outputs_)

    def predict(self, X: Any) -> np.ndarray:
        """The network's outputs, shaped like the ``y`` of ``fit`` (1-D for a 1-D target).

        Args:
            X: the samples, ``(n_samples, n_features)``.
        """
        outputs = self._network_outputs(X)
        return outputs[:, 0] if self._y_ndim == 1 else outputs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# ---------------------------------------------------------------------------------------- helpers
def _registry(name: str) -> Any:
    return optimizers.registry if name == "optimizer" else losses.registry


def _layer_registry(spec_type: str) -> Any:
    if spec_type not in layers_module.registry and spec_type in layers_module.activations.registry:
        return layers_module.activations.registry
    return layers_module.registry


def _as_dict(spec: Any, registry: Any) -> dict[str, Any]:
    """A component spec (name, class, instance or config dict) as a config dict ``{"type": ...}``."""
    if isinstance(spec, Mapping):
        if "type" not in spec:
            raise ValueError(f"A component's config dict needs a 'type' key; received keys {sorted(spec)}.")
        return copy.deepcopy(dict(spec))
    if isinstance(spec, str):
        return {"type": spec}
    if inspect.isclass(spec):
        registry = registry or (
            layers_module.activations.registry if issubclass(spec, Activation) else layers_module.registry
        )
        return {"type": registry.name_of(spec)}
    if registry is None:
        activation = isinstance(spec, Activation)
        registry = layers_module.activations.registry if activation else layers_module.registry
    serialized = registry.serialize(spec)
    return {"type": serialized} if isinstance(serialized, str) else dict(serialized)


def _arguments(spec: Any, registry: Any) -> dict[str, Any]:
    """Every constructor argument of ``spec``'s component: its value in the spec, else the default."""
    config = _as_dict(spec, registry)
    registry = registry or _layer_registry(config["type"])
    parameters = inspect.signature(registry.get_class(config["type"])).parameters
    values = {
        name: p.default
        for name, p in parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is not p.empty
    }
    values.update((k, v) for k, v in config.items() if k != "type")
    return values


def _with_argument(spec: Any, argument: str, value: Any, registry: Any, where: str) -> dict[str, Any]:
    """``spec`` as a config dict with ``argument`` set to ``value``, checked against the constructor."""
    config = _as_dict(spec, registry)
    registry = registry or _layer_registry(config["type"])
    parameters = inspect.signature(registry.get_class(config["type"])).parameters
    accepted = [n for n, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    if argument not in accepted and not takes_any:
        raise ValueError(
            f"Invalid parameter '{where}__{argument}': {config['type']!r} takes "
            f"{', '.join(accepted) or 'no arguments'}."
        )
    config[argument] = value
    return config


def _outputs_probabilities(model: Sequential) -> bool:
    """True when the network's last step is a softmax, or a sigmoid on one column."""
    last = model.layers[-1]
    activation = last.activation if isinstance(last, Dense) else last
    if isinstance(activation, Softmax):
        return True
    return isinstance(activation, Sigmoid) and model.output_features == 1
