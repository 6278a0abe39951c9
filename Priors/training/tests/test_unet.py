# Priors/training/unet.py against the architecture facts of DESIGN §4.3 (pytest, CPU, seconds).
# Oracles: the parameter count of the seed paper's checkpoint (369,547,779), openai's parameter
# names, closed forms (timestep embedding, GroupNorm, attention written out by hand).

import math

import pytest
import torch

import unet


def test_seed_paper_parameter_count():
    with torch.device("meta"):
        m = unet.from_config(unet.seed_paper_config(learn_sigma=False))
    assert unet.parameter_count(m) == 369_547_779
    names = set(m.state_dict().keys())
    for n in ["time_embed.0.weight", "time_embed.2.bias", "input_blocks.0.0.weight",
              "input_blocks.1.0.in_layers.0.weight", "input_blocks.1.0.in_layers.2.weight",
              "input_blocks.1.0.emb_layers.1.weight", "input_blocks.1.0.out_layers.0.bias",
              "input_blocks.1.0.out_layers.3.weight", "input_blocks.4.0.op.weight",
              "input_blocks.17.1.qkv.weight", "input_blocks.17.1.proj_out.weight", "input_blocks.17.1.norm.weight",
              "middle_block.0.in_layers.0.weight", "middle_block.1.qkv.bias", "middle_block.2.out_layers.3.bias",
              "output_blocks.3.2.conv.weight", "output_blocks.0.0.skip_connection.weight",
              "out.0.weight", "out.2.weight"]:
        assert n in names, n
    assert tuple(m.state_dict()["input_blocks.17.1.qkv.weight"].shape) == (2304, 768, 1)
    assert tuple(m.state_dict()["input_blocks.1.0.emb_layers.1.weight"].shape) == (384, 768)  # scale-shift: 2×out


def test_timestep_embedding_closed_form():
    t = torch.tensor([0, 3, 999])
    e = unet.timestep_embedding(t, 8)
    for b, tb in enumerate(t.tolist()):
        for i in range(4):
            f = math.exp(-math.log(10000) * i / 4)
            assert abs(e[b, i].item() - math.cos(tb * f)) < 1e-4          # cos first
            assert abs(e[b, 4 + i].item() - math.sin(tb * f)) < 1e-4


def test_attention_orders_against_hand_written_formula():
    torch.manual_seed(0)
    c, heads, t = 64, 4, 6
    for new_order in (False, True):
        block = unet.AttentionBlock(c, num_heads=heads, use_new_attention_order=new_order).double()
        for p in block.parameters():
            torch.nn.init.normal_(p, std=0.2)
        x = torch.randn(2, c, 2, 3, dtype=torch.float64)
        y = block(x)
        # By hand: GN, qkv, heads split per order, softmax(q·k/√ch) v, proj, residual.
        xf = x.reshape(2, c, t)
        qkv = block.qkv(block.norm(xf))
        ch = c // heads
        out = torch.zeros(2, c, t, dtype=torch.float64)
        for b in range(2):
            for h in range(heads):
                if new_order:
                    q, k, v = (qkv[b, h * ch:(h + 1) * ch], qkv[b, c + h * ch:c + (h + 1) * ch],
                               qkv[b, 2 * c + h * ch:2 * c + (h + 1) * ch])
                else:
                    base = h * 3 * ch
                    q, k, v = qkv[b, base:base + ch], qkv[b, base + ch:base + 2 * ch], qkv[b, base + 2 * ch:base + 3 * ch]
                w = torch.softmax(q.T @ k / math.sqrt(ch), dim=-1)   # [t, s]
                out[b, h * ch:(h + 1) * ch] = v @ w.T
        ref = xf + block.proj_out(out)
        assert torch.allclose(y.reshape(2, c, t), ref, atol=1e-10), new_order


def test_scale_shift_and_learn_sigma_shapes():
    cfg = {"architecture": "guided-diffusion", "image_size": 16, "in_channels": 2, "num_channels": 32,
           "num_res_blocks": 1, "channel_mult": [1, 2], "attention_resolutions": [8], "num_head_channels": 16,
           "resblock_updown": True, "use_new_attention_order": True, "learn_sigma": True,
           "use_scale_shift_norm": True}
    m = unet.from_config(cfg).eval()
    y = m(torch.randn(3, 2, 16, 16), torch.tensor([1, 2, 3]))
    assert y.shape == (3, 4, 16, 16)
    assert "input_blocks.2.0.in_layers.0.weight" in m.state_dict()       # the down ResBlock
    assert "output_blocks.1.2.in_layers.0.weight" in m.state_dict()      # the up ResBlock (after attention .1)
    assert "output_blocks.1.1.qkv.weight" in m.state_dict()


def test_improved_diffusion_rejects_guided_options():
    with pytest.raises(ValueError):
        unet.from_config({"image_size": 16, "num_channels": 32, "num_res_blocks": 1, "resblock_updown": True})


def test_gradient_checkpointing_gives_the_same_gradients():
    cfg = {"image_size": 8, "in_channels": 1, "num_channels": 32, "num_res_blocks": 1, "channel_mult": [1, 2],
           "attention_resolutions": [4], "num_heads": 2}
    torch.manual_seed(1)
    a = unet.from_config(cfg)
    b = unet.from_config(dict(cfg, use_checkpoint=True))
    b.load_state_dict(a.state_dict())
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([3, 4])
    for m in (a, b):
        m.train()
        m.zero_grad()
        (m(x, t) ** 2).sum().backward()
    for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        if pa.grad is not None:
            assert torch.allclose(pa.grad, pb.grad, atol=1e-6), n
