import NablaTensor

// MARK: - Elementwise rules: forward and derivative side by side

extension Op {
    /// One element of bce: -(d log p + (1-d) log(1-p)), a term left out where its weight is
    /// 0, so bce(1, 1) = 0 (0·log 0 is not NaN: the limit, as every framework takes it).
    static func bceTerm<T: TensorElement>(_ p: T, _ d: T) -> T {
        -((d == 0 ? 0 : d * T.log(p)) + (d == 1 ? 0 : (1 - d) * T.log(1 - p)))
    }

    /// ∂bce/∂p and ∂bce/∂d of one element, with the same rule for weights of 0.
    static func bcePartials<T: TensorElement>(_ p: T, _ d: T) -> (T, T) {
        let dp = -((d == 0 ? 0 : d / p) - (d == 1 ? 0 : (1 - d) / (1 - p)))
        return (dp, T.log(1 - p) - T.log(p))
    }

    /// bce of σ(z), from the logit z: d·softplus(-z) + (1-d)·softplus(z), exact where σ(z)
    /// rounds to 0 or 1 (bce(sigmoid(40), 1) is 4.2e-18, not NaN), as frameworks' "with logits".
    static func bceFromLogits<T: TensorElement>(_ z: DenseTensor<T>, _ d: DenseTensor<T>) throws(TensorError) -> DenseTensor<T> {
        let l = try DenseTensor.zip(z, d, op: "bce") { z, d in d * T.softplus(-z) + (1 - d) * T.softplus(z) }
        return DenseTensor(l.withUnsafeBufferPointer { $0.reduce(0, +) } / T(Swift.max(l.count, 1)))
    }

    /// The VJP of bce toward p = σ(z), from z: (σ(z) - d)/σ'(z) per element (mean-scaled),
    /// so that the sigmoid's VJP (σ'(z), also from z) brings σ(z) - d to z without 0·∞.
    static func bceFromLogitsVJP<T: TensorElement>(
        _ z: DenseTensor<T>, _ p: DenseTensor<T>, _ d: DenseTensor<T>, _ g: DenseTensor<T>
    ) -> [DenseTensor<T>?] {
        let n = T(Swift.max(p.count, 1)), scale = g.scalar / n
        var gp = DenseTensor<T>.zeros(p.shape)
        for i in 0..<p.count {
            let zi = z[flat: i], di = d.count == 1 ? d[flat: 0] : d[flat: i]
            let residual = (1 - di) * T.logistic(zi) - di * T.logistic(-zi)
            gp[flat: i] = scale * residual / Swift.max(T.logisticSlope(zi), T.leastNormalMagnitude)
        }
        var gd = DenseTensor<T>.zeros(d.shape)
        for i in 0..<p.count {
            let zi = z[flat: i]
            let v = -zi * scale
            if d.count == 1 { gd[flat: 0] += v } else { gd[flat: i] = v }
        }
        return [gp, gd]
    }
}

extension Op {
    /// A formula or label in parentheses unless it is a single name, number or call
    /// (how the views put factors side by side).
    public static func grouped(_ label: String) -> String { wrap(label) }
}

/// Puts parentheses around a label unless it is a single name, number or call.
func wrap(_ label: String) -> String {
    var depth = 0
    for (i, c) in label.enumerated() {
        switch c {
        case "(", "[": depth += 1
        case ")", "]": depth -= 1
        case "+", "-", "*", "/", "@", "^", " ", "·", "'":
            if depth == 0 && !(i == 0 && c == "-" && label.count > 1 && label.dropFirst().allSatisfy { $0.isNumber || $0 == "." }) {
                return "(\(label))"
            }
        default: break
        }
    }
    return label
}

// MARK: - Forward

