import NablaTensor

/// The float32 training tape: the loss's graph compiled, node for node, to a list of
/// instructions over float32 tensors, for training on big batches (MNIST).
///
/// It holds no math of its own: each instruction runs its op's forward and VJP from the op
/// table (OpRules.swift), the same definitions the float64 live graph runs, so the two
/// precisions cannot disagree on a rule. What the tape adds is bookkeeping: slots that
/// the data arrives in batch by batch, gradients computed only toward the params (never
/// ∂L/∂X of the data), and bce of a sigmoid computed from its logit, as the graph does.
public final class Tape32 {
    /// The element type. The tape's code is written over `T`, and the op table it runs is
    /// generic; the class itself is concrete so that every caller gets code specialized to Float.
    public typealias T = Float

    /// One node: its op, the slots of its inputs, and its own slot.
    struct Instruction {
        var op: Op
        var node: NodeID
        var inputs: [Int]
        var output: Int
        /// Which inputs need a gradient (lead to a param).
        var needs: [Bool]
        /// For bce of a sigmoid: the slot of the sigmoid's input (the logit).
        var logit: Int?
    }

    var values: [DenseTensor<T>] = []
    var grads: [DenseTensor<T>?] = []
    var program: [Instruction] = []
    var slotOf: [NodeID: Int] = [:]
    public let root: NodeID
    public let params: [NodeID]
    public let feeds: [NodeID]
    /// Why the last forward could not be computed (shapes that do not fit, a bad class), if it could not.
    public private(set) var problem: String?
    /// True when the graph has a convolution or a pooling (see `forward`).
    let convolves: Bool

    /// Compiles the graph below `root`. Every op compiles; nil only when the loss reads a
    /// value function (`grad`, `jacobian`), which the graph computes by running backward itself.
    public init?(graph: Graph, root: NodeID, params: [NodeID], feeds: [NodeID]) {
        self.root = root
        self.params = params
        self.feeds = feeds
        let order = graph.topologicalOrder(from: root)
        convolves = order.contains { graph[$0].op.isConvolutionOrPooling }
        var needed: Set<NodeID> = Set(params)
        for id in order where graph[id].inputs.contains(where: { needed.contains($0) }) { needed.insert(id) }
        for id in order {
            let node = graph[id]
            switch node.op {
            case .gradient, .jacobian: return nil
            case .name:
                // A name is its definition's root: the same slot.
                guard let input = node.inputs.first, let s = slotOf[input] else { return nil }
                slotOf[id] = s
            case .constant, .param:
                // The data arrives batch by batch; everything else is copied once.
                slotOf[id] = addSlot(feeds.contains(id) ? DenseTensor(shape: [0], scalars: []) : node.value.converted())
            case .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step, .sin, .cos, .scaledTanh,
                .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu, .dropout, .matmul, .dot, .transpose,
                .sum, .mean, .max, .min, .vec, .reshape, .index, .stack, .softmax, .logSoftmax, .mse, .bce,
                .crossEntropy, .logisticLoss, .hinge, .accuracy, .conv2d, .pool, .flatten, .log10, .log2, .sign, .inv, .solve:
                let inputs = node.inputs.compactMap { slotOf[$0] }
                guard inputs.count == node.inputs.count else { return nil }
                let output = addSlot(DenseTensor(shape: [0], scalars: []))
                slotOf[id] = output
                program.append(Instruction(
                    op: node.op, node: id, inputs: inputs, output: output, needs: node.inputs.map { needed.contains($0) },
                    logit: node.op == .bce ? graph.sigmoidInput(of: node.inputs[0]).flatMap { slotOf[$0] } : nil))
            }
        }
    }

    /// bce goes through the logit z only where the graph's does (`Graph.logit(of:)`): a target of
    /// z's shape or a single number; a single prediction against many targets takes bce's own rule.
    static func throughLogit(_ z: DenseTensor<T>, target: DenseTensor<T>) -> Bool {
        target.shape == z.shape || target.count == 1
    }

    private func addSlot(_ value: DenseTensor<T>) -> Int {
        values.append(value)
        grads.append(nil)
        return values.count - 1
    }

    // MARK: - Values in and out

