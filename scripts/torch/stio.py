"""Minimal safetensors reader/writer for the project's PyTorch scripts.

Debian's python3-torch (1.13) ships without the `safetensors` package, so the
parity scripts read and write the format themselves: an 8-byte little-endian
header length, a JSON header {name: {dtype, shape, data_offsets}} (plus an
optional "__metadata__" of strings), then the raw little-endian data. The Go
side is engine/nn/safetensors.go; both follow the format's public definition.
"""
import json
import struct

import torch

_DTYPES = {
    "F32": torch.float32, "F64": torch.float64, "F16": torch.float16,
    "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
    "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def load(path):
    """Returns ({name: tensor}, metadata dict) read from a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: no 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        lo, hi = e["data_offsets"]
        dt = _DTYPES[e["dtype"]]
        buf = bytearray(data[lo:hi])
        t = torch.frombuffer(buf, dtype=dt) if hi > lo else torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def save(path, tensors, metadata=None):
    """Writes {name: tensor} (contiguous, little-endian) to path."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks, off = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        b = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in chunks:
            f.write(b)
    import os
    os.replace(path + ".tmp", path)
