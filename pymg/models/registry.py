"""The model families: one plain dict from an architecture name to its constructor.

The config's ``[model]`` table is ``arch`` (a key of :data:`MODELS`) plus keyword arguments that
go to that constructor verbatim; :mod:`pymg.engine.model_options` checks them against the
constructor's signature. A family's ``engine_args`` (see
:attr:`pymg.models.RecognizerModel.engine_args`) names the arguments the engine supplies.

Adding a family is one entry here; adding an argument to a family is an edit of its own file.

>>> from pymg.models.registry import MODELS, family_parameters
>>> sorted(MODELS)
['posec3d', 'posec3d_two_stream', 'stgcn', 'stgcnpp']
>>> family_parameters("stgcnpp")["tcn_type"].default
'mstcn'
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from pymg.models.fusion import PoseC3DTwoStream
from pymg.models.interface import RecognizerModel
from pymg.models.posec3d import PoseC3D
from pymg.models.stgcn import STGCN, STGCN_PLUS_PLUS

__all__ = ["MODELS", "family_engine_args", "family_hints", "family_parameters"]

MODELS: dict[str, Callable[..., RecognizerModel]] = {
    "posec3d": PoseC3D,
    "stgcn": STGCN,
    "stgcnpp": functools.partial(STGCN, **STGCN_PLUS_PLUS),
    "posec3d_two_stream": PoseC3DTwoStream,
}
"""Architecture name -> constructor (a :class:`RecognizerModel` class, or a ``functools.partial``
of one that changes its defaults). Every constructor takes ``layout`` first and has
``num_classes`` and ``clip_len``."""


def _family_class(arch: str) -> type[RecognizerModel]:
    build: Any = MODELS[arch]
    return typing.cast(type[RecognizerModel], getattr(build, "func", build))


def family_parameters(arch: str) -> dict[str, inspect.Parameter]:
    """The constructor parameters of ``arch`` by name (defaults as the registry entry sets them).

    Raises:
        KeyError: ``arch`` is not in :data:`MODELS`.
    """
    return dict(inspect.signature(MODELS[arch]).parameters)


def family_hints(arch: str) -> dict[str, Any]:
    """The evaluated type annotations of the constructor parameters of ``arch``."""
    return typing.get_type_hints(_family_class(arch).__init__)


def family_engine_args(arch: str) -> tuple[str, ...]:
    """The arguments of ``arch`` that the engine supplies (``layout``, ``size``, ``embed_dim``)."""
    return tuple(_family_class(arch).engine_args)
