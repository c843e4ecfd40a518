#!/usr/bin/env python3
"""Measures on a real GPU what dfsim's GPU family predicts, as rows of the measured data.

One prepared script for the minutes an H100/H200 with PyTorch is at hand (issue 17, part 4). It
measures, with random weights built from Llama-3.1-8B's config (no download):

  1. streaming read bandwidth (a reduction over a buffer far larger than L2);
  2. the bf16 GEMVs of Llama-3.1-8B decode alone (qkv, o, gate+up, down, lm_head at batch 1),
     rotated over enough weight copies that L2 cannot hold them;
  3. a whole decode step (plain torch: RMSNorm, RoPE, GQA attention over a static KV cache
     through SDPA, SwiGLU) at batch 1, 8 and 64, eager and replayed from a CUDA graph;
  4. prefill of 512 and 2048 tokens at batch 1 (eager).

Output (nothing is written into the repository's data by itself; review, then copy):
  --out FILE        rows in the format of hw_configs/measured/gpu.csv (model-level rows that
                    `dfsim validate FILE` can simulate: decode time per step, prefill tokens/s);
  --micro-out FILE  microbenchmark rows (bandwidth, GEMVs), the columns of "Microbenchmarks"
                    in hw_configs/measured/README.md (they go under hw_configs/measured/micro/,
                    which `dfsim validate` does not read: they feed config fields, not rows).
Every row names this script in `source` and carries the date, GPU, driver, CUDA, torch (and
Triton) versions, the power limit and the SM clock nvidia-smi reports in `notes`.

Usage (GPU, about 2-4 minutes on an H100/H200; stops early at --budget seconds):
  python3 scripts/gpu_measure.py --out gpu_measured.csv --micro-out gpu_micro.csv
CPU dry run with tiny shapes (checks that every path runs; its rows are marked dry run and
must never enter the measured data):
  python3 scripts/gpu_measure.py --dry-run --out /tmp/dry.csv --micro-out /tmp/dry_micro.csv
"""

import argparse
import csv
import datetime
import math
import os
import shutil
import subprocess
import sys
import time

SOURCE = "dfsim scripts/gpu_measure.py"
MODEL_COLUMNS = [
    "hw", "model", "weight_dtype", "phase", "batch", "prompt", "gen", "metric", "measured",
    "unit", "source", "notes", "fitted_by",
]
MICRO_COLUMNS = ["hw", "kernel", "m", "n", "k", "dtype", "metric", "measured", "unit", "source",
                 "notes"]

# Llama-3.1-8B (workloads/llama3.1-8b.config.json): the shapes, not the weights.
LLAMA_3_1_8B = dict(hidden=4096, intermediate=14336, layers=32, heads=32, kv_heads=8,
                    head_dim=128, vocab=128256, rope_theta=500000.0, eps=1e-5)
# Dry run: the same structure, tiny.
TINY = dict(hidden=64, intermediate=160, layers=2, heads=4, kv_heads=2, head_dim=16, vocab=256,
            rope_theta=10000.0, eps=1e-5)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="gpu_measured.csv", help="model-level rows (CSV)")
    p.add_argument("--micro-out", default="gpu_micro.csv", help="microbenchmark rows (CSV)")
    p.add_argument("--hw", default="", help="dfsim config name (default: from the GPU's name)")
    p.add_argument("--dry-run", action="store_true",
                   help="tiny shapes on the CPU (or the GPU if there is one); rows marked dry run")
    p.add_argument("--budget", type=float, default=420.0,
                   help="seconds; later measurements are skipped once this is spent")
    p.add_argument("--context", type=int, default=512, help="decode: prompt tokens in the cache")
    p.add_argument("--steps", type=int, default=32, help="decode: steps timed per measurement")
    p.add_argument("--batches", default="1,8,64", help="decode batch sizes")
    p.add_argument("--prefill", default="512,2048", help="prefill prompt lengths")
    return p.parse_args()


# ---------------------------------------------------------------------------------------------
# Environment


