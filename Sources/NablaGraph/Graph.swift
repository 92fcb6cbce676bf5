import NablaTensor

/// A node's identity in its graph. Stable while the node lives; reused after removal.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: Int
    public init(_ raw: Int) { self.raw = raw }
    public static func < (a: NodeID, b: NodeID) -> Bool { a.raw < b.raw }
    public var description: String { "#\(raw)" }
}

/// One node: an op applied to its inputs, labelled with the source text it came from.
public struct Node: Sendable {
    public var op: Op
    public var inputs: [NodeID]
    /// The source text of the sub-expression (`w1*x1`), or the name for a definition.
    public var label: String
    /// The forward value, kept current as definitions and params change.
    public internal(set) var value: Tensor
    /// The nodes that read this one, so a change can be pushed downstream.
    public internal(set) var users: [NodeID] = []
}

/// Why the graph could not compute something: the node where it happened and why.
public struct GraphError: Error, Sendable {
    /// The node whose forward (or the backward from which) failed; `nil` before a node exists.
    public var node: NodeID?
    public var reason: TensorError

    public init(node: NodeID?, _ reason: TensorError) {
        self.node = node
        self.reason = reason
    }
}

/// The live computational graph: an arena of nodes, each with a current forward value.
///
/// Values are pushed downstream when a leaf or a name changes (`rebind`,
/// `setValue`), so every node always holds the value its definition implies.
/// Every traversal is iterative: deep chains cannot overflow the stack.
public struct Graph: Sendable {
    /// Every node ever made; a removed one stays as a tombstone (`alive` false) until its slot is reused.
    private var nodes: [Node] = []
    private var alive: [Bool] = []
    private var freeSlots: [Int] = []
    /// Nodes whose value became NaN or infinite from finite inputs, in the order
    /// they were computed, since the last `takeNonFiniteOrigins()`.
    private var nonFiniteOrigins: [NodeID] = []

    /// Numbers held by all node values together (a name shares its input's storage and is
    /// not counted), and the most they may be (`:limits total=N`): a chain like
    /// `A*A*...*A` on 100-million-number tensors is refused before it exhausts the machine.
    public private(set) var heldElements = 0
    public var maxHeldElements = Graph.defaultMaxHeldElements
    public static let defaultMaxHeldElements = 400_000_000
    public static let heldElementsCeiling = 3_000_000_000

    public init() {}

    /// Makes room for `n` nodes (a session's graph starts with room for an exercise).
    public mutating func reserveCapacity(_ n: Int) {
        nodes.reserveCapacity(n)
        alive.reserveCapacity(n)
    }

    private static func counted(_ node: Node) -> Int {
        if case .name = node.op { return 0 }
        return node.value.count
    }

    /// Throws when replacing `old` numbers by `new` would pass the total limit.
    private func checkHeld(adding new: Int, removing old: Int, node: NodeID?) throws(GraphError) {
        let total = heldElements - old + new
        guard new > old, total > maxHeldElements else { return }
        throw GraphError(node: node, .invalid(
            "all values together would hold \(Format.grouped(Double(total))) numbers (\(Format.bytes(Double(total) * 8))); "
                + "the limit is total=\(Format.grouped(Double(maxHeldElements))) (:limits total=N changes it; :reset forgets every definition)"))
    }

    private mutating func setValue(of id: NodeID, _ value: Tensor) {
        guard alive[id.raw] else { return }
        heldElements -= Graph.counted(nodes[id.raw])
        nodes[id.raw].value = value
        heldElements += Graph.counted(nodes[id.raw])
    }

    // MARK: - Access

    /// The node with this id; the id must be alive.
    public subscript(id: NodeID) -> Node {
        // Read in place (no copy of the node): the backward pass reads a node's fields per visit.
        _read {
            precondition(alive[id.raw], "node \(id) was removed")
            yield nodes[id.raw]
        }
    }

    /// The value of a node.
    public func value(_ id: NodeID) -> Tensor { self[id].value }