extension Op {
    /// Computes the op's value from its inputs' values.
    ///
    /// Leaves, names and value functions are evaluated by `Graph`, which holds
    /// what they need; asking this table for them is a programming error
    /// reported as `.invalid`.
    public func forward<T: TensorElement>(_ x: [DenseTensor<T>]) throws(TensorError) -> DenseTensor<T> {
        if x.count <= 2, let first = x.first, let y = try elementwise(first, x.count == 2 ? x[1] : nil) { return y }
        switch self {
        case .constant, .param, .gradient, .jacobian:
            throw .invalid("internal: \(self) is evaluated by the graph")
        case .name:
            return x[0]
        case .matmul:
            return try DenseTensor<T>.matmul(x[0], x[1])
        case .inv:
            return try Op.inverse(x[0])
        case .solve:
            return try Op.solve(x[0], x[1])
        case let .conv2d(stride, pad):
            return try Op.conv2d(x[0], x[1], stride: stride, pad: pad)
        case let .pool(kind, size, stride):
            return try Op.pool(x[0], kind, size: size, stride: stride)
        case .flatten:
            return x[0].reshaped(Op.flattenedShape(x[0].shape))
        case let .dropout(rate, inverted):
            return x[0].droppedOut(rate: rate, seed: Double(x[1].scalars.first ?? -1), inverted: inverted)
        case .dot:
            guard x[0].shape == x[1].shape else { throw .shapeMismatch(op: "dot", x[0].shape, x[1].shape) }
            return DenseTensor<T>(zip(x[0].scalars, x[1].scalars).reduce(0) { $0 + $1.0 * $1.1 })
        case .transpose:
            return x[0].transposed
        case let .sum(axis):
            return try x[0].sum(axis: axis)
        case let .mean(axis):
            let n = T(Swift.max(x[0].reductionCount(axis: axis), 1))
            return try x[0].sum(axis: axis).map { $0 / n }
        case .max:
            guard x[0].count > 0 else { throw .badShape(op: "max", x[0].shape, expected: "at least one element") }
            return DenseTensor<T>(x[0].scalars[x[0].argmax])
        case .min:
            guard x[0].count > 0 else { throw .badShape(op: "min", x[0].shape, expected: "at least one element") }
            return DenseTensor<T>(x[0].scalars[x[0].argmin])
        case .vec:
            return x[0].reshaped([x[0].count])
        case let .reshape(dims):
            return x[0].reshaped(try Shape.resolve(dims, count: x[0].count, from: x[0].shape))
        case let .index(indices):
            let (offset, shape) = try Op.locate(indices, in: x[0].shape)
            let n = Shape.count(shape)
            return DenseTensor<T>(shape: shape, scalars: Array(x[0].scalars[offset..<offset + n]))
        case .stack:
            let first = x.first?.shape ?? []
            for (i, t) in x.enumerated() where t.shape != first {
                throw .invalid("entry \(i) has shape \(Shape.describe(t.shape)) but entry 0 has \(Shape.describe(first))")
            }
            try Shape.checkSize([x.count] + first)
            return DenseTensor<T>(shape: [x.count] + first, scalars: x.flatMap(\.scalars))
        case .softmax:
            return x[0].softmax
        case .logSoftmax:
            return x[0].logSoftmax
        case .mse, .bce, .crossEntropy, .logisticLoss, .hinge:
            return DenseTensor<T>(try lossValue(x))
        case .accuracy:
            return try DenseTensor<T>(T(Op.accuracy(x[0], x[1])))
        case .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step, .sin, .cos,
            .scaledTanh, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu, .log10, .log2, .sign:
            throw .invalid("internal: no forward rule for \(self)")
        }
    }