def run_text(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment(torch, device):
    env = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
           "torch": torch.__version__, "cuda": str(torch.version.cuda), "gpu": "cpu",
           "driver": "", "power_limit": "", "sm_clock_max": ""}
    try:
        import triton  # noqa: F401  (optional)
        env["triton"] = triton.__version__
    except ImportError:
        env["triton"] = ""
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        if shutil.which("nvidia-smi"):
            fields = run_text(["nvidia-smi", "-i", str(device.index or 0),
                               "--query-gpu=driver_version,power.limit,clocks.max.sm",
                               "--format=csv,noheader"]).split(",")
            if len(fields) == 3:
                env["driver"], env["power_limit"], env["sm_clock_max"] = (
                    f.strip() for f in fields)
    return env


def sm_clock_now(device):
    """The SM clock right now (nvidia-smi), to see what clock a load ran at."""
    if device.type != "cuda" or not shutil.which("nvidia-smi"):
        return ""
    return run_text(["nvidia-smi", "-i", str(device.index or 0),
                     "--query-gpu=clocks.sm,power.draw", "--format=csv,noheader"])


def dfsim_hw_name(gpu):
    """dfsim's config for a CUDA device name; '' when none matches."""
    name = gpu.lower()
    if "h200" in name:
        return "h200"
    if "h100" in name:
        return "h100-pcie" if "pcie" in name else "h100-sxm"
    if "a100" in name and "80" in name:
        return "a100-80gb"
    return ""


def notes_of(env, extra):
    parts = [extra, f"measured {env['date']} on {env['gpu']}",
             f"driver {env['driver'] or '?'}", f"CUDA {env['cuda']}", f"torch {env['torch']}"]
    if env.get("triton"):
        parts.append(f"triton {env['triton']}")
    if env["power_limit"]:
        parts.append(f"power limit {env['power_limit']}")
    if env["sm_clock_max"]:
        parts.append(f"max SM clock {env['sm_clock_max']}")
    return "; ".join(p for p in parts if p)


# ---------------------------------------------------------------------------------------------
# Timing


