#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CBLAS
import NablaTensor

/// The vectorized float32 backend: the loss's graph compiled to a tape of float32
/// kernels over preallocated buffers, for training on big batches (MNIST).
///
/// The tape is the same graph, node for node: each instruction is one node of the
/// graph with its op, and the kernels compute the same forward values and VJPs as the
/// op table (checked against it in the tests, within float32 tolerance). Matrix
/// products go to OpenBLAS's sgemm; elementwise loops run over contiguous buffers the
/// compiler vectorizes; the buffers are reused from step to step (only the small ones of
/// `mse` and `bce` gradients are made anew). Gradients are computed only
/// toward the params (never ∂L/∂X of the data).
public final class Tape32 {
    /// One node: its op, the slots of its inputs, and its own slot.
    struct Instruction {
        var op: Op
        var node: NodeID
        var inputs: [Int]
        var output: Int
        /// Which inputs need a gradient (lead to a param).
        var needs: [Bool]
    }

    /// A buffer and the shape it holds now (the batch's rows vary).
    struct Slot {
        var values: [Float] = []
        var shape: [Int] = []
        var grad: [Float] = []
        var hasGrad = false
        var count: Int { shape.reduce(1, *) }
    }

    var slots: [Slot] = []
    var program: [Instruction] = []
    var slotOf: [NodeID: Int] = [:]
    public let root: NodeID
    public let params: [NodeID]
    public let feeds: [NodeID]
    /// For `cross_entropy` with class targets: the softmax of the logits, kept for backward.
    var softmax: [Int: [Float]] = [:]
    /// For `dropout`: the mask of the last forward (0 or 1/(1 - rate)), kept for backward.
    var masks: [Int: [Float]] = [:]
    /// Why the last forward could not be computed (shapes that do not fit), if it could not.
    public private(set) var problem: String?

    /// Compiles the graph below `root`; nil when an op has no float32 kernel here (the
    /// caller then trains in float64 with the graph itself).
    public init?(graph: Graph, root: NodeID, params: [NodeID], feeds: [NodeID]) {
        self.root = root
        self.params = params
        self.feeds = feeds
        let order = graph.topologicalOrder(from: root)
        var needed: Set<NodeID> = Set(params)
        for id in order where graph[id].inputs.contains(where: { needed.contains($0) }) { needed.insert(id) }
        for id in order {
            let node = graph[id]
            if case .name = node.op, let input = node.inputs.first, let s = slotOf[input] {
                slotOf[id] = s  // a name is its definition's root
                continue
            }
            if node.op.isLeaf {
                var slot = Slot()
                // The data arrives batch by batch; everything else is copied once.
                if !feeds.contains(id) {
                    slot.values = node.value.scalars.map { Float($0) }
                    slot.shape = node.value.shape
                }
                slotOf[id] = slots.count
                slots.append(slot)
                continue
            }
            guard Tape32.supports(node.op, shapes: node.inputs.map { graph[$0].value.shape }) else { return nil }
            let inputs = node.inputs.compactMap { slotOf[$0] }
            guard inputs.count == node.inputs.count else { return nil }
            slotOf[id] = slots.count
            slots.append(Slot())
            program.append(Instruction(op: node.op, node: id, inputs: inputs, output: slotOf[id] ?? 0, needs: node.inputs.map { needed.contains($0) }))
        }
    }

    static func supports(_ op: Op, shapes: [[Int]]) -> Bool {
        switch op {
        case .relu, .sigmoid, .tanh, .neg, .mse, .bce: return true
        case .add, .sub, .mul:
            // Same shapes, a scalar, or a row vector added to every row.
            let (a, b) = (shapes[0], shapes[1])
            return a == b || Shape.count(b) == 1 || (a.count == 2 && b == [a[1]]) || Shape.count(a) == 1 || (b.count == 2 && a == [b[1]])
        case .matmul: return shapes[0].count == 2 && shapes[1].count == 2
        case .crossEntropy: return shapes[0].count == 2 && shapes[1].count == 1
        case .dropout: return true
        case .constant, .param, .name, .exp, .log, .sqrt, .abs, .softplus, .step, .sin, .cos, .scaledTanh,
            .div, .pow, .maximum, .minimum, .leakyRelu, .dot, .transpose, .sum, .mean, .max, .min, .vec,
            .reshape, .index, .stack, .softmax, .logSoftmax, .logisticLoss, .hinge, .accuracy, .gradient,
            .jacobian: return false
        }
    }