    /// True when the id names a node that has not been removed.
    public func contains(_ id: NodeID) -> Bool {
        id.raw >= 0 && id.raw < nodes.count && alive[id.raw]
    }

    /// Number of live nodes.
    public var count: Int { nodes.count - freeSlots.count }

    /// Upper bound (exclusive) of node ids, for dense per-node arrays.
    public var capacity: Int { nodes.count }

    // MARK: - Building

    /// Adds a leaf (`.constant` or `.param`) holding `value`.
    @discardableResult
    public mutating func addLeaf(_ op: Op, value: Tensor, label: String) -> NodeID {
        insert(Node(op: op, inputs: [], label: label, value: value))
    }

    /// Adds a node computing `op` from `inputs` and evaluates it.
    @discardableResult
    public mutating func add(_ op: Op, _ inputs: [NodeID], label: String) throws(GraphError) -> NodeID {
        let value: Tensor
        do {
            value = try evaluate(op, inputs)
        } catch {
            throw GraphError(node: nil, error)
        }
        let node = Node(op: op, inputs: inputs, label: label, value: value)
        try checkHeld(adding: Graph.counted(node), removing: 0, node: nil)
        let id = insert(node)
        noteIfNonFinite(id)
        for input in inputs where alive[input.raw] { nodes[input.raw].users.append(id) }
        return id
    }

    private mutating func insert(_ node: Node) -> NodeID {
        heldElements += Graph.counted(node)
        if let slot = freeSlots.popLast() {
            nodes[slot] = node
            alive[slot] = true
            return NodeID(slot)
        }
        nodes.append(node)
        alive.append(true)
        return NodeID(nodes.count - 1)
    }

    /// Removes nodes (for example a definition replaced by a new one). Nodes
    /// outside the set must no longer read them.
    public mutating func remove(_ ids: [NodeID]) {
        let doomed = Set(ids)
        for id in ids where alive[id.raw] {
            for input in nodes[id.raw].inputs where !doomed.contains(input) && alive[input.raw] {
                nodes[input.raw].users.removeAll { $0 == id }
            }
        }
        for id in ids where alive[id.raw] {
            heldElements -= Graph.counted(nodes[id.raw])
            nodes[id.raw] = Node(op: .constant, inputs: [], label: "", value: Tensor(0))
            alive[id.raw] = false
            freeSlots.append(id.raw)
        }
    }

    /// Changes the label of a node (a name's slot keeps its name).
    public mutating func relabel(_ id: NodeID, _ label: String) {
        if alive[id.raw] { nodes[id.raw].label = label }
    }

    // MARK: - Live updates

    /// Points a `.name` node at a new input and recomputes everything downstream.
    /// If any downstream node fails, the old input is restored and the error thrown.
    public mutating func rebind(_ name: NodeID, to newInput: NodeID) throws(GraphError) {
        guard let old = self[name].inputs.first else { return }
        setInput(of: name, from: old, to: newInput)
        do {
            try recompute(downstreamOf: [name])
        } catch {
            setInput(of: name, from: newInput, to: old)
            try? recompute(downstreamOf: [name])
            throw error
        }
    }

    private mutating func setInput(of id: NodeID, from old: NodeID, to new: NodeID) {
        if alive[id.raw] { nodes[id.raw].inputs = [new] }
        if alive[old.raw] { nodes[old.raw].users.removeAll { $0 == id } }
        if alive[new.raw] { nodes[new.raw].users.append(id) }
    }

    /// Sets the value of a leaf (a param after an optimizer step) and recomputes downstream.
    public mutating func setValue(_ leaf: NodeID, _ value: Tensor) throws(GraphError) {
        try setValues([(leaf, value)])
    }

