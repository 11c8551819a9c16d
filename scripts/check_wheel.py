"""Check the contents of a built pymg wheel (used by scripts/build_wheel.sh).

A release wheel must hold exactly the installable package and nothing from the build tree:

* the compiled extension ``pymg/_C*.so``, exactly once, exporting ``PyInit__C``;
* every file of the source package ``pymg/`` (Python modules and package data such as
  ``pymg/configs/*.toml`` and ``pymg/labels/*.npy``) -- whatever exists in the source tree at build
  time must be in the wheel, so the check follows the tree as files are added;
* nothing else: no ``build/`` or CMake files, object files, caches, tests or C++ sources;
* an extension that links neither libtorch, libpython nor a shared CUDA runtime (cudart is static;
  only the system C/C++ runtime and OpenMP's ``libgomp.so.1`` may be needed);
* for a CUDA wheel, an ``.nv_fatbin`` section whose cubins and PTX match the requested CUDA
  architectures (read with ``cuobjdump`` when it is available); for a CPU wheel, no fatbin at all.

Usage::

    python scripts/check_wheel.py WHEEL --source SRC_DIR --variant cuda --archs "80-real;90" \
        [--require GLOB ...] [--cuobjdump PATH] [--json OUT.json]

Exits 1 with one line per problem when a check fails; prints a summary otherwise.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

# The distribution "pymg-microgesture" as file names write it (the import package stays ``pymg``):
# ``<DIST>-<version>.dist-info/`` and auditwheel's ``<DIST>.libs/``.
DIST = "pymg_microgesture"

# Shared libraries the extension may depend on: the C/C++ runtime (allowed by every manylinux
# policy) and GNU OpenMP, which is deliberately NOT bundled (torch ships and loads libgomp.so.1).
ALLOWED_NEEDED = frozenset(
    {
        "libgomp.so.1",
        "libstdc++.so.6",
        "libgcc_s.so.1",
        "libm.so.6",
        "libc.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "ld-linux-x86-64.so.2",
    }
)

# Path fragments that betray build-tree or development files inside a wheel.
FORBIDDEN_PARTS = (
    "CMakeFiles",
    "CMakeCache.txt",
    "cmake_install.cmake",
    "install_manifest.txt",
    "build.ninja",
    ".ninja_",
    "__pycache__",
    ".egg-info",
    ".git/",
    "/build/",
    "/tests/",
    "/csrc/",
)
FORBIDDEN_SUFFIXES = (".o", ".a", ".obj", ".pyc", ".cu", ".cpp", ".h", ".cuh", ".log")

# Package data reported separately in the summary (presence is enforced by the source comparison).
DEFAULT_DATA_GLOBS = (
    "pymg/configs/*.toml",
    "pymg/labels/*.npy",
    "pymg/labels/*.txt",
    "pymg/py.typed",
)

EXTENSION_GLOB = "pymg/_C*.so"


@dataclass
class WheelReport:
    """What the checker found in one wheel (written with --json)."""

    wheel: str
    size_bytes: int
    tags: list[str]
    version: str
    variant: str
    extension: str = ""
    extension_bytes: int = 0
    needed: list[str] = field(default_factory=list)
    grafted: list[str] = field(default_factory=list)
    cubins: list[str] = field(default_factory=list)
    ptx: list[str] = field(default_factory=list)
    data: dict[str, int] = field(default_factory=dict)
    num_files: int = 0
    problems: list[str] = field(default_factory=list)


def parse_archs(archs: str) -> tuple[set[str], set[str]]:
    """Split a CMake CUDA_ARCHITECTURES string into (SASS archs, PTX archs).

    ``"80-real;90"`` -> ``({"80", "90"}, {"90"})``: a bare number embeds both the cubin and the PTX,
    ``-real`` only the cubin, ``-virtual`` only the PTX.
    """
    sass: set[str] = set()
    ptx: set[str] = set()
    for item in filter(None, (a.strip() for a in archs.replace(",", ";").split(";"))):
        match = re.fullmatch(r"(\d+[a-z]?)(-real|-virtual)?", item)
        if match is None:
            raise ValueError(
                f"archs: cannot parse CUDA architecture {item!r} (expected e.g. '80-real')"
            )
        number, kind = match.group(1), match.group(2)
        if kind != "-virtual":
            sass.add(number)
        if kind != "-real":
            ptx.add(number)
    return sass, ptx


def source_package_files(source: Path) -> list[str]:
    """Files of ``source/pymg`` as wheel paths (``pymg/...``), caches excluded."""
    root = source / "pymg"
    if not root.is_dir():
        raise ValueError(f"source: {source} has no pymg/ package directory")
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if path.is_file() and "__pycache__" not in rel and not rel.endswith((".pyc", ".so")):
            files.append(rel)
    return files


def find_cuobjdump(explicit: str | None) -> str | None:
    """Locate cuobjdump: explicit path, PATH, $CUDA_HOME/bin or the nvidia-cuda-cuobjdump wheel."""
    if explicit:
        return explicit
    found = shutil.which("cuobjdump")
    if found:
        return found
    candidates = [Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "bin" / "cuobjdump"]
    try:
        import nvidia  # the namespace package of NVIDIA's PyPI wheels

        for base in nvidia.__path__:
            candidates.extend(Path(base).glob("cu*/bin/cuobjdump"))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def list_cuda_images(cuobjdump: str, so_path: Path) -> tuple[list[str], list[str]]:
    """(cubin archs, PTX archs) in a shared object, e.g. (["sm_80", "sm_90"], ["sm_90"])."""

    def run(flag: str) -> list[str]:
        proc = subprocess.run(
            [cuobjdump, flag, str(so_path)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0 and "does not contain" not in proc.stderr:
            raise RuntimeError(f"{cuobjdump} {flag} failed: {proc.stderr.strip()}")
        return sorted(set(re.findall(r"\.(sm_\d+[a-z]?)\.(?:cubin|ptx)", proc.stdout)))

    return run("--list-elf"), run("--list-ptx")


def elf_info(so_path: Path) -> tuple[list[str], list[str], set[str], bool]:
    """(DT_NEEDED, RPATH+RUNPATH entries, section names, exports PyInit__C) of a shared object."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    needed: list[str] = []
    rpaths: list[str] = []
    with so_path.open("rb") as fh:
        elf = ELFFile(fh)
        sections = {s.name for s in elf.iter_sections()}
        exports_init = False
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                for tag in section.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        needed.append(str(getattr(tag, "needed", "")))
                    elif tag.entry.d_tag in ("DT_RPATH", "DT_RUNPATH"):
                        attr = "rpath" if tag.entry.d_tag == "DT_RPATH" else "runpath"
                        rpaths.extend(str(getattr(tag, attr, "")).split(":"))
        dynsym = elf.get_section_by_name(".dynsym")
        if dynsym is not None:
            exports_init = any(sym.name == "PyInit__C" for sym in dynsym.iter_symbols())  # type: ignore[attr-defined]
    return needed, rpaths, sections, exports_init