    // MARK: - Values in and out

    /// Sets a leaf's value (a batch of the data, or a param).
    public func set(_ node: NodeID, _ values: [Float], shape: [Int]) {
        guard let s = slotOf[node] else { return }
        slots[s].values = values
        slots[s].shape = shape
    }

    /// Fills a leaf's buffer in place (a batch of the data): no allocation once it has its size.
    public func fill(_ node: NodeID, shape: [Int], _ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        guard let s = slotOf[node] else { return }
        resize(s, shape)
        slots[s].values.withUnsafeMutableBufferPointer { body($0) }
    }

    /// A leaf's or node's current values.
    public func values(_ node: NodeID) -> (values: [Float], shape: [Int])? {
        slotOf[node].map { (slots[$0].values, slots[$0].shape) }
    }

    /// The gradient of a param after `backward`.
    public func gradient(_ node: NodeID) -> [Float]? {
        slotOf[node].flatMap { slots[$0].hasGrad ? slots[$0].grad : nil }
    }

    /// Updates a param in place with `body(values, gradient)`.
    public func update(_ node: NodeID, _ body: (inout [Float], [Float]) -> Void) {
        guard let s = slotOf[node], slots[s].hasGrad else { return }
        let g = slots[s].grad
        body(&slots[s].values, g)
    }

    /// The first node, in the order the tape computes (params first), whose value holds NaN or infinity.
    public func firstNonFinite() -> NodeID? {
        for leaf in params where slotOf[leaf].map({ !slots[$0].values.allSatisfy(\.isFinite) }) ?? false { return leaf }
        return program.first { !slots[$0.output].values.allSatisfy(\.isFinite) }?.node
    }

    public var loss: Float { slotOf[root].map { slots[$0].values.first ?? .nan } ?? .nan }

    // MARK: - Forward

    /// Computes every node from the leaves; returns the loss.
    @discardableResult
    public func forward() -> Float {
        problem = nil
        for ins in program {
            run(ins)
            if problem != nil { return .nan }
        }
        return loss
    }

    /// Shapes an elementwise op can combine: equal, one a single number, or one a row of the other.
    static func compatible(_ a: Int, _ b: Int) -> Bool {
        a == b || a == 1 || b == 1 || (a > b ? a % b == 0 : b % a == 0)
    }

    func resize(_ s: Int, _ shape: [Int]) {
        let n = shape.reduce(1, *)
        slots[s].shape = shape
        if slots[s].values.count != n { slots[s].values = [Float](repeating: 0, count: n) }
    }

