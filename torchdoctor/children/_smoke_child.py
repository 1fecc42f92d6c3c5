# Smoke tests, run inside the TARGET interpreter (the user's). Standard library + torch (+ torchvision and
# tensorboard when installed), Python 3.8+. It must never import torchdoctor.
#
# Two ways in:
#   * imported by _torch_child.py after it has reported torch's facts: run_devices(torch, ["cpu"], args),
#     so the CPU smoke shares that process's `import torch`;
#   * run by path for one device: python _smoke_child.py --device cuda:0 --tmp DIR
# Protocol: messages on the doctor's channel (children/_channel_child.py):
#   {"smoke_start": {"device": D, "step": S}}     before each step (a crash is attributed to it)
#   {"smoke": {"device": D, "step": S, "status": "passed|failed|skipped", "seconds": x, "error": "...", ...}}
#   {"smoke_device": {"device": D, "name": "..."}} once per device, first
#   {"smoke_done": {"device": D}}
# This is the everyday path a person learning PyTorch walks: build a model, put the model, the loss and
# the data on the device, train, evaluate, save, load.
import math
import os
import sys
import tempfile
import time
import traceback

torch = None  # set by run_devices / main; module-level so the classes below can use it
nn = None


def working_dir():
    """The working directory, or "" when it has been deleted (os.getcwd() raises then)."""
    try:
        return os.getcwd()
    except OSError:
        return ""


def emit(doc):
    """Replaced by the channel's writer: _torch_child sets it, or main() when run by path."""
    raise RuntimeError("no channel to the doctor")


class Skipped(Exception):
    """A step that does not apply here; the message says why."""


class Failed(Exception):
    """A step whose result was wrong (not an exception from torch)."""


def define_models():
    global SmokeNet

    class SmokeNet(nn.Module):  # defined once torch is imported
        """Conv2d, BatchNorm, MaxPool2d, Flatten, Dropout, Linear: the layers of a first CNN."""

        def __init__(self, classes=4):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, kernel_size=3, padding=1),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )
            self.flatten = nn.Flatten()
            self.dropout = nn.Dropout(p=0.5)
            self.head = nn.Linear(8 * 8 * 8, classes)

        def forward(self, x):
            return self.head(self.dropout(self.flatten(self.features(x))))

    # Pickling the whole model (save_load) looks the class up by module and name.
    SmokeNet.__module__ = __name__
    SmokeNet.__qualname__ = "SmokeNet"


SmokeNet = None


