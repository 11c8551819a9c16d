"""Hostile and padded input files: the per-array cap of the safe unpickler and the native .npz
reader (checked before allocating), the refused ``numpy.ndarray`` call, and PYSKL zero padding.

The hostile files are assembled byte by byte here: a pickle opcode stream, or a .npz whose .npy
header claims far more than the member holds. Each must fail fast with a message naming the file,
and tracemalloc checks that nothing large was allocated on the way.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from pymg.data import PoseDataset
from pymg.data.formats import (
    DEFAULT_MAX_ARRAY_BYTES,
    ArrayTooLargeError,
    NativeClips,
    UnsafePickleError,
    load_pyskl,
    safe_load,
    safe_loads,
    safe_pickle,
    save_native,
    trim_zero_padding,
)
from pymg.data.formats.checks import resolve_max_array_bytes

GIB = 2**30
LITTLE = 64 * 2**20  # most any of these loads may allocate


class _PeakMemory:
    """Context manager recording the peak traced allocation (numpy data included)."""

    def __enter__(self) -> _PeakMemory:
        tracemalloc.start()
        self.peak = 0
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


# ----------------------------------------------------------------------------- opcode helpers
def glob(module: str, name: str) -> bytes:
    """GLOBAL opcode (protocols 0-3)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def uni(text: str) -> bytes:
    """BINUNICODE opcode."""
    raw = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def int4(value: int) -> bytes:
    """BININT opcode (signed 32-bit)."""
    return b"J" + struct.pack("<i", value)


def dtype_op(code: str) -> bytes:
    """numpy.dtype(code, False, True) as numpy pickles it (without the BUILD of its state)."""
    return glob("numpy", "dtype") + uni(code) + b"\x89\x88\x87R"


def latin1_bytes(data: bytes) -> bytes:
    """_codecs.encode(data as latin-1 text, 'latin1'): how protocol 2 stores bytes."""
    return glob("_codecs", "encode") + uni(data.decode("latin-1")) + uni("latin1") + b"\x86R"


def dtype_build(order: str = "<", flags: int = 0, elsize: int = -1, align: int = -1) -> bytes:
    """BUILD of a dtype's state (3, order, None, None, None, elsize, align, flags)."""
    return b"(K\x03" + uni(order) + b"NNN" + int4(elsize) + int4(align) + int4(flags) + b"tb"


def array_state_p2(
    shape: tuple[int, ...], code: str, data: bytes, module: str, flags: int | None = None
) -> bytes:
    """Protocol-2 stream of _reconstruct(ndarray, (0,), 'b') + BUILD((1, shape, dtype, F, data))."""
    dims = b"(" + b"".join(int4(d) for d in shape) + b"t"
    if flags is None:
        flags = 63 if code == "O" else 0
    dtype_state = dtype_build("|" if code == "O" else "<", flags)
    return (
        b"\x80\x02"
        + glob(f"{module}.multiarray", "_reconstruct")
        + glob("numpy", "ndarray")
        + b"K\x00\x85"
        + uni("b")
        + b"\x87R"
        + b"(K\x01"
        + dims
        + dtype_op(code)
        + dtype_state
        + b"\x89"
        + latin1_bytes(data)
        + b"tb."
    )


# ----------------------------------------------------------------------------- genuine pickles
GENUINE = {
    "keypoint": np.arange(90 * 22 * 2, dtype=np.float32).reshape(1, 90, 22, 2) / 7,
    "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "transposed": np.arange(24, dtype=np.int16).reshape(2, 3, 4).transpose(2, 0, 1),
    "big_endian": np.arange(6, dtype=">f4"),
    "half": np.linspace(0, 1, 5, dtype=np.float16),
    "empty": np.zeros((0, 22, 2), np.float32),
    "names": np.array(["0054_3", "0007_12"]),
    "objects": np.array([1, "a", None], dtype=object),
    "record": np.zeros(2, dtype=[("x", "f4"), ("y", "i2")]),
    "scalars": [np.float32(0.5), np.int64(7), np.str_("x"), np.bool_(True)],
    "builtins": [b"", b"\x00\xff", bytearray(b"ab"), {1, 2}, frozenset({3}), 1 + 2j, slice(1, 5)],
    "ordered": collections.OrderedDict(a=1),
}


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_genuine_numpy_pickles_still_load(protocol):
    data = pickle.dumps(GENUINE, protocol=protocol)
    got, want = safe_loads(data), pickle.loads(data)
    for key, ref in want.items():
        if isinstance(ref, np.ndarray):
            out = got[key]
            assert type(out) is np.ndarray and out.dtype == ref.dtype, key
            assert out.shape == ref.shape and out.strides == ref.strides, key
            assert out.tolist() == ref.tolist(), key
        else:
            assert got[key] == ref and [type(x) for x in got[key]] == [type(x) for x in ref], key


