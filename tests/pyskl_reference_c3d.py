"""A test-only, minimal re-statement of PYSKL's PoseC3D (``ResNet3dSlowOnly`` + ``I3DHead``).

Written from PYSKL's ``pyskl/models/cnns/resnet3d.py`` / ``resnet3d_slowonly.py`` and
``pyskl/models/heads/simple_head.py`` for the pose configuration (stem ``1x7x7`` stride 1, max-pool
``1x3x3`` stride 1, bottlenecks with a ``3x1x1`` first conv in inflated stages). It shares no code
with pymg; its state dict has PYSKL's keys (mmaction2 1.x uses the same ones).
"""

from __future__ import annotations

from torch import Tensor, nn


class ConvModule(nn.Module):
    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0, act: bool = True):  # noqa: ANN001
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm3d(cout)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn(self.conv(x))
        return y.relu() if self.act else y


class Bottleneck(nn.Module):
    def __init__(self, inplanes: int, planes: int, s: int, t: int, inflate: bool, down: bool):
        super().__init__()
        if inflate:
            self.conv1 = ConvModule(inplanes, planes, (3, 1, 1), padding=(1, 0, 0))
        else:
            self.conv1 = ConvModule(inplanes, planes, 1)
        self.conv2 = ConvModule(planes, planes, (1, 3, 3), stride=(t, s, s), padding=(0, 1, 1))
        self.conv3 = ConvModule(planes, planes * 4, 1, act=False)
        if down:
            self.downsample = ConvModule(inplanes, planes * 4, 1, stride=(t, s, s), act=False)

    def forward(self, x: Tensor) -> Tensor:
        identity = self.downsample(x) if hasattr(self, "downsample") else x
        return (self.conv3(self.conv2(self.conv1(x))) + identity).relu()


class SlowOnly(nn.Module):
    def __init__(self, in_channels: int, base_channels: int, stage_blocks, spatial_strides,  # noqa: ANN001
                 temporal_strides, inflate):  # noqa: ANN001  # fmt: skip
        super().__init__()
        self.conv1 = ConvModule(in_channels, base_channels, (1, 7, 7), padding=(0, 3, 3))
        self.maxpool = nn.MaxPool3d((1, 3, 3), stride=1, padding=(0, 1, 1))
        inplanes = base_channels
        for i, blocks in enumerate(stage_blocks):
            planes = base_channels * 2**i
            layer = []
            for k in range(blocks):
                s, t = (spatial_strides[i], temporal_strides[i]) if k == 0 else (1, 1)
                layer.append(Bottleneck(inplanes, planes, s, t, bool(inflate[i]), k == 0))
                inplanes = planes * 4
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
        self.num_stages = len(stage_blocks)
        self.out_channels = inplanes

    def forward(self, x: Tensor) -> Tensor:
        y = self.maxpool(self.conv1(x))
        for i in range(self.num_stages):
            y = getattr(self, f"layer{i + 1}")(y)
        return y


class I3DHead(nn.Module):
    def __init__(self, cin: int, num_classes: int):
        super().__init__()
        self.fc_cls = nn.Linear(cin, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc_cls(x.mean(dim=(2, 3, 4)))


class ReferencePoseC3D(nn.Module):
    """``Recognizer3D``: ``[N, C, T, H, W]`` heatmap volumes -> ``[N, num_classes]``."""

    def __init__(self, num_classes: int, **backbone: object):
        super().__init__()
        self.backbone = SlowOnly(**backbone)  # type: ignore[arg-type]
        self.cls_head = I3DHead(self.backbone.out_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.cls_head(self.backbone(x))