    /// Sets a leaf's value (a batch of the data, a param, a dropout seed).
    public func set(_ node: NodeID, _ scalars: [T], shape: [Int]) {
        guard let s = slotOf[node] else { return }
        values[s] = DenseTensor(shape: shape, scalars: scalars)
    }

    /// Fills a leaf's buffer in place (a batch of the data): no allocation once it has its size.
    public func fill(_ node: NodeID, shape: [Int], _ body: (UnsafeMutableBufferPointer<T>) -> Void) {
        guard let s = slotOf[node] else { return }
        var scalars = values[s].scalars
        values[s] = DenseTensor(shape: [0], scalars: [])  // the buffer's only reference: filled in place
        let n = Shape.count(shape)
        if scalars.count != n { scalars = [T](repeating: 0, count: n) }
        scalars.withUnsafeMutableBufferPointer { body($0) }
        values[s] = DenseTensor(shape: shape, scalars: scalars)
    }

    /// A leaf's or node's current values.
    public func values(_ node: NodeID) -> (values: [T], shape: [Int])? {
        slotOf[node].map { (values[$0].scalars, values[$0].shape) }
    }

    /// The gradient of a param after `backward`.
    public func gradient(_ node: NodeID) -> [T]? {
        slotOf[node].flatMap { grads[$0]?.scalars }
    }

    /// Updates a param in place with `body(values, gradient)`.
    public func update(_ node: NodeID, _ body: (inout [T], [T]) -> Void) {
        guard let s = slotOf[node], let g = grads[s] else { return }
        let shape = values[s].shape
        var scalars = values[s].scalars
        values[s] = DenseTensor(shape: [0], scalars: [])  // updated in place, not copied
        body(&scalars, g.scalars)
        values[s] = DenseTensor(shape: shape, scalars: scalars)
    }

    /// The first node, in the order the tape computes (params first), whose value holds NaN or infinity.
    public func firstNonFinite() -> NodeID? {
        for leaf in params where slotOf[leaf].map({ !values[$0].isFinite }) ?? false { return leaf }
        return program.first { !values[$0.output].isFinite }?.node
    }

    public var loss: T { slotOf[root].flatMap { values[$0].count > 0 ? values[$0][flat: 0] : nil } ?? .nan }

    // MARK: - Forward and backward: the op table's rules

    /// Computes every node from the leaves; returns the loss (NaN with `problem` set when an
    /// op refuses its inputs).
    @discardableResult
    public func forward() -> T {
        problem = nil
        // A convnet's kernels split the images over the cores themselves; an MLP's products are
        // best split by OpenBLAS, whose workers wait spinning between them (see `BLAS`).
        BLAS.use(convolves ? .nabla : .openBLAS)
        for ins in program {
            let x = ins.inputs.map { values[$0] }
            do throws(TensorError) {
                if let z = ins.logit, Tape32.throughLogit(values[z], target: x[1]) {
                    try Op.checkLossShapes("bce", x)
                    values[ins.output] = try Op.bceFromLogits(values[z], x[1])
                } else {
                    values[ins.output] = try ins.op.forward(x)
                }
            } catch {
                problem = error.message
                return .nan
            }
        }
        return loss
    }

    /// Backprop from the loss toward the params: each param's slot gets its gradient.
    public func backward() {
        for s in grads.indices { grads[s] = nil }
        guard let r = slotOf[root] else { return }
        grads[r] = DenseTensor(shape: values[r].shape, scalars: [T](repeating: 1, count: values[r].count))
        for ins in program.reversed() {
            guard let g = grads[ins.output] else { continue }
            let x = ins.inputs.map { values[$0] }
            let local = ins.logit.flatMap { z in
                Tape32.throughLogit(values[z], target: x[1]) ? Op.bceFromLogitsVJP(values[z], x[0], x[1], g) : nil
            } ?? ins.op.vjp(x, values[ins.output], g, needs: ins.needs)
            for (i, input) in ins.inputs.enumerated() where ins.needs[i] {
                guard let contribution = local[i] else { continue }
                if grads[input] == nil {
                    grads[input] = contribution
                } else {
                    grads[input]?.accumulate(contribution)
                }
            }
        }
    }
}

extension Op {
    /// A convolution or a pooling: an op whose kernel splits a batch of images over the cores.
    var isConvolutionOrPooling: Bool {
        if case .conv2d = self { return true }
        if case .pool = self { return true }
        return false
    }
}
