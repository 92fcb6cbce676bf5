import NablaGraph
import NablaTensor

/// The graph the graph benchmarks time (nabla-bench) and count allocations in
/// (nabla-allocations): `layers` layers of relu(w*x + b), 3 nodes each, on true scalars
/// (`width` 0) or on vectors of `width` elements summed at the end. Every w is 1 and every
/// b is 0.1 (micrograd's side, bench/graph_micrograd.py, builds the same chain).
public struct ReluChain {
    public var graph = Graph()
    /// The input (a param) and the last node (the relu, or the sum of a vector chain).
    public let x: NodeID
    public private(set) var output: NodeID

    public init(layers: Int, width: Int) throws {
        func value(_ v: Double) -> Tensor { width == 0 ? Tensor(v) : Tensor(vector: Array(repeating: v, count: width)) }
        x = graph.addLeaf(.param, value: value(0.5), label: "x")
        var node = x
        for i in 0..<layers {
            let w = graph.addLeaf(.constant, value: value(1), label: "w\(i)")
            let b = graph.addLeaf(.constant, value: value(0.1), label: "b\(i)")
            let wx = try graph.add(.mul, [w, node], label: "w*x")
            node = try graph.add(.relu, [try graph.add(.add, [wx, b], label: "w*x+b")], label: "relu")
        }
        output = node
        if width > 0 { output = try graph.add(.sum(axis: nil), [node], label: "sum") }
    }

    /// An input of the chain's width whose elements are all `v`.
    public func input(_ v: Double) -> Tensor {
        let width = graph[x].value.count
        return graph[x].value.isScalar ? Tensor(v) : Tensor(vector: Array(repeating: v, count: width))
    }
}