def check_members(names: list[str], source_files: list[str], report: WheelReport) -> None:
    """Compare the wheel's file list with the source package; record problems in ``report``."""
    dist_info = f"{DIST}-{report.version}.dist-info/"
    libs = f"{DIST}.libs/"
    for name in names:
        if name.endswith("/"):
            continue
        if not (name.startswith(("pymg/", dist_info, libs))):
            report.problems.append(f"unexpected top-level file in wheel: {name}")
        padded = "/" + name
        if any(part in padded for part in FORBIDDEN_PARTS) or name.endswith(FORBIDDEN_SUFFIXES):
            report.problems.append(f"build-tree or development file in wheel: {name}")
    present = set(names)
    for rel in source_files:
        if rel not in present:
            report.problems.append(f"source file missing from wheel: {rel}")
    report.grafted = sorted(n for n in names if n.startswith(libs))
    for lib in report.grafted:
        if "libgomp" in lib:
            report.problems.append(f"a second OpenMP runtime was bundled: {lib}")
        else:
            report.problems.append(f"unexpected library bundled by auditwheel: {lib}")


def check_wheel(
    wheel: Path,
    source: Path,
    variant: str,
    archs: str,
    require: list[str],
    cuobjdump: str | None,
    require_cuobjdump: bool,
) -> WheelReport:
    """Run every check on ``wheel`` and return the report (``report.problems`` empty when clean)."""
    if variant not in ("cuda", "cpu"):
        raise ValueError(f"variant: expected 'cuda' or 'cpu', got {variant!r}")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        wheel_meta = next((n for n in names if n.endswith(".dist-info/WHEEL")), None)
        meta = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        if wheel_meta is None or meta is None:
            raise ValueError(f"wheel: {wheel} has no .dist-info/WHEEL or METADATA")
        tags = re.findall(r"^Tag: (\S+)$", zf.read(wheel_meta).decode(), flags=re.M)
        version_match = re.search(r"^Version: (\S+)$", zf.read(meta).decode(), flags=re.M)
        report = WheelReport(
            wheel=wheel.name,
            size_bytes=wheel.stat().st_size,
            tags=tags,
            version=version_match.group(1) if version_match else "?",
            variant=variant,
            num_files=len([n for n in names if not n.endswith("/")]),
        )
        check_members(names, source_package_files(source), report)
        for pattern in DEFAULT_DATA_GLOBS:
            report.data[pattern] = len(fnmatch.filter(names, pattern))
        for pattern in require:
            if not fnmatch.filter(names, pattern):
                report.problems.append(f"required file missing from wheel: {pattern}")
        extensions = fnmatch.filter(names, EXTENSION_GLOB)
        if len(extensions) != 1:
            report.problems.append(
                f"expected exactly one compiled module {EXTENSION_GLOB}, got {extensions}"
            )
            return report
        report.extension = extensions[0]
        report.extension_bytes = zf.getinfo(extensions[0]).file_size
        with tempfile.TemporaryDirectory() as tmp:
            so_path = Path(zf.extract(extensions[0], tmp))
            check_extension(so_path, variant, archs, cuobjdump, require_cuobjdump, report)
    if not any("manylinux" in tag for tag in tags):
        report.problems.append(
            f"wheel is not tagged manylinux (auditwheel repair missing?): {tags}"
        )
    return report


