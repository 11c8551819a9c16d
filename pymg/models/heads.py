"""Classification heads for 3D-CNN features: PYSKL/mmaction2 ``I3DHead`` + an embedding branch."""

from __future__ import annotations

from torch import Tensor, nn

from pymg.checks import check_int
from pymg.models.interface import ModelOutput

__all__ = ["I3DHead"]


class I3DHead(nn.Module):
    """Global average pool -> dropout -> linear classifier, with an optional embedding branch.

    With ``embed_dim`` the head also projects the pooled feature, taken BEFORE dropout, with
    ``embed = Linear(in_channels, D)``; the semantic embedding loss (Li et al. 2023) regresses it
    onto a text embedding of the label. It is unused at test time.

    Parameter names follow PYSKL (``fc_cls.weight``, ``fc_cls.bias``); the extra branch is
    ``embed.weight``, ``embed.bias`` (the same name as :class:`pymg.models.stgcn.GCNHead`).

    Args:
        in_channels: feature channels ``C`` (512 for the PoseC3D backbone).
        num_classes: ``K``.
        dropout: dropout probability before ``fc_cls`` (0 disables it).
        embed_dim: ``D`` of the embedding branch, or None for none.
        init_std: std of the normal init of ``fc_cls.weight`` (bias 0).

    Shape:
        - x: ``[N, C, T, H, W]`` feature volume, or an already pooled ``[N, C]``
        - output: ``ModelOutput(logits [N, K], embedding [N, D] or None)``
    """

    def __init__(
        self,
        in_channels: int = 512,
        num_classes: int = 32,
        dropout: float = 0.5,
        embed_dim: int | None = None,
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes)):
            check_int(value, name, minimum=1, expected="a positive int")
        check_int(
            embed_dim, "embed_dim", minimum=1, none_ok=True, expected="a positive int or None"
        )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.dropout: nn.Module = nn.Dropout(p=float(dropout)) if dropout > 0 else nn.Identity()
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.embed: nn.Linear | None = (
            nn.Linear(in_channels, embed_dim) if embed_dim is not None else None
        )
        nn.init.normal_(self.fc_cls.weight, std=init_std)
        nn.init.zeros_(self.fc_cls.bias)
        if self.embed is not None:  # the recipe's init of the embedding layer
            nn.init.normal_(self.embed.weight, std=0.01)
            nn.init.zeros_(self.embed.bias)

    def pool(self, x: Tensor) -> Tensor:
        """Global average pool: ``[N, C, T, H, W]`` (or ``[N, C]``) -> ``[N, C]``."""
        if x.dim() == 5:
            return self.avg_pool(x).flatten(1)
        if x.dim() == 2:
            return x
        raise ValueError(f"x must be [N, C, T, H, W] or [N, C], got shape {tuple(x.shape)}")

    def forward(self, x: Tensor) -> ModelOutput:
        """``ModelOutput(logits [N, K], embedding [N, D] or None)`` (None without ``embed_dim``)."""
        feat = self.pool(x)
        if feat.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have {self.in_channels} channels (dim 1), got shape {tuple(x.shape)}"
            )
        embedding = None if self.embed is None else self.embed(feat)
        return ModelOutput(self.fc_cls(self.dropout(feat)), embedding)
