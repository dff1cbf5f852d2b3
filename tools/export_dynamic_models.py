#!/usr/bin/env python3
"""Export the dynamic-shape test models in tests/models/dynamic/ with PyTorch's current
ONNX exporter (torch.onnx.export(..., dynamo=True, dynamic_shapes=...)).

The committed files were made by this script with torch 2.15.0 (the PyPI wheel, run on the
CPU), onnxscript 0.7.2, onnx 1.23.2 and onnxruntime 1.32.0 (the versions are written to
tests/models/dynamic/VERSIONS.txt on every run). The test command does not need torch:
it only reads the committed model.onnx files and test_data_set_K references.

How to run (torch is NOT a dependency of the project; use a separate virtual env):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch onnx onnxruntime onnxscript numpy
    /tmp/torchvenv/bin/python tools/export_dynamic_models.py            # all models
    /tmp/torchvenv/bin/python tools/export_dynamic_models.py tiny_cnn   # a subset

Each model is written in the ONNX backend-test layout

    tests/models/dynamic/NAME/model.onnx
    tests/models/dynamic/NAME/test_data_set_K/input_J.pb, output_J.pb

with two data sets at two different sizes (one compiled program must run both). The
references are onnxruntime's outputs on the exported model; the script also checks that
they match torch's eager forward pass within 1e-4 and refuses to write anything otherwise.
Weights come from fixed seeds, so a re-run with the same versions gives the same files.

Models (all float32, eval mode, dropout 0):
  tiny_transformer  int64 ids [batch, seq] -> Embedding(64, 32) + 2 x
                    nn.TransformerEncoderLayer(d_model 32, 4 heads, ff 64, batch_first)
                    -> Linear(32, 10): logits [batch, seq, 10]
  tiny_cnn          float [N, 3, H, W] -> (Conv3x3-BN-ReLU) x3, the second with stride 2,
                    a MaxPool 2x2 after it, AdaptiveAvgPool2d(1), Flatten, Linear(16, 10)
  tiny_gpt_block    int64 ids [batch, seq] -> token + position (arange(seq)) embeddings,
                    a pre-norm causal self-attention block whose mask is
                    torch.triu(ones(seq, seq), 1) built at run time, an MLP, a vocab head
"""
import argparse
import math
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "tests", "models", "dynamic")
TOL = 1e-4


class TinyTransformer(nn.Module):
    def __init__(self, vocab=64, d=32, heads=4, ff=64, layers=2, classes=10):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        # A plain ModuleList (not nn.TransformerEncoder) so no nested-tensor fast path.
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(d, heads, dim_feedforward=ff, dropout=0.0,
                                       batch_first=True) for _ in range(layers)])
        self.head = nn.Linear(d, classes)

    def forward(self, ids):
        x = self.tok(ids)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


class TinyCNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()

        def cbr(cin, cout, stride):
            return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                    nn.BatchNorm2d(cout), nn.ReLU()]
        self.features = nn.Sequential(*cbr(3, 8, 1), *cbr(8, 16, 2), nn.MaxPool2d(2),
                                      *cbr(16, 16, 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(self.flat(self.pool(self.features(x))))


class CausalSelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (z.reshape(b, t, self.h, d // self.h).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.h)
        # The mask's shape comes from the sequence length: computed while the model runs.
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), diagonal=1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        return self.proj(y)


class TinyGPTBlock(nn.Module):
    def __init__(self, vocab=64, d=32, heads=4, max_seq=64):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_seq, d)
        self.ln1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.lnf = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.tok(ids) + self.pos(torch.arange(t, device=ids.device)).unsqueeze(0)
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return self.head(self.lnf(x))


def perturb_norms(model, g):
    """Non-trivial BatchNorm statistics and LayerNorm scales so the normalisation arithmetic
    is actually tested (with the default ones/zeros the exporter also merges every
    LayerNorm's identical weights into one initializer)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


def ids(g, b, t, vocab=64):
    return torch.randint(0, vocab, (b, t), generator=g, dtype=torch.int64)


def img(g, n, h, w):
    return torch.randn(n, 3, h, w, generator=g)


Dim = torch.export.Dim


def spec_transformer():
    batch, seq = Dim("batch", min=1, max=64), Dim("seq", min=1, max=256)
    return dict(build=TinyTransformer, inames=["ids"], onames=["logits"],
                dyn={"ids": {0: batch, 1: seq}},
                example=lambda g: (ids(g, 2, 8),),
                sets=[lambda g: (ids(g, 2, 7),), lambda g: (ids(g, 3, 19),)])


def spec_cnn():
    n, h, w = Dim("N", min=1, max=64), Dim("H", min=8, max=1024), Dim("W", min=8, max=1024)
    return dict(build=TinyCNN, inames=["image"], onames=["logits"],
                dyn={"x": {0: n, 2: h, 3: w}},
                example=lambda g: (img(g, 2, 32, 32),),
                # 32x32 and an odd 41x47, so floor division in conv/pool output sizes shows.
                sets=[lambda g: (img(g, 2, 32, 32),), lambda g: (img(g, 3, 41, 47),)])


def spec_gpt():
    batch, seq = Dim("batch", min=1, max=64), Dim("seq", min=1, max=64)
    return dict(build=TinyGPTBlock, inames=["ids"], onames=["logits"],
                dyn={"ids": {0: batch, 1: seq}},
                example=lambda g: (ids(g, 2, 8),),
                sets=[lambda g: (ids(g, 1, 5),), lambda g: (ids(g, 4, 23),)])


MODELS = {"tiny_transformer": spec_transformer, "tiny_cnn": spec_cnn,
          "tiny_gpt_block": spec_gpt}


def export(name):
    spec = MODELS[name]()
    torch.manual_seed(1234)
    g = torch.Generator().manual_seed(99)
    model = perturb_norms(spec["build"](), g).eval()
    example = spec["example"](g)
    mdir = os.path.join(OUT, name)
    os.makedirs(mdir, exist_ok=True)
    path = os.path.join(mdir, "model.onnx")
    with torch.no_grad():
        prog = torch.onnx.export(model, example, dynamo=True, dynamic_shapes=spec["dyn"],
                                 input_names=spec["inames"], output_names=spec["onames"],
                                 external_data=False)
    prog.save(path, external_data=False)
    onnx.checker.check_model(path, full_check=True)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    in_names = [i.name for i in sess.get_inputs()]
    out_names = [o.name for o in sess.get_outputs()]
    for k, make in enumerate(spec["sets"]):
        args = make(g)
        with torch.no_grad():
            want = model(*args)
        want = [want] if isinstance(want, torch.Tensor) else list(want)
        feeds = {n: a.numpy() for n, a in zip(in_names, args)}
        got = sess.run(None, feeds)
        for j, (r, t) in enumerate(zip(got, want)):
            t = t.numpy()
            if r.shape != t.shape or not np.allclose(r, t, rtol=TOL, atol=TOL):
                sys.exit(f"{name} set {k} output {j}: onnxruntime {r.shape} and torch {t.shape} "
                         f"differ (max |diff| {np.max(np.abs(r - t)) if r.shape == t.shape else '-'})")
        ds = os.path.join(mdir, f"test_data_set_{k}")
        os.makedirs(ds, exist_ok=True)
        for j, (n, a) in enumerate(feeds.items()):
            onnx.save_tensor(numpy_helper.from_array(a, n), os.path.join(ds, f"input_{j}.pb"))
        for j, (n, r) in enumerate(zip(out_names, got)):
            onnx.save_tensor(numpy_helper.from_array(r, n), os.path.join(ds, f"output_{j}.pb"))
        diff = max(float(np.max(np.abs(r - t.numpy()))) for r, t in zip(got, want))
        print(f"{name}/test_data_set_{k}: inputs {[list(a.shape) for a in args]} -> outputs "
              f"{[list(r.shape) for r in got]}, |ort - torch| <= {diff:.2g}")
    print(f"{name}: {path} ({os.path.getsize(path)} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="subset of: " + ", ".join(MODELS))
    args = ap.parse_args()
    for n in args.names:
        if n not in MODELS:
            ap.error(f"unknown model '{n}' (known: {', '.join(MODELS)})")
    for n in args.names or MODELS:
        export(n)
    import onnxscript
    with open(os.path.join(OUT, "VERSIONS.txt"), "w") as f:
        f.write("Made by tools/export_dynamic_models.py with:\n")
        for mod in (torch, onnxscript, onnx, ort, np):
            f.write(f"{mod.__name__} {mod.__version__}\n")


if __name__ == "__main__":
    main()
