"""frame_positions holds every frame of the longest sample it accepts exactly (float32), and
refuses longer samples instead of merging their last frames."""

from __future__ import annotations

import pytest
import torch

from pymg.ops.constants import MAX_POSITION_FRAMES
from pymg.ops.positions import frame_positions


@pytest.mark.parametrize("strategy", ["uniform", "crop_pad"])
def test_longest_sample_keeps_its_last_frame(strategy: str) -> None:
    longest = MAX_POSITION_FRAMES
    p = frame_positions(torch.tensor([longest, 5]), 2, strategy=strategy)
    assert p.dtype == torch.float32 and p.shape == (2, 1, 2)
    if strategy == "uniform":
        assert p[0, 0].double().tolist() == [0.0, float(longest - 1)]
    # one frame more would not be representable: float32 rounds it onto its neighbour
    assert torch.tensor(float(longest + 1), dtype=torch.float32).item() == float(longest)


@pytest.mark.parametrize("lengths", [[MAX_POSITION_FRAMES + 1], [3, 2**25 + 2]])
def test_longer_samples_are_refused(lengths: list[int]) -> None:
    with pytest.raises(ValueError, match=rf"lengths: a sample of {max(lengths)} frames is over "
                       rf"the {MAX_POSITION_FRAMES} \(2\*\*24\)"):  # fmt: skip
        frame_positions(torch.tensor(lengths), 4)
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="lengths: a sample of"):
        frame_positions(torch.tensor(lengths), 4, training=True, generator=gen)