class Timer:
    """Median seconds of `fn` over `reps` calls after `warmup` (CUDA events on a GPU)."""

    def __init__(self, torch, device):
        self.torch = torch
        self.device = device

    def sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    def median(self, fn, reps=20, warmup=3):
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(reps):
            if self.device.type == "cuda":
                start = self.torch.cuda.Event(enable_timing=True)
                end = self.torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) / 1e3)
            else:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        times.sort()
        return times[len(times) // 2]


# ---------------------------------------------------------------------------------------------
# The model, in plain torch


class Llama:
    """Llama-3.x decoder with random weights built from a config (bf16 on the GPU)."""

    def __init__(self, torch, cfg, device, dtype, max_batch, max_len, rope_len):
        self.torch, self.cfg, self.device, self.dtype = torch, cfg, device, dtype
        h, i, hd = cfg["hidden"], cfg["intermediate"], cfg["head_dim"]
        q, kv = cfg["heads"] * hd, cfg["kv_heads"] * hd
        gen = torch.Generator(device=device).manual_seed(0)

        def weight(n, k):
            w = torch.empty(n, k, device=device, dtype=dtype)
            w.normal_(0.0, 1.0 / math.sqrt(k), generator=gen)
            return w

        self.embed = weight(cfg["vocab"], h)
        self.layers = []
        for _ in range(cfg["layers"]):
            self.layers.append(dict(
                attn_norm=torch.ones(h, device=device, dtype=dtype),
                wqkv=weight(q + 2 * kv, h),  # merged q, k, v (one GEMV, as serving stacks do)
                wo=weight(h, q),
                mlp_norm=torch.ones(h, device=device, dtype=dtype),
                w13=weight(2 * i, h),  # merged gate and up
                w2=weight(h, i),
                k_cache=torch.zeros(max_batch, cfg["kv_heads"], max_len, hd, device=device,
                                    dtype=dtype),
                v_cache=torch.zeros(max_batch, cfg["kv_heads"], max_len, hd, device=device,
                                    dtype=dtype)))
        self.norm = torch.ones(h, device=device, dtype=dtype)
        self.lm_head = weight(cfg["vocab"], h)
        self.max_len = max_len
        inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, device=device).float() / hd))
        angles = torch.outer(torch.arange(max(max_len, rope_len), device=device).float(), inv)
        self.cos, self.sin = angles.cos().to(dtype), angles.sin().to(dtype)
        self.sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
        # SDPA takes grouped KV heads itself from torch 2.5 (enable_gqa); before, the KV heads
        # are repeated (as Hugging Face's repeat_kv does), which reads them heads/kv_heads times.
        self.gqa = False
        if self.sdpa is not None:
            t = torch.zeros(1, 2, 1, 4, device=device, dtype=dtype)
            try:
                self.sdpa(t, t[:, :1], t[:, :1], enable_gqa=True)
                self.gqa = True
            except (TypeError, RuntimeError):
                pass

    def rms_norm(self, x, w):
        x32 = x.float()
        return (x32 * self.torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.cfg["eps"])).to(
            x.dtype) * w

    def rope(self, x, pos):  # x [B, H, T, D], pos [T]
        cos, sin = self.cos[pos][None, None], self.sin[pos][None, None]
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return self.torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)

    def attention(self, q, k, v, mask, causal):
        # GQA: each KV head serves heads / kv_heads query heads.
        if self.gqa:
            return self.sdpa(q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=True)
        rep = self.cfg["heads"] // self.cfg["kv_heads"]
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        if self.sdpa is not None:
            return self.sdpa(q, k, v, attn_mask=mask, is_causal=causal)
        # torch < 2.0 has no SDPA (the dry run may see one): the same attention by hand.
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        if causal:
            t = q.shape[-2]
            mask = self.torch.ones(t, t, dtype=self.torch.bool, device=q.device).tril()
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return scores.softmax(-1) @ v

    def forward(self, tokens, pos, mask=None):
        """tokens [B, T]; pos [T] (device tensor) positions of the tokens. Decode
        (T = 1) attends over the whole static cache under `mask` (gpt-fast's layout: shapes do
        not change from step to step, so a CUDA graph can replay it); prefill is causal."""
        F, torch, cfg = self.torch.nn.functional, self.torch, self.cfg
        b, t = tokens.shape
        hd, nh, nkv = cfg["head_dim"], cfg["heads"], cfg["kv_heads"]
        x = F.embedding(tokens, self.embed)
        for layer in self.layers:
            y = self.rms_norm(x, layer["attn_norm"])
            qkv = F.linear(y, layer["wqkv"])
            q, k, v = qkv.split([nh * hd, nkv * hd, nkv * hd], dim=-1)
            q = self.rope(q.view(b, t, nh, hd).transpose(1, 2), pos)
            k = self.rope(k.view(b, t, nkv, hd).transpose(1, 2), pos)
            v = v.view(b, t, nkv, hd).transpose(1, 2)
            if t == 1:
                kc, vc = layer["k_cache"][:b], layer["v_cache"][:b]
                kc.index_copy_(2, pos, k)
                vc.index_copy_(2, pos, v)
                o = self.attention(q, kc, vc, mask, False)
            else:
                # Prefill writes its keys and values once (the decode cache is sized for decode
                # only, so that decode's masked attention reads no more than it needs).
                torch.empty_like(k).copy_(k)
                torch.empty_like(v).copy_(v)
                o = self.attention(q, k, v, None, True)
            x = x + F.linear(o.transpose(1, 2).reshape(b, t, nh * hd), layer["wo"])
            y = self.rms_norm(x, layer["mlp_norm"])
            gate, up = F.linear(y, layer["w13"]).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, layer["w2"])
        logits = F.linear(self.rms_norm(x[:, -1:], self.norm), self.lm_head)
        return logits.argmax(-1)  # greedy sampling, on the device


# ---------------------------------------------------------------------------------------------
# Measurements