    /// A loss's value: the mean over its elements (over rows for cross-entropy).
    func lossValue<T: TensorElement>(_ x: [DenseTensor<T>]) throws(TensorError) -> T {
        switch self {
        case .mse:
            try Op.checkLossShapes("mse", x)
            let d = try DenseTensor<T>.zip(x[0], x[1], op: "mse") { $0 - $1 }
            return d.withUnsafeBufferPointer { $0.reduce(0) { $0 + $1 * $1 } } / T(Swift.max(d.count, 1))
        case .bce:
            try Op.checkLossShapes("bce", x)
            let l = try DenseTensor<T>.zip(x[0], x[1], op: "bce", Op.bceTerm)
            return l.withUnsafeBufferPointer { $0.reduce(0, +) } / T(Swift.max(l.count, 1))
        case .crossEntropy:
            let target = try CrossEntropyTarget(logits: x[0], target: x[1])
            let ls = x[0].logSoftmax
            return -target.weightedSum(ls) / T(target.rows)
        case .logisticLoss:
            try Op.checkLossShapes("logistic_loss", x)
            let l = try DenseTensor<T>.zip(x[0], x[1], op: "logistic_loss") { z, y in T.softplus(-y * z) }
            return l.withUnsafeBufferPointer { $0.reduce(0, +) } / T(Swift.max(l.count, 1))
        case .hinge:
            try Op.checkLossShapes("hinge", x)
            let l = try DenseTensor<T>.zip(x[0], x[1], op: "hinge") { z, y in Swift.max(0, 1 - y * z) }
            return l.withUnsafeBufferPointer { $0.reduce(0, +) } / T(Swift.max(l.count, 1))
        case .constant, .param, .name, .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step, .sin, .cos,
            .scaledTanh, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu, .dropout, .matmul, .dot, .transpose,
            .sum, .mean, .max, .min, .vec, .reshape, .index, .stack, .softmax, .logSoftmax, .accuracy, .gradient, .jacobian,
            .conv2d, .pool, .flatten, .log10, .log2, .sign, .inv, .solve:
            throw .invalid("internal: \(self) is not a loss")
        }
    }

    /// The fraction of rows of `p` whose class matches `y`'s.
    static func accuracy<T: TensorElement>(_ p: DenseTensor<T>, _ y: DenseTensor<T>) throws(TensorError) -> Double {
        let rows = p.rank == 2 ? p.shape[0] : p.count
        guard rows > 0 else { return 0 }
        let k = p.rank == 2 ? p.shape[1] : 1
        var right = 0
        if k > 1 {
            guard y.count == rows else { throw .shapeMismatch(op: "accuracy (scores, classes)", p.shape, y.shape) }
            for r in 0..<rows {
                var best = 0
                for j in 1..<k where p.scalars[r * k + j] > p.scalars[r * k + best] { best = j }
                if T(best) == y.scalars[r] { right += 1 }
            }
        } else {
            guard y.count == rows else { throw .shapeMismatch(op: "accuracy (predictions, targets)", p.shape, y.shape) }
            // ±1 targets when any is negative; 0/1 when any is 0; all +1 says neither, so the
            // predictions decide: a negative score means ±1 scores (threshold 0), else
            // probabilities (threshold 0.5).
            let signs = y.scalars.contains { $0 < 0 }
                || (!y.scalars.contains(0) && p.scalars.contains { $0 < 0 })
            for r in 0..<rows {
                let predicted: T = signs ? (p.scalars[r] > 0 ? 1 : -1) : (p.scalars[r] > 0.5 ? 1 : 0)
                if predicted == y.scalars[r] { right += 1 }
            }
        }
        return Double(right) / Double(rows)
    }

    /// A loss compares a prediction with its target element by element: their shapes
    /// must agree (or one be a single number). numpy would broadcast [N, 1] against [N]
    /// to [N, N]; here that classic mistake is an error.
    static func checkLossShapes<T: TensorElement>(_ op: String, _ x: [DenseTensor<T>]) throws(TensorError) {
        let (p, t) = (x[0], x[1])
        if p.shape == t.shape || p.isSingleElement || t.isSingleElement { return }
        if p.count == t.count {
            throw .invalid("\(op): the prediction has shape \(Shape.describe(p.shape)) but the target has shape \(Shape.describe(t.shape)); reshape one (e.g. reshape(t, \(p.shape.map(String.init).joined(separator: ", "))))")
        }
        throw .invalid("\(op): the prediction has shape \(Shape.describe(p.shape)) but the target has shape \(Shape.describe(t.shape)): they must match (or one be a single number)")
    }

