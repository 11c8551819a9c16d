"""Rerun the hostile-input set: build each hostile input, run pymg on it in a subprocess under a
memory limit and a time limit, and classify what happened.

Classes (strict):

* ``correct``: the right result (success where success is right, checked).
* ``clear error``: exit 2 with one ``pymg CMD: error: ...`` line (or, for a library call, a
  ValueError / OSError / TypeError family exception) whose message names the file or key
  the case expects, and no traceback.
* ``unclear error``: an error that does not name it, a traceback, or an internal exception
  type (KeyError, IndexError, RecursionError, UnicodeDecodeError...).
* ``silent wrong``: success where an error (or a warning naming the file) was due.
* ``crash``: killed by a signal, or out of memory (MemoryError, allocator messages).
* ``hang``: the time limit ran out.

Usage::

    PYTHONPATH=. python scripts/probe_hostile.py [--only NAME ...] [--mem-gib 4] [--list]

Prints one line per case, then the counts per class. Needs the repository's ``tests/`` folder
(its writers of raw releases). Run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]

import numpy as np  # noqa: E402
from hostile_inputs import (  # noqa: E402
    edit,
    import_names,
    imported,
    json_release,
    laughs,
    light_hand_numbers,
    native_bomb,
    npz_bomb,
    person,
    pyskl_pickle,
    release,
    rewrite,
    scores_pair,
    sparse,
    xlsx_bomb,
    xlsx_release,
)
from probe_runner import CLASSES, TINY, Case, Result, classify, run, sets  # noqa: E402


# ---------------------------------------------------------------- runs of a trained model
def trained(tmp: Path, shared: Path) -> Path:
    """A tiny trained checkpoint (made once per probe run)."""
    ck = shared / "work" / "latest.pt"
    if not ck.is_file():
        res = run(["pymg", "train", "demo", "--work-dir", "work", *sets(TINY), "--no-test"],
                  shared, 300, 6)  # fmt: skip
        if not ck.is_file():
            raise RuntimeError(f"probe set-up: training failed: {res.err[-2000:]}")
    return ck


def checkpoint_case(change: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        import shutil

        import torch

        src = trained(tmp, SHARED)
        ck = tmp / "ck.pt"
        shutil.copy(src, ck)
        if change == "flip":
            with zipfile.ZipFile(ck) as zf:
                info = max(zf.infolist(), key=lambda i: i.file_size)
            with ck.open("r+b") as handle:
                handle.seek(info.header_offset + 26)
                name_len, extra_len = np.frombuffer(handle.read(4), np.uint16)
                at = info.header_offset + 30 + int(name_len) + int(extra_len) + info.file_size // 2
                handle.seek(at)
                byte = handle.read(1)[0]
                handle.seek(at)
                handle.write(bytes([byte ^ 0x40]))
        elif change == "nan":
            data = torch.load(ck, weights_only=True)
            first = next(k for k, v in data["model"].items() if v.is_floating_point())
            weight = data["model"][first]
            weight[(0,) * weight.ndim] = float("nan")
            torch.save(data, ck)
        elif change == "truncate":
            ck.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])
        return ["pymg", "test", "ck.pt", "--out", "t", "--clips", "1"]

    return build


def train_with(items: list[str], extra: list[str] | None = None) -> Callable[[Path], list[str]]:
    return lambda tmp: ["pymg", "train", "demo", "--work-dir", "w", *sets([*TINY, *items]),
                        *(extra or [])]  # fmt: skip


def resume_import(tmp: Path) -> list[str]:
    imported(tmp)
    res = run(["pymg", "import", "gcn.py", "gcn.pth", "--out", "m.pt"], tmp, 120, 6)
    if res.rc != 0:
        raise RuntimeError(f"probe set-up: import failed: {res.err[-1000:]}")
    items = ["model.arch=stgcn", "data.layout=coco17", "model.num_classes=3"]
    return ["pymg", "train", "demo", "--work-dir", "w", *sets([*TINY, *items]),
            "--resume", "m.pt"]  # fmt: skip


SHARED = Path(tempfile.gettempdir())


# ----------------------------------------------------------------------------- custom drivers
def _popen_train(tmp: Path, work: str, items: list[str]) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "pymg", "train", "demo", "--work-dir", work, *sets(items)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip


def _wait_file(path: Path, proc: subprocess.Popen[str], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while not path.is_file():
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.communicate()


def two_runs(tmp: Path, mem: float) -> tuple[str, str]:
    first = _popen_train(tmp, "w", [*TINY, "schedule.epochs=200"])
    try:
        if not _wait_file(tmp / "w" / "latest.pt", first, 120):
            return "unclear error", "probe set-up: the first run did not start"
        res = run(["pymg", "train", "demo", "--work-dir", "w", *sets(TINY)], tmp, 120, mem)
    finally:
        _stop(first)
    case = Case("", "", lambda t: [], (f"pid {first.pid}",))
    return classify(case, res, tmp)


def stale_tmp(tmp: Path, mem: float) -> tuple[str, str]:
    work = tmp / "w"
    work.mkdir()
    (work / ".latest.pt.k3j_9x2q.tmp").write_bytes(b"")  # what a kill mid-write leaves
    res = run(["pymg", "train", "demo", "--work-dir", "w", *sets(TINY), "--no-test"], tmp, 120,
              mem)  # fmt: skip
    if res.rc != 0:
        return classify(Case("", "", lambda t: [], ("w",)), res, tmp)
    if (work / ".latest.pt.k3j_9x2q.tmp").exists():
        return "silent wrong", "the 0-byte .latest.pt.*.tmp is still there after a new run"
    return "correct", "leftover temporary removed"


def prepare_dir(tmp: Path, mem: float) -> tuple[str, str]:
    cmd = release(tmp)
    (tmp / "out.npz").mkdir()
    res = run(cmd, tmp, 120, mem)
    if (tmp / "out.npz.tmp").exists():
        return "silent wrong", "out.npz.tmp left behind"
    return classify(Case("", "", lambda t: [], ("out.npz",)), res, tmp)


def full_disk(tmp: Path, mem: float) -> tuple[str, str]:
    """A checkpoint written to a full disk: a 1 MB tmpfs when root may mount one, else a write
    that fails with ENOSPC after 4 KB."""
    mount = tmp / "disk"
    mount.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        == 0
    )
    code = (
        "import torch, os\nfrom pymg.engine.checkpointing import save_checkpoint\n"
        f"p = {str(mount / 'latest.pt')!r}\nsave_checkpoint({{'w': torch.zeros(10)}}, p)\n"
    )
    if not mounted:
        code += (
            "import errno\nreal = os.fdopen\nclass F:\n    def __init__(s, f): s.f = f\n"
            "    def write(s, b):\n        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
            "    def __getattr__(s, n): return getattr(s.f, n)\n"
            "os.fdopen = lambda fd, mode: F(real(fd, mode))\n"
        )
    code += "save_checkpoint({'w': torch.zeros(1_000_000)}, p)\n"
    try:
        res = run(["lib", code], tmp, 60, mem)
        intact = (mount / "latest.pt").stat().st_size < 100_000
        left = [p.name for p in mount.iterdir() if p.name != "latest.pt"]
    finally:
        if mounted:
            subprocess.run(["umount", str(mount)], capture_output=True)
    if res.rc == 0:
        return "silent wrong", "the write to a full disk passed"
    if not intact or left:
        return "silent wrong", f"previous latest.pt damaged or leftovers {left}"
    kind, detail = classify(Case("", "", lambda t: [], ("latest.pt",)), res, tmp)
    if kind == "clear error" and "no space left on device" not in detail.lower():
        return "unclear error", detail
    return kind, ("tmpfs: " if mounted else "ENOSPC: ") + detail


def _rank_pid(launcher: int, rank: int) -> int:
    """The pid of worker ``rank`` among the children of the torchrun process ``launcher``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == launcher and f"RANK={rank}".encode() in env:
            return int(entry.name)
    raise RuntimeError(f"probe set-up: torchrun {launcher} has no rank {rank} worker")


