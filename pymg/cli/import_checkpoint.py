"""``pymg import``: a PYSKL / mmaction2 config + checkpoint -> a pymg checkpoint."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``import`` sub-parser to ``sub``."""
    p = sub.add_parser("import", help="PYSKL/mmaction2 config + checkpoint -> pymg checkpoint")
    p.add_argument("config", help="PYSKL or mmaction2 .py config (read, never executed)")
    p.add_argument("checkpoint", help="its .pth checkpoint (PYSKL or mmaction2 1.x keys)")
    p.add_argument("--out", required=True, help="pymg checkpoint to write (e.g. model.pt)")
    p.add_argument("--class-names", default=None, help="text file, one class name per line")
    p.add_argument("--layout", default=None, help="pymg layout (PoseC3D configs name none)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Import the checkpoint; print what was written and the importer's notes."""
    from pymg.engine.importing import import_pyskl

    result = import_pyskl(
        args.config, args.checkpoint, args.out, class_names=args.class_names, layout=args.layout
    )
    print(
        f"wrote {result['path']}: {result['family']}, layout {result['layout']}, "
        f"{result['num_classes']} classes ({result['convention']} checkpoint)"
    )
    for note in result["notes"]:
        print(f"note: {note}", file=sys.stderr)
    return 0