def check_extension(
    so_path: Path,
    variant: str,
    archs: str,
    cuobjdump: str | None,
    require_cuobjdump: bool,
    report: WheelReport,
) -> None:
    """ELF-level checks of the compiled module (dependencies, rpath, CUDA images)."""
    needed, rpaths, sections, exports_init = elf_info(so_path)
    report.needed = needed
    if not exports_init:
        report.problems.append(f"{report.extension} does not export PyInit__C")
    for lib in needed:
        if lib not in ALLOWED_NEEDED:
            report.problems.append(f"{report.extension} needs a non-system library: {lib}")
    for path in rpaths:
        if path and not path.startswith("$ORIGIN"):
            report.problems.append(f"{report.extension} has a build-machine RPATH entry: {path}")
    has_fatbin = ".nv_fatbin" in sections
    if variant == "cpu":
        if has_fatbin:
            report.problems.append("CPU wheel: the extension carries CUDA device code (.nv_fatbin)")
        return
    if not has_fatbin:
        report.problems.append(
            "CUDA wheel: the extension has no .nv_fatbin section (built without CUDA?)"
        )
        return
    tool = find_cuobjdump(cuobjdump)
    if tool is None:
        message = "cuobjdump not found: CUDA architectures not verified"
        if require_cuobjdump:
            report.problems.append(message)
        else:
            print(f"check_wheel: warning: {message}", file=sys.stderr)
        return
    report.cubins, report.ptx = list_cuda_images(tool, so_path)
    want_sass, want_ptx = parse_archs(archs)
    if set(report.cubins) != {f"sm_{a}" for a in want_sass}:
        report.problems.append(f"cubins {report.cubins} do not match CUDA archs {archs!r}")
    if set(report.ptx) != {f"sm_{a}" for a in want_ptx}:
        report.problems.append(f"PTX {report.ptx} does not match CUDA archs {archs!r}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument(
        "--source", type=Path, required=True, help="source tree the wheel came from"
    )
    parser.add_argument("--variant", choices=("cuda", "cpu"), required=True)
    parser.add_argument("--archs", default="80-real;90", help="CMake CUDA architectures built")
    parser.add_argument("--require", action="append", default=[], help="glob that must match")
    parser.add_argument("--cuobjdump", default=None, help="path of cuobjdump")
    parser.add_argument("--require-cuobjdump", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    args = parser.parse_args(argv)
    report = check_wheel(
        args.wheel,
        args.source,
        args.variant,
        args.archs,
        args.require,
        args.cuobjdump,
        args.require_cuobjdump,
    )
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    mib = report.size_bytes / 2**20
    print(f"wheel      {report.wheel}  ({mib:.2f} MiB, {report.num_files} files)")
    print(f"tags       {', '.join(report.tags)}")
    print(f"extension  {report.extension}  ({report.extension_bytes / 2**20:.2f} MiB unpacked)")
    print(f"needs      {', '.join(report.needed)}")
    if report.variant == "cuda":
        print(f"cubins     {', '.join(report.cubins) or '-'}   PTX {', '.join(report.ptx) or '-'}")
    for pattern, count in report.data.items():
        print(f"data       {pattern}: {count}")
    for problem in report.problems:
        print(f"PROBLEM    {problem}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
