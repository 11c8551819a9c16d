"""ResNet3dSlowOnly: the 3D-CNN backbone of PoseC3D (Duan et al., CVPR 2022), PYSKL configuration.

Default configuration (``in_channels=17``, input ``[N, 17, 48, 56, 56]``):

=========  ==========================================  ===================  ==========
stage      layers                                      output [C, T, H, W]  params
=========  ==========================================  ===================  ==========
conv1      Conv3d (1,7,7) s1 + BN + ReLU               32 x 48 x 56 x 56    26,720
maxpool    MaxPool3d (1,3,3) s1 p(0,1,1)               32 x 48 x 56 x 56    0
layer1     4 x Bottleneck3d(32), 1x1x1, s(1,2,2)       128 x 48 x 28 x 28   72,448
layer2     6 x Bottleneck3d(64), 3x1x1, s(1,2,2)       256 x 48 x 14 x 14   627,712
layer3     3 x Bottleneck3d(128), 3x1x1, s(2,2,2)      512 x 24 x 7 x 7     1,267,200
=========  ==========================================  ===================  ==========

Total 1,994,080 parameters; each extra input channel adds ``32 * 7 * 7 = 1568``.

Module names mirror PYSKL/mmaction2 (``conv1.conv``, ``conv1.bn``,
``layerN.K.conv{1,2,3}.{conv,bn}``, ``layerN.0.downsample.{conv,bn}``) so checkpoints map one to
one (:mod:`pymg.models.checkpoint`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from pymg.checks import check_int

__all__ = ["ConvBN3d", "Bottleneck3d", "ResNet3dSlowOnly", "cast_to_module_dtype"]


def _triple(value: int | Sequence[int], name: str) -> tuple[int, int, int]:
    if isinstance(value, int):
        return (value, value, value)
    out = tuple(int(v) for v in value)
    if len(out) != 3:
        raise ValueError(f"{name} must be an int or 3 ints (t, h, w), got {value!r}")
    return out[0], out[1], out[2]


def _autocast_enabled(device_type: str) -> bool:
    try:
        return bool(torch.is_autocast_enabled(device_type))
    except TypeError:  # torch < 2.4: no device argument
        if device_type == "cpu":
            return bool(torch.is_autocast_cpu_enabled())
        return bool(torch.is_autocast_enabled())


def cast_to_module_dtype(x: Tensor, module: nn.Module) -> Tensor:
    """Return ``x`` in the dtype of ``module``'s first parameter unless autocast is active.

    Under ``torch.autocast`` the input is left alone (autocast casts per op); outside it a
    bf16/fp16 heatmap volume is cast to the weights' dtype so a mixed call does not fail.

    Shape:
        - x: any; output: same shape.
    """
    param = next(module.parameters(), None)
    if param is None or x.dtype == param.dtype:
        return x
    if _autocast_enabled(x.device.type):
        return x
    return x.to(param.dtype)


class ConvBN3d(nn.Module):
    """Conv3d (no bias) -> BatchNorm3d -> optional ReLU (mmcv ``ConvModule`` layout).

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        kernel_size: ``(kt, kh, kw)`` or an int.
        stride: ``(st, sh, sw)`` or an int.
        padding: ``(pt, ph, pw)`` or an int.
        act: append a ReLU.

    Shape:
        - x: ``[N, C_in, T, H, W]``
        - output: ``[N, C_out, T', H', W']`` (usual convolution arithmetic)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        act: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            in_channels,
            out_channels,
            _triple(kernel_size, "kernel_size"),
            stride=_triple(stride, "stride"),
            padding=_triple(padding, "padding"),
            bias=False,
        )
        self.bn = nn.BatchNorm3d(out_channels)
        self.act: nn.Module = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C_in, T, H, W] -> [N, C_out, T', H', W']``."""
        return self.act(self.bn(self.conv(x)))


class Bottleneck3d(nn.Module):
    """ResNet bottleneck block (expansion 4) with optional temporal inflation of ``conv1``.

    ``conv1`` 1x1x1 (or 3x1x1 pad (1,0,0) when ``inflate``) -> ``conv2`` 1x3x3 carrying the
    stride ``(temporal_stride, spatial_stride, spatial_stride)`` -> ``conv3`` 1x1x1 to
    ``4 * planes`` without activation; the shortcut (identity, or ``downsample``) is added
    before the final ReLU.

    Args:
        inplanes: input channels ``C_in``.
        planes: bottleneck width; output channels ``4 * planes``.
        spatial_stride: stride over H and W (on ``conv2``).
        temporal_stride: stride over T (on ``conv2``).
        inflate: use a (3, 1, 1) kernel for ``conv1``.
        downsample: shortcut projection, required when the stride or width changes.

    Shape:
        - x: ``[N, C_in, T, H, W]``
        - output: ``[N, 4 * planes, ceil(T / st), ceil(H / ss), ceil(W / ss)]``
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        spatial_stride: int = 1,
        temporal_stride: int = 1,
        inflate: bool = False,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if inflate:
            self.conv1 = ConvBN3d(inplanes, planes, (3, 1, 1), padding=(1, 0, 0))
        else:
            self.conv1 = ConvBN3d(inplanes, planes, 1)
        self.conv2 = ConvBN3d(
            planes,
            planes,
            (1, 3, 3),
            stride=(temporal_stride, spatial_stride, spatial_stride),
            padding=(0, 1, 1),
        )
        self.conv3 = ConvBN3d(planes, planes * self.expansion, 1, act=False)
        self.downsample = downsample
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C_in, T, H, W] -> [N, 4 * planes, T', H', W']``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv3(self.conv2(self.conv1(x)))
        return self.relu(out + identity)


class ResNet3dSlowOnly(nn.Module):
    """SlowOnly ResNet3d for pose heatmap volumes (PoseC3D backbone, PYSKL ``ResNet3dSlowOnly``).

    Stem: Conv3d ``(1, 7, 7)`` stride 1 pad ``(0, 3, 3)`` + BN + ReLU, MaxPool3d ``(1, 3, 3)``
    stride 1 pad ``(0, 1, 1)``; then one stage per entry of ``stage_blocks``, stage ``i`` with width
    ``base_channels * 2**i`` and output ``4 * base_channels * 2**i`` channels.

    Args:
        in_channels: heatmap channels ``C`` (joints ``V`` or limbs ``L``).
        base_channels: stem width (32 in PoseC3D).
        stage_blocks: blocks per stage.
        spatial_strides: H/W stride of the first block of each stage.
        temporal_strides: T stride of the first block of each stage.
        inflate: per stage, 1 -> conv1 kernel (3, 1, 1) in every block, 0 -> 1x1x1.
        zero_init_residual: set the last BN gamma of every block to 0 (blocks start as identity).

    Shape:
        - x: ``[N, C, T, H, W]`` (any float dtype; channels_last_3d welcome)
        - output: ``[N, out_channels, T / prod(temporal_strides), H / prod(ss), W / prod(ss)]``
          (each stride rounds up), e.g. ``[N, 512, 24, 7, 7]`` for ``[N, 17, 48, 56, 56]``.

    Attributes:
        out_channels: channels of the output feature (512 by default).
    """

    def __init__(
        self,
        in_channels: int,
        base_channels: int = 32,
        stage_blocks: Sequence[int] = (4, 6, 3),
        spatial_strides: Sequence[int] = (2, 2, 2),
        temporal_strides: Sequence[int] = (1, 1, 2),
        inflate: Sequence[int] = (0, 1, 1),
        zero_init_residual: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("base_channels", base_channels)):
            check_int(value, name, minimum=1, expected="a positive int")
        stage_blocks = tuple(stage_blocks)
        num_stages = len(stage_blocks)
        if num_stages < 1:
            raise ValueError("stage_blocks must hold one positive int per stage, got ()")
        for i, blocks in enumerate(stage_blocks):
            check_int(blocks, f"stage_blocks[{i}]", minimum=1, expected="a positive int")
        per_stage = {
            "spatial_strides": tuple(spatial_strides),
            "temporal_strides": tuple(temporal_strides),
            "inflate": tuple(inflate),
        }
        for name, values in per_stage.items():
            if len(values) != num_stages:
                raise ValueError(
                    f"{name} must have one entry per stage ({num_stages}), got {values}"
                )
            lowest = 0 if name == "inflate" else 1
            if any(not isinstance(v, int) or v < lowest for v in values):
                raise ValueError(f"{name} must be ints >= {lowest}, got {values}")

        self.in_channels = in_channels
        self.base_channels = base_channels
        self.stage_blocks = stage_blocks
        self.conv1 = ConvBN3d(in_channels, base_channels, (1, 7, 7), stride=1, padding=(0, 3, 3))
        self.maxpool = nn.MaxPool3d((1, 3, 3), stride=1, padding=(0, 1, 1))
        inplanes = base_channels
        self.layer_names: list[str] = []
        for i, num_blocks in enumerate(stage_blocks):
            planes = base_channels * 2**i
            layer = self._make_layer(
                inplanes,
                planes,
                num_blocks,
                per_stage["spatial_strides"][i],
                per_stage["temporal_strides"][i],
                bool(per_stage["inflate"][i]),
            )
            name = f"layer{i + 1}"
            self.add_module(name, layer)
            self.layer_names.append(name)
            inplanes = planes * Bottleneck3d.expansion
        self.out_channels = inplanes
        self.reset_parameters(zero_init_residual)

    @staticmethod
    def _make_layer(
        inplanes: int,
        planes: int,
        num_blocks: int,
        spatial_stride: int,
        temporal_stride: int,
        inflate: bool,
    ) -> nn.Sequential:
        downsample = None
        if spatial_stride != 1 or temporal_stride != 1 or inplanes != planes * 4:
            downsample = ConvBN3d(
                inplanes,
                planes * Bottleneck3d.expansion,
                1,
                stride=(temporal_stride, spatial_stride, spatial_stride),
                act=False,
            )
        blocks = [
            Bottleneck3d(inplanes, planes, spatial_stride, temporal_stride, inflate, downsample)
        ]
        for _ in range(1, num_blocks):
            blocks.append(Bottleneck3d(planes * Bottleneck3d.expansion, planes, 1, 1, inflate))
        return nn.Sequential(*blocks)

    def reset_parameters(self, zero_init_residual: bool = True) -> None:
        """Kaiming-normal (fan_out) convs, BN weight 1 / bias 0, last BN gamma of each block 0."""
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, Bottleneck3d):
                    nn.init.zeros_(module.conv3.bn.weight)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, T, H, W] -> [N, out_channels, T', H', W']`` (see the class docstring)."""
        if x.dim() != 5:
            raise ValueError(
                f"x must be a 5-D heatmap volume [N, C, T, H, W], got {tuple(x.shape)}"
            )
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have {self.in_channels} channels (dim 1), got shape {tuple(x.shape)}"
            )
        x = cast_to_module_dtype(x, self)
        weight = self.conv1.conv.weight
        if (
            weight.is_contiguous(memory_format=torch.channels_last_3d)
            and not weight.is_contiguous()
        ):
            x = x.contiguous(memory_format=torch.channels_last_3d)
        x = self.maxpool(self.conv1(x))
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x
