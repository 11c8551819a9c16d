"""Hostile release files: every allocation is decided from what the file really holds.

Each memory case runs in a subprocess under ``RLIMIT_AS`` = 1.5 GiB (set after the imports) and
must end with the clear error (file, size asked, limit), never ``MemoryError`` or an abort. The
files are built here, laid out as the real releases lay them out (:mod:`release_trees`).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from release_trees import (
    make_imigue_release,
    openpose_person,
    video_points,
    write_json_video,
    write_labels,
    write_light_hand,
    write_xlsx_xml,
    xlsx_row,
)

from pymg.data.formats import (
    MalformedClipError,
    MalformedDataWarning,
    load_pyskl,
    read_label_csv,
    read_light_hand_csv,
    read_openpose_json_dir,
    read_openpose_xlsx,
)
from pymg.data.formats.checks import count_nested
from pymg.data.formats.sources import FRAME_GAP_MARGIN
from pymg.data.prepare import LABEL_END_MARGIN, prepare_release
from pymg.limits import SizeLimitError

LIMIT_AS = 3 * 2**29  # 1.5 GiB


def run_limited(code: str) -> str:
    """Run ``code`` (with ``path``-free imports done) under RLIMIT_AS; return what it printed:
    ``"ok <repr>"`` or ``"<ExceptionClass>: <message>"``."""
    script = textwrap.dedent(
        """
        import resource, sys, warnings
        import numpy as np
        import pymg.data.formats as F
        import pymg.data.prepare as P
        resource.setrlimit(resource.RLIMIT_AS, (CAP_AS, CAP_AS))
        warnings.simplefilter("ignore")
        try:
            result = run()
            print("ok", repr(result))
        except BaseException as exc:
            print(f"{type(exc).__name__}: {exc}")
        """
    ).replace("CAP_AS", str(LIMIT_AS))
    body = "def run():\n" + textwrap.indent(textwrap.dedent(code), "    ")
    head, tail = script.split("try:", 1)
    done = subprocess.run(
        [sys.executable, "-c", head + body + "\ntry:" + tail],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, f"aborted ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout.strip().splitlines()[-1]


# ----------------------------------------------------------------------------- light_hand CSV
def test_light_hand_frame_far_beyond_rows_names_file_and_line(tmp_path):
    folder = tmp_path / "imigue_skeleton_train" / "0004"
    folder.mkdir(parents=True)
    path = folder / "0004_light_hand.csv"
    write_light_hand(path, video_points("0004", 3), numbers=[0, 1, 999_999])
    assert path.stat().st_size < 6000
    out = run_limited(f"return F.read_light_hand_csv({str(path)!r}).num_frames")
    assert out.startswith("ValueError: ") and "MemoryError" not in out
    assert "0004_light_hand.csv:3: frame number 999999 is far beyond the 3 frame(s)" in out
    write_light_hand(path, video_points("0004", 3), numbers=[0, 1, 2 * 3 + FRAME_GAP_MARGIN - 1])
    assert read_light_hand_csv(path).num_frames == 2 * 3 + FRAME_GAP_MARGIN  # within the margin


@pytest.mark.parametrize("name", ["0004_light_hand.csv", "0004_label.csv"])
def test_sparse_2gb_csv_refused_before_reading(tmp_path, name):
    folder = tmp_path / "imigue_skeleton_train" / "0004"
    folder.mkdir(parents=True)
    path = folder / name
    with path.open("wb") as f:
        f.write(b"0,1,2\n")
        f.truncate(2 * 10**9)  # sparse: 2 GB of NUL bytes that take no disk
    reader = "read_light_hand_csv" if "light" in name else "read_label_csv"
    out = run_limited(f"return F.{reader}({str(path)!r})")
    assert out.startswith("ArrayTooLargeError: ") and name in out, out
    assert "of 2000000000 bytes" in out and "needs 8000000000 bytes" in out
    assert "cap of 2147483648 bytes" in out


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("café".encode("latin-1"), r"0004_label\.csv:2: not UTF-8 text .*Latin-1.* read as UTF-8"),
        ("1,0,9\n".encode("utf-16"), r"0004_label\.csv: a UTF-16 text file .*read as UTF-8"),
        ("1,0,9\n".encode("utf-16-le"), r"0004_label\.csv:1: holds NUL characters .*UTF-16"),
    ],
)
def test_label_csv_encoding_named(tmp_path, data, message):
    path = tmp_path / "0004_label.csv"
    path.write_bytes(b"1,0,9\n" + data if data[:1] not in (b"\xff", b"1") else data)
    with pytest.raises(ValueError, match=message):
        read_label_csv(path)


def test_light_hand_latin1_named(tmp_path):
    path = tmp_path / "0004_light_hand.csv"
    write_light_hand(path, video_points("0004", 2))
    path.write_bytes(path.read_bytes() + "é\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"0004_light_hand\.csv:3: not UTF-8 text .*UTF-8"):
        read_light_hand_csv(path)


def test_label_csv_field_limit_and_huge_end(tmp_path):
    path = tmp_path / "0004_label.csv"
    path.write_text('1,0,9\n1,10,"' + "9" * 200_000 + '"\n')
    with pytest.raises(ValueError, match=r"0004_label\.csv:2: not a label CSV row \(field larger"):
        read_label_csv(path)
    write_labels(path, [(1, 0, 9), (1, 10, "1e300")])
    with pytest.raises(ValueError, match=r"0004_label\.csv:2: end frame 1e300 is past the 1000000"):
        read_label_csv(path)


@pytest.mark.parametrize("text", ["", "\n\n", "label,start,end\n"])
def test_empty_or_header_only_label_file_warns(tmp_path, text):
    path = tmp_path / "0004_label.csv"
    path.write_text(text)
    with pytest.warns(MalformedDataWarning, match=r"0004_label\.csv: no label rows"):
        assert read_label_csv(path) == []


def test_label_row_past_the_video_refused(tmp_path):
    videos = {"0187": ("train", 40, [(31, 0, 14), (5, 15, 10**6 - 1)])}
    root = make_imigue_release(tmp_path / "release", videos)
    out = run_limited(
        f"return P.prepare_release({str(root)!r}, {str(tmp_path / 'o.npz')!r}, layout='imigue22')"
    )
    assert out.startswith("MalformedClipError: clip '0187_1': "), out
    assert "0187_label.csv:2: frames 15..999999 end 999960 frames past the video's 40" in out
    write_labels(root / "imigue_skeleton_train" / "0187" / "0187_label.csv", [(5, 15, 10**7)])
    with pytest.raises(MalformedClipError, match=r"0187_label\.csv:1: end frame 10000000 is past"):
        prepare_release(root, tmp_path / "o.npz", layout="imigue22")
    end = 40 + LABEL_END_MARGIN - 1
    write_labels(root / "imigue_skeleton_train" / "0187" / "0187_label.csv", [(5, 15, end)])
    report = prepare_release(root, tmp_path / "o.npz", layout="imigue22")
    assert report["clips"] == 1  # within the margin: padded


# ----------------------------------------------------------------------------- OpenPose JSON
def test_json_frame_far_beyond_files(tmp_path):
    folder = tmp_path / "v1"
    write_json_video(folder, "v1", video_points("1", 2), [0, 999_999])
    out = run_limited(f"return F.read_openpose_json_dir({str(folder)!r}).num_frames")
    assert out.startswith("ValueError: ") and "v1_000000999999_keypoints.json" in out, out
    assert "frame number 999999 is far beyond the 2 frame(s) present" in out


def test_json_many_empty_people_make_no_rows(tmp_path):
    folder = tmp_path / "v2"
    pts = video_points("2", 2)
    write_json_video(folder, "v2", pts, [0, 1])
    empty = {"pose_keypoints_2d": [], "face_keypoints_2d": []}
    doc = {"people": [openpose_person(pts[0])] + [empty] * 20_000}
    (folder / "v2_000000000000_keypoints.json").write_text(json.dumps(doc))
    out = run_limited(f"return F.read_openpose_json_dir({str(folder)!r}).keypoint.shape")
    assert out == "ok (1, 2, 137, 2)"


def test_json_deep_nesting_and_booleans(tmp_path):
    folder = tmp_path / "v3"
    write_json_video(folder, "v3", video_points("3", 1), [0])
    path = folder / "v3_000000000000_keypoints.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"v3_000000000000_keypoints\.json: .*nested too deeply"):
        read_openpose_json_dir(folder)
    person = openpose_person(video_points("3", 1)[0])
    person["pose_keypoints_2d"][4] = True
    path.write_text(json.dumps({"people": [person]}))
    with pytest.raises(ValueError, match=r"keypoints\.json: person 0 pose_keypoints_2d holds bool"):
        read_openpose_json_dir(folder)


# ----------------------------------------------------------------------------- MiGA'25 xlsx
def test_xlsx_declared_huge_range_refused(tmp_path):
    path = tmp_path / "v01_openpose.xlsx"
    rows = [xlsx_row(1, [f"p{i}" for i in range(411)]), xlsx_row(2, [1.0] * 411)]
    write_xlsx_xml(path, rows, dimension="A1:XFD1048576")
    out = run_limited(f"return F.read_openpose_xlsx({str(path)!r}).num_frames")
    assert out.startswith("ArrayTooLargeError: ") and "v01_openpose.xlsx" in out, out
    assert "declared range A1:XFD1048576, 1048576 rows x 16384 columns" in out
    assert "cap of 2147483648 bytes" in out


def test_xlsx_deflate_bomb_refused(tmp_path):
    path = tmp_path / "v02_openpose.xlsx"
    block = ("<row>" + "<c><v>1</v></c>" * 411 + "</row>") * 1000
    write_xlsx_xml(path, (block for _ in range(200)), level=1)  # 200k rows, 1.2 GB of XML
    assert path.stat().st_size < 10 * 2**20
    out = run_limited(f"return F.read_openpose_xlsx({str(path)!r}).num_frames")
    assert out.startswith("ArrayTooLargeError: ") and "v02_openpose.xlsx" in out, out
    assert "sheet xl/worksheets/sheet1.xml (at least" in out and "cap of 2147483648" in out


def test_xlsx_far_cell_and_wide_cell(tmp_path, monkeypatch):
    path = tmp_path / "v03_openpose.xlsx"
    far = '<row r="2"><c r="A999999"><v>1</v></c></row>'
    write_xlsx_xml(path, [xlsx_row(1, [1.0] * 411), far])
    monkeypatch.setenv("PYMG_MAX_ARRAY_BYTES", "1G")
    with pytest.raises(SizeLimitError, match=r"v03_openpose\.xlsx: sheet .*999999 rows x 416"):
        read_openpose_xlsx(path)
    write_xlsx_xml(path, [xlsx_row(1, [1.0] * 411), '<row r="2"><c r="XFD2"><v>1</v></c></row>'])
    with pytest.raises(ValueError, match=r"v03_openpose\.xlsx: sheet .* cell in column XFD"):
        read_openpose_xlsx(path)


@pytest.mark.parametrize("engine", ["calamine", "openpyxl"])
def test_xlsx_boolean_cell_refused(tmp_path, engine):
    pytest.importorskip("python_calamine" if engine == "calamine" else "openpyxl")
    path = tmp_path / "v04_openpose.xlsx"
    values: list[object] = [1.5] * 411
    write_xlsx_xml(path, [xlsx_row(1, values), xlsx_row(2, values[:9] + [True] + values[10:])])
    with pytest.raises(ValueError, match=r"v04_openpose\.xlsx: row 2, column 10: True is a bool"):
        read_openpose_xlsx(path, engine=engine)
    write_xlsx_xml(path, [xlsx_row(1, values), xlsx_row(2, values)])
    assert read_openpose_xlsx(path, engine=engine).num_frames == 2


# ----------------------------------------------------------------------------- PYSKL, npz
def doubling_pickle(levels: int, clip: str = "c0") -> bytes:
    """A PYSKL pickle whose keypoint is a nested list of 2**levels [x, y] pairs, made of
    ``levels`` lists that each hold the previous one twice (pickle's memo: a few hundred bytes)."""
    inner: list = [[1.0, 2.0]]
    for _ in range(levels):
        inner = [inner, inner]
    return pickle.dumps({"split": {}, "annotations": [{"frame_dir": clip, "label": 0,
                                                       "keypoint": [inner]}]})  # fmt: skip


def test_pickled_nested_list_capped_before_conversion(tmp_path):
    path = tmp_path / "train.pkl"
    path.write_bytes(doubling_pickle(28))
    assert path.stat().st_size < 2000
    out = run_limited(f"return len(F.load_pyskl({str(path)!r})[0])")
    assert out.startswith("ArrayTooLargeError: ") and "train.pkl: clip 'c0': keypoint" in out, out
    assert "nested lists of at least" in out and "cap of 2147483648" in out
    path.write_bytes(doubling_pickle(3))  # 8 pairs: fine
    anns, _ = load_pyskl(path)
    assert np.asarray(anns[0]["keypoint"]).shape == (1, 2, 2, 2, 1, 2)


def test_count_nested_walks_each_list_once():
    shared = [1.0, 2.0]
    tree = [shared]
    for _ in range(60):
        tree = [tree, tree]
    assert count_nested(tree, 10**30) == 2 * 2**60
    assert count_nested(tree, 100) > 100  # stops early
    cyclic: list = [1.0]
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="contains itself"):
        count_nested(cyclic, 10)


