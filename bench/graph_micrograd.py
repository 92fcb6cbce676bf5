"""The same 10,000-node scalar graph in micrograd: build (its forward) and backward: 3,334 layers of relu(1.0*x + 0.1)."""
import statistics
import sys
import time

sys.setrecursionlimit(100000)  # micrograd's topological sort recurses once per node
try:
    from micrograd.engine import Value
except ImportError:
    print("micrograd missing")
    sys.exit(0)

layers = int(sys.argv[1]) if len(sys.argv) > 1 else 3334
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 20
fw, bw = [], []
for r in range(repeats):
    t0 = time.perf_counter()
    x = Value(0.5 + r * 1e-3)
    h = x
    for i in range(layers):
        h = (Value(1.0) * h + Value(0.1)).relu()
    t1 = time.perf_counter()
    h.backward()
    t2 = time.perf_counter()
    fw.append((t1 - t0) * 1e6)
    bw.append((t2 - t1) * 1e6)
print(f"micrograd forward µs {int(statistics.median(fw))}")
print(f"micrograd backward µs {int(statistics.median(bw))}")
print(f"micrograd forward+backward µs {int(statistics.median(fw) + statistics.median(bw))}")
print(f"check dout/dx {x.grad}")
