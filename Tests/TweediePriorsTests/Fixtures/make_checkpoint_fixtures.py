#!/usr/bin/env python3
"""Fixtures for the checkpoint-loading tests (Tests/TweediePriorsTests/Checkpoint*Tests.swift).

Writes small state dicts with known values, as PyTorch wrote them (torch.save,
zip format and legacy format, pickle protocols 2 and 4) and as huggingface
safetensors wrote them, plus deliberately broken files, into
Fixtures/checkpoint/, and `expected.json` with each tensor's shape, stored
dtype and values widened to float64 by torch itself (the oracle the Swift
loader is compared with), and every fixture file's SHA-256 from hashlib.

Run from anywhere (torch 2.13 CPU and safetensors 0.8 were used):
    python3 Tests/TweediePriorsTests/Fixtures/make_checkpoint_fixtures.py
The output is deterministic (fixed seed); the zip archives embed a
serialization id, so the .pt bytes (not their contents) change between runs.
"""
import collections
import hashlib
import io
import json
import os
import pickle
import struct
import zipfile

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "checkpoint")


def state_dict():
    """A small state dict with improved-diffusion parameter names and every case the loader handles.

    The stem tensors are shaped as improved-diffusion's UNetModel with in_channels 3,
    num_channels 4, learn_sigma False (time_embed 4 -> 16 -> 16, input conv 3 -> 4,
    output GroupNorm on 4 channels and conv 4 -> 3), so that the file can be
    imported as a prior with that configuration.
    """
    g = torch.Generator().manual_seed(1234)
    sd = collections.OrderedDict()
    sd["time_embed.0.weight"] = torch.randn(16, 4, generator=g)
    sd["time_embed.0.bias"] = torch.randn(16, generator=g)
    sd["time_embed.2.weight"] = torch.randn(16, 16, generator=g)
    sd["time_embed.2.bias"] = torch.randn(16, generator=g)
    sd["input_blocks.0.0.weight"] = torch.randn(4, 3, 3, 3, generator=g)
    sd["input_blocks.0.0.bias"] = torch.randn(4, generator=g)
    sd["input_blocks.1.0.in_layers.0.weight"] = 1 + 0.1 * torch.randn(4, generator=g)
    # Half and bfloat16 storages (values exactly representable after rounding by torch).
    sd["input_blocks.1.0.in_layers.2.weight"] = torch.randn(4, 4, 3, 3, generator=g).half()
    sd["input_blocks.1.0.emb_layers.1.weight"] = torch.randn(8, 16, generator=g).bfloat16()
    # float16 specials: subnormal, -0, infinities and the largest finite value.
    sd["input_blocks.1.0.out_layers.0.bias"] = torch.tensor(
        [5.96e-08, -0.0, float("inf"), -float("inf"), 65504.0, -2.0, 1.0 / 3.0], dtype=torch.float16)
    sd["input_blocks.1.0.out_layers.3.weight"] = torch.randn(2, 3, generator=g).double()
    # Non-contiguous: a transposed view (strides (1, 5)).
    sd["middle_block.1.qkv.weight"] = torch.randn(5, 6, generator=g).t()
    # A strided slice with a storage offset, sharing its storage with the next tensor.
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10) / 7.0
    sd["middle_block.1.proj_out.weight"] = base[1:5, 2:9:3]
    sd["middle_block.1.norm.weight"] = base[0]
    # A 0-d tensor, an empty tensor and an integer buffer.
    sd["middle_block.2.scale"] = torch.tensor(2.5)
    sd["output_blocks.0.0.empty"] = torch.zeros(0)
    sd["output_blocks.0.0.skip_connection.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    sd["out.0.weight"] = torch.ones(4)
    sd["out.0.bias"] = torch.zeros(4)
    sd["out.2.weight"] = 0.01 * torch.randn(3, 4, 3, 3, generator=g)
    sd["out.2.bias"] = torch.zeros(3)
    return sd


def json_float(v):
    """A float for JSON; non-finite values as the strings "inf", "-inf", "nan" (JSON has no literal)."""
    v = float(v)
    if v != v:
        return "nan"
    if v in (float("inf"), -float("inf")):
        return "inf" if v > 0 else "-inf"
    return v


def expected_entry(t):
    return {
        "shape": list(t.shape),
        "dtype": str(t.dtype).replace("torch.", ""),
        "values": [json_float(v) for v in t.double().flatten().tolist()],
    }


def write_bad_safetensors(good_path):
    """Copies of a good safetensors file whose header lies, each a different way."""
    blob = open(good_path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]

    def emit(name, hdr, payload, length=None):
        text = json.dumps(hdr).encode()
        text += b" " * ((-len(text)) % 8)
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(struct.pack("<Q", len(text) if length is None else length) + text + payload)

    # The shape claims more elements than the byte range holds.
    h = json.loads(json.dumps(header))
    h["time_embed.0.weight"]["shape"] = [16, 5]
    emit("bad_shape_lies.safetensors", h, data)
    # A tensor's range runs past the end of the buffer.
    h = json.loads(json.dumps(header))
    last = max((k for k in h if k != "__metadata__"), key=lambda k: h[k]["data_offsets"][1])
    b, e = h[last]["data_offsets"]
    h[last]["data_offsets"] = [b + 64, e + 64]
    emit("bad_offsets_beyond_file.safetensors", h, data)
    # Two tensors' ranges overlap (the second is moved onto the first).
    h = json.loads(json.dumps(header))
    names = sorted((k for k in h if k != "__metadata__" and h[k]["dtype"] == "F32"),
                   key=lambda k: h[k]["data_offsets"][0])
    a, c = names[0], names[1]
    width = h[c]["data_offsets"][1] - h[c]["data_offsets"][0]
    h[c]["data_offsets"] = [h[a]["data_offsets"][0], h[a]["data_offsets"][0] + width]
    emit("bad_overlap.safetensors", h, data)
    # The header length field is larger than the file.
    emit("bad_header_length.safetensors", header, data, length=len(blob) * 4)
    # The data buffer is cut short (file truncated after the header).
    emit("bad_truncated_data.safetensors", header, data[: len(data) // 2])


def write_big_endian(src_path, dst_path, reference):
    """Re-packs a torch.save zip as a big-endian machine would have written it.

    Every storage record is byte-swapped per element and the byteorder record
    says "big"; torch.load must give back `reference` (checked here).
    """
    sizes = {"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "DoubleStorage": 8, "LongStorage": 8}
    src = zipfile.ZipFile(src_path)
    pkl = [n for n in src.namelist() if n.endswith("data.pkl")][0]
    prefix = pkl[: -len("data.pkl")]
    storage_type = {}

    class StorageTypes(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch" and name.endswith("Storage"):
                return name
            if module == "torch._utils":
                return lambda *args: None
            return super().find_class(module, name)

        def persistent_load(self, pid):
            storage_type[pid[2]] = pid[1]
            return None

    StorageTypes(io.BytesIO(src.read(pkl))).load()
    # Written through a file object, as improved-diffusion's checkpoints were: the records are under "archive/".
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            name = "archive/" + info.filename[len(prefix):]
            if info.filename == prefix + "byteorder":
                data = b"big"
            elif info.filename.startswith(prefix + "data/"):
                size = sizes[storage_type[info.filename[len(prefix + "data/"):]]]
                data = b"".join(data[i:i + size][::-1] for i in range(0, len(data), size))
            dst.writestr(name, data)
    with open(dst_path, "wb") as f:
        f.write(buf.getvalue())
    back = torch.load(dst_path)
    for k, v in reference.items():
        assert back[k].shape == v.shape and back[k].dtype == v.dtype, k
        assert torch.equal(back[k].double().nan_to_num(), v.double().nan_to_num()), k


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = state_dict()
    files = {}

    def save(name, obj, **kw):
        path = os.path.join(OUT, name)
        torch.save(obj, path, **kw)
        files[name] = path

    save("plain.pt", sd)
    save("plain_protocol4.pt", sd, pickle_protocol=4)
    save("legacy.pt", sd, _use_new_zipfile_serialization=False)
    # A training checkpoint wrapping the state dict (the loader must pick "state_dict").
    save("wrapped.pt", {"state_dict": sd, "step": 525000, "args": {"lr": 1e-4, "batch_size": 8}})
    # Both a raw model and an EMA copy: the loader prefers "ema".
    ema = collections.OrderedDict((k, v.clone() if v.dtype.is_floating_point else v) for k, v in sd.items())
    ema["time_embed.0.bias"] = ema["time_embed.0.bias"] * 0 + 0.5
    save("model_and_ema.pt", {"model": sd, "ema": ema, "opt": {"state": {}, "param_groups": []}})
    # nn.Parameter values (torch._utils._rebuild_parameter) as a module's own state dict with keep_vars.
    conv = torch.nn.Conv2d(2, 3, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(54, dtype=torch.float32).reshape(3, 2, 3, 3) / 10)
        conv.bias.copy_(torch.tensor([1.0, -1.0, 0.25]))
    save("parameters.pt", conv.state_dict(keep_vars=True))

    # Finite float tensors only (no specials, no integer buffer): importable as a prior with
    # in_channels 3, num_channels 4, learn_sigma False.
    importable = collections.OrderedDict(
        (k, v) for k, v in sd.items()
        if v.dtype.is_floating_point and bool(torch.isfinite(v).all()) and v.numel() > 0)
    save("importable.pt", importable)

    # Big-endian storages under an "archive/" prefix, checked by torch.load.
    write_big_endian(files["plain.pt"], os.path.join(OUT, "big_endian.pt"), sd)
    files["big_endian.pt"] = os.path.join(OUT, "big_endian.pt")

    # The same archive re-packed with DEFLATE compression (torch itself stores entries uncompressed).
    deflated = os.path.join(OUT, "deflated.pt")
    with zipfile.ZipFile(files["plain.pt"]) as src, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    files["deflated.pt"] = deflated

    # ZIP64 records (as for checkpoints over 4 GiB): zipfile is made to treat every size and
    # offset above 64 bytes as needing ZIP64 fields and end records; torch.load must agree.
    limit = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 64
    try:
        with zipfile.ZipFile(files["plain.pt"]) as src, zipfile.ZipFile(os.path.join(OUT, "zip64.pt"), "w") as dst:
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info.filename))
    finally:
        zipfile.ZIP64_LIMIT = limit
    back = torch.load(os.path.join(OUT, "zip64.pt"))
    assert all(torch.equal(back[k].double().nan_to_num(), v.double().nan_to_num()) for k, v in sd.items())

    # Safetensors needs contiguous, non-shared tensors.
    contiguous = collections.OrderedDict((k, v.contiguous().clone()) for k, v in sd.items())
    st = os.path.join(OUT, "plain.safetensors")
    save_file(contiguous, st, metadata={"source": "make_checkpoint_fixtures.py", "format": "pt"})
    files["plain.safetensors"] = st
    write_bad_safetensors(st)

    # Not a checkpoint at all.
    with open(os.path.join(OUT, "not_a_checkpoint.pt"), "w") as f:
        f.write("This is a text file, not a PyTorch checkpoint.\n" * 4)

    expected = {
        "generator": "make_checkpoint_fixtures.py",
        "torch_version": torch.__version__,
        "tensors": {k: expected_entry(v) for k, v in sd.items()},
        "ema_time_embed_0_bias": [float(v) for v in ema["time_embed.0.bias"].double().tolist()],
        "parameters_pt": {k: expected_entry(v.detach()) for k, v in conv.state_dict().items()},
        "importable_pt": {k: expected_entry(v) for k, v in importable.items()},
        "sha256": {},
    }
    for name in sorted(os.listdir(OUT)):
        if name == "expected.json":
            continue
        with open(os.path.join(OUT, name), "rb") as f:
            expected["sha256"][name] = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