@pytest.mark.parametrize("module", ["numpy.core", "numpy._core"])
def test_hand_assembled_numpy1_protocol2_array(module):
    want = np.arange(6, dtype=np.float32).reshape(2, 3)
    stream = array_state_p2((2, 3), "f4", want.tobytes(), module)
    out = safe_loads(stream)
    assert out.dtype == np.float32 and out.shape == (2, 3)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(pickle.loads(stream), want)  # the stream is what numpy reads


# ----------------------------------------------------------------------------- hostile pickles
# ~50-byte pickles that each demand 8-32 GiB under a plain restricted unpickler.
NDARRAY_CALL = (  # numpy.ndarray((2**31,), dtype('f8')): 16 GiB of uninitialised memory
    b"\x80\x02" + glob("numpy", "ndarray") + int4(2**31 - 1) + b"\x85" + dtype_op("f8") + b"\x86R."
)
NDARRAY_NEWOBJ = b"\x80\x02" + glob("numpy", "ndarray") + int4(2**31 - 1) + b"\x85\x85\x81."
PLACEHOLDER = (  # _reconstruct(ndarray, (2**31 - 1,), 'b'): a 2 GiB uninitialised "placeholder"
    b"\x80\x02"
    + glob("numpy.core.multiarray", "_reconstruct")
    + glob("numpy", "ndarray")
    + int4(2**31 - 1)
    + b"\x85"
    + uni("b")
    + b"\x87R."
)
HUGE_STATE = array_state_p2((2**31 - 1, 2), "f8", b"", "numpy.core")  # 32 GiB, no data
SHORT_STATE = array_state_p2((10,), "f4", b"\x00" * 8, "numpy.core")
OBJECT_STATE = (
    array_state_p2((2**30,), "O", b"", "numpy.core").replace(latin1_bytes(b""), b"]")  # 8 GiB
)
SHORT_OBJECT_STATE = array_state_p2((1000,), "O", b"", "numpy.core").replace(
    latin1_bytes(b""), b"]"
)
BINBYTES8 = b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"ab."
FRAME = b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"N."
BYTEARRAY8 = b"\x80\x05\x96" + struct.pack("<Q", 2**40) + b"ab."
BYTEARRAY_N = b"\x80\x02" + glob("builtins", "bytearray") + int4(2**31 - 1) + b"\x85R."
BYTES_N = b"\x80\x02" + glob("__builtin__", "bytes") + int4(2**31 - 1) + b"\x85R."
SCALAR_NO_DATA = (  # scalar(dtype('V2147483647')): 2 GiB zero-filled when no data is given
    b"\x80\x02"
    + glob("numpy.core.multiarray", "scalar")
    + dtype_op("V2147483647")
    + dtype_build("|", 0, 2**31 - 1, 1)
    + b"\x85R."
)
FROMBUFFER = (  # _frombuffer(b'', dtype('f8'), (2**31 - 1, 2), 'C')
    b"\x80\x05"
    + glob("numpy._core.numeric", "_frombuffer")
    + b"(C\x00"
    + dtype_op("f8")
    + dtype_build()
    + int4(2**31 - 1)
    + b"K\x02\x86"
    + uni("C")
    + b"tR."
)
FROMBUFFER_SHORT = FROMBUFFER.replace(int4(2**31 - 1), int4(3))
BUILD_ON_GLOBAL = b"\x80\x02" + glob("builtins", "set") + b"}b."
# an object dtype whose state clears its object flags: 8 raw bytes would become a pointer
FORGED_POINTER = array_state_p2((1,), "O", b"\x41" * 8, "numpy.core", flags=0)
DTYPE_TWICE = b"\x80\x02" + dtype_op("f4") + dtype_build() + dtype_build(">") + b"."
DTYPE_UNBUILT = (  # scalar(dtype('V8') before its state, b'12345678')
    b"\x80\x02" + glob("numpy.core.multiarray", "scalar") + dtype_op("V8") + uni("12345678")
    + b"\x86R."
)  # fmt: skip
EXT = b"\x80\x02\x82\x01."