    /// The flat offset and result shape of `x[indices]` for a tensor of `shape`.
    static func locate(_ indices: [Int], in shape: [Int]) throws(TensorError) -> (Int, [Int]) {
        guard indices.count <= shape.count else {
            throw .invalid("\(indices.count) \(indices.count == 1 ? "index" : "indices") for a tensor of shape \(Shape.describe(shape))")
        }
        let strides = Shape.strides(shape)
        var offset = 0
        for (axis, i) in indices.enumerated() {
            guard i >= 0 && i < shape[axis] else { throw .indexOutOfRange(index: i, axis: axis, extent: shape[axis]) }
            offset += i * strides[axis]
        }
        return (offset, Array(shape.dropFirst(indices.count)))
    }
}

extension DenseTensor {
    /// Dropout with a mask drawn from `seed` (counter-based, so the VJP redraws the same
    /// mask): each element kept with probability 1 - rate, and scaled by 1/(1 - rate) when
    /// `inverted`. A negative seed is evaluation mode: unchanged when inverted, else
    /// multiplied by 1 - rate (the slides' form: the same expected value as in training).
    func droppedOut(rate: Double, seed: Double, inverted: Bool) -> DenseTensor {
        guard seed >= 0 else { return inverted || rate == 0 ? self : map { $0 * Element(1 - rate) } }
        guard rate > 0 else { return self }
        guard rate < 1 else { return DenseTensor.zeros(shape) }
        let base = Dropout.base(seed)
        let scale = inverted ? Element(1 / (1 - rate)) : 1
        var out = scalars
        for i in 0..<out.count {
            out[i] = Dropout.draw(base, i) < rate ? 0 : out[i] * scale
        }
        return DenseTensor(shape: shape, scalars: out)
    }
}

/// Dropout's random stream, the same in every precision.
enum Dropout {

    /// Dropout's stream for a seed: element `i` is dropped when `Dropout.draw(base, i) < rate`
    /// (a SplitMix64 hash of the seed and the index, uniform in [0, 1)). The float32 tape draws
    /// the same mask.
    static func base(_ seed: Double) -> UInt64 { UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 }

    @inline(__always)
    static func draw(_ base: UInt64, _ i: Int) -> Double {
        var z = base &+ UInt64(i) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}

/// The target of a cross-entropy: one class index per row, or a distribution per row.
struct CrossEntropyTarget<T: TensorElement> {
    /// One class per row (when the target is given as indices).
    var classes: [Int]?
    /// The target distribution, same shape as the logits (when given that way).
    var distribution: DenseTensor<T>?
    var rows: Int

    init(logits: DenseTensor<T>, target: DenseTensor<T>) throws(TensorError) {
        guard logits.rank == 1 || logits.rank == 2 else {
            throw .badShape(op: "cross_entropy", logits.shape, expected: "logits as a vector or a matrix (one row per sample)")
        }
        rows = logits.rows
        let k = logits.cols
        if target.shape == logits.shape {
            // A distribution: every entry ≥ 0 and each row summing to 1.
            let k = logits.cols
            guard k > 0 else { throw .badShape(op: "cross_entropy", logits.shape, expected: "at least one logit per row") }
            for r in 0..<rows {
                let row = target.scalars[r * k..<(r + 1) * k]
                guard row.allSatisfy({ $0 >= -1e-9 }), Swift.abs(row.reduce(0, +) - 1) <= 0.01 else {
                    throw .invalid("cross_entropy: the target has the logits' shape, so it must be a distribution (entries ≥ 0, each row summing to 1, within 0.01 for typed values); row \(r) is not. For class indices give one per row, like [0, 2]")
                }
            }
            distribution = target
            return
        }
        let expectedCount = logits.rank == 1 ? 1 : rows
        guard target.count == expectedCount && target.rank <= 1 else {
            throw .shapeMismatch(op: "cross_entropy (logits, target)", logits.shape, target.shape)
        }
        var classes: [Int] = []
        for c in target.scalars {
            guard c == c.rounded(), c >= 0, c < T(k) else {
                throw .invalid("cross_entropy: class \(Format.number(Double(c))) is not an integer in 0...\(k - 1)")
            }
            classes.append(Int(c))
        }
        self.classes = classes
    }

