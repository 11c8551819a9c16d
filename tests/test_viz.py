"""Tests of pymg.viz: every drawing writes a decodable, non-blank PNG; bad input is rejected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.image import imread  # noqa: E402

from pymg.data.synthetic import SyntheticMicroGestures  # noqa: E402
from pymg.topology import list_layouts  # noqa: E402
from pymg.viz import _label_offsets, draw_heatmaps, draw_keypoints, draw_skeleton  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_png(path: Path, min_size: int = 100) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = imread(path)
    assert image.ndim == 3 and min(image.shape[:2]) >= min_size
    assert image[..., :3].std() > 0.01, "the picture must not be blank"
    return image


@pytest.mark.parametrize("name", list_layouts())
def test_draw_skeleton_every_layout(tmp_path: Path, name: str) -> None:
    out = draw_skeleton(name, tmp_path / "sub" / f"{name}.png", title=name)
    assert out == tmp_path / "sub" / f"{name}.png"
    image = _check_png(out)
    if name == "imigue41":  # two panels (body + head zoom): wider than tall
        assert image.shape[1] > 1.3 * image.shape[0]


def test_label_offsets_point_away_from_neighbours() -> None:
    from pymg.topology import IMIGUE22, template_pose

    points = template_pose(IMIGUE22)
    d = _label_offsets(IMIGUE22, points)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0)
    assert d[10, 0] < 0 and d[11, 0] > 0, "ears are labelled outwards, on their own side"
    assert d[2, 0] < 0 and d[5, 0] > 0, "shoulders are labelled outwards"


def test_draw_heatmaps_numpy_and_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    vol = np.zeros((3, 10, 24, 32), np.float32)
    vol[1, :, 5:9, 10:14] = 1.0
    vol[2, 4, 12, 20] = 0.5
    _check_png(draw_heatmaps(vol, tmp_path / "a.png", title="t"), 50)
    _check_png(draw_heatmaps(torch.from_numpy(vol), tmp_path / "b.png", frames=[0, 4]), 50)
    _check_png(draw_heatmaps(vol[1], tmp_path / "c.png", frames=3, reduce="sum"), 50)
    _check_png(draw_heatmaps(vol, tmp_path / "d.png", channels=[1, 2], frames=5), 50)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frames": 0}, "frames must be an int >= 1, got 0"),
        ({"frames": [-1]}, r"frames must be indices in \[0, 10\), got -1"),
        ({"frames": [1.5]}, r"frames must be indices in \[0, 10\), got 1\.5"),
        ({"channels": []}, r"channels must be non-empty indices in \[0, 3\), got \[\]"),
        ({"frames": [10]}, r"frames must be non-empty indices in \[0, 10\)"),
        ({"channels": [3]}, r"channels must be non-empty indices in \[0, 3\)"),
        ({"reduce": "mean"}, "reduce must be 'max' or 'sum'"),
    ],
)
def test_draw_heatmaps_errors(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        draw_heatmaps(np.zeros((3, 10, 8, 8)), tmp_path / "x.png", **kwargs)


def test_draw_heatmaps_bad_volume(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"volume must be \[C, T, H, W\] or \[T, H, W\]"):
        draw_heatmaps(np.zeros((8, 8)), tmp_path / "x.png")
    with pytest.raises(TypeError, match="volume must be a numpy array or torch tensor, got list"):
        draw_heatmaps([[0.0]], tmp_path / "x.png")


def test_draw_keypoints_synthetic_clip(tmp_path: Path) -> None:
    item = SyntheticMicroGestures(num_clips=1, min_seconds=0.4, max_seconds=0.8, drop_prob=0.2)[0]
    out = draw_keypoints(
        item["keypoint"], "imigue41", tmp_path / "clip.png", score=item["keypoint_score"],
        frames=4, img_shape=item["img_shape"], title="clip",
    )  # fmt: skip
    _check_png(out)
    _check_png(draw_keypoints(item["keypoint"][0], "imigue41", tmp_path / "c2.png", frames=[0]))
    with pytest.raises(ValueError, match=r"keypoint must be \[M, T, 22, 2\]"):
        draw_keypoints(item["keypoint"], "imigue22", tmp_path / "x.png")
    with pytest.raises(ValueError, match="score must have shape"):
        draw_keypoints(item["keypoint"], "imigue41", tmp_path / "x.png", score=np.ones((1, 2, 41)))