    /// Sets several leaves at once, then recomputes what depends on any of them, once.
    /// All or nothing: if a node downstream fails, the old values are put back.
    /// With `only`, nodes outside that set are left as they are (training touches only
    /// the loss's graph; a full `setValues` later brings the rest up to date).
    public mutating func setValues(_ updates: [(NodeID, Tensor)], only: [Bool]? = nil) throws(GraphError) {
        var old: [(NodeID, Tensor)] = []
        for (leaf, value) in updates where self[leaf].op.isLeaf {
            old.append((leaf, self[leaf].value))
            setValue(of: leaf, value)
        }
        do {
            try recompute(downstreamOf: old.map(\.0), only: only)
        } catch {
            for (leaf, value) in old.reversed() { setValue(of: leaf, value) }
            try? recompute(downstreamOf: old.map(\.0), only: only)
            throw error
        }
    }

    /// Recomputes every node downstream of `sources` (and the sources themselves
    /// unless they are leaves), inputs before users.
    public mutating func recompute(downstreamOf sources: [NodeID], only: [Bool]? = nil) throws(GraphError) {
        for id in downstreamOrder(of: sources) where !self[id].op.isLeaf {
            if let only, id.raw >= only.count || !only[id.raw] { continue }
            let op = self[id].op
            if self[id].value.isScalar, let v = scalarNumber(op, self[id].inputs) {
                // A scalar node stays a scalar: its number is replaced in place, nothing allocated.
                nodes[id.raw].value[flat: 0] = v
                noteIfNonFinite(id)
                continue
            }
            let value: Tensor
            do {
                value = try evaluate(op, self[id].inputs)
            } catch {
                throw GraphError(node: id, error)
            }
            let isName: Bool = { if case .name = op { return true } else { return false } }()
            try checkHeld(adding: isName ? 0 : value.count, removing: Graph.counted(self[id]), node: id)
            setValue(of: id, value)
            noteIfNonFinite(id)
        }
    }

    /// `sources` and every node that reads them directly or indirectly, in an
    /// order where each node comes after all of its inputs from the set.
    public func downstreamOrder(of sources: [NodeID]) -> [NodeID] {
        // Reverse postorder of a depth-first walk along `users`.
        var seen = [Bool](repeating: false, count: nodes.count)
        var postorder: [NodeID] = []
        var stack: [(NodeID, Int)] = []
        for source in sources where !seen[source.raw] {
            seen[source.raw] = true
            stack.append((source, 0))
            while let (id, next) = stack.last {
                let users = self[id].users
                if next < users.count {
                    stack[stack.count - 1].1 = next + 1
                    let user = users[next]
                    if !seen[user.raw] {
                        seen[user.raw] = true
                        stack.append((user, 0))
                    }
                } else {
                    postorder.append(id)
                    stack.removeLast()
                }
            }
        }
        return postorder.reversed()
    }

    /// True when `a` reads `b`, directly or through other nodes (or is `b`).
    public func depends(_ a: NodeID, on b: NodeID) -> Bool {
        topologicalOrder(from: a).contains(b)
    }

    // MARK: - Forward

    /// Computes the value of `op` applied to the current values of `inputs`.
    private func evaluate(_ op: Op, _ inputs: [NodeID]) throws(TensorError) -> Tensor {
        if let y = scalarValue(op, inputs) { return y }
        if let y = try elementwiseValue(op, inputs) { return y }
        switch op {
        case .gradient:
            let grads = try backward(from: inputs[0])
            return grads[inputs[1]] ?? Tensor.zeros(self[inputs[1]].value.shape)
        case .jacobian:
            return try jacobian(of: inputs[0], withRespectTo: inputs[1])
        case .bce:
            let x = inputs.map { self[$0].value }
            guard let z = logit(of: inputs[0], target: x[1]) else { return try op.forward(x) }
            try Op.checkLossShapes("bce", x)
            return try Op.bceFromLogits(z, x[1])
        case .constant, .param, .name, .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus,
            .step, .sin, .cos, .scaledTanh, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu,
            .dropout, .matmul, .dot, .transpose, .sum, .mean, .max, .min, .vec, .reshape, .index, .stack,
            .softmax, .logSoftmax, .mse, .crossEntropy, .logisticLoss, .hinge, .accuracy, .conv2d, .pool, .flatten,
            .log10, .log2, .sign, .inv, .solve:
            return try op.forward(inputs.map { self[$0].value })
        }
    }

