"""The convnet benchmark's peers: the course's simple convolutional network on MNIST, the
same as bench/cnn.sh gives nabla: conv 20 5x5, ReLU, max-pool 2; conv 40 5x5, ReLU,
max-pool 2; dense 640-100 ReLU; dense 100-10; softmax cross-entropy; SGD lr 0.05; batch 64;
float32; one epoch over the training images, timed.

Usage: python3 cnn_peers.py DATA_DIR EPOCHS COUNT [torch|jax ...]   (COUNT: the first N training images, 0 for all)
Prints one line per framework: `NAME SECONDS_PER_EPOCH TEST_ACCURACY`, or `NAME missing`.
"""
import sys, time
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from mnist_peers import load

BATCH, LR = 64, 0.05

def run_torch(x, y, xt, yt, epochs):
    import torch
    torch.set_num_threads(2); torch.manual_seed(1)
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 40, 5), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(640, 100), nn.ReLU(), nn.Linear(100, 10))
    opt = torch.optim.SGD(net.parameters(), lr=LR); loss = nn.CrossEntropyLoss()
    X, Y = torch.from_numpy(x).reshape(-1, 1, 28, 28), torch.from_numpy(y)
    times = []
    for _ in range(epochs):
        order = torch.randperm(len(X)); t0 = time.perf_counter()
        for s in range(0, len(X), BATCH):
            i = order[s:s + BATCH]; opt.zero_grad(); l = loss(net(X[i]), Y[i]); l.backward(); opt.step()
        times.append(time.perf_counter() - t0)
    with torch.no_grad():
        acc = (net(torch.from_numpy(xt).reshape(-1, 1, 28, 28)).argmax(1) == torch.from_numpy(yt)).float().mean().item()
    return min(times), acc

def run_jax(x, y, xt, yt, epochs):
    import jax, jax.numpy as jnp, numpy as np
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    he = lambda k, shape, fan_in: jax.random.normal(k, shape) * np.sqrt(2 / fan_in)
    params = [he(keys[0], (20, 1, 5, 5), 25), jnp.zeros((1, 20, 1, 1)), he(keys[1], (40, 20, 5, 5), 500), jnp.zeros((1, 40, 1, 1)),
              he(keys[2], (640, 100), 640), jnp.zeros(100), he(keys[3], (100, 10), 100) * 0.7, jnp.zeros(10)]
    def conv(h, k):
        return jax.lax.conv_general_dilated(h, k, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
    def pool(h):
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    def net(p, xb):
        h = pool(jnp.maximum(conv(xb, p[0]) + p[1], 0))
        h = pool(jnp.maximum(conv(h, p[2]) + p[3], 0))
        h = jnp.maximum(h.reshape(h.shape[0], -1) @ p[4] + p[5], 0)
        return h @ p[6] + p[7]
    def loss(p, xb, yb):
        return -jnp.mean(jax.nn.log_softmax(net(p, xb))[jnp.arange(xb.shape[0]), yb])
    @jax.jit
    def step(p, xb, yb):
        g = jax.grad(loss)(p, xb, yb)
        return [a - LR * b for a, b in zip(p, g)]
    x4, xt4 = x.reshape(-1, 1, 28, 28), xt.reshape(-1, 1, 28, 28)
    rng = np.random.default_rng(1); times = []
    for _ in range(epochs):
        order = rng.permutation(len(x)); t0 = time.perf_counter()
        for s in range(0, len(x) - BATCH + 1, BATCH):
            i = order[s:s + BATCH]; params = step(params, x4[i], y[i])
        jax.block_until_ready(params); times.append(time.perf_counter() - t0)
    predict = jax.jit(net)
    acc = float(np.mean([float((jnp.argmax(predict(params, xt4[s:s + 1000]), 1) == yt[s:s + 1000]).mean()) for s in range(0, len(xt), 1000)]))
    return min(times), acc

if __name__ == "__main__":
    data, epochs, count, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] or ["torch", "jax"]
    x, y, xt, yt = load(data)
    if count > 0:
        x, y = x[:count], y[:count]
    for name in names:
        try:
            t, acc = {"torch": run_torch, "jax": run_jax}[name](x, y, xt, yt, epochs)
            print(f"{name} {t:.3f} {acc:.4f}", flush=True)
        except ImportError:
            print(f"{name} missing", flush=True)