    func run(_ ins: Instruction) {
        let o = ins.output
        let a = ins.inputs[0]
        switch ins.op {
        case .matmul:
            let b = ins.inputs[1]
            let (m, k, n) = (slots[a].shape[0], slots[a].shape[1], slots[b].shape[1])
            guard slots[b].shape[0] == k else {
                problem = "shape mismatch in @: [\(m), \(k)] @ [\(slots[b].shape[0]), \(n)]"
                return
            }
            resize(o, [m, n])
            Tape32.gemm(slots[a].values, false, slots[b].values, false, &slots[o].values, m: m, n: n, k: k, accumulate: false)
        case .add, .sub, .mul:
            let b = ins.inputs[1]
            guard Tape32.compatible(slots[a].count, slots[b].count) else {
                problem = "shape mismatch in \(ins.op.symbol): \(Shape.describe(slots[a].shape)) and \(Shape.describe(slots[b].shape))"
                return
            }
            // The larger operand gives the shape; on a tie the one with more axes ([k] + [1, k] is [1, k]).
            let (ca, cb) = (slots[a].count, slots[b].count)
            let big = ca > cb || (ca == cb && slots[a].shape.count >= slots[b].shape.count) ? a : b
            resize(o, slots[big].shape)
            let x = slots[a].values, y = slots[b].values
            let op = ins.op
            slots[o].values.withUnsafeMutableBufferPointer { out in
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeBufferPointer { yp in
                        switch op {
                        case .add: Tape32.broadcast(xp, yp, out) { $0 + $1 }
                        case .sub: Tape32.broadcast(xp, yp, out) { $0 - $1 }
                        default: Tape32.broadcast(xp, yp, out) { $0 * $1 }
                        }
                    }
                }
            }
        case .relu, .sigmoid, .tanh, .neg:
            resize(o, slots[a].shape)
            let x = slots[a].values
            slots[o].values.withUnsafeMutableBufferPointer { out in
                x.withUnsafeBufferPointer { xp in
                    switch ins.op {
                    case .relu: for i in 0..<xp.count { out[i] = Swift.max(xp[i], 0) }
                    case .sigmoid: for i in 0..<xp.count { out[i] = 1 / (1 + expf(-xp[i])) }
                    case .tanh: for i in 0..<xp.count { out[i] = tanhf(xp[i]) }
                    default: for i in 0..<xp.count { out[i] = -xp[i] }
                    }
                }
            }
        case let .dropout(rate):
            resize(o, slots[a].shape)
            let seed = Double(slots[ins.inputs[1]].values.first ?? -1)
            let count = slots[a].count
            // The mask (0 or 1/(1 - rate)), drawn as the float64 op draws it, kept for backward.
            var mask = masks[o] ?? []
            masks[o] = nil  // mask is the only reference: filled in place
            if mask.count != count { mask = [Float](repeating: 1, count: count) }
            mask.withUnsafeMutableBufferPointer { m in
                guard seed >= 0, rate > 0 else {
                    for i in 0..<count { m[i] = 1 }
                    return
                }
                let base = Dropout.base(seed), scale = Float(1 / (1 - rate))
                for i in 0..<count { m[i] = rate >= 1 || Dropout.draw(base, i) < rate ? 0 : scale }
            }
            masks[o] = mask
            let x = slots[a].values
            slots[o].values.withUnsafeMutableBufferPointer { out in
                for i in 0..<count { out[i] = x[i] * mask[i] }
            }
        case .crossEntropy:
            let t = ins.inputs[1]
            let (rows, k) = (slots[a].shape[0], slots[a].shape[1])
            guard slots[t].count == rows else {
                problem = "cross_entropy: \(rows) rows of logits but \(slots[t].count) classes"
                return
            }
            var p = softmax[o] ?? []
            softmax[o] = nil  // p is the only reference: filled in place
            if p.count != rows * k { p = [Float](repeating: 0, count: rows * k) }
            var total: Float = 0
            let z = slots[a].values, target = slots[t].values
            for r in 0..<rows {
                var top = -Float.infinity
                for j in 0..<k { top = Swift.max(top, z[r * k + j]) }
                var sum: Float = 0
                for j in 0..<k {
                    let e = expf(z[r * k + j] - top)
                    p[r * k + j] = e
                    sum += e
                }
                for j in 0..<k { p[r * k + j] /= sum }
                let c = Swift.min(Swift.max(Int(target[r]), 0), k - 1)
                total -= logf(Swift.max(p[r * k + c], Float.leastNormalMagnitude))
            }
            softmax[o] = p
            resize(o, [])
            slots[o].values[0] = total / Float(Swift.max(rows, 1))
        case .mse, .bce:
            let t = ins.inputs[1]
            let x = slots[a].values, y = slots[t].values
            guard x.count == y.count || x.count == 1 || y.count == 1 else {
                problem = "\(ins.op.symbol): the prediction has \(x.count) numbers but the target \(y.count)"
                return
            }
            let n = Swift.max(x.count, y.count)
            let logits = ins.op == .bce ? sigmoidInput(of: a).map { slots[$0].values } : nil
            var total: Float = 0
            for i in 0..<n {
                let u = x[x.count == 1 ? 0 : i], v = y[y.count == 1 ? 0 : i]
                if case .mse = ins.op {
                    total += (u - v) * (u - v)
                } else if let z = logits {
                    // bce of a sigmoid, from the logit (exact where σ rounds to 0 or 1).
                    let zi = z[x.count == 1 ? 0 : i]
                    total += v * Tape32.softplus(-zi) + (1 - v) * Tape32.softplus(zi)
                } else {
                    // Not a sigmoid's output: clamp so that 0·log 0 stays 0.
                    let p = Swift.min(Swift.max(u, 1e-7), 1 - 1e-7)
                    total -= v * logf(p) + (1 - v) * logf(1 - p)
                }
            }
            resize(o, [])
            slots[o].values[0] = total / Float(Swift.max(n, 1))
        case .constant, .param, .name, .exp, .log, .sqrt, .abs, .softplus, .step, .sin, .cos, .scaledTanh,
            .div, .pow, .maximum, .minimum, .leakyRelu, .dot, .transpose, .sum, .mean, .max, .min, .vec,
            .reshape, .index, .stack, .softmax, .logSoftmax, .logisticLoss, .hinge, .accuracy, .gradient,
            .jacobian:
            break
        }
    }

    // MARK: - Backward

    /// The slot of z when `slot` holds sigmoid(z) of the same size (bce then works from z).
    func sigmoidInput(of slot: Int) -> Int? {
        guard let producer = program.first(where: { $0.output == slot }), case .sigmoid = producer.op,
              let z = producer.inputs.first, slots[z].count == slots[slot].count else { return nil }
        return z
    }

    static func logisticSlope(_ x: Float) -> Float {
        let e = expf(-Swift.abs(x))
        return e / ((1 + e) * (1 + e))
    }

    static func softplus(_ x: Float) -> Float { Swift.max(x, 0) + log1pf(expf(-Swift.abs(x))) }

    /// Backprop from the loss toward the params: each param's slot gets its gradient.
    public func backward() {
        for s in slots.indices { slots[s].hasGrad = false }
        guard let r = slotOf[root] else { return }
        seed(r, [1])
        for ins in program.reversed() where slots[ins.output].hasGrad {
            vjp(ins)
        }
    }

    func seed(_ s: Int, _ g: [Float]) {
        slots[s].grad = g
        slots[s].hasGrad = true
    }

    /// Writes into slot `s`'s gradient buffer in place: `body(buffer, accumulate)` must add to
    /// it when `accumulate`, else overwrite it. The buffer is reused from step to step.
    func writeGrad(_ s: Int, count: Int, _ body: (UnsafeMutableBufferPointer<Float>, Bool) -> Void) {
        let accumulate = slots[s].hasGrad
        if slots[s].grad.count != count { slots[s].grad = [Float](repeating: 0, count: count) }
        slots[s].hasGrad = true
        slots[s].grad.withUnsafeMutableBufferPointer { body($0, accumulate) }
    }

    /// Adds `g` into slot `s`'s gradient (the first contribution sets it).
    func accumulate(_ s: Int, _ g: [Float]) {
        if !slots[s].hasGrad {
            slots[s].grad = g
            slots[s].hasGrad = true
        } else {
            slots[s].grad.withUnsafeMutableBufferPointer { d in
                for i in 0..<Swift.min(d.count, g.count) { d[i] += g[i] }
            }
        }
    }

    /// `out = f(x, y)` elementwise, where the smaller of `x` and `y` repeats along the larger:
    /// the same size, a single number, or a row added to every row (`X @ W + b`). The loops
    /// have no index arithmetic in the common cases, so they vectorize.
    @inline(__always)
    static func broadcast(
        _ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>, _ out: UnsafeMutableBufferPointer<Float>,
        _ f: (Float, Float) -> Float
    ) {
        let n = out.count, nx = x.count, ny = y.count
        guard nx > 0, ny > 0 else { return }
        if nx == n && ny == n {
            for i in 0..<n { out[i] = f(x[i], y[i]) }
        } else if ny == 1 {
            let v = y[0]
            for i in 0..<n { out[i] = f(x[i], v) }
        } else if nx == 1 {
            let u = x[0]
            for i in 0..<n { out[i] = f(u, y[i]) }
        } else if nx == n {
            for r in stride(from: 0, to: n, by: ny) { for j in 0..<ny { out[r + j] = f(x[r + j], y[j]) } }
        } else {
            for r in stride(from: 0, to: n, by: nx) { for j in 0..<nx { out[r + j] = f(x[j], y[r + j]) } }
        }
    }

    /// The gradient of an input of `d.count` elements from the output's gradient `g`: `sign · g`
    /// (times `times`, the other factor of a product, broadcast the same way), summed over the
    /// places the input was repeated (undoing broadcasting). Adds into `d` when `accumulate`.
    static func unbroadcast(
        _ g: UnsafeBufferPointer<Float>, times: UnsafeBufferPointer<Float>?, sign: Float,
        into d: UnsafeMutableBufferPointer<Float>, accumulate: Bool
    ) {
        let n = g.count, count = d.count
        guard count > 0 else { return }
        if !accumulate { for j in 0..<count { d[j] = 0 } }
        @inline(__always) func factor(_ i: Int) -> Float {
            guard let t = times, t.count > 0 else { return sign }
            return sign * t[t.count == n ? i : (t.count == 1 ? 0 : i % t.count)]
        }
        if count == n {
            if let t = times, t.count == n {
                for i in 0..<n { d[i] += sign * g[i] * t[i] }
            } else if times == nil {
                for i in 0..<n { d[i] += sign * g[i] }
            } else {
                for i in 0..<n { d[i] += g[i] * factor(i) }
            }
        } else if count == 1 {
            var total: Float = 0
            for i in 0..<n { total += g[i] * factor(i) }
            d[0] += total
        } else if times == nil {
            // A row repeated down the rows (a bias): the column sums.
            for r in stride(from: 0, to: n, by: count) { for j in 0..<count { d[j] += sign * g[r + j] } }
        } else {
            for i in 0..<n { d[i % count] += g[i] * factor(i) }
        }
    }

    func vjp(_ ins: Instruction) {
        let o = ins.output
        let g = slots[o].grad
        let a = ins.inputs[0]
        switch ins.op {
        case .matmul:
            let b = ins.inputs[1]
            let (m, k, n) = (slots[a].shape[0], slots[a].shape[1], slots[b].shape[1])
            let av = slots[a].values, bv = slots[b].values
            if ins.needs[0] {
                writeGrad(a, count: m * k) { ga, acc in Tape32.gemm(g, false, bv, true, ga, m: m, n: k, k: n, accumulate: acc) }
            }
            if ins.needs[1] {
                writeGrad(b, count: k * n) { gb, acc in Tape32.gemm(av, true, g, false, gb, m: k, n: n, k: m, accumulate: acc) }
            }
        case .add, .sub, .mul:
            let b = ins.inputs[1]
            for (i, input) in [a, b].enumerated() where ins.needs[i] {
                let count = slots[input].count
                if case .add = ins.op, count == g.count, !slots[input].hasGrad, input != o {
                    // The common case (a layer's X @ W + b): the gradient passes through. The
                    // buffers trade places, so nothing is copied (the output's is not read again).
                    let spare = slots[input].grad
                    slots[input].grad = g
                    slots[o].grad = spare
                    slots[input].hasGrad = true
                    continue
                }
                let sign: Float = ins.op == .sub && i == 1 ? -1 : 1
                let other = ins.op == .mul ? slots[i == 0 ? b : a].values : []
                writeGrad(input, count: count) { d, acc in
                    g.withUnsafeBufferPointer { gp in
                        other.withUnsafeBufferPointer { op in
                            Tape32.unbroadcast(gp, times: ins.op == .mul ? op : nil, sign: sign, into: d, accumulate: acc)
                        }
                    }
                }
            }
        case .relu, .sigmoid, .tanh, .neg:
            guard ins.needs[0] else { return }
            // σ' from the input (σ(x)σ(-x)), not y(1-y): y rounds to 1 in float32 from x ≈ 17 on.
            let y = ins.op == .sigmoid ? slots[a].values.map(Tape32.logisticSlope) : slots[o].values
            let op = ins.op
            writeGrad(a, count: g.count) { d, acc in
                g.withUnsafeBufferPointer { gp in
                    y.withUnsafeBufferPointer { yp in
                        let n = gp.count
                        // One loop per op (no branch inside), so each vectorizes.
                        switch (op, acc) {
                        // ReLU masks the bits (a branch per element mispredicts half the time).
                        case (.relu, false): for i in 0..<n { d[i] = Float(bitPattern: gp[i].bitPattern & (yp[i] > 0 ? UInt32.max : 0)) }
                        case (.relu, true): for i in 0..<n { d[i] += Float(bitPattern: gp[i].bitPattern & (yp[i] > 0 ? UInt32.max : 0)) }
                        case (.sigmoid, false): for i in 0..<n { d[i] = gp[i] * yp[i] }
                        case (.sigmoid, true): for i in 0..<n { d[i] += gp[i] * yp[i] }
                        case (.tanh, false): for i in 0..<n { d[i] = gp[i] * (1 - yp[i] * yp[i]) }
                        case (.tanh, true): for i in 0..<n { d[i] += gp[i] * (1 - yp[i] * yp[i]) }
                        case (_, false): for i in 0..<n { d[i] = -gp[i] }
                        case (_, true): for i in 0..<n { d[i] -= gp[i] }
                        }
                    }
                }
            }
        case .dropout:
            guard ins.needs[0], let mask = masks[o], mask.count == g.count else { return }
            writeGrad(a, count: g.count) { d, acc in
                for i in 0..<g.count { d[i] = (acc ? d[i] : 0) + g[i] * mask[i] }
            }
        case .crossEntropy:
            guard ins.needs[0], let p = softmax[o] else { return }
            let (rows, k) = (slots[a].shape[0], slots[a].shape[1])
            let target = slots[ins.inputs[1]].values
            let scale = g[0] / Float(Swift.max(rows, 1))
            // (softmax − onehot) / rows, written straight into the logits' gradient.
            writeGrad(a, count: rows * k) { d, acc in
                for r in 0..<rows {
                    let c = Swift.min(Swift.max(Int(target[r]), 0), k - 1)
                    for j in 0..<k {
                        let local = (p[r * k + j] - (j == c ? 1 : 0)) * scale
                        d[r * k + j] = acc ? d[r * k + j] + local : local
                    }
                }
            }
        case .mse, .bce:
            let t = ins.inputs[1]
            let x = slots[a].values, y = slots[t].values
            let count = Swift.max(x.count, y.count)
            let n = Float(count)
            let logits = ins.op == .bce ? sigmoidInput(of: a).map { slots[$0].values } : nil
            var gx = [Float](repeating: 0, count: x.count), gy = [Float](repeating: 0, count: y.count)
            for i in 0..<count {
                let xi = x.count == 1 ? 0 : i, yi = y.count == 1 ? 0 : i
                let u = x[xi], v = y[yi]
                if case .mse = ins.op {
                    gx[xi] += 2 * (u - v) / n * g[0]
                    gy[yi] -= 2 * (u - v) / n * g[0]
                } else if let z = logits {
                    // (σ(z) - d)/σ'(z): the sigmoid's VJP (σ'(z)) then gives σ(z) - d, without 0·∞.
                    let zi = z[xi]
                    let residual = (1 - v) / (1 + expf(-zi)) - v / (1 + expf(zi))
                    gx[xi] += residual / Swift.max(Tape32.logisticSlope(zi), Float.leastNormalMagnitude) / n * g[0]
                    gy[yi] += -zi / n * g[0]
                } else {
                    let p = Swift.min(Swift.max(u, 1e-7), 1 - 1e-7)
                    gx[xi] += (p - v) / (p * (1 - p)) / n * g[0]
                    gy[yi] += (logf(1 - p) - logf(p)) / n * g[0]
                }
            }
            if ins.needs[0] { accumulate(a, gx) }
            if ins.needs[1] { accumulate(t, gy) }
        case .constant, .param, .name, .exp, .log, .sqrt, .abs, .softplus, .step, .sin, .cos, .scaledTanh,
            .div, .pow, .maximum, .minimum, .leakyRelu, .dot, .transpose, .sum, .mean, .max, .min, .vec,
            .reshape, .index, .stack, .softmax, .logSoftmax, .logisticLoss, .hinge, .accuracy, .gradient,
            .jacobian:
            break
        }
    }

    /// C = op(A) op(B) (row-major; `ta`/`tb` transpose), m x n with inner size k.
    static func gemm(_ a: [Float], _ ta: Bool, _ b: [Float], _ tb: Bool, _ c: inout [Float], m: Int, n: Int, k: Int, accumulate: Bool) {
        c.withUnsafeMutableBufferPointer { gemm(a, ta, b, tb, $0, m: m, n: n, k: k, accumulate: accumulate) }
    }

    static func gemm(_ a: [Float], _ ta: Bool, _ b: [Float], _ tb: Bool, _ c: UnsafeMutableBufferPointer<Float>, m: Int, n: Int, k: Int, accumulate: Bool) {
        guard m > 0, n > 0, k > 0 else { return }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                cblas_sgemm(
                    CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, pa.baseAddress, Int32(ta ? m : k), pb.baseAddress, Int32(tb ? k : n),
                    accumulate ? 1 : 0, c.baseAddress, Int32(n))
            }
        }
    }
}