    /// Σ target · v over every row (v is a log-probability tensor of the logits' shape).
    func weightedSum(_ v: DenseTensor<T>) -> T {
        if let classes {
            let k = v.cols
            return classes.enumerated().reduce(0) { $0 + v.scalars[$1.offset * k + $1.element] }
        }
        guard let distribution else { return 0 }
        return zip(distribution.scalars, v.scalars).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// The target as a dense tensor of the logits' shape (one-hot rows for class indices).
    func dense(like logits: DenseTensor<T>) -> DenseTensor<T> {
        if let distribution { return distribution }
        var t = DenseTensor<T>.zeros(logits.shape)
        let k = logits.cols
        for (row, c) in (classes ?? []).enumerated() { t.scalars[row * k + c] = 1 }
        return t
    }
}

// MARK: - Elementwise ops, without arrays

extension Op {
    /// The value of an elementwise op (`b` nil for one input; nil when the op is not one): its
    /// rule applied to the operands as they are, no array of inputs (the live graph's path for
    /// small tensors, which then make no heap allocation at all).
    func elementwise<T: TensorElement>(_ a: DenseTensor<T>, _ b: DenseTensor<T>?) throws(TensorError) -> DenseTensor<T>? {
        guard let b else { return unaryRule(UnaryForward(x: a)) }
        if self == .leakyRelu, !b.isSingleElement {
            throw .badShape(op: "leaky_relu's slope", b.shape, expected: "a scalar")
        }
        return try binaryRule(BinaryForward(a: a, b: b, op: symbol))?.get()
    }

    /// `needs` (one flag per input, nil for all) as the pair the elementwise VJPs take.
    static func pair(_ needs: [Bool]?) -> (Bool, Bool) {
        guard let needs else { return (true, true) }
        return (needs.first ?? true, needs.count > 1 ? needs[1] : true)
    }