HOSTILE = [
    ("ndarray_call", NDARRAY_CALL, UnsafePickleError, r"refusing to call numpy\.ndarray"),
    ("ndarray_newobj", NDARRAY_NEWOBJ, UnsafePickleError, r"refusing to call numpy\.ndarray"),
    ("placeholder", PLACEHOLDER, pickle.UnpicklingError, r"placeholder of shape \(2147483647,\)"),
    ("huge_state", HUGE_STATE, ArrayTooLargeError,
     r"array of shape \[2147483647, 2\] and dtype float64 needs 34359738352 bytes .*cap of "
     r"2147483648 bytes"),
    ("short_state", SHORT_STATE, pickle.UnpicklingError, r"holds 8 bytes, shape \[10\] .* need 40"),
    ("object_state", OBJECT_STATE, ArrayTooLargeError, r"needs 8589934592 bytes"),
    ("short_object_state", SHORT_OBJECT_STATE, pickle.UnpicklingError, r"a list of 1000 items"),
    ("binbytes8", BINBYTES8, pickle.UnpicklingError, r"asks for 1099511627776 bytes"),
    ("frame", FRAME, pickle.UnpicklingError, r"asks for 1099511627776 bytes"),
    ("bytearray8", BYTEARRAY8, pickle.UnpicklingError, r"bytearray claims 1099511627776 bytes"),
    ("bytearray_n", BYTEARRAY_N, pickle.UnpicklingError, r"bytearray\(int\) refused"),
    ("bytes_n", BYTES_N, pickle.UnpicklingError, r"bytes\(int\) refused"),
    ("scalar_no_data", SCALAR_NO_DATA, pickle.UnpicklingError, r"dtype \|V2147483647 without"),
    ("frombuffer", FROMBUFFER, ArrayTooLargeError, r"needs 34359738352 bytes"),
    ("frombuffer_short", FROMBUFFER_SHORT, pickle.UnpicklingError, r"holds 0 bytes, shape \[3, 2"),
    ("build_on_global", BUILD_ON_GLOBAL, pickle.UnpicklingError, r"BUILD applied to the global"),
    ("forged_pointer", FORGED_POINTER, pickle.UnpicklingError,
     r"dtype state \(3, '\|', None, None, None, -1, -1, 0\) does not describe a dtype numpy "
     r"would make \(flags 0"),
    ("dtype_twice", DTYPE_TWICE, pickle.UnpicklingError, r"state applied twice"),
    ("dtype_unbuilt", DTYPE_UNBUILT, pickle.UnpicklingError, r"dtype \|V8 used before its state"),
    ("ext", EXT, pickle.UnpicklingError, r"extension-registry opcodes are not allowed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "payload", "error", "message"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
def test_hostile_pickle_fails_before_allocating(tmp_path, name, payload, error, message):
    assert len(payload) < 200
    path = tmp_path / f"{name}.pkl"
    path.write_bytes(payload)
    with (
        _PeakMemory() as mem,
        pytest.raises(error, match=rf"{name}\.pkl: .*{message}|{message}.* from .*{name}\.pkl"),
    ):
        load_pyskl(path)
    assert mem.peak < LITTLE, f"{name}: {mem.peak} bytes allocated"
    with pytest.raises(pickle.UnpicklingError if error is not ArrayTooLargeError else error):
        safe_loads(payload)


def test_cap_is_configurable(tmp_path, monkeypatch):
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps({"annotations": [{"keypoint": np.zeros(1000, np.float32)}]}, 4))
    assert DEFAULT_MAX_ARRAY_BYTES == 2 * GIB == resolve_max_array_bytes()
    assert load_pyskl(path, max_array_bytes=4000)[0][0]["keypoint"].shape == (1000,)
    with pytest.raises(ArrayTooLargeError, match=r"ok\.pkl: .* needs 4000 bytes .*cap of 3999 "):
        load_pyskl(path, max_array_bytes=3999)
    monkeypatch.setenv("PYMG_MAX_ARRAY_BYTES", "1K")
    assert resolve_max_array_bytes() == 1024
    with pytest.raises(ArrayTooLargeError, match=r"cap of 1024 bytes .*PYMG_MAX_ARRAY_BYTES"):
        safe_load(path)
    assert safe_load(path, max_array_bytes=4000)["annotations"][0]["keypoint"].size == 1000
    monkeypatch.setenv("PYMG_MAX_ARRAY_BYTES", "lots")
    with pytest.raises(ValueError, match=r"PYMG_MAX_ARRAY_BYTES='lots': expected a positive size"):
        safe_load(path)
    with pytest.raises(ValueError, match="max_array_bytes must be a positive int"):
        safe_load(path, max_array_bytes=0)


def test_memory_and_other_errors_name_the_file(tmp_path, monkeypatch):
    path = tmp_path / "clips.pkl"
    path.write_bytes(pickle.dumps({"annotations": [np.ones(4, np.float32)]}, protocol=5))

    def out_of_memory(*args: object) -> None:
        raise MemoryError

    monkeypatch.setitem(safe_pickle._NUMPY, "_frombuffer", out_of_memory)
    with pytest.raises(MemoryError, match=r"clips\.pkl: out of memory while unpickling"):
        load_pyskl(path)
    path.write_bytes(b"\x80\x02" + dtype_op("not-a-dtype") + b".")
    with pytest.raises(
        pickle.UnpicklingError, match=r"clips\.pkl: truncated or corrupt pickle \(TypeError"
    ):
        load_pyskl(path)
    stream = io.BytesIO(b"\x80\x02" + glob("numpy", "ndarray") + b")R.")  # a file object
    stream.name = "stream.pkl"
    with pytest.raises(UnsafePickleError, match=r"stream\.pkl"):
        safe_load(stream)


class _Pipe:
    """A binary stream that cannot seek (its size is unknown until read)."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)
        self.name = "pipe"

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def readline(self) -> bytes:
        return self._f.readline()


def test_unseekable_stream():
    want = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(safe_load(_Pipe(pickle.dumps(want, protocol=4))), want)
    with pytest.raises(pickle.UnpicklingError, match=r"pipe: .*asks for 1099511627776 bytes"):
        safe_load(_Pipe(BINBYTES8))


# ----------------------------------------------------------------------------- hostile .npz
def npy_bytes(descr: str, shape: tuple[int, ...], data: bytes = b"") -> bytes:
    """A version-1.0 .npy file: magic, little-endian header length, padded dict header, data."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + data


def rewrite_npz(src, dst, compress: bool, **replace: bytes) -> None:
    """Copy the members of ``src`` into ``dst``, replacing some .npy members by raw bytes."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", method) as zout:
        for member in zin.namelist():
            zout.writestr(member, replace.get(member[: -len(".npy")], zin.read(member)))


def set_directory_size(path, member: str, size: int) -> None:
    """Make the zip central directory claim ``size`` uncompressed bytes for ``member``."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len] == member.encode():
            struct.pack_into("<I", data, pos + 24, size)
            path.write_bytes(bytes(data))
            return
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"{member} not in {path}")