class RangeDataset(object):
    """Sample i is the tensor [i] and label i % 4: easy to check every sample arrives exactly once."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        import torch as t

        return t.tensor([float(i)]), i % 4


def batch(device, n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 16, 16, generator=g)
    y = torch.randint(0, 4, (n,), generator=g)
    return x.to(device), y.to(device)


def tolerance(dtype):
    return {torch.float64: 1e-10, torch.float32: 1e-3, torch.float16: 1e-2, torch.bfloat16: 5e-2}.get(dtype, 1e-3)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.synchronize()


# --------------------------------------------------------------------------- the steps


def step_tensors(ctx):
    device = ctx["device"]
    a_cpu = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 7.0
    b_cpu = torch.linspace(-1, 1, 20, dtype=torch.float32).reshape(4, 5)
    a, b = a_cpu.to(device), b_cpu.to(device)
    if a.device.type != device.type:
        raise Failed("tensor landed on %s, not %s" % (a.device, device))
    out = ((a * 2 + 1).relu() @ b).sum(dim=0)
    ref = ((a_cpu * 2 + 1).relu() @ b_cpu).sum(dim=0)
    sync(device)
    err = (out.cpu() - ref).abs().max().item()
    if not err <= tolerance(torch.float32) * max(1.0, ref.abs().max().item()):
        raise Failed("matmul result differs from the CPU reference by %g" % err)
    return "max |device - cpu| = %.2g" % err


def step_autograd(ctx):
    device = ctx["device"]
    if device.type == "mps":
        # MPS has no float64: compare a float32 gradient with a central finite difference.
        x = torch.tensor([0.3, -0.7, 1.1], device=device, requires_grad=True)
        f = lambda v: (v.sin() * v * v).sum()  # noqa: E731
        f(x).backward()
        h = 1e-2
        numeric = []
        for i in range(3):
            e = torch.zeros(3, device=device)
            e[i] = h
            numeric.append(((f(x.detach() + e) - f(x.detach() - e)) / (2 * h)).item())
        err = max(abs(g - n) for g, n in zip(x.grad.cpu().tolist(), numeric))
        if err > 1e-2:
            raise Failed("gradient differs from finite differences by %g" % err)
        return "float32 finite differences (MPS has no float64)"
    x = torch.randn(4, 3, dtype=torch.float64, device=device, requires_grad=True)
    w = torch.randn(3, 2, dtype=torch.float64, device=device, requires_grad=True)
    ok = torch.autograd.gradcheck(lambda a, b: torch.tanh(a @ b).sum(), (x, w), eps=1e-6, atol=1e-5)
    if not ok:
        raise Failed("gradcheck failed")
    return "gradcheck float64"


def step_model(ctx):
    device = ctx["device"]
    torch.manual_seed(0)
    model = SmokeNet().to(device)
    loss_fn = nn.CrossEntropyLoss().to(device)
    x, y = batch(device)
    wrong = [n for n, p in list(model.named_parameters()) + list(model.named_buffers()) if p.device.type != device.type]
    if wrong:
        raise Failed("not on %s after model.to(): %s" % (device, ", ".join(wrong[:5])))
    seq = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).to(device)
    if tuple(seq(torch.ones(3, 4, device=device)).shape) != (3, 2):
        raise Failed("nn.Sequential output has the wrong shape")
    out = model(x)
    if tuple(out.shape) != (x.shape[0], 4):
        raise Failed("forward output shape %s, expected (%d, 4)" % (tuple(out.shape), x.shape[0]))
    loss = loss_fn(out, y)
    if not math.isfinite(loss.item()):
        raise Failed("the first loss is %s" % loss.item())
    ctx["model"], ctx["loss_fn"], ctx["batch"] = model, loss_fn, (x, y)
    return "%d parameters on %s" % (sum(p.numel() for p in model.parameters()), device)


def train(device, optimizer_name, steps=6):
    torch.manual_seed(0)
    model = SmokeNet().to(device)
    loss_fn = nn.CrossEntropyLoss().to(device)
    x, y = batch(device)
    if optimizer_name == "SGD":
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if not all(math.isfinite(v) for v in losses):
        raise Failed("loss became NaN/Inf with %s: %s" % (optimizer_name, losses))
    model.eval()
    with torch.no_grad():
        final = loss_fn(model(x), y).item()
    if not math.isfinite(final):
        raise Failed("loss became NaN/Inf with %s (eval): %s" % (optimizer_name, final))
    if not final < losses[0]:
        raise Failed("loss did not go down with %s: %.4f -> %.4f" % (optimizer_name, losses[0], final))
    changed = sum(1 for b, p in zip(before, model.parameters()) if not torch.equal(b, p.detach()))
    if changed == 0:
        raise Failed("no parameter changed after %s steps" % optimizer_name)
    for p in model.parameters():
        if not torch.isfinite(p).all():
            raise Failed("a parameter became NaN/Inf with %s" % optimizer_name)
    return model, opt, losses[0], final


def step_train(ctx):
    notes = []
    for name in ("SGD", "Adam"):
        model, opt, first, last = train(ctx["device"], name)
        notes.append("%s %.3f -> %.3f" % (name, first, last))
        ctx["trained"], ctx["optimizer"] = model, opt
    return "; ".join(notes)


def step_modes(ctx):
    model, (x, _) = ctx["model"], ctx["batch"]
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    if not torch.equal(a, b):
        raise Failed("two eval-mode forwards differ: eval is not deterministic")
    if a.requires_grad:
        raise Failed("an output under torch.no_grad() requires grad")
    model.train()
    torch.manual_seed(1)
    c = model(x)
    torch.manual_seed(2)
    d = model(x)
    if torch.equal(c, d):
        raise Failed("train mode gave identical outputs: Dropout is not active")
    if not c.requires_grad:
        raise Failed("a train-mode output does not require grad")
    if torch.equal(a, c):
        raise Failed("train and eval outputs are identical: Dropout/BatchNorm ignore the mode")
    return "eval deterministic, train stochastic, no_grad detached"


def step_data(ctx):
    device = ctx["device"]
    from torch.utils.data import DataLoader

    n, size = 10, 4
    pin = device.type == "cuda"
    for drop_last, expected_batches in ((False, 3), (True, 2)):
        loader = DataLoader(
            RangeDataset(n),
            batch_size=size,
            shuffle=True,
            num_workers=2,
            drop_last=drop_last,
            pin_memory=pin,
            persistent_workers=False,
        )
        seen = []
        batches = 0
        for xb, yb in loader:
            batches += 1
            if pin and not xb.is_pinned():
                raise Failed("pin_memory=True gave an unpinned batch")
            xb = xb.to(device, non_blocking=pin)
            seen.extend(int(v) for v in xb.view(-1).cpu().tolist())
            if not all(int(label) == int(v) % 4 for label, v in zip(yb.tolist(), xb.view(-1).cpu().tolist())):
                raise Failed("labels do not match their samples")
        if batches != expected_batches:
            raise Failed("drop_last=%s gave %d batches, expected %d" % (drop_last, batches, expected_batches))
        if drop_last:
            if len(seen) != len(set(seen)) or len(seen) != 8:
                raise Failed("drop_last=True delivered %s" % sorted(seen))
        elif sorted(seen) != list(range(n)):
            raise Failed("an epoch delivered %s instead of every sample once" % sorted(seen))
    return "2 workers%s, every sample once, drop_last honoured" % (", pin_memory" if pin else "")


def step_save_load(ctx):
    device, tmp = ctx["device"], ctx["tmp"]
    model, (x, _) = ctx["model"], ctx["batch"]
    model.eval()
    with torch.no_grad():
        expected = model(x)
    has_weights_only = "weights_only" in torch.load.__code__.co_varnames
    if not has_weights_only:
        raise Skipped("torch %s has no torch.load(weights_only=...)" % torch.__version__)
    path = os.path.join(tmp, "state_dict.pt")
    torch.save(model.state_dict(), path)
    fresh = SmokeNet().to(device)
    fresh.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    fresh.eval()
    with torch.no_grad():
        got = fresh(x)
    if not torch.equal(got, expected):
        raise Failed("a model loaded from its state_dict gives different outputs")
    whole = os.path.join(tmp, "model.pt")
    torch.save(model, whole)
    again = torch.load(whole, map_location=device, weights_only=False)  # our own file, written just now
    again.eval()
    with torch.no_grad():
        if not torch.equal(again(x), expected):
            raise Failed("a whole-model round trip gives different outputs")
    on_cpu = torch.load(path, map_location="cpu", weights_only=True)
    if any(t.device.type != "cpu" for t in on_cpu.values()):
        raise Failed("map_location='cpu' left tensors on %s" % device)
    opt = ctx.get("optimizer")
    if opt is not None:
        opt_path = os.path.join(tmp, "optimizer.pt")
        torch.save(opt.state_dict(), opt_path)
        state = torch.load(opt_path, map_location=device, weights_only=True)
        trained = ctx["trained"]
        fresh_opt = type(opt)(trained.parameters(), lr=1e-2)
        fresh_opt.load_state_dict(state)
        if len(fresh_opt.state_dict()["state"]) != len(opt.state_dict()["state"]):
            raise Failed("the optimizer state did not survive a round trip")
    return "state_dict (weights_only=True), whole model, map_location=cpu, optimizer state"


def step_amp(ctx):
    device = ctx["device"]
    if device.type != "cuda":
        raise Skipped("mixed precision is checked on CUDA devices")
    notes = []
    x, y = batch(device)
    torch.manual_seed(0)
    model = SmokeNet().to(device)
    loss_fn = nn.CrossEntropyLoss().to(device)
    if torch.cuda.is_bf16_supported():
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            out = model(x)
            if out.dtype != torch.bfloat16:
                raise Failed("autocast(bfloat16) produced %s" % out.dtype)
            loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        if not math.isfinite(loss.item()):
            raise Failed("bf16 loss is %s" % loss.item())
        notes.append("bf16 autocast")
    scaler_cls = getattr(getattr(torch, "amp", None), "GradScaler", None)
    scaler = scaler_cls("cuda") if scaler_cls is not None else torch.cuda.amp.GradScaler()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    first = None
    for _ in range(4):
        opt.zero_grad()
        with torch.autocast(device_type="cuda", dtype=torch.float16):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        first = loss.item() if first is None else first
    if not math.isfinite(loss.item()):
        raise Failed("fp16 loss with GradScaler is %s" % loss.item())
    notes.append("fp16 + GradScaler")
    return ", ".join(notes)


def step_multi_gpu(ctx):
    device = ctx["device"]
    if device.type != "cuda":
        raise Skipped("only for CUDA")
    if torch.cuda.device_count() < 2:
        raise Skipped("one GPU visible")
    if device.index not in (None, 0):
        raise Skipped("checked once, in cuda:0's run")
    src = torch.arange(1 << 20, dtype=torch.float32, device="cuda:0")
    dst = src.to("cuda:1")
    torch.cuda.synchronize()
    if not torch.equal(dst.cpu(), src.cpu()):
        raise Failed("a cuda:0 -> cuda:1 copy changed the data")
    return "cuda:0 -> cuda:1 copy identical (peer access: %s)" % torch.cuda.can_device_access_peer(0, 1)


def step_torchvision(ctx):
    device = ctx["device"]
    try:
        import torchvision
        from torchvision import ops, transforms
    except ImportError as exc:
        raise Skipped("torchvision is not installed (%s)" % exc)
    img = torch.rand(3, 32, 32)
    pipeline = transforms.Compose([transforms.CenterCrop(24), transforms.Normalize([0.5] * 3, [0.25] * 3)])
    out = pipeline(img).to(device)
    if tuple(out.shape) != (3, 24, 24):
        raise Failed("transform pipeline output %s" % (tuple(out.shape),))
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32, device=device)
    scores = torch.tensor([0.9, 0.8, 0.7], device=device)
    keep = ops.nms(boxes, scores, 0.5).cpu().tolist()
    if keep != [0, 2]:
        raise Failed("torchvision.ops.nms returned %s, expected [0, 2]" % keep)
    return "torchvision %s: transforms and ops.nms on %s" % (torchvision.__version__, device)


def step_tensorboard(ctx):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as exc:  # ImportError, or tensorboard's own import errors
        raise Skipped("TensorBoard is not installed (%s)" % str(exc).splitlines()[0])
    logdir = os.path.join(ctx["tmp"], "tb")
    writer = SummaryWriter(log_dir=logdir)
    writer.add_scalar("smoke/loss", 0.5, 1)
    writer.close()
    files = [f for f in os.listdir(logdir) if f.startswith("events.out.tfevents")]
    if not files or os.path.getsize(os.path.join(logdir, files[0])) == 0:
        raise Failed("SummaryWriter wrote no event file")
    return "SummaryWriter wrote %s" % files[0].split(".")[0]


# name, function, the steps it needs
STEPS = (
    ("tensors", step_tensors, ()),
    ("autograd", step_autograd, ("tensors",)),
    ("model", step_model, ("tensors",)),
    ("train", step_train, ("model",)),
    ("modes", step_modes, ("model",)),
    ("data", step_data, ()),
    ("save_load", step_save_load, ("model",)),
    ("amp", step_amp, ("model",)),
    ("multi_gpu", step_multi_gpu, ("tensors",)),
    ("torchvision", step_torchvision, ("tensors",)),
    ("tensorboard", step_tensorboard, ()),
)
CPU_ONLY_SKIP = ("amp", "multi_gpu")


def error_text(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    return text[:3000]


def run_device(device_name, tmp):
    device = torch.device(device_name)
    name = "CPU"
    if device.type == "cuda":
        index = device.index if device.index is not None else 0
        torch.cuda.set_device(index)
        name = torch.cuda.get_device_name(index)
    elif device.type == "mps":
        name = "Apple MPS"
    emit({"smoke_device": {"device": device_name, "name": name}})
    ctx = {"device": device, "tmp": tmp}
    status = {}
    for step, fn, needs in STEPS:
        if device.type == "cpu" and step in CPU_ONLY_SKIP:
            continue
        emit({"smoke_start": {"device": device_name, "step": step}})
        started = time.perf_counter()
        result = {"device": device_name, "step": step}
        failed_needs = [n for n in needs if status.get(n) != "passed"]
        if failed_needs:
            result.update(status="skipped", error="", detail="needs %s, which did not pass" % ", ".join(failed_needs))
        else:
            try:
                detail = fn(ctx)
                result.update(status="passed", detail=detail or "")
            except Skipped as exc:
                result.update(status="skipped", detail=str(exc), error="")
            except Failed as exc:
                result.update(status="failed", error=str(exc), detail="")
            except Exception as exc:
                tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
                result.update(status="failed", error=error_text(exc), detail=tail[-1500:])
        result["seconds"] = round(time.perf_counter() - started, 4)
        status[step] = result["status"]
        emit({"smoke": result})
    emit({"smoke_done": {"device": device_name}})


def run_devices(torch_module, devices, argv):
    global torch, nn
    torch = torch_module
    nn = torch.nn
    define_models()
    tmp = option(argv, "--tmp") or tempfile.mkdtemp(prefix="torchdoctor-smoke-")
    for device_name in devices:
        try:
            run_device(device_name, tmp)
        except Exception as exc:
            emit(
                {
                    "smoke": {
                        "device": device_name,
                        "step": "setup",
                        "status": "failed",
                        "error": error_text(exc),
                        "detail": "",
                        "seconds": 0.0,
                    }
                }
            )
    return 0


def option(argv, name):
    if name in argv:
        i = argv.index(name)
        if i + 1 < len(argv):
            return argv[i + 1]
    return None


def main(argv):
    global emit
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _channel_child

    _channel_child.open_channel()
    emit = _channel_child.emit
    del sys.path[0]
    device = option(argv, "--device") or "cpu"
    # Mirror the user's `python -c`: their working directory first on sys.path.
    sys.path.insert(1, working_dir())
    import torch as torch_module

    return run_devices(torch_module, [device], argv)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # Everything is reported; skip finalization (tearing down torch takes a large fraction of a second).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
