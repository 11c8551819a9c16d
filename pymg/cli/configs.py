"""``pymg configs``: list the shipped configs, or print one as TOML."""

from __future__ import annotations

import argparse

from pymg.cli._common import add_set

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``configs`` sub-parser to ``sub``."""
    p = sub.add_parser("configs", help="list shipped configs, or print one as TOML")
    p.add_argument("name", nargs="?", default=None, help="config to print")
    add_set(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the config names, or the named config (with ``--set`` applied) as TOML."""
    from pymg.engine.config import config_to_toml, list_configs, load_config

    if args.name is None:
        for name in list_configs():
            print(name)
    else:
        print(config_to_toml(load_config(args.name, list(args.set or []))), end="")
    return 0
