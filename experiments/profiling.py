"""Latency measurement of the online trackers, shared by ``python -m experiments.profile`` and
``benchmarks/speed.py``.

What is measured (batch 1, random weights unless a model is passed in, after warm-up):

* **model**: the network forward of one frame alone, on a search crop already on the device
  (HCTrack: search branch + head + argmax decoding with the cached template features; CIA: backbone
  -> instance/category modules -> classification features -> filter response, and the IoU-Net
  test-branch features). See `model_step`.
* **track**: the whole ``tracker.track(frame)`` call on a 640x480 uint8 RGB frame of a synthetic
  video: crop (one OpenCV warp), upload, network, read-out of the box to the host, and the
  tracker's own online work (HCTrack: dynamic-template bookkeeping; CIA: IoU-Net box refinement,
  sample memory and filter updates). With random weights a CIA score map says "target not found"
  on most frames, which skips the refinement and the updates; so with random weights the CIA
  thresholds are set such that every frame is a normal "found" frame
  (`RANDOM_WEIGHT_OVERRIDES`): IoU-Net refinement and a memory update every frame, a filter
  update every ``train_skipping`` frames, i.e. the work of real tracking.
* **FLOPs** of both, counted with `torch.utils.flop_counter.FlopCounterMode` (a multiply-add = 2
  FLOPs; convolutions, matmuls and attention, i.e. the ops a compute floor is made of; element-wise
  ops are not counted). The track FLOPs are the mean over the same frames as the timing, counted in
  a separate pass of a fresh tracker (same video, same seeds, so the same work).
* **compute floor** = FLOPs / measured FLOP/s of a 2048^3 matmul (in the run's dtype) on the
  same device in the same run; every latency is also given as a ratio to its floor.

Timing: CPU with ``time.perf_counter`` around each call; CUDA with a pair of CUDA events per call
(model step, matmul), and perf_counter between two ``torch.cuda.synchronize()`` for ``track()``
(which ends with a host read-out, i.e. a synchronisation, anyway). Medians are reported (and the
minimum, which is what an idle machine would give when the CPU is shared).

``clock="cpu"`` (CPU device only) times with ``time.process_time`` instead: the CPU seconds the
process used, matmul rate included. With one thread this is the compute time whatever else runs
on the machine (waiting for a core is not counted), so it gives load-independent floor ratios on a
shared machine; with several threads it also counts OpenMP spin-waiting.
"""
from __future__ import annotations

import dataclasses
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

PRECISIONS = ("fp32", "bf16", "fp16")
#: per family: config overrides applied when profiling with random weights (see module docstring)
RANDOM_WEIGHT_OVERRIDES = {
    "cia": {"tracker.target_not_found_threshold": -float("inf"), "tracker.distractor_threshold": float("inf"),
            "tracker.hard_negative_threshold": float("inf")},
}
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass(frozen=True)
class ProfileConfig:
    """One profiling run of one preset.

    Attributes:
        preset: registered tracker preset (``hctrack``, ``cia18``, ...).
        device: "cpu" or "cuda" (or "cuda:N").
        threads: torch and OpenCV CPU threads.
        frames: timed frames (median over them), model step and ``track()`` each.
        warmup: untimed calls before each timing.
        precision: "fp32" | "bf16" | "fp16" (autocast of the network; see the tracker configs).
        compile: ``torch.compile`` the network forward.
        frame_size: (width, height) of the synthetic video frames.
        count_flops: also count FLOPs (a second pass over the same frames).
        matmul_size: n of the ``n x n x n`` matmul whose FLOP/s define the compute floor.
        clock: "wall" or "cpu" (process CPU time, CPU device only; see the module docstring).
        seed: weights and video.
    """

    preset: str
    device: str = "cpu"
    threads: int = 2
    frames: int = 30
    warmup: int = 5
    precision: str = "fp32"
    compile: bool = False
    frame_size: tuple[int, int] = (640, 480)
    count_flops: bool = True
    matmul_size: int = 2048
    clock: str = "wall"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r}; expected one of {PRECISIONS}")
        if self.frames < 1 or self.warmup < 0 or self.threads < 1:
            raise ValueError(f"frames={self.frames} >= 1, warmup={self.warmup} >= 0, threads={self.threads} >= 1 required")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device={self.device!r}: expected 'cpu' or 'cuda[:N]'")
        if self.clock not in CLOCKS or (self.clock == "cpu" and self.device != "cpu"):
            raise ValueError(f"clock={self.clock!r}: expected 'wall', or 'cpu' with device='cpu'")


