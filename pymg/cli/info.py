"""``pymg info``: build information (version, native kernels, CUDA, OpenMP)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pymg._version import __version__

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``info`` sub-parser to ``sub``."""
    p = sub.add_parser("info", help="build information: version, native kernels, CUDA, OpenMP")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print :func:`pymg.build_info` as aligned lines or JSON."""
    import pymg

    build_info = getattr(pymg, "build_info", None)
    info: dict[str, Any] = build_info() if build_info is not None else {"version": __version__}
    if args.json:
        print(json.dumps(info, indent=1, default=str))
    else:
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0