    /// The VJP of an elementwise op, as a pair (the second nil for one input, and each nil
    /// where `needs` says so); nil when the op is not elementwise.
    func elementwiseVJP<T: TensorElement>(
        _ a: DenseTensor<T>, _ b: DenseTensor<T>?, _ y: DenseTensor<T>, _ g: DenseTensor<T>, needs: (Bool, Bool)
    ) -> (DenseTensor<T>?, DenseTensor<T>?)? {
        guard let b else {
            guard needs.0 else { return unaryRule(HasRule()).map { _ in (nil, nil) } }
            return unaryRule(UnaryVJP(x: a, y: y, g: g)).map { ($0, nil) }
        }
        return binaryRule(BinaryVJP(a: a, b: b, y: y, g: g, needs: needs))
    }
}

// MARK: - Vector-Jacobian products

extension Op {
    /// The VJP: given the inputs `x`, the output `y` and the upstream gradient `g`
    /// (shaped like `y`), the gradient for each input (shaped like that input),
    /// or `nil` for an input that is not differentiable.
    /// `needs[i] == false` lets an op skip input i's gradient (`nil`): training does not
    /// need ∂L/∂X of the data, and for `X @ W` that is a third of the work.
    public func vjp<T: TensorElement>(_ x: [DenseTensor<T>], _ y: DenseTensor<T>, _ g: DenseTensor<T>, needs: [Bool]? = nil) -> [DenseTensor<T>?] {
        if x.count <= 2, let first = x.first,
           let (ga, gb) = elementwiseVJP(first, x.count == 2 ? x[1] : nil, y, g, needs: Op.pair(needs)) {
            return x.count == 1 ? [ga] : [ga, gb]
        }
        switch self {
        case .constant, .param:
            return []
        case .gradient, .jacobian, .accuracy:
            return [nil, nil]
        case .name, .vec, .reshape, .flatten:
            return [g.reshaped(x[0].shape)]
        case .matmul:
            return Op.matmulVJP(x[0], x[1], g, needs: needs)
        case .inv:
            return Op.inverseVJP(y, g)
        case .solve:
            return Op.solveVJP(x[0], y, g)
        case let .conv2d(stride, pad):
            return Op.conv2dVJP(x[0], x[1], g, stride: stride, pad: pad, needs: needs)
        case let .pool(kind, size, stride):
            return Op.poolVJP(x[0], y, g, kind, size: size, stride: stride)
        case .dot:
            return [x[1].map { $0 * g.scalar }, x[0].map { $0 * g.scalar }]
        case let .dropout(rate, inverted):
            return [g.droppedOut(rate: rate, seed: Double(x[1].scalars.first ?? -1), inverted: inverted), nil]
        case .transpose:
            return [g.transposed.reshaped(x[0].shape)]
        case let .sum(axis), let .mean(axis):
            var gShape = x[0].shape
            if let axis { gShape[axis] = 1 } else { gShape = gShape.map { _ in 1 } }
            var out = g.reshaped(gShape).broadcast(to: x[0].shape)
            if case .mean = self {
                let n = T(Swift.max(x[0].reductionCount(axis: axis), 1))
                out = out.map { $0 / n }
            }
            return [out]
        case .max:
            return [DenseTensor<T>.unit(x[0].shape, x[0].argmax).map { $0 * g.scalar }]
        case .min:
            return [DenseTensor<T>.unit(x[0].shape, x[0].argmin).map { $0 * g.scalar }]
        case let .index(indices):
            var out = DenseTensor<T>.zeros(x[0].shape)
            if let (offset, _) = try? Op.locate(indices, in: x[0].shape) {
                for i in 0..<g.count { out[flat: offset + i] = g[flat: i] }
            }
            return [out]
        case .stack:
            let n = x.first?.count ?? 0
            return x.indices.map { i in DenseTensor<T>(shape: x[i].shape, scalars: Array(g.scalars[i * n..<(i + 1) * n])) }
        case .softmax:
            // gx = y ⊙ (g - Σ_row g ⊙ y)
            return [Op.rowwise(y, g) { y, g, dot in y * (g - dot) } dotOf: { y, g in y * g }]
        case .logSoftmax:
            // gx = g - softmax(x) Σ_row g
            return [Op.rowwise(y, g) { y, g, s in g - T.exp(y) * s } dotOf: { _, g in g }]
        case .mse:
            return Op.meanLossVJP(x, g) { a, b in (2 * (a - b), -2 * (a - b)) }
        case .bce:
            return Op.meanLossVJP(x, g, Op.bcePartials)
        case .logisticLoss:
            return Op.meanLossVJP(x, g) { z, y in
                let s = T.logistic(-y * z)
                return (-y * s, -z * s)
            }
        case .hinge:
            return Op.meanLossVJP(x, g) { z, y in 1 - y * z > 0 ? (-y, -z) : (0, 0) }
        case .crossEntropy:
            return Op.crossEntropyVJP(x, g)
        case .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step, .sin, .cos,
            .scaledTanh, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu, .log10, .log2, .sign:
            return x.map { _ in nil }
        }
    }

    /// `a @ b`: vectors promoted to a row (left) or a column (right); then gA = g Bᵀ, gB = Aᵀ g,
    /// each a BLAS product with a transpose flag.
    static func matmulVJP<T: TensorElement>(
        _ a: DenseTensor<T>, _ b: DenseTensor<T>, _ g: DenseTensor<T>, needs: [Bool]?
    ) -> [DenseTensor<T>?] {
        let m = a.rank == 2 ? a.shape[0] : 1
        let k = a.shape[a.rank - 1]
        let n = b.rank == 2 ? b.shape[1] : 1
        let gA = needs?[0] == false ? nil
            : DenseTensor<T>(shape: a.shape, scalars: DenseTensor<T>.gemm(g.scalars, false, b.scalars, true, m: m, k: n, n: k))
        let gB = needs?[1] == false ? nil
            : DenseTensor<T>(shape: b.shape, scalars: DenseTensor<T>.gemm(a.scalars, true, g.scalars, false, m: k, k: m, n: n))
        return [gA, gB]
    }