def stopped_peer(tmp: Path, mem: float) -> tuple[str, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    items = [*TINY, "schedule.epochs=200", "runtime.dist_timeout=5"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(port), "-m", "pymg", "train",
           "demo", "--work-dir", "w", *sets(items)]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        if not _wait_file(tmp / "w" / "latest.pt", proc, 120):
            return "unclear error", "probe set-up: the distributed run did not start"
        os.kill(_rank_pid(proc.pid, 1), signal.SIGSTOP)
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        _stop(proc)
        return "hang", "torchrun still running 180 s after rank 1 stopped"
    res = Result(proc.returncode, out, err, 0)
    kind, detail = classify(Case("", "", lambda t: [], ("rank 1",)), res, tmp)
    if kind == "unclear error" and "rank 1 (pid" in err:  # torchrun's own traceback follows
        line = re.search(r"^pymg train: error: (.*)$", err, re.M)
        return "clear error", line.group(1)[:200] if line else detail
    return kind, detail


def ctrl_c(tmp: Path, mem: float) -> tuple[str, str]:
    bad = []
    for delay in (0.0, 0.6):
        proc = _popen_train(tmp, f"w{delay}", [*TINY, "data.num_workers=2", "schedule.epochs=100"])
        if not _wait_file(tmp / f"w{delay}" / "metrics.jsonl", proc, 120):
            _stop(proc)
            return "unclear error", "probe set-up: training did not start"
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return "hang", "no end 60 s after SIGINT"
        if proc.returncode != 130 or "Traceback" in err or not err.strip().endswith("interrupted"):
            bad.append(f"exit {proc.returncode}: {err.strip()[-200:]!r}")
    return ("correct", "exit 130, 'pymg: interrupted'") if not bad else ("unclear error", bad[0])


def _ok_prepared(res: Result, tmp: Path) -> bool:
    return (tmp / "out.npz").is_file()


def _warned(name: str) -> Callable[[Result, Path], bool]:
    return lambda res, tmp: name in res.err and (tmp / "out.npz").is_file()


def _last_frame(res: Result, tmp: Path) -> bool:
    return res.out.strip() == "exact"


FRAMES = {0: {"people": [person()]}, 1: {"people": [person()]}, 2: {"people": [person()]}}
POSITIONS = (
    "import torch\nfrom pymg.ops.positions import frame_positions\nT = 2**25 + 2\n"
    "p = frame_positions(torch.tensor([T]), 2)\n"
    "print('exact' if float(p[0, 0, -1]) == T - 1 else f'last {float(p[0, 0, -1])} != {T - 1}')"
)
HEATMAP = (
    "import torch\nfrom pymg.ops import joint_heatmaps\n"
    "joint_heatmaps(torch.zeros(1, 1, 1, 17, 2), size=(100000, 100000))"
)


def cases() -> list[Case]:
    """The hostile-input set of issue 21 (one case per item it lists)."""
    lh, lab = "_light_hand.csv", "_label.csv"
    return [
        Case("xlsx-dimension-XFD1048576", "crash", lambda t: xlsx_release(
            t, dimension='<dimension ref="A1:XFD1048576"'), ("0001_openpose.xlsx",),
             ok=_ok_prepared),
        Case("xlsx-deflate-bomb-200k-rows", "crash", xlsx_bomb, ("0001_openpose.xlsx",),
             ok=_ok_prepared),
        Case("ctrl-c-num-workers-2", "crash", lambda t: [], (), custom=ctrl_c),
        Case("light-hand-frame-999999", "memory", lambda t: release(
            t, light_hand_numbers([0, 1, 2, 999_999])), ("0187_light_hand.csv",)),
        Case("json-frame-999999", "memory", lambda t: json_release(
            t, {**FRAMES, 999_999: {"people": [person()]}}), ("999999",)),
        Case("label-row-end-1e7", "memory", lambda t: release(
            t, rewrite("0187", lab, "31,0,14\n5,15,10000000\n")), ("0187_label.csv",)),
        Case("sparse-csv-2GB", "memory", lambda t: release(t, sparse("0187", lh, 2 << 30)),
             ("0187_light_hand.csv",)),
        Case("fuse-zip-bomb-3GiB", "memory", lambda t: (npz_bomb(t / "bomb.npz", 3, crc=True),
             scores_pair(t, None))[1][:2] + ["bomb.npz", "a.npz"], ("bomb.npz",)),
        Case("import-billion-laughs", "memory", laughs, ("laughs.py",)),
        Case("json-20000-empty-people", "memory", lambda t: json_release(
            t, {**FRAMES, 1: {"people": [{}] * 20000}}), ("000000000001",), ok=_ok_prepared),
        Case("pyskl-memo-nested-list", "memory", pyskl_pickle, ("x.pkl",)),
        Case("npz-deflated-3GB-total", "memory", native_bomb, ("x.npz",)),
        Case("clip-len-100000", "memory", train_with(["model.clip_len=100000"]),
             ("model.clip_len",)),
        Case("op-size-100000x100000", "memory", lambda t: ["lib", HEATMAP], ("size",)),
        Case("two-runs-one-work-dir", "silent", lambda t: [], (), custom=two_runs),
        Case("checkpoint-flipped-bits", "silent", checkpoint_case("flip"), ("ck.pt",)),
        Case("checkpoint-nan-weights", "silent", checkpoint_case("nan"), ("ck.pt",)),
        Case("test-set-model-option", "silent", lambda t: [
            *checkpoint_case("none")(t), "--set", "model.base_channels=16"],
             ("model.base_channels",), ok=lambda r, t: "model.base_channels" in r.err),
        Case("fuse-labels-disagree", "silent", lambda t: scores_pair(t, [0, 1, 0]), ("c2",)),
        Case("empty-label-file", "silent", lambda t: release(t, rewrite("0187", lab, "")),
             ("0187_label.csv",), ok=_warned("0187_label.csv")),
        Case("header-only-label-file", "silent", lambda t: release(
            t, rewrite("0187", lab, "class,start,end\n")), ("0187_label.csv",),
             ok=_warned("0187_label.csv")),
        Case("xlsx-boolean-cell", "silent", lambda t: xlsx_release(t, cell=True),
             ("0001_openpose.xlsx",)),
        Case("json-boolean-coordinate", "silent", lambda t: json_release(
            t, {**FRAMES, 1: {"people": [person(True)]}}), ("000000000001",)),
        Case("grad-clip-nan", "silent", train_with(["optim.grad_clip=nan"]), ("optim.grad_clip",)),
        Case("threads-minus-4", "silent", train_with(["runtime.threads=-4"]), ("runtime.threads",)),
        Case("positions-2^25-frames", "silent", lambda t: ["lib", POSITIONS], ("length",),
             ok=_last_frame),
        Case("leftover-checkpoint-tmp", "leftover", lambda t: [], (), custom=stale_tmp),
        Case("prepare-out-is-a-directory", "leftover", lambda t: [], (), custom=prepare_dir),
        Case("torchrun-rank-stopped", "hang", lambda t: [], (), custom=stopped_peer),
        Case("latin1-csv", "unclear", lambda t: release(t, edit(
            "0187", lh, lambda x: x.replace("0,", "\u00e9,", 1), "latin-1")), ("0187_light_hand",)),
        Case("utf16-csv", "unclear", lambda t: release(t, edit("0187", lh, lambda x: x, "utf-16")),
             ("0187_light_hand.csv",)),
        Case("json-100k-deep", "unclear", lambda t: json_release(
            t, {**FRAMES, 1: "[" * 100_000 + "]" * 100_000}), ("000000000001",)),
        Case("csv-field-over-limit", "unclear", lambda t: release(t, edit(
            "0187", lh, lambda x: "1" * 200_000 + x, "utf-8")), ("0187_light_hand.csv",)),
        Case("label-end-1e300", "unclear", lambda t: release(
            t, rewrite("0187", lab, "31,0,14\n5,15,1e300\n")), ("0187_label.csv",)),
        Case("epochs-minus-3", "unclear", train_with(["schedule.epochs=-3"]), ("schedule.epochs",)),
        Case("class-names-wrong-length", "unclear", import_names, ("names.txt",)),
        Case("full-disk-checkpoint", "unclear", lambda t: [], (), custom=full_disk),
        Case("truncated-checkpoint", "unclear", checkpoint_case("truncate"), ("ck.pt",)),
        Case("seed-2^70", "unclear", train_with([f"runtime.seed={2**70}"]), ("runtime.seed",)),
        Case("resume-from-import", "unclear", resume_import, ("m.pt",)),
        Case("fuse-text-file", "unclear", lambda t: scores_pair(t, None, text=True), ("b.npz",)),
    ]  # fmt: skip


def probe(case: Case, mem_gib: float) -> tuple[str, str, float]:
    """Build and run one case in a fresh folder; ``(class, detail, seconds)``."""
    with tempfile.TemporaryDirectory(prefix="pymg-probe-") as folder:
        tmp = Path(folder)
        tic = time.monotonic()
        if case.custom is not None:
            kind, detail = case.custom(tmp, mem_gib)
            return kind, detail, time.monotonic() - tic
        cmd = case.build(tmp)
        res = run(cmd, tmp, case.timeout, mem_gib)
        kind, detail = classify(case, res, tmp)
        return kind, detail, time.monotonic() - tic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None, help="run only these cases")
    parser.add_argument("--mem-gib", type=float, default=4.0, help="address-space cap (GiB)")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    chosen = [c for c in cases() if args.only is None or c.name in args.only]
    if args.list or not chosen:
        print("\n".join(f"{c.name}  ({c.issue})" for c in cases()))
        return 0 if args.list else 2
    global SHARED
    with tempfile.TemporaryDirectory(prefix="pymg-probe-shared-") as shared:
        SHARED = Path(shared)
        counts: Counter[str] = Counter()
        rows = []
        for case in chosen:
            try:
                kind, detail, seconds = probe(case, args.mem_gib)
            except Exception as exc:  # a broken probe case, not a pymg outcome
                kind, detail, seconds = "unclear error", f"PROBE FAILURE {exc!r}", 0.0
            counts[kind] += 1
            rows.append({"case": case.name, "issue": case.issue, "class": kind,
                         "detail": detail, "seconds": round(seconds, 1)})  # fmt: skip
            print(f"{kind:<13}  {case.name:<28} {seconds:6.1f} s  {detail}", flush=True)
    print("counts: " + ", ".join(f"{k} {counts[k]}" for k in CLASSES) + f" (of {len(chosen)})")
    if args.json:
        Path(args.json).write_text(json.dumps({"counts": counts, "cases": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