def measure_stream(torch, device, timer, dry):
    """Streaming read: sum of a buffer 8x (GPU: 4 GiB) larger than L2."""
    elements = (1 << 16) if dry else (2 << 30)  # 2^31 bf16 elements = 4 GiB
    x = torch.ones(elements, device=device, dtype=torch.bfloat16)
    seconds = timer.median(lambda: x.sum(dtype=torch.float32), reps=10)
    return [("stream_read_sum", 1, elements, 1, "bf16", "bandwidth", 2 * elements / seconds, "B/s",
             "torch.sum over a bf16 buffer, fp32 accumulate; bytes read / median time")]


def measure_gemvs(torch, device, timer, cfg, dry):
    """The bf16 GEMVs of one decode step at batch 1, each alone, on rotating weight copies."""
    h, i, hd = cfg["hidden"], cfg["intermediate"], cfg["head_dim"]
    q, kv = cfg["heads"] * hd, cfg["kv_heads"] * hd
    shapes = [("qkv", q + 2 * kv, h), ("o", h, q), ("gate_up", 2 * i, h), ("down", h, i),
              ("lm_head", cfg["vocab"], h)]
    rows = []
    F = torch.nn.functional
    for name, n, k in shapes:
        # Enough copies that the set is >= 512 MiB (10x H100/H200 L2): every call reads DRAM.
        copies = 2 if dry else max(2, math.ceil((512 << 20) / (2 * n * k)))
        ws = [torch.randn(n, k, device=device, dtype=torch.bfloat16) for _ in range(copies)]
        x = torch.randn(1, k, device=device, dtype=torch.bfloat16)
        state = {"i": 0}

        def call():
            state["i"] = (state["i"] + 1) % copies
            F.linear(x, ws[state["i"]])

        seconds = timer.median(call, reps=max(20, 2 * copies))
        rows.append((f"gemv_{name}", 1, n, k, "bf16", "time", seconds, "s",
                     f"F.linear 1x{k} by {n}x{k}, eager (launch included); "
                     f"{2 * n * k / seconds / 1e9:.1f} GB/s of weights; {copies} weight copies"))
        del ws
    return rows


