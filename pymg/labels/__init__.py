"""Class names and label-embedding tables (package data) for the semantic embedding loss.

A label-embedding table is a float32 array ``[K, D]``: row ``k`` is a fixed text embedding of
class ``k``'s name. pymg ships one table, ``imigue_minilm.npy`` (iMiGUE's 32 class names encoded
with the sentence-embedding model all-MiniLM-L6-v2, ``D = 384``, rows L2-normalised; regenerate
it with ``scripts/make_label_embeddings.py``). Any other table can be loaded from a ``.npy`` file
or computed with :func:`compute_label_embeddings` and any text encoder.

:func:`scale_label_embeddings` rescales a table to the magnitude of the published recipe (Li et
al. 2023: 300-d GloVe means, not normalised, mean square per element about
:data:`RECIPE_MEAN_SQUARE` = 0.077), which is what :class:`pymg.losses.SemanticEmbeddingLoss`
does by default, so that ``20 * MSE`` has the recipe's weight next to the cross-entropy whatever
the encoder, its dimension or its normalisation.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pymg.labels.imigue import IMIGUE_CLASSES

__all__ = [
    "IMIGUE_CLASSES",
    "RECIPE_MEAN_SQUARE",
    "scale_label_embeddings",
    "class_names",
    "list_label_tables",
    "load_label_embeddings",
    "compute_label_embeddings",
    "validate_label_embeddings",
]

RECIPE_MEAN_SQUARE = 0.077
"""Mean square per element of the published recipe's label table (Li et al. 2023, arXiv
2307.10624: means of 300-d GloVe word vectors, not normalised). With an embedding near 0 at
initialisation, ``20 * MSE(0, e_y)`` is then about ``20 * 0.077 = 1.5`` next to a cross-entropy of
about ``ln 32 = 3.5``."""

_CLASS_NAMES: dict[str, tuple[str, ...]] = {"imigue": IMIGUE_CLASSES}

# shipped tables: name -> file under pymg/labels/
_TABLES: dict[str, str] = {"imigue": "imigue_minilm.npy", "imigue_minilm": "imigue_minilm.npy"}


def class_names(dataset: str = "imigue") -> tuple[str, ...]:
    """Class names of a known dataset, index ``k`` = class ``k``.

    Args:
        dataset: dataset name; known: ``"imigue"`` (32 classes).

    Returns:
        tuple of ``K`` names.
    """
    if not isinstance(dataset, str):
        raise TypeError(f"dataset: expected a str, got {type(dataset).__name__}")
    key = dataset.lower()
    if key not in _CLASS_NAMES:
        raise ValueError(f"dataset: unknown dataset {dataset!r}; known: {sorted(_CLASS_NAMES)}")
    return _CLASS_NAMES[key]


def list_label_tables() -> list[str]:
    """Names accepted by :func:`load_label_embeddings` for shipped tables."""
    return sorted(_TABLES)


def validate_label_embeddings(
    table: Any, *, name: str = "label_embeddings", num_classes: int | None = None
) -> Tensor:
    """Check a label-embedding table and return it as a float32 CPU tensor.

    Args:
        table: array-like / Tensor ``[K, D]`` of real floats.
        name: argument name used in error messages.
        num_classes: if given, the expected ``K``.

    Returns:
        float32 Tensor ``[K, D]`` (a copy; the input is never modified).

    Raises:
        TypeError: not a float array / tensor.
        ValueError: wrong rank, empty, NaN/inf values or ``K != num_classes``.
    """
    if isinstance(table, Tensor):
        array = table.detach().cpu()
        if not (array.is_floating_point()):
            raise TypeError(
                f"{name}: expected a floating-point table [K, D], got dtype {array.dtype}"
            )
        out = array.to(torch.float32).clone()
    else:
        try:
            arr = np.asarray(table)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name}: expected an array-like table [K, D]: {err}") from None
        if arr.dtype.kind != "f":
            raise TypeError(
                f"{name}: expected a floating-point table [K, D], got dtype {arr.dtype}"
            )
        out = torch.from_numpy(np.array(arr, dtype=np.float32, copy=True))
    if out.ndim != 2 or out.shape[0] < 1 or out.shape[1] < 1:
        raise ValueError(
            f"{name}: expected a non-empty 2-D table [K, D], got shape {tuple(out.shape)}"
        )
    if not bool(torch.isfinite(out).all()):
        bad = torch.nonzero(~torch.isfinite(out).all(dim=1)).flatten().tolist()
        raise ValueError(f"{name}: contains NaN or inf values (rows {bad[:10]})")
    if num_classes is not None and out.shape[0] != num_classes:
        raise ValueError(
            f"{name}: expected {num_classes} rows (one per class), got shape {tuple(out.shape)}"
        )
    return out


def load_label_embeddings(
    source: str | os.PathLike[str] = "imigue", *, num_classes: int | None = None
) -> Tensor:
    """Load a label-embedding table.

    Args:
        source: a shipped table name (``"imigue"`` = ``"imigue_minilm"``, see
            :func:`list_label_tables`) or a path to a ``.npy`` file holding a float array
            ``[K, D]``.
        num_classes: if given, the expected number of rows ``K``.

    Returns:
        float32 Tensor ``[K, D]`` on the CPU.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: not a ``.npy`` file, unreadable, wrong shape, NaN/inf, wrong ``K``.
        TypeError: ``source`` of the wrong type or a non-float array.
    """
    if isinstance(source, str) and source.lower() in _TABLES:
        filename = _TABLES[source.lower()]
        data = resources.files("pymg.labels").joinpath(filename).read_bytes()
        label = f"shipped table {filename!r}"
        array = np.load(io.BytesIO(data), allow_pickle=False)
        return validate_label_embeddings(array, name=label, num_classes=num_classes)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"source: expected a table name {list_label_tables()} or a path to a .npy file, "
            f"got {type(source).__name__}"
        )
    path = os.fspath(source)
    if not path.endswith(".npy"):
        raise ValueError(
            f"source: {path!r} is neither a shipped table {list_label_tables()} nor a .npy path"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"source: no such label-embedding file {path!r}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"source: cannot read {path!r} as a .npy array: {err}") from None
    return validate_label_embeddings(array, name=f"source {path!r}", num_classes=num_classes)


def compute_label_embeddings(
    names: Sequence[str],
    encoder: Callable[[list[str]], Any],
    *,
    normalize: bool = True,
) -> Tensor:
    """Encode class names with any text encoder into a table.

    Args:
        names: ``K`` class names (non-empty strings).
        encoder: callable mapping a list of ``K`` strings to an array-like / Tensor ``[K, D]``
            (e.g. ``SentenceTransformer(...).encode``).
        normalize: L2-normalise every row (the shipped tables are normalised).

    Returns:
        float32 Tensor ``[K, D]``.
    """
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"names: expected a sequence of strings, got {type(names).__name__}")
    texts = list(names)
    if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
        raise ValueError("names: expected a non-empty sequence of non-empty strings")
    if not callable(encoder):
        raise TypeError(f"encoder: expected a callable, got {type(encoder).__name__}")
    table = validate_label_embeddings(encoder(texts), name="encoder output", num_classes=len(texts))
    if normalize:
        norms = table.norm(dim=1, keepdim=True)
        if bool((norms == 0).any()):
            raise ValueError("encoder output: a row has zero norm and cannot be normalised")
        table = table / norms
    return table


def scale_label_embeddings(table: Any, scale: str | float = "recipe") -> Tensor:
    """Rescale a label-embedding table (one factor for the whole table; cosines are unchanged).

    Args:
        table: array-like / Tensor ``[K, D]``.
        scale: ``"recipe"`` multiplies the table so that its mean square per element is
            :data:`RECIPE_MEAN_SQUARE` (0.077, the published GloVe-300 table's), whatever ``D``
            and the encoder's normalisation: an L2-normalised 384-d table (mean square
            ``1/384 = 0.0026``) is multiplied by about 5.4. ``"none"`` keeps the table as it is.
            A positive number (or its text, e.g. ``"2.5"``) multiplies the table by that number.

    Returns:
        float32 Tensor ``[K, D]`` (a new tensor).

    Raises:
        ValueError: an unknown ``scale`` word, a non-positive factor, or ``"recipe"`` on an
            all-zero table.
    """
    out = validate_label_embeddings(table, name="table")
    factor = _scale_factor(out, scale)
    return out * factor if factor != 1.0 else out


def _scale_factor(table: Tensor, scale: str | float) -> float:
    """The factor :func:`scale_label_embeddings` applies to ``table`` for ``scale``."""
    if isinstance(scale, str):
        word = scale.strip().lower()
        if word == "none":
            return 1.0
        if word == "recipe":
            mean_square = float(table.double().pow(2).mean())
            if mean_square == 0.0:
                raise ValueError("table: all zeros, cannot be scaled to the recipe's magnitude")
            return math.sqrt(RECIPE_MEAN_SQUARE / mean_square)
        try:
            value = float(word)
        except ValueError:
            raise ValueError(
                f"scale: expected 'recipe', 'none' or a positive number, got {scale!r}"
            ) from None
    elif isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise TypeError(f"scale: expected 'recipe', 'none' or a number, got {type(scale).__name__}")
    else:
        value = float(scale)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"scale: expected a finite factor > 0, got {scale!r}")
    return value