    /// cross_entropy(logits, target): dL/dlogits = (softmax · Σt - t) / rows, per row; a
    /// distribution target gets -log_softmax / rows, class indices no gradient.
    static func crossEntropyVJP<T: TensorElement>(_ x: [DenseTensor<T>], _ g: DenseTensor<T>) -> [DenseTensor<T>?] {
        guard let target = try? CrossEntropyTarget(logits: x[0], target: x[1]) else { return [nil, nil] }
        let rows = T(target.rows), gs = g.scalar, k = x[0].cols
        var gl = x[0].softmax.scalars
        if let classes = target.classes {
            // One-hot rows: Σt = 1, so (p · 1 - t) is p, less 1 at the row's class.
            gl.withUnsafeMutableBufferPointer { out in
                for r in 0..<target.rows {
                    let c = r * k + classes[r]
                    for i in r * k..<(r + 1) * k { out[i] = (out[i] - (i == c ? 1 : 0)) * gs / rows }
                }
            }
            return [DenseTensor<T>(shape: x[0].shape, scalars: gl), nil]
        }
        let t = target.dense(like: x[0]).scalars  // read once: the property is computed
        gl.withUnsafeMutableBufferPointer { out in
            for r in 0..<target.rows {
                var mass: T = 0
                for j in 0..<k { mass += t[r * k + j] }
                for j in 0..<k { out[r * k + j] = (out[r * k + j] * mass - t[r * k + j]) * gs / rows }
            }
        }
        return [DenseTensor<T>(shape: x[0].shape, scalars: gl), x[0].logSoftmax.map { -$0 * gs / rows }]
    }

    /// Applies `f(y, g, Σ_row dotOf(y, g))` elementwise, row by row along the last axis.
    static func rowwise<T: TensorElement>(
        _ y: DenseTensor<T>, _ g: DenseTensor<T>, _ f: (T, T, T) -> T,
        dotOf: (T, T) -> T
    ) -> DenseTensor<T> {
        let n = y.cols
        guard n > 0 else { return g }
        let ys = y.scalars, gs = g.scalars  // read once: the property is computed
        var out = gs
        for start in stride(from: 0, to: y.count, by: n) {
            var s: T = 0
            for j in start..<start + n { s += dotOf(ys[j], gs[j]) }
            for j in start..<start + n { out[j] = f(ys[j], gs[j], s) }
        }
        return DenseTensor<T>(shape: y.shape, scalars: out)
    }

    /// The VJP of a loss that is the mean of `ℓ(a, b)` over broadcast elements,
    /// given `ℓ`'s two partial derivatives.
    static func meanLossVJP<T: TensorElement>(
        _ x: [DenseTensor<T>], _ g: DenseTensor<T>, _ partials: (T, T) -> (T, T)
    ) -> [DenseTensor<T>?] {
        let shape = (try? Broadcast.shape(x[0].shape, x[1].shape, op: "")) ?? x[0].shape
        let a = x[0].broadcast(to: shape), b = x[1].broadcast(to: shape)
        let n = T(Swift.max(a.count, 1))
        let xa = a.scalars, xb = b.scalars  // read once: the property is computed
        var ga = xa, gb = xb
        for i in 0..<a.count {
            let (da, db) = partials(xa[i], xb[i])
            ga[i] = da * g.scalar / n
            gb[i] = db * g.scalar / n
        }
        return [DenseTensor<T>(shape: shape, scalars: ga).sumTo(x[0].shape), DenseTensor<T>(shape: shape, scalars: gb).sumTo(x[1].shape)]
    }
}