ANNS = [
    {
        "frame_dir": f"c{i}",
        "label": i,
        "img_shape": (720, 1280),
        "keypoint": np.full((1, 5 + i, 22, 2), i + 1.0, np.float32),
        "keypoint_score": np.ones((1, 5 + i, 22), np.float32),
    }
    for i in range(3)
]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("mmap", [True, False])
def test_npz_header_claiming_more_than_the_member(tmp_path, compress, mmap):
    save_native(tmp_path / "ok.npz", ANNS)
    claim = npy_bytes("<f8", (2**31 - 1, 2, 22, 2), data=b"\x00" * 64)  # 1.4 TiB claimed
    rewrite_npz(tmp_path / "ok.npz", tmp_path / "bad.npz", compress, keypoint=claim)
    with (
        _PeakMemory() as mem,
        pytest.raises(
            ValueError,
            match=r"bad\.npz: unreadable native clip file \(member 'keypoint\.npy': its header "
            r"claims a \[2147483647, 2, 22, 2\] float64 array of 1511828487488 bytes but the "
            r"member holds only 64 bytes",
        ),
    ):
        NativeClips(tmp_path / "bad.npz", mmap=mmap)
    assert mem.peak < LITTLE
    negative = npy_bytes("<f4", (-1, 22, 2))
    rewrite_npz(tmp_path / "ok.npz", tmp_path / "neg.npz", compress, keypoint=negative)
    with pytest.raises(ValueError, match=r"neg\.npz: .*'keypoint\.npy': negative dimension"):
        NativeClips(tmp_path / "neg.npz", mmap=mmap)


