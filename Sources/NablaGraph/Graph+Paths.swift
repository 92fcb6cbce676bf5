import NablaTensor

/// One edge walked backward: from `node` down to its input number `input`.
public struct Edge: Hashable, Sendable {
    public var node: NodeID
    public var input: Int
    public init(node: NodeID, input: Int) {
        self.node = node
        self.input = input
    }
}

// MARK: - Chain-rule paths (`:explain`, `:shapes`)

extension Graph {
    /// True when the edge carries a gradient (not a class index, not a value function).
    public func isDifferentiable(_ edge: Edge) -> Bool {
        let node = self[edge.node]
        // A written exponent gets no gradient (`localVJP`): its edge is not differentiated.
        if isWrittenExponent(input: edge.input, of: edge.node) { return false }
        let shapes = node.inputs.map { self[$0].value.shape }
        return node.op.jacobianKind(input: edge.input, inputShapes: shapes, outputShape: node.value.shape) != .zero
    }

    /// For each node `root` depends on, whether a differentiable path leads from it to `target`.
    func reaching(from root: NodeID, to target: NodeID) -> (order: [NodeID], reaches: Set<NodeID>) {
        let order = topologicalOrder(from: root)
        var reaches: Set<NodeID> = [target]
        for id in order where id != target {
            let node = self[id]
            for (i, input) in node.inputs.enumerated() where reaches.contains(input) && isDifferentiable(Edge(node: id, input: i)) {
                reaches.insert(id)
                break
            }
        }
        return (order, reaches)
    }

    /// How many distinct paths lead from `root` down to `target` (saturating at `Int.max / 2`).
    public func pathCount(from root: NodeID, to target: NodeID) -> Int {
        let (order, reaches) = reaching(from: root, to: target)
        var count: [NodeID: Int] = [target: 1]
        for id in order where id != target && reaches.contains(id) {
            var total = 0
            for (i, input) in self[id].inputs.enumerated() where isDifferentiable(Edge(node: id, input: i)) {
                total = Swift.min(total + (count[input] ?? 0), Int.max / 2)
            }
            count[id] = total
        }
        return count[root] ?? 0
    }

    /// The paths from `root` down to `target`, each as its edges from the root
    /// downward; at most `limit` of them. Walks with an explicit stack.
    public func paths(from root: NodeID, to target: NodeID, limit: Int) -> [[Edge]] {
        let (_, reaches) = reaching(from: root, to: target)
        guard reaches.contains(root), limit > 0 else { return [] }
        if root == target { return [[]] }
        var result: [[Edge]] = []
        var path: [Edge] = []
        // Each frame: a node and the next input to try.
        var stack: [(NodeID, Int)] = [(root, 0)]
        while let (id, next) = stack.last, result.count < limit {
            let inputs = self[id].inputs
            guard next < inputs.count else {
                stack.removeLast()
                if !path.isEmpty { path.removeLast() }
                continue
            }
            stack[stack.count - 1].1 = next + 1
            let edge = Edge(node: id, input: next)
            let input = inputs[next]
            guard reaches.contains(input), isDifferentiable(edge) else { continue }
            path.append(edge)
            if input == target {
                result.append(path)
                path.removeLast()
            } else {
                stack.append((input, 0))
            }
        }
        return result
    }

    /// The VJP carried along one path: `seed` at the path's top, multiplied by
    /// each local Jacobian in turn; shaped like the path's bottom node.
    public func carry(_ seed: Tensor, along path: some Collection<Edge>) -> Tensor {
        var g = seed
        for edge in path {
            let node = self[edge.node]
            let local = localVJP(edge.node, g)
            g = local[edge.input] ?? Tensor.zeros(self[node.inputs[edge.input]].value.shape)
        }
        return g
    }

    /// The local Jacobian of an edge (∂node/∂input, m x n), built row by row from
    /// VJPs with unit seeds; `nil` when it has more than `maxElements` entries.
    public func localJacobian(_ edge: Edge, maxElements: Int = 400) -> Tensor? {
        let node = self[edge.node]
        let x = node.inputs.map { self[$0].value }
        let m = node.value.count, n = x[edge.input].count
        guard m * n <= maxElements else { return nil }
        var rows = [Double](repeating: 0, count: m * n)
        for r in 0..<m {
            if let g = localVJP(edge.node, Tensor.unit(node.value.shape, r))[edge.input] {
                for c in 0..<n { rows[r * n + c] = g.scalars[c] }
            }
        }
        return Tensor(shape: [m, n], scalars: rows)
    }

    /// The shape and kind of an edge's local Jacobian.
    public func jacobianShape(_ edge: Edge) -> JacobianShape {
        let node = self[edge.node]
        return node.op.jacobianShape(
            input: edge.input, inputShapes: node.inputs.map { self[$0].value.shape }, outputShape: node.value.shape)
    }
}