    /// An elementwise op on true scalars (shape []), computed by the op's rule on plain numbers:
    /// the same math as the tensor path, without its arrays (most nodes of an exam's graph).
    private func scalarValue(_ op: Op, _ inputs: [NodeID]) -> Tensor? {
        scalarNumber(op, inputs).map { Tensor($0) }
    }

    /// The same as a plain number.
    private func scalarNumber(_ op: Op, _ inputs: [NodeID]) -> Double? {
        switch inputs.count {
        case 1:
            guard self[inputs[0]].value.isScalar else { return nil }
            if case .name = op { return self[inputs[0]].value.scalar }  // a name is its definition
            return op.unaryRule(UnaryScalar(x: self[inputs[0]].value.scalar))
        case 2:
            guard self[inputs[0]].value.isScalar, self[inputs[1]].value.isScalar else { return nil }
            return op.binaryRule(BinaryScalar(a: self[inputs[0]].value.scalar, b: self[inputs[1]].value.scalar))
        default:
            return nil
        }
    }

    /// An elementwise op (or a name) on tensors of any shape, from the operands as they are:
    /// no array of inputs, so on tiny tensors (held inline) the node makes no heap allocation.
    private func elementwiseValue(_ op: Op, _ inputs: [NodeID]) throws(TensorError) -> Tensor? {
        switch inputs.count {
        case 1:
            if case .name = op { return self[inputs[0]].value }  // a name is its definition
            return try op.elementwise(self[inputs[0]].value, nil)
        case 2:
            return try op.elementwise(self[inputs[0]].value, self[inputs[1]].value)
        default:
            return nil
        }
    }

    /// The logit z when `p` is `sigmoid(z)` (through names): bce then works from z, exactly
    /// where σ(z) rounds to 0 or 1. Only for a target of p's shape or a single number.
    func logit(of p: NodeID, target: Tensor) -> Tensor? {
        guard let z = sigmoidInput(of: p) else { return nil }
        let value = self[z].value
        guard value.shape == self[p].value.shape, target.shape == value.shape || target.count == 1 else { return nil }
        return value
    }

    /// z when `p` is `sigmoid(z)`, through names (the float32 tape fuses bce the same way).
    func sigmoidInput(of p: NodeID) -> NodeID? {
        var id = p
        while case .name = self[id].op, let input = self[id].inputs.first { id = input }
        guard case .sigmoid = self[id].op else { return nil }
        return self[id].inputs.first
    }

    /// A node's VJP: its op's, except bce of a sigmoid, which goes through the logit.
    public func localVJP(_ id: NodeID, _ g: Tensor, needs: [Bool]? = nil) -> [Tensor?] {
        if let local = scalarVJP(id, g) { return local }
        if let (ga, gb) = elementwiseVJP(id, g, needs: Op.pair(needs)) {
            return self[id].inputs.count == 1 ? [ga] : [ga, gb]
        }
        let node = self[id]
        let x = node.inputs.map { self[$0].value }
        if case .bce = node.op, let z = logit(of: node.inputs[0], target: x[1]) {
            return Op.bceFromLogitsVJP(z, x[0], x[1], g)
        }
        return node.op.vjp(x, node.value, g, needs: needs)  // pow is elementwise: handled above
    }

    /// True for `b` of `a^b` when b is written in the source ((y - t)^2): it gets no gradient,
    /// there being none to give where the base is negative (NaN), and nothing can change it.
    func isWrittenExponent(input: Int, of id: NodeID) -> Bool {
        guard input == 1, case .pow = self[id].op, case .constant = self[self[id].inputs[1]].op else { return false }
        return true
    }

