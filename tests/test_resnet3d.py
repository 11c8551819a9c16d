"""ResNet3dSlowOnly / Bottleneck3d: parameter arithmetic, shapes, init, gradients, formats."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pymg.models.resnet3d import Bottleneck3d, ConvBN3d, ResNet3dSlowOnly

TINY = {"base_channels": 8, "stage_blocks": (1, 1, 1)}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def bottleneck_params(inplanes: int, planes: int, inflate: bool, downsample: bool) -> int:
    """Hand count: conv weights (no bias) + 2 BN params per output channel."""
    kt = 3 if inflate else 1
    total = inplanes * planes * kt + 2 * planes  # conv1 + bn1
    total += planes * planes * 9 + 2 * planes  # conv2 (1x3x3) + bn2
    total += planes * 4 * planes + 2 * 4 * planes  # conv3 + bn3
    if downsample:
        total += inplanes * 4 * planes + 2 * 4 * planes
    return total


def expected_backbone_params(c: int, base: int = 32, blocks=(4, 6, 3), inflate=(0, 1, 1)) -> int:
    total = c * base * 49 + 2 * base
    inplanes = base
    for i, nb in enumerate(blocks):
        planes = base * 2**i
        total += bottleneck_params(inplanes, planes, bool(inflate[i]), True)
        total += (nb - 1) * bottleneck_params(4 * planes, planes, bool(inflate[i]), False)
        inplanes = 4 * planes
    return total


def test_param_count_c17_is_pyskl_number() -> None:
    model = ResNet3dSlowOnly(17)
    assert n_params(model) == 1_994_080
    assert n_params(model) == expected_backbone_params(17)
    # per stage, by hand: stem 17*32*49 + 64, then the three stages
    assert n_params(model.conv1) == 26_720
    assert [n_params(getattr(model, f"layer{i}")) for i in (1, 2, 3)] == [
        72_448,
        627_712,
        1_267_200,
    ]


@pytest.mark.parametrize("c", [1, 17, 22, 41])
def test_param_count_per_input_channel(c: int) -> None:
    model = ResNet3dSlowOnly(c)
    assert n_params(model) == 1_994_080 + 1568 * (c - 17)
    assert n_params(model) == expected_backbone_params(c)


def test_tiny_param_count_matches_formula() -> None:
    model = ResNet3dSlowOnly(5, **TINY)
    assert n_params(model) == expected_backbone_params(5, base=8, blocks=(1, 1, 1))
    assert model.out_channels == 128


def test_full_size_shape_on_meta_device() -> None:
    model = ResNet3dSlowOnly(17).to("meta")
    shapes: dict[str, tuple[int, ...]] = {}
    for name in ("conv1", "maxpool", "layer1", "layer2", "layer3"):
        getattr(model, name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape))
        )
    out = model(torch.empty(2, 17, 48, 56, 56, device="meta"))
    assert tuple(out.shape) == (2, 512, 24, 7, 7)
    assert shapes == {
        "conv1": (2, 32, 48, 56, 56),
        "maxpool": (2, 32, 48, 56, 56),
        "layer1": (2, 128, 48, 28, 28),
        "layer2": (2, 256, 48, 14, 14),
        "layer3": (2, 512, 24, 7, 7),
    }
    out64 = model(torch.empty(1, 17, 48, 64, 64, device="meta"))
    assert tuple(out64.shape) == (1, 512, 24, 8, 8)


def test_full_size_real_forward_small_clip() -> None:
    torch.manual_seed(0)
    model = ResNet3dSlowOnly(17).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 17, 4, 56, 56))
        odd = model(torch.rand(1, 17, 3, 30, 30))  # strides round up: 30->15->8->4, 3->2
    assert out.shape == (1, 512, 2, 7, 7)
    assert odd.shape == (1, 512, 2, 4, 4)
    assert torch.isfinite(out).all() and (out >= 0).all()  # final ReLU


def test_block_structure() -> None:
    model = ResNet3dSlowOnly(17)
    for i, (kt, nb) in enumerate([(1, 4), (3, 6), (3, 3)], start=1):
        layer = getattr(model, f"layer{i}")
        assert len(layer) == nb
        assert layer[0].downsample is not None
        assert all(block.downsample is None for block in list(layer)[1:])
        for block in layer:
            assert block.conv1.conv.kernel_size == (kt, 1, 1)
            assert block.conv1.conv.padding == ((kt - 1) // 2, 0, 0)
            assert block.conv2.conv.kernel_size == (1, 3, 3)
            assert block.conv3.conv.bias is None and isinstance(block.conv3.act, nn.Identity)
    assert model.layer1[0].conv2.conv.stride == (1, 2, 2)
    assert model.layer3[0].conv2.conv.stride == (2, 2, 2)
    assert model.layer3[0].downsample.conv.stride == (2, 2, 2)
    assert model.conv1.conv.kernel_size == (1, 7, 7) and model.conv1.conv.bias is None
    keys = set(model.state_dict())
    for key in (
        "conv1.conv.weight",
        "conv1.bn.running_var",
        "layer1.0.downsample.conv.weight",
        "layer2.5.conv3.bn.bias",
        "layer3.0.downsample.bn.weight",
    ):
        assert key in keys


def _randomize_bn(module: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm3d):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=g) + 0.5
            m.bias.data = torch.randn(c, generator=g) * 0.1
            m.running_mean = torch.randn(c, generator=g) * 0.1
            m.running_var = torch.rand(c, generator=g) + 0.5


def _conv_bn(x: torch.Tensor, cb: ConvBN3d, relu: bool) -> torch.Tensor:
    c, bn = cb.conv, cb.bn
    y = F.conv3d(x, c.weight, None, c.stride, c.padding)
    y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    return F.relu(y) if relu else y


def test_bottleneck_matches_functional_reference() -> None:
    torch.manual_seed(1)
    ds = ConvBN3d(6, 16, 1, stride=(2, 2, 2), act=False)
    block = Bottleneck3d(6, 4, spatial_stride=2, temporal_stride=2, inflate=True, downsample=ds)
    _randomize_bn(block)
    block.eval()
    x = torch.randn(2, 6, 5, 9, 9)
    y = _conv_bn(_conv_bn(x, block.conv1, True), block.conv2, True)
    expected = F.relu(_conv_bn(y, block.conv3, False) + _conv_bn(x, ds, False))
    with torch.no_grad():
        out = block(x)
    assert out.shape == (2, 16, 3, 5, 5)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    # the identity shortcut: zero residual branch -> relu(x)
    plain = Bottleneck3d(16, 4).eval()
    nn.init.zeros_(plain.conv3.bn.weight)
    nn.init.zeros_(plain.conv3.bn.bias)
    z = torch.randn(1, 16, 2, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(plain(z), F.relu(z))


def test_init_properties() -> None:
    torch.manual_seed(0)
    model = ResNet3dSlowOnly(17)
    blocks = [m for m in model.modules() if isinstance(m, Bottleneck3d)]
    assert len(blocks) == 13
    last_bns = {id(b.conv3.bn) for b in blocks}
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            assert torch.all(m.bias == 0)
            assert torch.all(m.weight == (0.0 if id(m) in last_bns else 1.0))
    w = model.layer3[1].conv2.conv.weight  # fan_out = 128 * 1 * 3 * 3
    assert w.std().item() == pytest.approx(math.sqrt(2.0 / (128 * 9)), rel=0.03)
    assert w.mean().abs().item() < 0.002
    stem = model.conv1.conv.weight  # fan_out = 32 * 49
    assert stem.std().item() == pytest.approx(math.sqrt(2.0 / (32 * 49)), rel=0.05)
    plain = ResNet3dSlowOnly(17, **TINY, zero_init_residual=False)
    assert torch.all(plain.layer1[0].conv3.bn.weight == 1)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    model = ResNet3dSlowOnly(17, zero_init_residual=False).train()
    out = model(torch.rand(2, 17, 4, 32, 32))
    (out * torch.randn_like(out)).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


def test_zero_init_blocks_still_train_last_bn() -> None:
    model = ResNet3dSlowOnly(3, **TINY).train()
    out = model(torch.rand(2, 3, 4, 16, 16))
    (out * torch.randn_like(out)).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    assert model.layer2[0].conv3.bn.weight.grad.abs().sum() > 0


def test_channels_last_equals_contiguous() -> None:
    torch.manual_seed(0)
    model = ResNet3dSlowOnly(7, **TINY)
    _randomize_bn(model)
    model.eval()
    x = torch.rand(2, 7, 8, 24, 24)
    with torch.no_grad():
        ref = model(x)
        model_cl = model.to(memory_format=torch.channels_last_3d)
        assert model_cl.conv1.conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
        out = model_cl(x)  # contiguous input is converted
        out2 = model_cl(x.contiguous(memory_format=torch.channels_last_3d))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out2, ref, rtol=1e-4, atol=1e-5)


def test_autocast_bf16_and_low_precision_input() -> None:
    torch.manual_seed(0)
    model = ResNet3dSlowOnly(5, **TINY)
    _randomize_bn(model)
    model.eval()
    x = torch.rand(1, 5, 4, 16, 16)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x.to(torch.bfloat16))
        cast = model(x.to(torch.bfloat16))  # no autocast: cast back to the weights' dtype
    assert low.dtype == torch.bfloat16
    assert cast.dtype == torch.float32
    torch.testing.assert_close(low.float(), ref, rtol=0.1, atol=0.05)
    torch.testing.assert_close(cast, model(x.to(torch.bfloat16).float()).detach())


def test_bad_inputs_and_configs() -> None:
    model = ResNet3dSlowOnly(4, **TINY)
    with pytest.raises(ValueError, match=r"4 channels"):
        model(torch.rand(1, 3, 4, 16, 16))
    with pytest.raises(ValueError, match=r"5-D heatmap volume"):
        model(torch.rand(4, 4, 16, 16))
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        ResNet3dSlowOnly(0)
    with pytest.raises(ValueError, match="stage_blocks"):
        ResNet3dSlowOnly(4, stage_blocks=(1, 0, 1))
    with pytest.raises(ValueError, match=r"temporal_strides must have one entry per stage \(2\)"):
        ResNet3dSlowOnly(4, stage_blocks=(1, 1), spatial_strides=(2, 2), inflate=(0, 1))
    with pytest.raises(ValueError, match="kernel_size must be an int or 3 ints"):
        ConvBN3d(1, 1, (1, 3))


def count_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of the Conv3d layers for one forward pass (meta device, no compute)."""
    total = 0

    def hook(module: nn.Module, _inputs: object, out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module, nn.Conv3d)
        total += out.numel() * module.weight[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv3d)]
    model(torch.empty(shape, device="meta"))
    for h in handles:
        h.remove()
    return total


def test_macs_match_published_posec3d_numbers() -> None:
    model = ResNet3dSlowOnly(17).to("meta")
    assert count_macs(model, (1, 17, 48, 56, 56)) / 1e9 == pytest.approx(15.6, abs=0.05)
    assert count_macs(model, (1, 17, 48, 64, 64)) / 1e9 == pytest.approx(20.4, abs=0.05)
