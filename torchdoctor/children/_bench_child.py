# Runs inside the TARGET interpreter (the user's), by path, for ONE device, with a timeout enforced by
# the parent. Standard library + torch only, Python 3.8+. It must never import torchdoctor.
#
#   python _bench_child.py --device cuda:0 --seconds 10
#
# Measures, with correct timing (CUDA events on a GPU, perf_counter on the CPU; warm-up excluded;
# the median of repeats; sizes that saturate the device):
#   matmul    TFLOP/s per dtype the device supports (fp32, tf32, bf16, fp16)
#   memory    device-to-device copy, GB/s counting read + write
#   h2d/d2h   host<->device copies from pinned and pageable host memory, GB/s (GPU only)
#   launch    kernel launch latency, microseconds (GPU only)
# Messages on the doctor's channel (children/_channel_child.py):
#   {"bench_device": {"device": D, "name": N, "capability": "9.0"}}
#   {"bench_metric": {"device": D, "metric": M, "dtype": T, "value": X, "unit": U, "detail": "...", "error": ""}}
#   {"bench_done": {"device": D}}
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _channel_child

_channel_child.open_channel()
del sys.path[0]
emit = _channel_child.emit
torch = None


def option(argv, name, default):
    if name in argv and argv.index(name) + 1 < len(argv):
        return argv[argv.index(name) + 1]
    return default


class Clock:
    """Times work on one device: CUDA events on a GPU (the work is asynchronous), perf_counter elsewhere."""

    def __init__(self, device):
        self.device = device
        self.cuda = device.type == "cuda"
        self.mps = device.type == "mps"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)
        elif self.mps:
            torch.mps.synchronize()

    def time(self, fn, iterations):
        """Seconds per call of fn, over `iterations` calls."""
        if self.cuda:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(iterations):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1000.0 / iterations
        self.sync()
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        self.sync()
        return (time.perf_counter() - started) / iterations


def measure(clock, fn, budget, warmup=2):
    """The median seconds per call: warm-up first, then repeats that fill `budget` seconds."""
    for _ in range(warmup):
        fn()
    clock.sync()
    once = max(clock.time(fn, 1), 1e-6)
    per_repeat = max(1, int(budget / 5 / once))
    repeats = [clock.time(fn, per_repeat) for _ in range(5)]
    return statistics.median(repeats), per_repeat


def send(device, metric, dtype, value, unit, detail="", error=""):
    emit(
        {
            "bench_metric": {
                "device": device,
                "metric": metric,
                "dtype": dtype,
                "value": float(value),
                "unit": unit,
                "detail": detail,
                "error": error,
            }
        }
    )


def dtypes_for(device):
    if device.type == "mps":
        return [("fp32", torch.float32), ("fp16", torch.float16)]
    if device.type == "cuda":
        major = torch.cuda.get_device_capability(device)[0]
        out = [("fp32", torch.float32), ("fp16", torch.float16)]
        if major >= 8:
            out[1:1] = [("tf32", torch.float32), ("bf16", torch.bfloat16)]
        return out
    return [("fp32", torch.float32)]


def bench_matmul(name, device, clock, budget):
    n = {"cuda": 8192, "mps": 4096}.get(device.type, 1024)
    for label, dtype in dtypes_for(device):
        try:
            if device.type == "cuda":
                torch.backends.cuda.matmul.allow_tf32 = label == "tf32"
            pair = (torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype))
            seconds, per = measure(clock, lambda pair=pair: torch.mm(*pair), budget)
            detail = "%d x %d, median of 5 x %d" % (n, n, per)
            send(name, "matmul", label, 2.0 * n**3 / seconds / 1e12, "TFLOP/s", detail)
            pair = None
        except Exception as exc:
            send(name, "matmul", label, 0.0, "TFLOP/s", error="%s: %s" % (type(exc).__name__, str(exc)[:300]))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False


def bench_fp8(name, device, clock, budget):
    """fp8 (e4m3) matmul through torch._scaled_mm, where the GPU has fp8 tensor cores (CC 8.9 and up)."""
    if torch.cuda.get_device_capability(device) < (8, 9):
        return
    if not hasattr(torch, "_scaled_mm") or not hasattr(torch, "float8_e4m3fn"):
        send(name, "matmul", "fp8", 0.0, "TFLOP/s", error="this torch has no torch._scaled_mm / float8_e4m3fn")
        return
    n = 8192
    try:
        a = torch.randn(n, n, device=device).to(torch.float8_e4m3fn)
        b = torch.randn(n, n, device=device).to(torch.float8_e4m3fn).t()  # the second operand column-major
        one = torch.tensor(1.0, device=device)
        seconds, per = measure(
            clock, lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16), budget
        )
        send(
            name,
            "matmul",
            "fp8",
            2.0 * n**3 / seconds / 1e12,
            "TFLOP/s",
            "%d x %d e4m3, median of 5 x %d" % (n, n, per),
        )
    except Exception as exc:
        send(name, "matmul", "fp8", 0.0, "TFLOP/s", error="%s: %s" % (type(exc).__name__, str(exc)[:300]))