    /// The VJP of an elementwise op (or a name) on tensors of any shape, as a pair (the second
    /// nil for one input, for an input not needed, or for a written exponent ((y - t)^2), which
    /// gets no gradient); nil for other ops. No arrays: tiny tensors make no heap allocation.
    func elementwiseVJP(_ id: NodeID, _ g: Tensor, needs: (Bool, Bool)) -> (Tensor?, Tensor?)? {
        let node = self[id]
        switch node.inputs.count {
        case 1:
            if case .name = node.op { return (needs.0 ? g : nil, nil) }  // the identity
            return node.op.elementwiseVJP(self[node.inputs[0]].value, nil, node.value, g, needs: needs)
        case 2:
            guard let (ga, gb) = node.op.elementwiseVJP(
                self[node.inputs[0]].value, self[node.inputs[1]].value, node.value, g,
                needs: (needs.0, needs.1 && !isWrittenExponent(input: 1, of: id)))
            else { return nil }
            return (ga, gb)
        default:
            return nil
        }
    }

    /// The VJP of an elementwise op on true scalars, from its rule's partials on plain numbers.
    private func scalarVJP(_ id: NodeID, _ g: Tensor) -> [Tensor?]? {
        guard g.isScalar, let (da, db) = scalarPartials(id) else { return nil }
        let gv = g.scalar
        if self[id].inputs.count == 1 { return [Tensor(gv * da)] }
        return [Tensor(gv * da), db.map { Tensor(gv * $0) }]
    }

    /// The local derivatives of an elementwise op on true scalars (the second nil for one input,
    /// or for a written exponent ((y - t)^2), which gets no gradient, as on the tensor path).
    func scalarPartials(_ id: NodeID) -> (Double, Double?)? {
        guard self[id].value.isScalar else { return nil }
        let y = self[id].value.scalar, op = self[id].op, inputs = self[id].inputs
        switch inputs.count {
        case 1:
            guard self[inputs[0]].value.isScalar else { return nil }
            if case .name = op { return (1, nil) }  // the identity: the gradient passes through
            guard let d = op.unaryRule(UnaryScalarSlope(x: self[inputs[0]].value.scalar, y: y)) else { return nil }
            return (d, nil)
        case 2:
            guard self[inputs[0]].value.isScalar, self[inputs[1]].value.isScalar,
                  let (da, db) = op.binaryRule(BinaryScalarSlopes(a: self[inputs[0]].value.scalar, b: self[inputs[1]].value.scalar, y: y))
            else { return nil }
            if isWrittenExponent(input: 1, of: id) { return (da, nil) }
            return (da, db)
        default:
            return nil
        }
    }

    private mutating func noteIfNonFinite(_ id: NodeID) {
        if !self[id].value.isFinite && self[id].inputs.allSatisfy({ self[$0].value.isFinite }) {
            nonFiniteOrigins.append(id)
        }
    }

    /// The nodes that produced NaN or infinity from finite inputs since the last call.
    /// Each node once (a command that recomputes many times, like :train, records it each
    /// time), and only while its value is still not finite.
    public mutating func takeNonFiniteOrigins() -> [NodeID] {
        defer { nonFiniteOrigins = [] }
        var seen: Set<NodeID> = []
        return nonFiniteOrigins.filter { contains($0) && seen.insert($0).inserted && !self[$0].value.isFinite }
    }

    // MARK: - Backward

    /// The nodes `root` depends on (itself included), each after all of its inputs.
    public func topologicalOrder(from root: NodeID) -> [NodeID] {
        var seen = [Bool](repeating: false, count: nodes.count)
        var order: [NodeID] = []
        order.reserveCapacity(nodes.count)  // at most every node: no regrowth
        var stack: [(NodeID, Int)] = []
        stack.reserveCapacity(32)
        stack.append((root, 0))
        seen[root.raw] = true
        while let (id, next) = stack.last {
            let inputs = self[id].inputs
            if next < inputs.count {
                stack[stack.count - 1].1 = next + 1
                let input = inputs[next]
                if !seen[input.raw] {
                    seen[input.raw] = true
                    stack.append((input, 0))
                }
            } else {
                order.append(id)
                stack.removeLast()
            }
        }
        return order
    }