# -- machine -----------------------------------------------------------------------------------
def set_threads(n: int) -> None:
    """Use `n` CPU threads in torch (intra-op) and OpenCV."""
    import cv2

    torch.set_num_threads(n)
    cv2.setNumThreads(n)


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    """1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """Hardware and library versions to store next to every figure."""
    import cv2

    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "platform": platform.platform(),
        "load_average_1min": load_average(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        dev = torch.device(device)
        props = torch.cuda.get_device_properties(dev)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2 ** 30, 1),
                    cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    return info


def synchronize(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


# -- timing ------------------------------------------------------------------------------------
def time_interleaved(fns: list[Callable[[], Any]], device: str | torch.device, n: int, warmup: int = 3,
                     clock: str = "wall", host_timed: tuple[bool, ...] | None = None) -> np.ndarray:
    """Seconds of `n` rounds of calls ``fns[0](), fns[1](), ...`` after `warmup` untimed rounds.

    Interleaving pairs each call with its neighbours, so that a reference (the matmul) measured
    next to the model sees the same machine load. CPU: `clock` ("wall": ``time.perf_counter``,
    "cpu": ``time.process_time``) around each call. CUDA: one event pair per call (GPU time
    between the events; the host is synchronised once at the end), except for the calls flagged
    in `host_timed` (calls that wait for the device themselves, like ``track()``): those are
    timed with ``perf_counter`` between two ``torch.cuda.synchronize()``.

    Returns:
        (len(fns), n) seconds.
    """
    timer = CLOCKS[clock]
    k = len(fns)
    host_timed = host_timed or (False,) * k
    for _ in range(warmup):
        for fn in fns:
            fn()
    synchronize(device)
    out = np.empty((k, n))
    if torch.device(device).type == "cuda":
        events = {}
        for i in range(n):
            for j, fn in enumerate(fns):
                if host_timed[j]:
                    torch.cuda.synchronize(device)
                    t0 = time.perf_counter()
                    fn()
                    torch.cuda.synchronize(device)
                    out[j, i] = time.perf_counter() - t0
                else:
                    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    start.record()
                    fn()
                    end.record()
                    events[j, i] = (start, end)
        torch.cuda.synchronize(device)
        for (j, i), (start, end) in events.items():
            out[j, i] = start.elapsed_time(end) / 1e3
        return out
    for i in range(n):
        for j, fn in enumerate(fns):
            t0 = timer()
            fn()
            out[j, i] = timer() - t0
    return out


def time_calls(fn: Callable[[], Any], device: str | torch.device, n: int, warmup: int = 3,
               clock: str = "wall") -> np.ndarray:
    """Seconds of each of `n` calls of ``fn()`` after `warmup` untimed calls, shape (n,)."""
    return time_interleaved([fn], device, n, warmup, clock)[0]


def matmul_call(device: str | torch.device = "cpu", n: int = 2048,
                dtype: torch.dtype = torch.float32) -> tuple[Callable[[], Any], float]:
    """``(fn, flops)``: an ``n x n @ n x n`` matmul on `device` and its ``2 n^3`` FLOPs."""
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)

    @torch.inference_mode()
    def fn():
        return torch.mm(a, b)

    return fn, 2.0 * n ** 3


def matmul_rate(device: str | torch.device = "cpu", n: int = 2048, reps: int = 10,
                dtype: torch.dtype = torch.float32, clock: str = "wall") -> float:
    """Measured FLOP/s of an ``n x n @ n x n`` matmul (``2 n^3`` FLOPs), median of `reps` calls."""
    fn, flops = matmul_call(device, n, dtype)
    return flops / float(np.median(time_calls(fn, device, reps, warmup=2, clock=clock)))


# -- FLOP counting -----------------------------------------------------------------------------
def _sdpa_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    """``q k^T`` and ``attn v``: ``2 B H Nq Nk (d_qk + d_v)``."""
    b, h, nq, d = query
    nk, dv = key[-2], value[-1]
    return 2 * b * h * nq * nk * (d + dv)


def _packed_linear_flops(x, w, *args, out_shape=None, **kwargs) -> int:
    """oneDNN linear (`trackers.common.packed_linear`): ``x (..., K) @ W^T``, W (N, K): ``2 M K N``."""
    m = 1
    for d in x[:-1]:
        m *= d
    return 2 * m * w[1] * w[0]


def _mkl_linear_flops(x, packed, w, *args, out_shape=None, **kwargs) -> int:
    """MKL packed linear (`trackers.common.packed_linear`): original weight w (N, K): ``2 M K N``."""
    return _packed_linear_flops(x, w)


def _conv_pointwise_flops(x, w, *args, out_shape=None, **kwargs) -> int:
    """oneDNN convolution with fused post-op (`trackers.common.fused_conv`): ``2 N C_out H_out W_out
    (C_in / groups) kh kw`` (the weight is (C_out, C_in / groups, kh, kw))."""
    spatial = 1
    for d in out_shape[2:]:
        spatial *= d
    k = 1
    for d in w[1:]:
        k *= d
    return 2 * out_shape[0] * w[0] * spatial * k


def _custom_flop_mapping() -> dict:
    """Formulas FlopCounterMode lacks: the CPU fused attention kernel, the packed oneDNN linear and
    the oneDNN convolution with a fused post-op."""
    mapping = {}
    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if op is not None:
        mapping[op] = _sdpa_flops
    try:
        mapping[torch.ops.mkldnn._linear_pointwise] = _packed_linear_flops
        mapping[torch.ops.mkldnn._convolution_pointwise] = _conv_pointwise_flops
        mapping[torch.ops.mkl._mkl_linear] = _mkl_linear_flops
    except (AttributeError, RuntimeError):  # build without oneDNN
        pass
    return mapping


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn()`` (matmuls, convolutions, attention; FMA = 2 FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=_custom_flop_mapping()) as counter:
        fn()
    return int(counter.get_total_flops())


# -- inputs ------------------------------------------------------------------------------------
def synthetic_video(n_frames: int, width: int = 640, height: int = 480, seed: int = 0
                    ) -> tuple[list[np.ndarray], np.ndarray]:
    """A textured background and a textured 80x60 target moving on a smooth path.

    Returns:
        (frames: n_frames (height, width, 3) uint8 RGB arrays, initial box (4,) xywh float64).
    """
    import cv2

    rng = np.random.default_rng(seed)
    background = cv2.resize(rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8), (width, height))
    target = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (80, 60), interpolation=cv2.INTER_NEAREST)
    tw, th = 80, 60
    t = np.arange(n_frames)
    xs = (width - tw) / 2 + 0.3 * (width - tw) * np.sin(2 * np.pi * t / 90)
    ys = (height - th) / 2 + 0.3 * (height - th) * np.sin(2 * np.pi * t / 70)
    frames = []
    for x, y in zip(xs.astype(int), ys.astype(int)):
        img = background.copy()
        img[y:y + th, x:x + tw] = target
        frames.append(img)
    return frames, np.array([xs[0].round(), ys[0].round(), tw, th], dtype=np.float64)


# -- trackers ------------------------------------------------------------------------------------
def build_preset(preset: str, device: str, precision: str = "fp32", compile: bool = False,
                 seed: int = 0, model: torch.nn.Module | None = None, random_weights: bool | None = None):
    """(config, model, tracker) of a preset with random weights (or `model`), precision/compile set.

    The precision and compile switches are the families' own config fields (``inference.precision``
    / ``inference.compile`` for HCTrack, ``tracker.precision`` / ``tracker.compile`` for CIA);
    a family without them accepts only fp32 without compile (ValueError otherwise). With random
    weights (`random_weights`, default: `model` is None) `RANDOM_WEIGHT_OVERRIDES` are applied.
    """
    from trackers.registry import family_api, get_config

    cfg = get_config(preset)
    section = "inference" if cfg.family == "hctrack" else "tracker"
    sub = getattr(cfg, section)
    if random_weights is None:
        random_weights = model is None
    overrides = dict(RANDOM_WEIGHT_OVERRIDES.get(cfg.family, {})) if random_weights else {}
    for name, value, default in (("precision", precision, "fp32"), ("compile", compile, False)):
        if hasattr(sub, name):
            overrides[f"{section}.{name}"] = value
        elif value != default:
            raise ValueError(f"preset {preset!r} has no {section}.{name} switch (asked for {name}={value!r})")
    if overrides:
        cfg = get_config(preset, overrides)
    api = family_api(cfg)
    torch.manual_seed(seed)
    if model is None:
        model = api.build_model(cfg)
    tracker = api.build_tracker(cfg, model, device)
    return cfg, model, tracker


def model_step(cfg, tracker, frame: np.ndarray) -> Callable[[], Any]:
    """A zero-argument callable running the network forward of one frame (see module docstring).

    The tracker must be initialised; the search crop of `frame` around the tracker's current box
    is prepared once, on the device.
    """
    if cfg.family == "hctrack":
        d = cfg.data
        x, _ = tracker._crop(frame, tracker._state.box, d.search_factor, d.search_size)
        return lambda: tracker.run_network(x)
    if cfg.family == "cia":
        from datasets.geometry import crop_image, crop_transform
        from trackers.cia.dimp.filter_ops import apply_filter

        p, st = tracker.params, tracker._state
        t = crop_transform(np.concatenate([st["center"] - st["size"] / 2, st["size"]]), p.search_area_scale,
                           p.image_sample_size)
        x = tracker._to_tensor(crop_image(frame, t, border=p.border)[None])
        net = tracker.net

        @torch.no_grad()  # as CIATracker (FlopCounterMode's module tracker fails on parameters passed
        def step():       # as module inputs under inference_mode: the category atoms)
            l2, l3, clf = tracker._features(x)
            scores = apply_filter(clf[None], st["filter"])
            return scores, net.box_head.get_iou_feat(l2, l3)

        return step
    raise KeyError(f"no model step for family {cfg.family!r}")


# -- one preset ----------------------------------------------------------------------------------
@dataclass
class ProfileResult:
    """Figures of one preset: seconds per call, FLOPs per frame, and the paired matmul timings.

    ``*_matmul_seconds[i]`` is the reference matmul (``matmul_flops`` FLOPs) timed right before
    call ``i``; the ratio to the compute floor is the median over calls of
    ``t_i / (flops / rate_i)`` with ``rate_i = matmul_flops / matmul_seconds_i`` (load changes
    slowly compared with a pair of calls, so each pair sees the same machine).
    """

    config: dict
    matmul_flops: float
    model_seconds: list[float]
    model_matmul_seconds: list[float]
    track_seconds: list[float]
    track_matmul_seconds: list[float]
    model_flops: int | None = None
    track_flops: float | None = None
    compile_seconds: float | None = None
    track_flags: dict[str, int] = field(default_factory=dict)

    def _summary(self, times: list[float], mm_times: list[float], flops: float | None) -> dict[str, float | None]:
        t, mm = np.asarray(times), np.asarray(mm_times)
        med = float(np.median(t))
        rate = self.matmul_flops / float(np.median(mm))
        return {
            "median_ms": med * 1e3, "min_ms": float(t.min()) * 1e3, "fps": 1.0 / med,
            "gflop": flops / 1e9 if flops else None,
            "matmul_gflop_per_s": rate / 1e9,
            "floor_ms": flops / rate * 1e3 if flops else None,
            "ratio": float(np.median(t / mm)) * self.matmul_flops / flops if flops else None,
            "ratio_of_medians": med * rate / flops if flops else None,
            # both at their best (fastest call, fastest matmul): an idle-machine estimate on a shared CPU
            "ratio_best": float(t.min()) * self.matmul_flops / float(mm.min()) / flops if flops else None,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "model": self._summary(self.model_seconds, self.model_matmul_seconds, self.model_flops),
            "track": self._summary(self.track_seconds, self.track_matmul_seconds, self.track_flops),
        }

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "summary": self.summary()}


def profile_preset(pc: ProfileConfig, model: torch.nn.Module | None = None) -> ProfileResult:
    """Time (and count) the model step and ``track()`` of one preset, each call paired with a
    reference matmul (in the precision's dtype) on the same device.

    Args:
        pc: what to run.
        model: use these weights instead of random ones.
    """
    set_threads(pc.threads)
    dev = pc.device
    random_weights = model is None
    cfg, model, tracker = build_preset(pc.preset, dev, pc.precision, pc.compile, pc.seed, model)
    mm, mm_flops = matmul_call(dev, pc.matmul_size, _DTYPES[pc.precision])
    n_video = 1 + pc.warmup + pc.frames
    w, h = pc.frame_size
    frames, box = synthetic_video(n_video, w, h, pc.seed)

    t0 = time.perf_counter()
    tracker.initialize(frames[0], box)
    step = model_step(cfg, tracker, frames[1])
    step()                                                               # compiles when compile=True
    synchronize(dev)
    compile_s = time.perf_counter() - t0 if pc.compile else None
    mm_model, model_s = time_interleaved([mm, step], dev, pc.frames, pc.warmup, pc.clock)

    tracker.initialize(frames[0], box)
    flags: dict[str, int] = {}
    video = iter(frames[1:])

    def track_next():
        res = tracker.track(next(video))
        flags[res.flag or "ok"] = flags.get(res.flag or "ok", 0) + 1

    for _ in range(pc.warmup):
        mm()
        track_next()
    flags.clear()
    mm_track, track_s = time_interleaved([mm, track_next], dev, pc.frames, 0, pc.clock, host_timed=(False, True))

    model_flops = track_flops = None
    if pc.count_flops:
        if pc.compile:  # compiled kernels bypass the dispatcher: count the same model in eager mode
            cfg, _, tracker = build_preset(pc.preset, dev, pc.precision, False, pc.seed, model, random_weights)
            tracker.initialize(frames[0], box)
            step = model_step(cfg, tracker, frames[1])
        model_flops = count_flops(step)
        tracker.initialize(frames[0], box)
        for frame in frames[1:1 + pc.warmup]:
            tracker.track(frame)
        total = count_flops(lambda: [tracker.track(f) for f in frames[1 + pc.warmup:]])
        track_flops = total / pc.frames
    return ProfileResult(
        config=dataclasses.asdict(pc), matmul_flops=mm_flops, model_seconds=model_s.tolist(),
        model_matmul_seconds=mm_model.tolist(), track_seconds=track_s.tolist(),
        track_matmul_seconds=mm_track.tolist(), model_flops=model_flops, track_flops=track_flops,
        compile_seconds=compile_s, track_flags=flags,
    )


def top_ops(pc: ProfileConfig, rows: int = 15, frames: int = 5) -> str:
    """torch.profiler table of the ops taking the most time in `frames` ``track()`` calls (after warm-up).

    Self CPU time per op (on CUDA also the device time), grouped by op and input shapes, sorted
    by self time, `rows` rows; a first line gives the frame count and the mean wall ms per frame.
    """
    set_threads(pc.threads)
    cfg, _, tracker = build_preset(pc.preset, pc.device, pc.precision, pc.compile, pc.seed)
    video, box = synthetic_video(1 + pc.warmup + frames, *pc.frame_size, seed=pc.seed)
    tracker.initialize(video[0], box)
    for f in video[1:1 + pc.warmup]:
        tracker.track(f)
    synchronize(pc.device)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if torch.device(pc.device).type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    t0 = time.perf_counter()
    with torch.profiler.profile(activities=activities, record_shapes=True) as prof:
        for f in video[1 + pc.warmup:]:
            tracker.track(f)
        synchronize(pc.device)
    ms = (time.perf_counter() - t0) / frames * 1e3
    sort = "self_device_time_total" if len(activities) > 1 else "self_cpu_time_total"
    table = prof.key_averages(group_by_input_shape=True).table(
        sort_by=sort, row_limit=rows, max_name_column_width=40, max_shapes_column_width=70)
    return f"{pc.preset}: {frames} track() frames profiled, {ms:.1f} ms per frame (with profiler overhead)\n{table}"


# -- output ------------------------------------------------------------------------------------
def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


TABLE_HEADER = ("| preset | device | prec. | thr. | GFLOP model | model ms (min) | model / floor "
                "| GFLOP track | track ms (min) | track / floor | track FPS |\n"
                "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")


def table_row(r: ProfileResult) -> str:
    """One Markdown row of `TABLE_HEADER`."""
    c, s = r.config, r.summary()
    m, t = s["model"], s["track"]
    prec = c["precision"] + (" +compile" if c["compile"] else "")
    dev = c["device"] + (" (CPU time)" if c.get("clock") == "cpu" else "")
    return (f"| `{c['preset']}` | {dev} | {prec} | {c['threads']} | {_fmt(m['gflop'], '.2f')} | "
            f"{m['median_ms']:.1f} ({m['min_ms']:.1f}) | {_fmt(m['ratio'], '.2f')} | {_fmt(t['gflop'], '.2f')} | "
            f"{t['median_ms']:.1f} ({t['min_ms']:.1f}) | {_fmt(t['ratio'], '.2f')} | {t['fps']:.1f} |")
