"""Shipped experiment configs (``*.toml`` package data), loaded with ``pymg.engine.load_config``."""