def bench_peer(count, clock_for, budget):
    """Device-to-device copies between GPU pairs (each GPU to the next), GB/s: NVLink or PCIe peer access."""
    size = 256 * 1024 * 1024
    for i in range(count):
        j = (i + 1) % count
        label = "cuda:%d->cuda:%d" % (i, j)
        try:
            src = torch.empty(size, dtype=torch.uint8, device="cuda:%d" % i)
            dst = torch.empty(size, dtype=torch.uint8, device="cuda:%d" % j)
            peer = torch.cuda.can_device_access_peer(i, j)
            seconds, _ = measure(clock_for(i), lambda dst=dst, src=src: dst.copy_(src), budget / count)
            detail = "256 MiB, peer access %s" % ("on" if peer else "off (through host memory)")
            send("p2p", "p2p", label, size / seconds / 1e9, "GB/s", detail)
        except Exception as exc:
            send("p2p", "p2p", label, 0.0, "GB/s", error="%s: %s" % (type(exc).__name__, str(exc)[:300]))


def bench_memory(name, device, clock, budget):
    size = (1024 if device.type == "cuda" else 128) * 1024 * 1024  # bytes, far beyond any L2
    try:
        src = torch.empty(size, dtype=torch.uint8, device=device).random_(0, 255)
        dst = torch.empty_like(src)
        seconds, _ = measure(clock, lambda: dst.copy_(src), budget)
        send(name, "memory", "", 2.0 * size / seconds / 1e9, "GB/s", "%d MiB copy, read + write" % (size >> 20))
    except Exception as exc:
        send(name, "memory", "", 0.0, "GB/s", error="%s: %s" % (type(exc).__name__, str(exc)[:300]))


def bench_transfers(name, device, clock, budget):
    size = 256 * 1024 * 1024
    on_device = torch.empty(size, dtype=torch.uint8, device=device)
    for pinned in (True, False):
        host = torch.empty(size, dtype=torch.uint8, pin_memory=pinned)
        kind = "pinned" if pinned else "pageable"
        for direction, fn in (
            ("h2d", lambda host=host, pinned=pinned: on_device.copy_(host, non_blocking=pinned)),
            ("d2h", lambda host=host, pinned=pinned: host.copy_(on_device, non_blocking=pinned)),
        ):
            try:
                seconds, _ = measure(clock, fn, budget / 4)
                send(name, direction, kind, size / seconds / 1e9, "GB/s", "256 MiB from %s host memory" % kind)
            except Exception as exc:
                send(name, direction, kind, 0.0, "GB/s", error="%s: %s" % (type(exc).__name__, str(exc)[:300]))


def bench_launch(name, device, clock):
    try:
        x = torch.zeros(1, device=device)
        seconds, per = measure(clock, lambda: x.add_(1), 0.5, warmup=20)
        send(name, "launch", "", seconds * 1e6, "us", "x.add_(1) on one element, median of 5 x %d" % per)
    except Exception as exc:
        send(name, "launch", "", 0.0, "us", error="%s: %s" % (type(exc).__name__, str(exc)[:300]))


def main(argv):
    global torch
    name = option(argv, "--device", "cpu")
    seconds = float(option(argv, "--seconds", "10"))
    import torch as torch_module

    torch = torch_module
    if name == "p2p":  # every GPU to the next, after the per-device runs
        count = torch.cuda.device_count()
        emit({"bench_device": {"device": name, "name": "%d GPUs, each to the next" % count, "capability": ""}})
        bench_peer(count, lambda i: Clock(torch.device("cuda:%d" % i)), seconds)
        emit({"bench_done": {"device": name}})
        return 0
    device = torch.device(name)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        props = torch.cuda.get_device_properties(device)
        bus = "%02x:%02x.0" % (getattr(props, "pci_bus_id", 0), getattr(props, "pci_device_id", 0))
        capability = "%d.%d" % (props.major, props.minor)
        emit({"bench_device": {"device": name, "name": props.name, "capability": capability, "pci_bus": bus}})
    elif device.type == "mps":
        emit({"bench_device": {"device": name, "name": "Apple GPU (MPS)", "capability": ""}})
    else:
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        emit({"bench_device": {"device": name, "name": "CPU (%d threads)" % torch.get_num_threads(), "capability": ""}})
    clock = Clock(device)
    loaded = time.time()
    if device.type == "cuda":
        bench_matmul(name, device, clock, seconds * 0.5 / 5)
        bench_fp8(name, device, clock, seconds * 0.5 / 5)
        bench_memory(name, device, clock, seconds * 0.15)
        emit({"bench_window": {"device": name, "start": loaded, "end": time.time()}})
        bench_transfers(name, device, clock, seconds * 0.3)
        bench_launch(name, device, clock)
    else:
        bench_matmul(name, device, clock, seconds * 0.6)
        bench_memory(name, device, clock, seconds * 0.4)
        emit({"bench_window": {"device": name, "start": loaded, "end": time.time()}})
    emit({"bench_done": {"device": name}})
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