    /// Backpropagation from a scalar node: ∂root/∂n for every node n that root depends on.
    public func backward(from root: NodeID) throws(TensorError) -> Gradients {
        let value = self[root].value
        guard value.isSingleElement else {
            throw .badShape(op: "backward", value.shape, expected: "a scalar (backprop starts from a single number, like a loss)")
        }
        return backward(order: topologicalOrder(from: root), seed: Tensor.filled1(value.shape))
    }

    /// The vector-Jacobian product seeded with `seed` at the last node of `order`
    /// (a topological order ending at the root). Accumulates over every path.
    public func backward(order: [NodeID], seed: Tensor) -> Gradients {
        var walk = BackwardWalk(order: order, seed: seed, capacity: nodes.count)
        walk.finish(in: self)
        return walk.gradients
    }

    /// A mask of the nodes `root` depends on (itself included), indexed by `NodeID.raw`.
    public func mask(of root: NodeID) -> [Bool] {
        var m = [Bool](repeating: false, count: nodes.count)
        for id in topologicalOrder(from: root) { m[id.raw] = true }
        return m
    }

    /// Backprop from a scalar node toward some nodes only (the params, in training):
    /// gradients of nodes that lead to none of `targets` are not computed.
    public func backward(from root: NodeID, toward targets: [NodeID]) throws(TensorError) -> Gradients {
        let value = self[root].value
        guard value.isSingleElement else {
            throw .badShape(op: "backward", value.shape, expected: "a scalar (backprop starts from a single number, like a loss)")
        }
        let order = topologicalOrder(from: root)
        var needed = [Bool](repeating: false, count: nodes.count)
        for id in targets where id.raw < needed.count { needed[id.raw] = true }
        for id in order where !needed[id.raw] {
            needed[id.raw] = self[id].inputs.contains { needed[$0.raw] }
        }
        var walk = BackwardWalk(order: order, seed: Tensor.filled1(value.shape), capacity: nodes.count, needed: needed)
        walk.finish(in: self)
        return walk.gradients
    }

    /// The Jacobian ∂y/∂x as an m x n matrix (m elements of y, n of x), one VJP per row.
    public func jacobian(of y: NodeID, withRespectTo x: NodeID) throws(TensorError) -> Tensor {
        let yValue = self[y].value
        let n = self[x].value.count
        let m = yValue.count
        try Shape.checkSize([m, n])
        let order = topologicalOrder(from: y)
        var rows = [Double](repeating: 0, count: m * n)
        guard order.contains(x) else { return Tensor(shape: [m, n], scalars: rows) }
        for i in 0..<m {
            let grads = backward(order: order, seed: Tensor.unit(yValue.shape, i))
            if let gx = grads[x] {
                gx.withUnsafeBufferPointer { g in for j in 0..<n { rows[i * n + j] = g[j] } }
            }
        }
        return Tensor(shape: [m, n], scalars: rows)
    }
}

/// The gradients of one backward pass, by node.
public struct Gradients: Sendable {
    fileprivate var byNode: [Tensor?]
    init(_ byNode: [Tensor?]) { self.byNode = byNode }

    /// ∂root/∂node, or `nil` when the root does not depend on the node.
    public subscript(id: NodeID) -> Tensor? {
        id.raw < byNode.count ? byNode[id.raw] : nil
    }
}

extension Tensor {
    /// A tensor of ones of `shape` (no size check: used for seeds of single elements).
    static func filled1(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, count: Shape.count(shape)) { $0.initialize(repeating: 1) }
    }
}

// MARK: - Backward, one node at a time

/// What one node of a backward pass did: its upstream gradient, and for each
/// input the VJP it sent down and the input's gradient after accumulating it.
public struct BackwardStep: Sendable {
    public struct Contribution: Sendable {
        /// Which input of the node (0-based).
        public var input: Int
        public var id: NodeID
        /// The VJP for this input, `nil` where the input is not differentiable.
        public var vjp: Tensor?
        /// The input's gradient after adding `vjp`.
        public var accumulated: Tensor?
        /// How many contributions the input has received so far, this one included.
        public var received: Int
    }
    public var node: NodeID
    public var upstream: Tensor
    public var contributions: [Contribution]
}

