"""The MNIST benchmark's peers: the same 784-256-10 MLP (ReLU, softmax cross-entropy),
batch 128, SGD lr 0.1, float32, one epoch over the training images, timed per epoch.

Usage: python3 mnist_peers.py DATA_DIR EPOCHS [numpy|torch|jax ...]
Prints one line per framework: `NAME SECONDS_PER_EPOCH TEST_ACCURACY`, or `NAME missing`.
"""
import gzip, os, sys, time

def idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    import numpy as np
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)

def find(d, base):
    for name in (base, base + ".gz"):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise SystemExit(f"{base} not in {d}")

def load(d):
    import numpy as np
    x = idx(find(d, "train-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255
    y = idx(find(d, "train-labels-idx1-ubyte")).astype(np.int64)
    xt = idx(find(d, "t10k-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255
    yt = idx(find(d, "t10k-labels-idx1-ubyte")).astype(np.int64)
    return x, y, xt, yt

def run_numpy(x, y, xt, yt, epochs):
    import numpy as np
    rng = np.random.default_rng(1)
    w1 = (rng.standard_normal((784, 256)) * np.sqrt(2 / 784)).astype(np.float32); b1 = np.zeros(256, np.float32)
    w2 = (rng.standard_normal((256, 10)) * np.sqrt(2 / 256)).astype(np.float32); b2 = np.zeros(10, np.float32)
    times = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        t0 = time.perf_counter()
        for s in range(0, len(x), 128):
            i = order[s:s + 128]; xb = x[i]; yb = y[i]; n = len(i)
            h = xb @ w1 + b1; a = np.maximum(h, 0); z = a @ w2 + b2
            z -= z.max(1, keepdims=True); p = np.exp(z); p /= p.sum(1, keepdims=True)
            p[np.arange(n), yb] -= 1; g = p / n
            gw2 = a.T @ g; gb2 = g.sum(0); ga = g @ w2.T; ga[h <= 0] = 0
            gw1 = xb.T @ ga; gb1 = ga.sum(0)
            w1 -= 0.1 * gw1; b1 -= 0.1 * gb1; w2 -= 0.1 * gw2; b2 -= 0.1 * gb2
        times.append(time.perf_counter() - t0)
    acc = ((np.maximum(xt @ w1 + b1, 0) @ w2 + b2).argmax(1) == yt).mean()
    return min(times), acc

def run_torch(x, y, xt, yt, epochs):
    import torch
    torch.set_num_threads(2); torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.1); loss = torch.nn.CrossEntropyLoss()
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    times = []
    for _ in range(epochs):
        order = torch.randperm(len(X)); t0 = time.perf_counter()
        for s in range(0, len(X), 128):
            i = order[s:s + 128]; opt.zero_grad(); l = loss(net(X[i]), Y[i]); l.backward(); opt.step()
        times.append(time.perf_counter() - t0)
    with torch.no_grad():
        acc = (net(torch.from_numpy(xt)).argmax(1) == torch.from_numpy(yt)).float().mean().item()
    return min(times), acc

def run_jax(x, y, xt, yt, epochs):
    import jax, jax.numpy as jnp, numpy as np
    k1, k2 = jax.random.split(jax.random.PRNGKey(1))
    params = [jax.random.normal(k1, (784, 256)) * np.sqrt(2 / 784), jnp.zeros(256),
              jax.random.normal(k2, (256, 10)) * np.sqrt(2 / 256), jnp.zeros(10)]
    def loss(p, xb, yb):
        z = jnp.maximum(xb @ p[0] + p[1], 0) @ p[2] + p[3]
        return -jnp.mean(jax.nn.log_softmax(z)[jnp.arange(xb.shape[0]), yb])
    @jax.jit
    def step(p, xb, yb):
        g = jax.grad(loss)(p, xb, yb)
        return [a - 0.1 * b for a, b in zip(p, g)]
    rng = np.random.default_rng(1); times = []
    for _ in range(epochs):
        order = rng.permutation(len(x)); t0 = time.perf_counter()
        for s in range(0, len(x) - 127, 128):
            i = order[s:s + 128]; params = step(params, x[i], y[i])
        jax.block_until_ready(params); times.append(time.perf_counter() - t0)
    acc = float((jnp.argmax(jnp.maximum(xt @ params[0] + params[1], 0) @ params[2] + params[3], 1) == yt).mean())
    return min(times), acc

if __name__ == "__main__":
    data, epochs, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:] or ["numpy", "torch", "jax"]
    x, y, xt, yt = load(data)
    for name in names:
        try:
            t, acc = {"numpy": run_numpy, "torch": run_torch, "jax": run_jax}[name](x, y, xt, yt, epochs)
            print(f"{name} {t:.3f} {acc:.4f}", flush=True)
        except ImportError:
            print(f"{name} missing", flush=True)
