"""A PyTorch U-Net with the architecture and parameter names of openai
improved-diffusion's and guided-diffusion's ``UNetModel`` (no class
conditioning), written from the architecture facts in DESIGN §4.3.

Used by the training pipeline (Priors/training/) and by the parity fixtures
(Tests/TweediePriorsTests/Fixtures/make_unet_fixtures.py); the Swift U-Net in
Priors/UNet/ loads its ``state_dict()`` unchanged.

Architecture facts (both code bases):
- GroupNorm with 32 groups, eps 1e-5, computed in float32; SiLU activations.
- Sinusoidal timestep embedding of width ``model_channels``:
  ``[cos(t f_i), sin(t f_i)]``, ``f_i = exp(-ln(1e4) i / (C/2))``, cos first,
  then ``time_embed`` = Linear(C, 4C), SiLU, Linear(4C, 4C).
- ResBlock: ``in_layers`` = GN, SiLU, conv3x3; ``emb_layers`` = SiLU, Linear
  (2*out for scale-shift norm, scale first); ``out_layers`` = GN, SiLU,
  Dropout, conv3x3 (zero-initialised); scale-shift: ``GN(h)*(1+scale)+shift``
  before the SiLU, otherwise ``h + emb`` before ``out_layers``; skip is the
  identity or a 1x1 conv. guided-diffusion's up/down ResBlocks resample after
  the in_layers' SiLU (h) and the block input (x) with nearest x2 / 2x2 average
  pooling, then apply the in_layers conv.
- AttentionBlock: ``norm`` (GN), ``qkv`` = Conv1d(C, 3C, 1), ``proj_out`` =
  Conv1d(C, C, 1) (zero-initialised), residual. Legacy order
  (improved-diffusion) splits heads first, then q/k/v within each head's
  3*ch rows; the new order (guided-diffusion) splits q/k/v first, then heads.
  q and k are each scaled by ch^(-1/4); softmax over keys.
- Upsample: nearest x2 then conv3x3 (``conv``); Downsample: stride-2 conv3x3
  with padding 1 (``op``) or 2x2 average pooling when conv_resample is False.
- The network: ``input_blocks`` (conv, then per level num_res_blocks
  ResBlock[+Attention], then a Downsample except at the last level),
  ``middle_block`` (ResBlock, Attention, ResBlock), ``output_blocks`` (per level
  in reverse, num_res_blocks+1 ResBlock[+Attention] fed with the channel
  concatenation [h, skip], Upsample after the last one except at level 0),
  ``out`` = GN, SiLU, conv3x3 (zero-initialised). Attention sits where the
  downsample factor ds is in ``attention_resolutions`` (a set of ds values,
  as UNetModel takes it; the flags give image sizes: ds = image_size // res).
- learn_sigma doubles the output channels (ε then the variance interpolation).

Parameter count of the seed paper's checkpoint (``ema_0.9999_525k.pt``,
improved-diffusion, 256 px, 3 channels, num_channels 192, num_res_blocks 3,
channel_mult 1,1,2,2,4,4, attention at 16 and 8 -> ds {16, 32}, 4 heads,
scale-shift norm): 369,547,779 parameters with learn_sigma=False (it predicts
ε only); learn_sigma=True would give 369,552,966 (``python3 unet.py`` prints
both; Tests/TweediePriorsTests/UNetParityTests.swift checks the Swift count).
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint


# ----------------------------------------------------------------------------
# Building blocks


_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 → float32 (as the openai code computes norms and softmax); float32/64 unchanged."""
    return x.float() if x.dtype in _LOW_PRECISION else x


class GroupNorm32(nn.GroupNorm):
    """GroupNorm(32 groups, eps 1e-5), evaluated in at least float32."""

    def __init__(self, channels: int):
        super().__init__(32, channels, eps=1e-5)

    def forward(self, x):
        return super().forward(_at_least_float32(x)).type(x.dtype)


