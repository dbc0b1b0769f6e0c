#!/usr/bin/python3
"""torch_bench.py - PyTorch on rnnlab's benchmark rows (issue #6), timed the way `rnnlab bench` is.

Optional: runs only where Debian's python3-torch is installed (run it with /usr/bin/python3, the
interpreter that package installs into). Takes the options of `rnnlab bench` for one row and
prints one CSV row with the same columns (contender "torch"):

    /usr/bin/python3 bench/torch_bench.py --header --cell lstm --input 32 --hidden 128 \
        --batch 32 --seq 100 --threads 1 --precision float32 --steps 20

One training step = nn.RNN/LSTM/GRU over the (T, B, I) batch + nn.Linear(H, 1) on the last
step's output, MSE loss, loss.backward() (full BPTT through autograd), and torch.optim.SGD's
step (plain SGD, lr 1e-3) with zero_grad. Phases: forward = model and loss, backward =
loss.backward(), update = opt.step() + opt.zero_grad(). Each step is timed with
time.perf_counter_ns (a monotonic clock) after W warm-up steps; median and minimum of S steps
(fewer with --max-seconds, which bench/compare.sh uses so that PyTorch's slow 2-thread rows do not
take minutes; the steps column says how many were timed).

Threads: torch.set_num_threads(N) for PyTorch's own OpenMP pool, and openblas_set_num_threads(N)
on every OpenBLAS loaded in the process (Debian's torch calls BLAS through libblas.so.3, which is
OpenBLAS; OpenBLAS keeps its own thread count).

--serve reads one row's options per line on stdin and answers each with one CSV row (or a line
starting with "error,"), so that bench/compare.sh pays torch's import time once and can run the
contenders alternately. In that mode peak_rss_mib is the process's peak so far, not the row's.
"""
import argparse
import ctypes
import os
import resource
import shlex
import sys
import time

COLUMNS = ["contender", "workload", "cell", "input_size", "hidden_size", "layers", "batch", "seq_len",
           "threads", "precision", "taps", "truncate", "steps", "warmup", "ms_median", "ms_min",
           "ms_forward", "ms_backward", "ms_update", "gflop_per_step", "gflops", "peak_rss_mib",
           "base_rss_mib", "params_bytes", "cache_bytes", "workspace_bytes"]

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "rnn": 1, "lstm": 4, "gru": 3}


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], add_help=True)
    p.add_argument("--workload", default="custom")
    p.add_argument("--cell", required=True, choices=sorted(GATES))
    p.add_argument("--activation", default=None, choices=["tanh", "relu"])
    p.add_argument("--input", type=int, required=True)
    p.add_argument("--hidden", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--blas-threads", type=int, default=0,
                   help="OpenBLAS's thread count (default: the same as --threads, as issue #6 asks)")
    p.add_argument("--precision", default="float32", choices=["float32", "float64"])
    p.add_argument("--taps", default="off", choices=["off"], help="PyTorch has no gradient taps")
    p.add_argument("--truncate", type=int, default=0, choices=[0], help="full BPTT only")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=0,
                   help="stop after this much timed work (at least 3 steps); 0: always S steps")
    p.add_argument("--header", action="store_true")
    p.add_argument("--serve", action="store_true")
    return p


def openblas_libs():
    """Every loaded shared object that exports openblas_set_num_threads."""
    paths = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if path.startswith("/") and ("blas" in path):
                paths.add(os.path.realpath(path))
    libs = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_set_num_threads  # attribute lookup raises if absent
            libs.append(lib)
        except (OSError, AttributeError):
            pass
    return libs


def csv_line(values):
    """Text fields quoted, numbers bare, missing values empty (as `rnnlab bench` writes them)."""
    out = []
    for v in values:
        if v is None:
            out.append("")
        elif isinstance(v, str):
            out.append('"' + v.replace('"', '""') + '"')
        elif isinstance(v, float):
            out.append("%.9g" % v)
        else:
            out.append(str(v))
    return ",".join(out)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_row(a, torch, blas):
    nn = torch.nn
    torch.set_num_threads(a.threads)
    for lib in blas:
        lib.openblas_set_num_threads(a.blas_threads or a.threads)
    dtype = torch.float32 if a.precision == "float32" else torch.float64
    torch.manual_seed(1)
    base_rss = peak_rss_mib()
    if a.cell == "lstm":
        rnn = nn.LSTM(a.input, a.hidden, a.layers)
    elif a.cell == "gru":
        rnn = nn.GRU(a.input, a.hidden, a.layers)
    else:
        act = a.activation or ("relu" if a.cell == "rnn_relu" else "tanh")
        rnn = nn.RNN(a.input, a.hidden, a.layers, nonlinearity=act)
    head = nn.Linear(a.hidden, 1)
    rnn.to(dtype), head.to(dtype)
    rnn.train(), head.train()
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=1e-3)
    x = torch.rand(a.seq, a.batch, a.input, dtype=dtype) * 2 - 1
    target = torch.rand(a.batch, 1, dtype=dtype) * 2 - 1
    mse = nn.functional.mse_loss
    clock = time.perf_counter_ns
    t_step, t_fwd, t_bwd, t_upd = [], [], [], []
    for s in range(-a.warmup, a.steps):
        t0 = clock()
        out, _ = rnn(x)
        loss = mse(head(out[-1]), target)
        t1 = clock()
        loss.backward()
        t2 = clock()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = clock()
        if not torch.isfinite(loss):
            raise RuntimeError("the loss is not finite")
        if s >= 0:
            t_step.append((t3 - t0) * 1e-6), t_fwd.append((t1 - t0) * 1e-6)
            t_bwd.append((t2 - t1) * 1e-6), t_upd.append((t3 - t2) * 1e-6)
            if a.max_seconds > 0 and len(t_step) >= 3 and sum(t_step) > a.max_seconds * 1e3:
                break

    def median(v):
        v = sorted(v)
        n = len(v)
        return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])

    G = GATES[a.cell]
    flop = sum(6.0 * a.batch * a.seq * ((a.input if l == 0 else a.hidden) + a.hidden) * G * a.hidden
               for l in range(a.layers))
    ms = median(t_step)
    label = a.cell if a.cell in ("lstm", "gru") else "rnn_" + (a.activation or
                                                               ("relu" if a.cell == "rnn_relu" else "tanh"))
    params_bytes = sum(p.numel() * p.element_size() for p in params)
    return csv_line(["torch", a.workload, label, a.input, a.hidden, a.layers, a.batch, a.seq, a.threads,
                     a.precision, "off", 0, len(t_step), a.warmup, ms, min(t_step), median(t_fwd),
                     median(t_bwd), median(t_upd), flop * 1e-9, flop * 1e-9 / (ms * 1e-3),
                     peak_rss_mib(), base_rss, params_bytes, None, None])


def main():
    p = parser()
    serve = "--serve" in sys.argv[1:]
    a = p.parse_args() if not serve else argparse.Namespace(header="--header" in sys.argv[1:], serve=True)
    try:
        import torch
    except ImportError:
        print("torch_bench: PyTorch is not installed (Debian: apt-get install python3-torch)", file=sys.stderr)
        return 3
    blas = openblas_libs()
    if a.header:
        print(csv_line(COLUMNS), flush=True)
    if not a.serve:
        print(run_row(a, torch, blas), flush=True)
        return 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            row = p.parse_args(shlex.split(line))
            print(run_row(row, torch, blas), flush=True)
        except SystemExit:
            print("error,bad options: " + line.strip(), flush=True)
        except Exception as e:  # report and keep serving
            print("error," + str(e).replace("\n", " "), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
