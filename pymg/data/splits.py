"""Which split each clip of a raw release belongs to: folders, a split file, or subjects.

pymg never guesses a split from a video's name (iMiGUE's 4-digit names are video numbers, not
subjects). The rules, in order:

1. ``split_files`` (``pymg prepare --split-file [NAME=]FILE``): ids of videos (``0054``) or clips
   (``0054_3``) per split. ``NAME=FILE`` reads ids separated by commas, spaces or new lines
   (the one-line ``test_id.txt`` form, duplicates tolerated); a bare ``FILE`` is a JSON object
   ``{"train": [...], "test": [...]}``. Clips named by no file go to ``rest`` when it is given
   (``--split-rest train``), else into no split.
2. ``subjects`` (``--subjects FILE``: rows ``video,subject``) with ``train_subjects`` (default:
   iMiGUE's 37 cross-subject training subjects): the training subjects' videos are ``train``,
   every other subject's ``test``.
3. The release's folders: a folder at any depth between the release root (included) and the
   video whose name has a word ``train``/``training``, ``val``/``valid``/``validate``/
   ``validation``/``dev`` or ``test``/``testing`` (words are separated by ``_``, ``-``, ``.``,
   spaces or digits, so ``imigue_skeleton_validate`` is ``val`` and ``latest`` is nothing).

When none applies, :class:`SplitError` names the three options.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

__all__ = [
    "IMIGUE_TRAIN_SUBJECTS",
    "SPLIT_WORDS",
    "SplitError",
    "folder_split",
    "read_id_list",
    "read_split_files",
    "read_subjects_csv",
]

IMIGUE_TRAIN_SUBJECTS: tuple[int, ...] = (
    2, 4, 5, 6, 9, 10, 12, 13, 14, 15, 17, 18, 20, 21, 22, 23, 25, 28, 29, 30, 31, 35, 36, 38,
    39, 41, 42, 43, 44, 46, 47, 48, 52, 53, 59, 61, 62,
)  # fmt: skip
"""The 37 training subjects of iMiGUE's cross-subject protocol (the other ids of 1-72 are test)."""

SPLIT_WORDS: dict[str, str] = {
    "train": "train",
    "training": "train",
    "trainset": "train",
    "val": "val",
    "valid": "val",
    "validate": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
    "testset": "test",
}
"""Folder-name word -> split name."""

SPLIT_HELP = (
    "tell pymg the split: put the videos under folders named train/validate/test, or pass "
    "--split-file NAME=FILE (video or clip ids per split), or --subjects FILE (video,subject "
    "rows, cross-subject protocol with --train-subjects)"
)


class SplitError(ValueError):
    """The split of a video or clip cannot be determined, or the split sources disagree."""


def folder_split(parts: Sequence[str]) -> str | None:
    """The split named by folder names (outermost first), or None.

    Args:
        parts: folder names between the release root (included) and the video.

    Raises:
        SplitError: two folders name different splits.
    """
    found: dict[str, str] = {}
    for part in parts:
        for word in re.split(r"[^a-z]+", part.lower()):
            split = SPLIT_WORDS.get(word)
            if split is not None:
                found.setdefault(split, part)
    if len(found) > 1:
        named = ", ".join(f"{part!r} -> {split}" for split, part in found.items())
        raise SplitError(f"folders name more than one split ({named})")
    return next(iter(found), None)


def read_id_list(path: str | os.PathLike[str]) -> list[str]:
    """Ids separated by commas, whitespace or new lines, in order, duplicates dropped.

    Raises:
        ValueError: the file holds no id.
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    ids = list(dict.fromkeys(t for t in re.split(r"[,\s]+", text) if t))
    if not ids:
        raise ValueError(f"{os.fspath(path)}: no ids in the split file")
    return ids


def read_split_files(specs: Iterable[str]) -> dict[str, list[str]]:
    """Parse ``--split-file`` arguments: ``NAME=FILE`` (an id list) or ``FILE`` (JSON object).

    Returns:
        ``{split: [id, ...]}``.

    Raises:
        ValueError: unreadable file, bad JSON, or one id in two splits.
    """
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, file = spec.partition("=")
        if sep and name and not os.path.exists(spec):
            out.setdefault(name, []).extend(read_id_list(file))
            continue
        try:
            doc = json.loads(Path(spec).read_text(encoding="utf-8-sig"))
        except ValueError as exc:
            raise ValueError(
                f"{spec}: a split file without NAME= must be a JSON object "
                f'{{"train": [...], "test": [...]}} ({exc}); for an id list write NAME={spec}'
            ) from None
        if not isinstance(doc, Mapping) or not all(
            isinstance(v, list) and all(isinstance(i, (str, int)) for i in v) for v in doc.values()
        ):
            raise ValueError(f"{spec}: expected a JSON object of id lists")
        for name, ids in doc.items():
            out.setdefault(str(name), []).extend(str(i) for i in ids)
    owner: dict[str, str] = {}
    for name, ids in out.items():
        out[name] = list(dict.fromkeys(ids))
        for i in out[name]:
            if owner.setdefault(i, name) != name:
                raise ValueError(f"id {i!r} is listed in splits {owner[i]!r} and {name!r}")
    return out


def read_subjects_csv(path: str | os.PathLike[str]) -> dict[str, int]:
    """Rows ``video,subject`` (a first row that is not numeric is a header).

    Returns:
        ``{video id: subject id}``.

    Raises:
        ValueError: a row that is not two cells, a subject that is not an integer, or a video
            listed twice with different subjects (names file and line).
    """
    source = os.fspath(path)
    out: dict[str, int] = {}
    with open(source, newline="", encoding="utf-8-sig") as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            cells = [c.strip() for c in row if c.strip()]
            if not cells:
                continue
            if len(cells) != 2:
                raise ValueError(f"{source}:{line_no}: expected video,subject, got {row}")
            if not cells[1].lstrip("-").isdigit():
                if line_no == 1:
                    continue  # header
                raise ValueError(
                    f"{source}:{line_no}: subject must be an integer, got {cells[1]!r}"
                )
            video, subject = cells[0], int(cells[1])
            if out.setdefault(video, subject) != subject:
                raise ValueError(f"{source}:{line_no}: video {video!r} has two subjects")
    if not out:
        raise ValueError(f"{source}: no video,subject rows")
    return out


def lookup_video(table: Mapping[str, int], video: str) -> int | None:
    """``table[video]``, also matching numeric ids written without zero padding (54 = 0054)."""
    if video in table:
        return table[video]
    if video.isdigit():
        for key, value in table.items():
            if key.isdigit() and int(key) == int(video):
                return value
    return None