def zero_module(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        p.detach().zero_()
    return module


def conv_nd(dims: int, *args, **kwargs) -> nn.Module:
    if dims == 1:
        return nn.Conv1d(*args, **kwargs)
    if dims == 2:
        return nn.Conv2d(*args, **kwargs)
    if dims == 3:
        return nn.Conv3d(*args, **kwargs)
    raise ValueError(f"unsupported dims {dims}")


def avg_pool_nd(dims: int, *args, **kwargs) -> nn.Module:
    return {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}[dims](*args, **kwargs)


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: int = 10000) -> torch.Tensor:
    """[cos(t f_i), sin(t f_i)] with f_i = exp(-ln(max_period) i / half), i < half = dim // 2;
    a zero column is appended when dim is odd. Float32 throughout."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = timesteps[:, None].float() * freqs[None].to(timesteps.device)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class TimestepBlock(nn.Module):
    """A module whose forward takes the timestep embedding as a second argument."""

    def forward(self, x, emb):  # pragma: no cover - interface
        raise NotImplementedError


class TimestepEmbedSequential(nn.Sequential, TimestepBlock):
    """Sequential that passes the embedding to the children that take one."""

    def forward(self, x, emb):
        for layer in self:
            x = layer(x, emb) if isinstance(layer, TimestepBlock) else layer(x)
        return x


class Upsample(nn.Module):
    """Nearest-neighbour x2 (spatial axes), then optionally a 3x3 conv named ``conv``."""

    def __init__(self, channels: int, use_conv: bool, dims: int = 2, out_channels: Optional[int] = None):
        super().__init__()
        self.channels = channels
        self.out_channels = out_channels or channels
        self.use_conv = use_conv
        self.dims = dims
        if use_conv:
            self.conv = conv_nd(dims, channels, self.out_channels, 3, padding=1)

    def forward(self, x):
        assert x.shape[1] == self.channels
        if self.dims == 3:
            x = F.interpolate(x, (x.shape[2], x.shape[3] * 2, x.shape[4] * 2), mode="nearest")
        else:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(x) if self.use_conv else x


class Downsample(nn.Module):
    """A stride-2 3x3 conv with padding 1 named ``op``, or 2x2 average pooling (also ``op``)."""

    def __init__(self, channels: int, use_conv: bool, dims: int = 2, out_channels: Optional[int] = None):
        super().__init__()
        self.channels = channels
        self.out_channels = out_channels or channels
        self.use_conv = use_conv
        stride = 2 if dims != 3 else (1, 2, 2)
        if use_conv:
            self.op = conv_nd(dims, channels, self.out_channels, 3, stride=stride, padding=1)
        else:
            assert self.channels == self.out_channels
            self.op = avg_pool_nd(dims, kernel_size=stride, stride=stride)

    def forward(self, x):
        assert x.shape[1] == self.channels
        return self.op(x)


class ResBlock(TimestepBlock):
    """Residual block conditioned on the timestep embedding (see the module docstring)."""

    def __init__(self, channels: int, emb_channels: int, dropout: float, out_channels: Optional[int] = None,
                 use_conv: bool = False, use_scale_shift_norm: bool = False, dims: int = 2,
                 up: bool = False, down: bool = False):
        super().__init__()
        self.channels = channels
        self.out_channels = out_channels or channels
        self.use_scale_shift_norm = use_scale_shift_norm
        self.in_layers = nn.Sequential(
            GroupNorm32(channels),
            nn.SiLU(),
            conv_nd(dims, channels, self.out_channels, 3, padding=1),
        )
        self.updown = up or down
        if up:
            self.h_upd = Upsample(channels, False, dims)
            self.x_upd = Upsample(channels, False, dims)
        elif down:
            self.h_upd = Downsample(channels, False, dims)
            self.x_upd = Downsample(channels, False, dims)
        else:
            self.h_upd = self.x_upd = nn.Identity()
        self.emb_layers = nn.Sequential(
            nn.SiLU(),
            nn.Linear(emb_channels, 2 * self.out_channels if use_scale_shift_norm else self.out_channels),
        )
        self.out_layers = nn.Sequential(
            GroupNorm32(self.out_channels),
            nn.SiLU(),
            nn.Dropout(p=dropout),
            zero_module(conv_nd(dims, self.out_channels, self.out_channels, 3, padding=1)),
        )
        if self.out_channels == channels:
            self.skip_connection = nn.Identity()
        elif use_conv:
            self.skip_connection = conv_nd(dims, channels, self.out_channels, 3, padding=1)
        else:
            self.skip_connection = conv_nd(dims, channels, self.out_channels, 1)

    def forward(self, x, emb):
        if self.updown:
            h = self.in_layers[1](self.in_layers[0](x))
            h = self.h_upd(h)
            x = self.x_upd(x)
            h = self.in_layers[2](h)
        else:
            h = self.in_layers(x)
        e = self.emb_layers(emb).type(h.dtype)
        while e.dim() < h.dim():
            e = e[..., None]
        if self.use_scale_shift_norm:
            scale, shift = torch.chunk(e, 2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            for layer in self.out_layers[1:]:
                h = layer(h)
        else:
            h = self.out_layers(h + e)
        return self.skip_connection(x) + h


def _attention_legacy(qkv: torch.Tensor, heads: int) -> torch.Tensor:
    """Heads first: qkv [B, 3C, T] -> [B*heads, 3ch, T] -> q, k, v of ch rows each."""
    b, width, length = qkv.shape
    ch = width // (3 * heads)
    q, k, v = qkv.reshape(b * heads, 3 * ch, length).split(ch, dim=1)
    scale = 1.0 / math.sqrt(math.sqrt(ch))
    w = torch.einsum("bct,bcs->bts", q * scale, k * scale)
    w = torch.softmax(_at_least_float32(w), dim=-1).type(w.dtype)
    return torch.einsum("bts,bcs->bct", w, v).reshape(b, heads * ch, length)


def _attention_new_order(qkv: torch.Tensor, heads: int) -> torch.Tensor:
    """q/k/v first: qkv [B, 3C, T] -> q, k, v [B, C, T], each viewed as [B*heads, ch, T]."""
    b, width, length = qkv.shape
    ch = width // (3 * heads)
    q, k, v = qkv.chunk(3, dim=1)
    scale = 1.0 / math.sqrt(math.sqrt(ch))
    w = torch.einsum("bct,bcs->bts", (q * scale).reshape(b * heads, ch, length),
                     (k * scale).reshape(b * heads, ch, length))
    w = torch.softmax(_at_least_float32(w), dim=-1).type(w.dtype)
    return torch.einsum("bts,bcs->bct", w, v.reshape(b * heads, ch, length)).reshape(b, heads * ch, length)


class AttentionBlock(nn.Module):
    """Self-attention over all spatial positions, with a residual connection."""

    def __init__(self, channels: int, num_heads: int = 1, num_head_channels: int = -1,
                 use_new_attention_order: bool = False):
        super().__init__()
        self.channels = channels
        if num_head_channels == -1:
            self.num_heads = num_heads
        else:
            assert channels % num_head_channels == 0, \
                f"channels {channels} not divisible by num_head_channels {num_head_channels}"
            self.num_heads = channels // num_head_channels
        assert channels % self.num_heads == 0
        self.use_new_attention_order = use_new_attention_order
        self.norm = GroupNorm32(channels)
        self.qkv = conv_nd(1, channels, channels * 3, 1)
        self.proj_out = zero_module(conv_nd(1, channels, channels, 1))

    def forward(self, x):
        b, c, *spatial = x.shape
        x = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(x))
        if self.use_new_attention_order:
            h = _attention_new_order(qkv, self.num_heads)
        else:
            h = _attention_legacy(qkv, self.num_heads)
        h = self.proj_out(h)
        return (x + h).reshape(b, c, *spatial)


# ----------------------------------------------------------------------------
# The network


class UNetModel(nn.Module):
    """U-Net with openai improved-/guided-diffusion's UNetModel constructor (no class conditioning).

    attention_resolutions: the downsample factors ds (1, 2, 4, ...) at which attention blocks sit.
    """

    def __init__(self, in_channels: int, model_channels: int, out_channels: int, num_res_blocks: int,
                 attention_resolutions: Iterable[int], dropout: float = 0.0,
                 channel_mult: Sequence[int] = (1, 2, 4, 8), conv_resample: bool = True, dims: int = 2,
                 num_heads: int = 1, num_head_channels: int = -1, num_heads_upsample: int = -1,
                 use_scale_shift_norm: bool = False, resblock_updown: bool = False,
                 use_new_attention_order: bool = False, image_size: Optional[int] = None,
                 use_checkpoint: bool = False, num_classes: Optional[int] = None):
        super().__init__()
        if num_classes is not None:
            raise ValueError("class-conditional UNetModel (num_classes) is not supported")
        if num_heads_upsample == -1:
            num_heads_upsample = num_heads
        self.image_size = image_size
        self.in_channels = in_channels
        self.model_channels = model_channels
        self.out_channels = out_channels
        self.num_res_blocks = num_res_blocks
        self.attention_resolutions = set(attention_resolutions)
        self.dropout = dropout
        self.channel_mult = tuple(channel_mult)
        self.num_heads = num_heads
        self.num_head_channels = num_head_channels
        self.num_heads_upsample = num_heads_upsample
        self.use_checkpoint = use_checkpoint

        emb_dim = model_channels * 4
        self.time_embed = nn.Sequential(
            nn.Linear(model_channels, emb_dim),
            nn.SiLU(),
            nn.Linear(emb_dim, emb_dim),
        )

        def attention(ch: int, heads: int) -> AttentionBlock:
            return AttentionBlock(ch, num_heads=heads, num_head_channels=num_head_channels,
                                  use_new_attention_order=use_new_attention_order)

        ch = int(channel_mult[0] * model_channels)
        self.input_blocks = nn.ModuleList([TimestepEmbedSequential(conv_nd(dims, in_channels, ch, 3, padding=1))])
        skip_channels = [ch]
        ds = 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers = [ResBlock(ch, emb_dim, dropout, out_channels=int(mult * model_channels), dims=dims,
                                   use_scale_shift_norm=use_scale_shift_norm)]
                ch = int(mult * model_channels)
                if ds in self.attention_resolutions:
                    layers.append(attention(ch, num_heads))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                skip_channels.append(ch)
            if level != len(channel_mult) - 1:
                if resblock_updown:
                    down = ResBlock(ch, emb_dim, dropout, out_channels=ch, dims=dims,
                                    use_scale_shift_norm=use_scale_shift_norm, down=True)
                else:
                    down = Downsample(ch, conv_resample, dims=dims, out_channels=ch)
                self.input_blocks.append(TimestepEmbedSequential(down))
                skip_channels.append(ch)
                ds *= 2

        self.middle_block = TimestepEmbedSequential(
            ResBlock(ch, emb_dim, dropout, dims=dims, use_scale_shift_norm=use_scale_shift_norm),
            attention(ch, num_heads),
            ResBlock(ch, emb_dim, dropout, dims=dims, use_scale_shift_norm=use_scale_shift_norm),
        )

        self.output_blocks = nn.ModuleList([])
        for level, mult in list(enumerate(channel_mult))[::-1]:
            for i in range(num_res_blocks + 1):
                layers = [ResBlock(ch + skip_channels.pop(), emb_dim, dropout,
                                   out_channels=int(model_channels * mult), dims=dims,
                                   use_scale_shift_norm=use_scale_shift_norm)]
                ch = int(model_channels * mult)
                if ds in self.attention_resolutions:
                    layers.append(attention(ch, num_heads_upsample))
                if level and i == num_res_blocks:
                    if resblock_updown:
                        layers.append(ResBlock(ch, emb_dim, dropout, out_channels=ch, dims=dims,
                                               use_scale_shift_norm=use_scale_shift_norm, up=True))
                    else:
                        layers.append(Upsample(ch, conv_resample, dims=dims, out_channels=ch))
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))

        self.out = nn.Sequential(
            GroupNorm32(ch),
            nn.SiLU(),
            zero_module(conv_nd(dims, ch, out_channels, 3, padding=1)),
        )

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        # The sinusoids are computed in float32 (as openai's code does), then cast to the MLP's dtype.
        emb = self.time_embed(timestep_embedding(timesteps, self.model_channels).to(self.time_embed[0].weight.dtype))

        def run(block, h):
            # Gradient checkpointing (use_checkpoint): recompute the block in the backward pass.
            if self.use_checkpoint and self.training and torch.is_grad_enabled():
                return torch.utils.checkpoint.checkpoint(block, h, emb, use_reentrant=False)
            return block(h, emb)

        skips = []
        h = x
        for block in self.input_blocks:
            h = run(block, h)
            skips.append(h)
        h = run(self.middle_block, h)
        for block in self.output_blocks:
            h = run(block, torch.cat([h, skips.pop()], dim=1))
        return self.out(h)

    @staticmethod
    def from_config(cfg: dict) -> "UNetModel":
        """Builds the network from a config using the flag names of Priors/UNet/UNetConfig.swift
        (improved-diffusion's script_util flags plus guided-diffusion's additions and
        ``architecture``). Lists may be JSON arrays or "16,8" strings; defaults are
        improved-diffusion's (and the Swift decoder's)."""

        def int_list(value) -> list:
            if value is None:
                return []
            if isinstance(value, str):
                return [int(p) for p in value.split(",") if p.strip()]
            return [int(v) for v in value]

        image_size = int(cfg["image_size"])
        in_channels = int(cfg.get("in_channels", 3))
        mult = int_list(cfg.get("channel_mult"))
        if not mult:
            mult = {512: [1, 1, 2, 2, 4, 4], 256: [1, 1, 2, 2, 4, 4], 128: [1, 1, 2, 3, 4],
                    64: [1, 2, 3, 4], 32: [1, 2, 2, 2]}.get(image_size, [1, 2, 2, 2])
        attention = int_list(cfg.get("attention_resolutions", "16,8"))
        learn_sigma = bool(cfg.get("learn_sigma", False))
        arch = cfg.get("architecture", "improved-diffusion")
        if arch not in ("improved-diffusion", "guided-diffusion"):
            raise ValueError(f"architecture must be improved-diffusion or guided-diffusion, got {arch!r}")
        if arch == "improved-diffusion":
            # The same rules as UNetConfig.validate() in Swift, so that every trained prior loads there.
            if mult[0] != 1:
                raise ValueError("improved-diffusion's UNetModel needs channel_mult[0] = 1; use guided-diffusion")
            if (bool(cfg.get("resblock_updown", False)) or bool(cfg.get("use_new_attention_order", False))
                    or int(cfg.get("num_head_channels", -1)) != -1):
                raise ValueError("resblock_updown, use_new_attention_order and num_head_channels are "
                                 "guided-diffusion options; set architecture to guided-diffusion")
        return UNetModel(
            in_channels=in_channels,
            model_channels=int(cfg["num_channels"]),
            out_channels=2 * in_channels if learn_sigma else in_channels,
            num_res_blocks=int(cfg["num_res_blocks"]),
            attention_resolutions={image_size // r for r in attention},
            dropout=float(cfg.get("dropout", 0.0)),
            channel_mult=tuple(mult),
            num_heads=int(cfg.get("num_heads", 4)),
            num_head_channels=int(cfg.get("num_head_channels", -1)),
            num_heads_upsample=int(cfg.get("num_heads_upsample", -1)),
            use_scale_shift_norm=bool(cfg.get("use_scale_shift_norm", True)),
            resblock_updown=bool(cfg.get("resblock_updown", False)),
            use_new_attention_order=bool(cfg.get("use_new_attention_order", False)),
            image_size=image_size,
            use_checkpoint=bool(cfg.get("use_checkpoint", False)),
        )


def from_config(cfg: dict) -> "UNetModel":
    """Module-level alias of UNetModel.from_config."""
    return UNetModel.from_config(cfg)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def seed_paper_config(learn_sigma: bool) -> dict:
    """The seed paper's prior (DESIGN §4.3) as improved-diffusion flags."""
    return {"architecture": "improved-diffusion", "image_size": 256, "in_channels": 3, "num_channels": 192,
            "num_res_blocks": 3, "channel_mult": "1,1,2,2,4,4", "attention_resolutions": "16,8",
            "num_heads": 4, "use_scale_shift_norm": True, "learn_sigma": learn_sigma,
            "noise_schedule": "cosine", "diffusion_steps": 1000}


if __name__ == "__main__":
    # Prints the parameter counts of the seed paper's configuration (meta device: no memory used).
    with torch.device("meta"):
        for ls in (False, True):
            print(f"learn_sigma={ls}: {parameter_count(UNetModel.from_config(seed_paper_config(ls))):,}")