def measure_decode(torch, model, device, timer, batch, context, steps, graphs):
    """Time per decode step at `batch`, positions context..context+steps-1."""
    tokens = torch.zeros(batch, 1, dtype=torch.long, device=device)
    pos = torch.zeros(1, dtype=torch.long, device=device)
    mask = torch.zeros(1, 1, 1, model.max_len, dtype=torch.bool, device=device)
    # The prompt's keys and values are in the cache (random: only timing matters).
    mask[..., :context] = True

    def set_position(p):
        pos.fill_(p)
        mask[..., p] = True

    step = lambda: tokens.copy_(model.forward(tokens, pos, mask))  # noqa: E731
    if graphs:
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(2):
                step()  # warm up on a side stream before capture (CUDA graph rules)
        torch.cuda.current_stream(device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        run = graph.replay
    else:
        run = step
    set_position(context)
    run()
    timer.sync()
    times = []
    for s in range(steps):
        set_position(context + s)
        times.append(timer.median(run, reps=1, warmup=0))
    mask[..., context:] = False
    times.sort()
    return times[len(times) // 2]


def measure_prefill(torch, model, device, timer, prompt):
    tokens = torch.randint(0, model.cfg["vocab"], (1, prompt), device=device)
    pos = torch.arange(prompt, device=device)
    return timer.median(lambda: model.forward(tokens, pos), reps=5, warmup=2)


# ---------------------------------------------------------------------------------------------


def main():
    args = parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("gpu_measure.py: PyTorch is not installed")
    started = time.monotonic()
    cuda = torch.cuda.is_available()
    if not cuda and not args.dry_run:
        sys.exit("gpu_measure.py: no CUDA device; use --dry-run for a CPU check with tiny shapes")
    device = torch.device("cuda", 0) if cuda else torch.device("cpu")
    dry = args.dry_run
    cfg = TINY if dry else LLAMA_3_1_8B
    env = environment(torch, device)
    hw = "dry-run" if dry else (args.hw or dfsim_hw_name(env["gpu"]))
    if not hw:
        sys.exit(f"gpu_measure.py: no dfsim config for '{env['gpu']}'; pass --hw")
    timer = Timer(torch, device)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
    dry_note = "DRY RUN (tiny shapes, not a measurement)" if dry else ""
    model_rows, micro_rows = [], []

    def spent():
        return time.monotonic() - started

    def log(text):
        print(f"[{spent():6.1f} s] {text}", file=sys.stderr, flush=True)

    def write():
        with open(args.out, "w", newline="") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(MODEL_COLUMNS)
            out.writerows(model_rows)
        with open(args.micro_out, "w", newline="") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(MICRO_COLUMNS)
            out.writerows(micro_rows)

    def micro(rows):
        for name, m, n, k, dtype, metric, value, unit, extra in rows:
            micro_rows.append([hw, name, m, n, k, dtype, metric, f"{value:.6g}", unit, SOURCE,
                               notes_of(env, "; ".join(x for x in (dry_note, extra) if x))])
            log(f"{name} {m}x{n}x{k}: {value:.4g} {unit}")
        write()  # after every group: a run cut short keeps what it measured

    log(f"device {env['gpu']}, torch {env['torch']}, CUDA {env['cuda']}, dfsim hw '{hw}'")
    micro(measure_stream(torch, device, timer, dry))
    micro(measure_gemvs(torch, device, timer, cfg, dry))

    batches = [int(b) for b in args.batches.split(",")]
    prompts = [int(p) for p in args.prefill.split(",")]
    if dry:
        batches, prompts, args.context, args.steps = [1, 2], [8, 16], 8, 3
    max_len = args.context + args.steps  # the decode cache; prefill keeps its own K and V
    dtype = torch.bfloat16 if cuda else torch.float32
    log("building the model (random weights)")
    model = Llama(torch, cfg, device, dtype, max(batches), max_len, max(prompts))
    weight_dtype = "bf16" if dtype == torch.bfloat16 else "f32"
    with torch.no_grad():
        for graphs in ([False, True] if cuda else [False]):
            for batch in batches:
                if spent() > args.budget:
                    log("budget spent; skipping the rest")
                    break
                seconds = measure_decode(torch, model, device, timer, batch, args.context,
                                         args.steps, graphs)
                mode = "CUDA graph replay" if graphs else "eager (one launch per op)"
                mode += ", SDPA enable_gqa" if model.gqa else (
                    ", KV heads repeated for SDPA" if model.sdpa else ", attention by hand")
                extra = (f"plain-torch Llama layer, random weights, {mode}; static KV cache of "
                         f"{max_len} positions, attention over all of it under a mask; median "
                         f"step; greedy argmax on the device; clock/power after: "
                         f"{sm_clock_now(device)}")
                if not graphs:
                    extra += " (set hw.launch.cuda_graphs=false)"
                model_rows.append([hw, "llama3.1-8b" if not dry else "tiny-llama", weight_dtype,
                                   "decode", batch, args.context, args.steps,
                                   "time_per_token_s", f"{seconds:.6g}", "s/step", SOURCE,
                                   notes_of(env, "; ".join(x for x in (dry_note, extra) if x)),
                                   ""])
                log(f"decode batch {batch} {mode}: {seconds * 1e3:.3f} ms/step")
                write()
        for prompt in prompts:
            if spent() > args.budget:
                log("budget spent; skipping the rest")
                break
            seconds = measure_prefill(torch, model, device, timer, prompt)
            extra = ("plain-torch Llama layer, random weights, eager, causal SDPA; median of 5; "
                     f"clock/power after: {sm_clock_now(device)}")
            model_rows.append([hw, "llama3.1-8b" if not dry else "tiny-llama", weight_dtype,
                               "prefill", 1, prompt, 0, "tokens_per_second",
                               f"{prompt / seconds:.6g}", "tok/s", SOURCE,
                               notes_of(env, "; ".join(x for x in (dry_note, extra) if x)), ""])
            log(f"prefill {prompt}: {prompt / seconds:.1f} tok/s")
            write()
    write()
    log(f"done: {len(model_rows)} model rows in {args.out}, {len(micro_rows)} micro rows in "
        f"{args.micro_out}")


if __name__ == "__main__":
    main()