def _npz_member(zf: zipfile.ZipFile, name: str, shape: tuple[int, ...], chunk: int) -> None:
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape!r}, }}"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    with zf.open(name + ".npy", "w", force_zip64=True) as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
        zeros = bytes(chunk)
        for _ in range(int(np.prod(shape)) * 4 // chunk):
            f.write(zeros)


def test_npz_total_over_members_capped(tmp_path):
    """Two deflated members, each under the cap, together over it (the cap is lowered to keep
    the file quick to make: 2 x 96 MiB of zeros under a 128 MiB cap)."""
    path = tmp_path / "clips.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        _npz_member(zf, "keypoint", (1, 1536, 8192, 2), 2**20)
        _npz_member(zf, "score", (1, 1536, 8192, 2), 2**20)
        for name in ("offset", "length", "persons", "label", "name", "img_shape",
                     "original_shape", "meta"):  # fmt: skip
            zf.writestr(name + ".npy", b"")
    assert path.stat().st_size < 2 * 2**20
    out = run_limited(
        "import os\nos.environ['PYMG_MAX_ARRAY_BYTES'] = '128M'\n"
        f"return len(F.NativeClips({str(path)!r}))"
    )
    assert out.startswith("ArrayTooLargeError: ") and "clips.npz: member 'score.npy'" in out, out
    assert "with the 100663296 bytes already read" in out and "cap of 134217728" in out


def write_sparse_npz(path: Path, frames: int) -> int:
    """A native ``.npz`` whose stored ``keypoint`` member [1, frames, 22, 2] is a hole in a sparse
    file (a few KB on disk); returns the member's bytes."""
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': (1, {frames}, 22, 2), }}"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
    nbytes = frames * 22 * 2 * 4
    small = {
        "score": np.zeros((1, frames, 22), np.float32)[:, :1],
        "offset": np.zeros(1, np.int64),
        "length": np.ones(1, np.int64),
        "persons": np.ones(1, np.int64),
        "label": np.zeros(1, np.int64),
        "name": np.array(["c0"]),
        "img_shape": np.ones((1, 2), np.int64),
        "original_shape": np.ones((1, 2), np.int64),
        "meta": np.array(json.dumps({"format": "pymg-native", "version": 1})),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, arr in small.items():
            with zf.open(name + ".npy", "w") as f:
                np.lib.format.write_array(f, arr)
        with zf.open("keypoint.npy", "w", force_zip64=True) as f:
            f.write(npy)
            f._fileobj.seek(nbytes, 1)  # type: ignore[attr-defined]  # the hole
            f._file_size += nbytes  # type: ignore[attr-defined]
    return nbytes


def test_sparse_npz_refused_in_memory_and_named_when_mapped(tmp_path):
    path = tmp_path / "clips.npz"
    nbytes = write_sparse_npz(path, 36_000_000)  # 6.3 GB of keypoints
    assert path.stat().st_size > nbytes and path.stat().st_blocks * 512 < 2**20
    out = run_limited(f"return len(F.NativeClips({str(path)!r}, mmap=False))")
    assert out.startswith("ArrayTooLargeError: ") and "clips.npz: member 'keypoint.npy'" in out
    assert f"needs {nbytes} bytes" in out and "cap of 2147483648" in out
    out = run_limited(f"return len(F.NativeClips({str(path)!r}))")
    assert out.startswith("ValueError: ") and "clips.npz" in out, out
    assert f"member 'keypoint.npy' ([1, 36000000, 22, 2] float32, {nbytes} bytes)" in out
    assert "cannot be memory-mapped" in out