/// A backward pass that can be walked one node at a time (`:step`), and that
/// `Graph.backward` runs to the end: the one place where gradients accumulate.
public struct BackwardWalk: Sendable {
    /// Root first, leaves last.
    public let order: [NodeID]
    public private(set) var gradients: Gradients
    /// How many nodes of `order` have been visited.
    public private(set) var position = 0
    private var received: [Int]
    /// When set, only nodes marked true receive gradients.
    private let needed: [Bool]?

    public init(order topological: [NodeID], seed: Tensor, capacity: Int, needed: [Bool]? = nil) {
        self.needed = needed
        order = topological.reversed()
        var grads = [Tensor?](repeating: nil, count: capacity)
        if let root = topological.last { grads[root.raw] = seed }
        gradients = Gradients(grads)
        received = [Int](repeating: 0, count: capacity)
    }

    public var isFinished: Bool { position >= order.count }

    /// Visits the next node that has a gradient and sends its VJP to its inputs;
    /// `nil` when every node has been visited.
    public mutating func step(in graph: Graph) -> BackwardStep? {
        var record: BackwardStep? = BackwardStep(node: NodeID(0), upstream: Tensor(0), contributions: [])
        return advance(in: graph, record: &record) ? record : nil
    }

    /// Runs the whole walk without recording the steps (what `Graph.backward` does).
    mutating func finish(in graph: Graph) {
        var none: BackwardStep?
        while advance(in: graph, record: &none) {}
    }

    /// Adds one number to a scalar input's gradient (in place when it has one).
    private mutating func add(_ v: Double, to input: NodeID) {
        if gradients.byNode[input.raw] == nil {
            gradients.byNode[input.raw] = Tensor(v)
        } else {
            gradients.byNode[input.raw]?[flat: 0] += v
        }
        received[input.raw] += 1
    }

    /// Adds a VJP into an input's gradient (in place when it has one).
    private mutating func add(_ contribution: Tensor, to input: NodeID) {
        if gradients.byNode[input.raw] == nil {
            gradients.byNode[input.raw] = contribution
        } else {
            gradients.byNode[input.raw]?.accumulate(contribution)
        }
        received[input.raw] += 1
    }

    /// One node of the walk; false when there is none left. Fills `record` when it is not nil.
    private mutating func advance(in graph: Graph, record: inout BackwardStep?) -> Bool {
        while position < order.count {
            let id = order[position]
            position += 1
            guard let g = gradients[id] else { continue }
            let inputs = graph[id].inputs
            if inputs.isEmpty { continue }
            if record == nil, g.isScalar, let (da, db) = graph.scalarPartials(id) {
                // A scalar node, unrecorded: its partials go straight into the inputs' sums.
                let gv = g.scalar
                for (i, input) in inputs.enumerated() where needed?[input.raw] ?? true {
                    guard let d = i == 0 ? da : db else { continue }
                    add(gv * d, to: input)
                }
                return true
            }
            if record == nil, inputs.count <= 2, let (ga, gb) = graph.elementwiseVJP(id, g, needs: (
                needed?[inputs[0].raw] ?? true, inputs.count == 2 && (needed?[inputs[1].raw] ?? true)))
            {
                // An elementwise node, unrecorded: no arrays of inputs or gradients.
                if let ga { add(ga, to: inputs[0]) }
                if let gb { add(gb, to: inputs[1]) }
                return true
            }
            let needs = needed.map { mask in inputs.map { mask[$0.raw] } }
            let local = graph.localVJP(id, g, needs: needs)
            assert(local.count == inputs.count, "\(graph[id].op) must give one gradient per input")
            for (i, (input, contribution)) in zip(inputs, local).enumerated() {
                if let contribution, needs?[i] ?? true { add(contribution, to: input) }
                record?.contributions.append(.init(
                    input: i, id: input, vjp: contribution, accumulated: gradients[input], received: received[input.raw]))
            }
            record?.node = id
            record?.upstream = g
            return true
        }
        return false
    }
}