def test_npz_cap_checked_before_decompressing(tmp_path):
    # A deflated member whose header and zip directory both claim 3 GiB (a deflate bomb reaches
    # ~1000:1, so 3 MB of file could really hold it): refused from the header alone.
    save_native(tmp_path / "ok.npz", ANNS)
    claim = npy_bytes("<f4", (3 * GIB // 4,)) + b"\x00" * 4096
    rewrite_npz(tmp_path / "ok.npz", tmp_path / "bomb.npz", True, score=claim)
    set_directory_size(tmp_path / "bomb.npz", "score.npy", 3 * GIB + 128)
    assert (tmp_path / "bomb.npz").stat().st_size < 64 * 1024
    with (
        _PeakMemory() as mem,
        pytest.raises(
            ArrayTooLargeError,
            match=r"bomb\.npz: member 'score\.npy' \(\[805306368\] float32\) needs 3221225472 "
            r"bytes \(3 GiB\), over the cap of 2147483648 bytes",
        ),
    ):
        NativeClips(tmp_path / "bomb.npz")
    assert mem.peak < LITTLE


def test_npz_cap_applies_to_members_read_into_memory(tmp_path, monkeypatch):
    save_native(tmp_path / "s.npz", ANNS)
    save_native(tmp_path / "z.npz", ANNS, compress=True)
    nbytes = 1 * 18 * 22 * 2 * 4  # keypoint [M=1, S=5+6+7, V=22, 2] float32
    with np.load(tmp_path / "z.npz") as z:
        total = sum(z[k].nbytes for k in z.files)  # the cap holds for the file's total too
    assert NativeClips(tmp_path / "z.npz", max_array_bytes=total)[2]["total_frames"] == 7
    with pytest.raises(
        ArrayTooLargeError,
        match=rf"z\.npz: member .* \(with the \d+ bytes already read from "
        rf"this file\) needs {total} bytes .*cap of {total - 1} ",
    ):
        NativeClips(tmp_path / "z.npz", max_array_bytes=total - 1)
    with pytest.raises(
        ArrayTooLargeError, match=rf"z\.npz: member 'keypoint\.npy' .*cap of {nbytes - 1} "
    ):
        NativeClips(tmp_path / "z.npz", max_array_bytes=nbytes - 1)
    monkeypatch.setenv("PYMG_MAX_ARRAY_BYTES", str(nbytes - 1))
    clips = NativeClips(tmp_path / "s.npz")  # memory-mapped: allocates nothing, not capped
    assert isinstance(clips._kp, np.memmap) and clips.max_array_bytes == nbytes - 1
    assert pickle.loads(pickle.dumps(clips)).max_array_bytes == nbytes - 1
    with pytest.raises(ArrayTooLargeError, match=r"s\.npz: member 'keypoint\.npy'"):
        NativeClips(tmp_path / "s.npz", mmap=False)


# ----------------------------------------------------------------------------- zero padding
def miga23_pickle(lengths: dict[str, int], t_pad: int = 90, seed: int = 0):
    """Annotations laid out as MiGA'23's: every clip zero-padded to ``t_pad`` frames."""
    rng = np.random.default_rng(seed)
    anns, real = [], {}
    for i, (name, t) in enumerate(lengths.items()):
        kp = np.zeros((1, t_pad, 22, 2), np.float32)
        sc = np.zeros((1, t_pad, 22), np.float32)
        kp[:, :t] = rng.uniform(1, 700, size=(1, t, 22, 2))
        sc[:, :t] = rng.uniform(0.1, 1, size=(1, t, 22))
        real[name] = (kp[:, :t].copy(), sc[:, :t].copy())
        anns.append({
            "frame_dir": name, "label": i, "img_shape": (720, 1280),
            "original_shape": (720, 1280), "total_frames": t_pad, "keypoint": kp,
            "keypoint_score": sc,
        })  # fmt: skip
    return anns, real


def test_miga23_padding_trimmed(tmp_path):
    anns, real = miga23_pickle({"0054_3": 37, "0054_4": 90, "0102_1": 12, "0007_12": 0})
    late = anns[2]  # the person appears at frame 3 and is lost at frame 7: both kept
    late["keypoint"][:, :3] = 0
    late["keypoint_score"][:, :3] = 0
    late["keypoint"][:, 7] = 0
    late["keypoint_score"][:, 7] = 0
    real["0102_1"] = (late["keypoint"][:, :12].copy(), late["keypoint_score"][:, :12].copy())
    real["0007_12"] = (np.zeros((1, 1, 22, 2), np.float32), np.zeros((1, 1, 22), np.float32))
    path = tmp_path / "train.pkl"
    split = {"train": ["0054_3", "0054_4"], "test": ["0102_1", "0007_12"]}
    path.write_bytes(pickle.dumps({"split": split, "annotations": anns}, protocol=4))

    got, splits = load_pyskl(path)
    assert splits == split
    assert [a["keypoint"].shape for a in got] == [(1, t, 22, 2) for t in (37, 90, 12, 1)]
    assert [a["keypoint_score"].shape for a in got] == [(1, t, 22) for t in (37, 90, 12, 1)]
    assert [a["total_frames"] for a in got] == [37, 90, 12, 1]  # the all-zero clip keeps 1
    for a in got:
        np.testing.assert_array_equal(a["keypoint"], real[a["frame_dir"]][0])
        np.testing.assert_array_equal(a["keypoint_score"], real[a["frame_dir"]][1])
        assert a["img_shape"] == (720, 1280) and a["original_shape"] == (720, 1280)
        assert a["label"] == anns[[b["frame_dir"] for b in anns].index(a["frame_dir"])]["label"]

    kept, _ = load_pyskl(path, trim_padding=False)
    assert [a["keypoint"].shape[1] for a in kept] == [90] * 4
    assert [a["total_frames"] for a in kept] == [90] * 4

    test = PoseDataset(path, split="test", layout="imigue22")
    assert [test[i]["length"] for i in range(len(test))] == [12, 1]
    train = PoseDataset(path, split="train", layout="imigue22")
    np.testing.assert_array_equal(train[0]["keypoint"], real["0054_3"][0])
    np.testing.assert_array_equal(train[0]["keypoint_score"], real["0054_3"][1])


def test_trim_zero_padding_rules():
    anns, _ = miga23_pickle({"a": 4}, t_pad=6)
    ann = anns[0]
    assert trim_zero_padding(ann)["keypoint"].shape[1] == 4
    scored = dict(ann, keypoint_score=ann["keypoint_score"].copy())
    scored["keypoint_score"][0, 4, 3] = 0.2  # a scored point at (0, 0) is not padding
    assert trim_zero_padding(scored)["keypoint"].shape[1] == 5
    placed = dict(ann, keypoint=ann["keypoint"].copy())
    placed["keypoint"][0, 5, 0, 1] = 3.0  # a placed point with zero score is not padding either
    assert trim_zero_padding(placed)["total_frames"] == 6
    three = {"keypoint": np.concatenate([ann["keypoint"], ann["keypoint_score"][..., None]], -1)}
    assert trim_zero_padding(three)["keypoint"].shape == (1, 4, 22, 3)  # score channel, no key
    assert trim_zero_padding(dict(ann, total_frames=5))["total_frames"] == 5  # left for checks
    for bad in (
        dict(ann, keypoint_score=np.zeros((1, 5, 22), np.float32)),
        dict(ann, keypoint=ann["keypoint"][0]),
        {"frame_dir": "x"},
        [1, 2],
    ):
        assert trim_zero_padding(bad) is bad  # malformed: unchanged, reported by validation
    assert trim_zero_padding(ann)["keypoint"].base is not None  # a view, not a copy
