import CAllocCounter
import NablaBenchGraphs
import NablaGraph
import NablaTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Counts the heap allocations of one forward+backward pass through the graphs that
// bench/graph.sh times: a chain of relu(w*x + b) layers on scalars, on 3-vectors (held
// inline, as every tensor of up to 4 float64s is) and on 5-vectors (past the inline
// capacity: an array per value and per gradient). A separate program from nabla-bench,
// because counting means taking over malloc (CAllocCounter), which would tax the timings.
// Usage: nabla-allocations [layers]   (3 nodes per layer)

let layers = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 3334 : 3334

/// The allocations this thread makes while `body` runs.
func allocations(_ body: () throws -> Void) rethrows -> UInt {
    let before = nabla_allocations()
    try body()
    return nabla_allocations() - before
}

/// True when the count moves as an array is made (the takeover of malloc worked).
func counting() -> Bool {
    var made: [Int] = []
    let n = allocations { made = Array(0..<100) }
    return nabla_allocations_counted() == 1 && n > 0 && made.count == 100
}

guard counting() else {
    print("heap allocations: not counted on this platform (CAllocCounter needs glibc)")
    exit(0)
}
print("heap allocations in one forward+backward (a changed input pushed through every node, then backprop)")
for (name, width) in [("scalars", 0), ("3-vectors (inline)", 3), ("5-vectors (arrays)", 5)] {
    var c = try ReluChain(layers: layers, width: width)
    _ = try c.graph.backward(from: c.output)  // once first: lazily made tables are not counted
    let start = c.input(0.25)
    let n = try allocations {
        try c.graph.setValue(c.x, start)
        _ = try c.graph.backward(from: c.output)
    }
    let nodes = c.graph.count
    print("nabla \(name): \(nodes) nodes (leaves included), \(n) allocations (\((Double(n) / Double(nodes) * 1000).rounded() / 1000) per node)")
}
