#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NablaTensor

/// The op table: every operation a graph node can perform.
///
/// Each case has, in this one file: its forward computation, its
/// vector-Jacobian product (one gradient per input, `nil` where an input is
/// not differentiable), the text of its local derivative (read by `:explain`)
/// and the structure of its Jacobian (read by `:shapes`). The `switch`es are
/// exhaustive, so a new op cannot be added without its VJP.
public enum Op: Sendable, Hashable {
    // MARK: - Leaves and names
    /// A fixed value: a literal or the result of a builder such as `randn(3)`.
    case constant
    /// A trainable leaf (`param w = ...`), changed by optimizer steps.
    case param
    /// A definition's name: the identity of its one input, the definition's root.
    /// Redefining the name rebinds the input, so every user follows.
    case name(String)

    // MARK: - Unary elementwise
    case neg, exp, log, sqrt, abs, sigmoid, tanh, relu, softplus, step, sin, cos
    /// LeCun's scaled tanh, `1.7159 tanh(2x/3)`.
    case scaledTanh

    // MARK: - Binary elementwise (with broadcasting)
    case add, sub, mul, div, pow, maximum, minimum
    /// `leaky_relu(x, a)`: x where x > 0, a*x elsewhere.
    case leakyRelu
    /// `dropout(x, p)`: inputs x and a mask seed (a hidden constant). In training the seed is
    /// a number ≥ 0 and each element is kept with probability 1 - p and scaled by 1/(1 - p)
    /// (inverted dropout); the seed -1 means evaluation: the identity.
    case dropout(rate: Double)

    // MARK: - Linear algebra
    /// `a @ b`: matrix-matrix, matrix-vector, vector-matrix, vector-vector (dot).
    case matmul
    /// `dot(a, b)` or `a · b`: the sum of the elementwise product of two same-shaped tensors.
    case dot
    /// Postfix `'`: the transpose of a matrix (vectors and scalars are unchanged).
    case transpose

    // MARK: - Reductions
    /// The sum of every element, or along one axis.
    case sum(axis: Int?)
    /// The mean of every element, or along one axis.
    case mean(axis: Int?)
    /// The largest element.
    case max
    /// The smallest element.
    case min

    // MARK: - Shape
    /// `vec(X)`: the elements as one vector, row by row (row-major, like numpy's ravel).
    case vec
    /// `reshape(x, dims...)`: the same elements under another shape.
    case reshape([Int])
    /// `x[i]`, `W[i, j]`, `W[i]` (a row): 0-based indexing.
    case index([Int])
    /// `[a, b, c]` with non-constant entries: stacks same-shaped tensors along a new first axis.
    case stack

    // MARK: - Softmax and losses (softmax along the last axis; losses average)
    case softmax, logSoftmax
    /// `mse(yhat, t)`: the mean of (yhat - t)^2.
    case mse
    /// `bce(p, d)`: the mean of -(d log p + (1-d) log(1-p)).
    case bce
    /// `cross_entropy(logits, target)`: target a class index (or a vector of them, one
    /// per row) or a distribution of the logits' shape; the mean over rows.
    case crossEntropy
    /// `logistic_loss(z, y)` with y in {-1, +1}: the mean of log(1 + exp(-y z)).
    case logisticLoss
    /// `hinge(z, y)` with y in {-1, +1}: the mean of max(0, 1 - y z).
    case hinge
    /// `accuracy(p, y)`: the fraction of rows classified right (a value, not differentiated):
    /// the largest of several outputs per row against class indices; one probability
    /// (> 0.5) against 0/1; one score (> 0) against -1/+1.
    case accuracy

    // MARK: - Value functions (computed by the graph; constants, not differentiated)
    /// `grad(L, w)`: ∂L/∂w as a value.
    case gradient
    /// `jacobian(y, x)`: the m x n Jacobian ∂y/∂x as a value.
    case jacobian
}

// MARK: - Identity

extension Op {
    /// How many inputs the op takes; `nil` for `stack`, which takes any number.
    public var arity: Int? {
        switch self {
        case .constant, .param: return 0
        case .name, .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step, .sin, .cos, .scaledTanh,
            .transpose, .sum, .mean, .max, .min, .vec, .reshape, .index, .softmax, .logSoftmax:
            return 1
        case .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu, .matmul, .dot, .dropout,
            .mse, .bce, .crossEntropy, .logisticLoss, .hinge, .gradient, .jacobian, .accuracy:
            return 2
        case .stack: return nil
        }
    }

    /// One op of each case, in the order the enum declares them: what a test enumerates to
    /// hold every op to a gradient row. `catalogIndex` is an exhaustive switch, so a new case
    /// does not compile until it has its place here.
    public static let catalog: [Op] = [
        .constant, .param, .name("x"), .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step,
        .sin, .cos, .scaledTanh, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu, .dropout(rate: 0.5),
        .matmul, .dot, .transpose, .sum(axis: nil), .mean(axis: nil), .max, .min, .vec, .reshape([1]), .index([0]),
        .stack, .softmax, .logSoftmax, .mse, .bce, .crossEntropy, .logisticLoss, .hinge, .accuracy, .gradient, .jacobian,
    ]

    /// This op's place in `catalog` (its case, whatever its associated values).
    public var catalogIndex: Int {
        switch self {
        case .constant: return 0
        case .param: return 1
        case .name: return 2
        case .neg: return 3
        case .exp: return 4
        case .log: return 5
        case .sqrt: return 6
        case .abs: return 7
        case .sigmoid: return 8
        case .tanh: return 9
        case .relu: return 10
        case .softplus: return 11
        case .step: return 12
        case .sin: return 13
        case .cos: return 14
        case .scaledTanh: return 15
        case .add: return 16
        case .sub: return 17
        case .mul: return 18
        case .div: return 19
        case .pow: return 20
        case .maximum: return 21
        case .minimum: return 22
        case .leakyRelu: return 23
        case .dropout: return 24
        case .matmul: return 25
        case .dot: return 26
        case .transpose: return 27
        case .sum: return 28
        case .mean: return 29
        case .max: return 30
        case .min: return 31
        case .vec: return 32
        case .reshape: return 33
        case .index: return 34
        case .stack: return 35
        case .softmax: return 36
        case .logSoftmax: return 37
        case .mse: return 38
        case .bce: return 39
        case .crossEntropy: return 40
        case .logisticLoss: return 41
        case .hinge: return 42
        case .accuracy: return 43
        case .gradient: return 44
        case .jacobian: return 45
        }
    }

    /// True for leaves, which hold a value instead of computing one.
    public var isLeaf: Bool { self == .constant || self == .param }

    /// A short name for the op, as the views print it.
    public var symbol: String {
        switch self {
        case .constant: return "constant"
        case .param: return "param"
        case let .name(n): return n
        case .neg: return "-"
        case .add: return "+"
        case .sub: return "-"
        case .mul: return "*"
        case .div: return "/"
        case .pow: return "^"
        case .matmul: return "@"
        case .transpose: return "'"
        case .index: return "[]"
        case .stack: return "[...]"
        case .maximum: return "max"
        case .minimum: return "min"
        case .leakyRelu: return "leaky_relu"
        case .scaledTanh: return "scaled_tanh"
        case .dropout: return "dropout"
        case .logSoftmax: return "log_softmax"
        case .crossEntropy: return "cross_entropy"
        case .logisticLoss: return "logistic_loss"
        case .gradient: return "grad"
        case .sum: return "sum"
        case .mean: return "mean"
        case .reshape: return "reshape"
        case .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step, .sin, .cos, .dot, .max, .min,
            .vec, .softmax, .mse, .bce, .hinge, .accuracy, .jacobian: return "\(self)"
        }
    }
}

// MARK: - Elementwise rules: forward and derivative side by side

// MARK: - Scalar math (named apart from the op cases `exp`, `log`, ... of the same names)

@inline(__always) func scalarExp(_ x: Double) -> Double { exp(x) }
@inline(__always) func scalarLog(_ x: Double) -> Double { log(x) }
@inline(__always) func scalarTanh(_ x: Double) -> Double { tanh(x) }
@inline(__always) func scalarSin(_ x: Double) -> Double { sin(x) }
@inline(__always) func scalarCos(_ x: Double) -> Double { cos(x) }

/// The stable logistic function σ.
@inline(__always) func logistic(_ x: Double) -> Double {
    x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
}

/// σ'(x) = σ(x)σ(-x), from x: never exactly 0 where σ(x) rounds to 1 (up to |x| ≈ 745).
@inline(__always) func logisticSlope(_ x: Double) -> Double {
    let e = exp(-Swift.abs(x))
    return e / ((1 + e) * (1 + e))
}

extension Op {
    /// One element of bce: -(d log p + (1-d) log(1-p)), a term left out where its weight is
    /// 0, so bce(1, 1) = 0 (0·log 0 is not NaN: the limit, as every framework takes it).
    static func bceTerm(_ p: Double, _ d: Double) -> Double {
        -((d == 0 ? 0 : d * scalarLog(p)) + (d == 1 ? 0 : (1 - d) * scalarLog(1 - p)))
    }

    /// ∂bce/∂p and ∂bce/∂d of one element, with the same rule for weights of 0.
    static func bcePartials(_ p: Double, _ d: Double) -> (Double, Double) {
        let dp = -((d == 0 ? 0 : d / p) - (d == 1 ? 0 : (1 - d) / (1 - p)))
        return (dp, scalarLog(1 - p) - scalarLog(p))
    }

    /// bce of σ(z), from the logit z: d·softplus(-z) + (1-d)·softplus(z), exact where σ(z)
    /// rounds to 0 or 1 (bce(sigmoid(40), 1) is 4.2e-18, not NaN), as frameworks' "with logits".
    static func bceFromLogits(_ z: Tensor, _ d: Tensor) throws(TensorError) -> Tensor {
        let l = try Tensor.zip(z, d, op: "bce") { z, d in d * softplusValue(-z) + (1 - d) * softplusValue(z) }
        return Tensor(l.scalars.reduce(0, +) / Double(Swift.max(l.count, 1)))
    }

    /// The VJP of bce toward p = σ(z), from z: (σ(z) - d)/σ'(z) per element (mean-scaled),
    /// so that the sigmoid's VJP (σ'(z), also from z) brings σ(z) - d to z without 0·∞.
    static func bceFromLogitsVJP(_ z: Tensor, _ p: Tensor, _ d: Tensor, _ g: Tensor) -> [Tensor?] {
        let n = Double(Swift.max(p.count, 1)), scale = g.scalar / n
        var gp = Tensor.zeros(p.shape)
        for i in 0..<p.count {
            let zi = z.scalars[i], di = d.count == 1 ? d.scalars[0] : d.scalars[i]
            let residual = (1 - di) * logistic(zi) - di * logistic(-zi)
            gp.scalars[i] = scale * residual / Swift.max(logisticSlope(zi), Double.leastNormalMagnitude)
        }
        var gd = Tensor.zeros(d.shape)
        for i in 0..<p.count {
            let zi = z.scalars[i]
            let v = -zi * scale
            if d.count == 1 { gd.scalars[0] += v } else { gd.scalars[i] = v }
        }
        return [gp, gd]
    }
}

/// log(1 + exp(x)) without overflow.
@inline(__always) func softplusValue(_ x: Double) -> Double {
    Swift.max(x, 0) + log1p(exp(-Swift.abs(x)))
}

/// One elementwise unary op: `f(x)`, its derivative `df(x, y)` given `y = f(x)`,
/// and the derivative's text given the input's label.
struct UnaryRule {
    let f: (Double) -> Double
    let df: (Double, Double) -> Double
    let text: (String) -> String
}

/// One elementwise binary op: `f(a, b)`, its partials given `(a, b, y)`, and their text.
struct BinaryRule {
    let f: (Double, Double) -> Double
    let da: (Double, Double, Double) -> Double
    let db: (Double, Double, Double) -> Double
    let text: (String, String) -> (String, String)
}

extension Op {
    var unaryRule: UnaryRule? {
        switch self {
        case .neg: return UnaryRule(f: { -$0 }, df: { _, _ in -1 }, text: { _ in "-1" })
        case .exp: return UnaryRule(f: { scalarExp($0) }, df: { _, y in y }, text: { "exp(\($0))" })
        case .log: return UnaryRule(f: { scalarLog($0) }, df: { x, _ in 1 / x }, text: { "1/\(wrap($0))" })
        case .sqrt: return UnaryRule(f: { $0.squareRoot() }, df: { _, y in 0.5 / y }, text: { "1/(2√\(wrap($0)))" })
        case .abs: return UnaryRule(f: { Swift.abs($0) }, df: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }, text: { "sign(\($0))" })
        case .sigmoid: return UnaryRule(f: logistic, df: { x, _ in logisticSlope(x) }, text: { "σ(\($0))(1-σ(\($0)))" })
        case .tanh: return UnaryRule(f: { scalarTanh($0) }, df: { _, y in 1 - y * y }, text: { "1-tanh²(\($0))" })
        case .relu: return UnaryRule(f: { Swift.max($0, 0) }, df: { x, _ in x > 0 ? 1 : 0 }, text: { "[\($0) > 0]" })
        case .softplus: return UnaryRule(f: softplusValue, df: { x, _ in logistic(x) }, text: { "σ(\($0))" })
        case .step: return UnaryRule(f: { $0 >= 0 ? 1 : 0 }, df: { _, _ in 0 }, text: { _ in "0" })
        case .sin: return UnaryRule(f: { scalarSin($0) }, df: { x, _ in scalarCos(x) }, text: { "cos(\($0))" })
        case .cos: return UnaryRule(f: { scalarCos($0) }, df: { x, _ in -scalarSin(x) }, text: { "-sin(\($0))" })
        case .scaledTanh:
            return UnaryRule(
                f: { 1.7159 * scalarTanh($0 * 2 / 3) },
                df: { _, y in 1.7159 * 2 / 3 * (1 - (y / 1.7159) * (y / 1.7159)) },
                text: { "1.14393(1-tanh²(2\(wrap($0))/3))" })
        case .constant, .param, .name, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu,
            .dropout, .matmul, .dot, .transpose, .sum, .mean, .max, .min, .vec, .reshape, .index, .stack,
            .softmax, .logSoftmax, .mse, .bce, .crossEntropy, .logisticLoss, .hinge, .accuracy, .gradient,
            .jacobian: return nil
        }
    }

    var binaryRule: BinaryRule? {
        switch self {
        case .add:
            return BinaryRule(f: +, da: { _, _, _ in 1 }, db: { _, _, _ in 1 }, text: { _, _ in ("1", "1") })
        case .sub:
            return BinaryRule(f: -, da: { _, _, _ in 1 }, db: { _, _, _ in -1 }, text: { _, _ in ("1", "-1") })
        case .mul:
            return BinaryRule(f: *, da: { _, b, _ in b }, db: { a, _, _ in a }, text: { a, b in (b, a) })
        case .div:
            return BinaryRule(
                f: /, da: { _, b, _ in 1 / b }, db: { a, b, _ in -a / (b * b) },
                text: { a, b in ("1/\(wrap(b))", "-\(wrap(a))/\(wrap(b))²") })
        case .pow:
            return BinaryRule(
                f: { power($0, $1) },
                da: { a, b, _ in b == 0 ? 0 : b * power(a, b - 1) },
                // For a < 0, a^b is defined only at whole b: there is no derivative in b (NaN says so).
                db: { a, _, y in a > 0 ? y * scalarLog(a) : (a == 0 ? 0 : .nan) },
                text: { a, b in ("\(wrap(b))·\(wrap(a))^(\(b)-1)", "\(wrap(a))^\(wrap(b))·log(\(a))") })
        case .maximum:
            return BinaryRule(
                f: { Swift.max($0, $1) }, da: { a, b, _ in a >= b ? 1 : 0 }, db: { a, b, _ in a < b ? 1 : 0 },
                text: { a, b in ("[\(a) ≥ \(b)]", "[\(a) < \(b)]") })
        case .minimum:
            return BinaryRule(
                f: { Swift.min($0, $1) }, da: { a, b, _ in a <= b ? 1 : 0 }, db: { a, b, _ in a > b ? 1 : 0 },
                text: { a, b in ("[\(a) ≤ \(b)]", "[\(a) > \(b)]") })
        case .leakyRelu:
            return BinaryRule(
                f: { x, a in x > 0 ? x : a * x }, da: { x, a, _ in x > 0 ? 1 : a }, db: { x, _, _ in x > 0 ? 0 : x },
                text: { x, a in ("[\(x) > 0] + \(wrap(a))·[\(x) ≤ 0]", "\(wrap(x))·[\(x) ≤ 0]") })
        case .constant, .param, .name, .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus,
            .step, .sin, .cos, .scaledTanh, .dropout, .matmul, .dot, .transpose, .sum, .mean, .max, .min,
            .vec, .reshape, .index, .stack, .softmax, .logSoftmax, .mse, .bce, .crossEntropy, .logisticLoss,
            .hinge, .accuracy, .gradient, .jacobian:
            return nil
        }
    }
}

/// `a^b` (C's `pow`: integer powers of negative numbers are defined, other powers of them are NaN).
@inline(__always) func power(_ a: Double, _ b: Double) -> Double { pow(a, b) }

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
    public func forward(_ x: [Tensor]) throws(TensorError) -> Tensor {
        if let rule = unaryRule { return x[0].map(rule.f) }
        if let rule = binaryRule {
            if self == .leakyRelu, !x[1].isSingleElement {
                throw .badShape(op: "leaky_relu's slope", x[1].shape, expected: "a scalar")
            }
            return try Tensor.zip(x[0], x[1], op: symbol, rule.f)
        }
        switch self {
        case .constant, .param, .gradient, .jacobian:
            throw .invalid("internal: \(self) is evaluated by the graph")
        case .name:
            return x[0]
        case .matmul:
            return try Tensor.matmul(x[0], x[1])
        case let .dropout(rate):
            return x[0].droppedOut(rate: rate, seed: x[1].scalars.first ?? -1)
        case .dot:
            guard x[0].shape == x[1].shape else { throw .shapeMismatch(op: "dot", x[0].shape, x[1].shape) }
            return Tensor(zip(x[0].scalars, x[1].scalars).reduce(0) { $0 + $1.0 * $1.1 })
        case .transpose:
            return x[0].transposed
        case let .sum(axis):
            return try x[0].sum(axis: axis)
        case let .mean(axis):
            let n = Double(Swift.max(x[0].reductionCount(axis: axis), 1))
            return try x[0].sum(axis: axis).map { $0 / n }
        case .max:
            guard x[0].count > 0 else { throw .badShape(op: "max", x[0].shape, expected: "at least one element") }
            return Tensor(x[0].scalars[x[0].argmax])
        case .min:
            guard x[0].count > 0 else { throw .badShape(op: "min", x[0].shape, expected: "at least one element") }
            return Tensor(x[0].scalars[x[0].argmin])
        case .vec:
            return x[0].reshaped([x[0].count])
        case let .reshape(dims):
            return x[0].reshaped(try Shape.resolve(dims, count: x[0].count, from: x[0].shape))
        case let .index(indices):
            let (offset, shape) = try Op.locate(indices, in: x[0].shape)
            let n = Shape.count(shape)
            return Tensor(shape: shape, scalars: Array(x[0].scalars[offset..<offset + n]))
        case .stack:
            let first = x.first?.shape ?? []
            for (i, t) in x.enumerated() where t.shape != first {
                throw .invalid("entry \(i) has shape \(Shape.describe(t.shape)) but entry 0 has \(Shape.describe(first))")
            }
            try Shape.checkSize([x.count] + first)
            return Tensor(shape: [x.count] + first, scalars: x.flatMap(\.scalars))
        case .softmax:
            return x[0].softmax
        case .logSoftmax:
            return x[0].logSoftmax
        case .mse:
            try Op.checkLossShapes("mse", x)
            let d = try Tensor.zip(x[0], x[1], op: "mse") { $0 - $1 }
            return Tensor(d.scalars.reduce(0) { $0 + $1 * $1 } / Double(Swift.max(d.count, 1)))
        case .bce:
            try Op.checkLossShapes("bce", x)
            let l = try Tensor.zip(x[0], x[1], op: "bce", Op.bceTerm)
            return Tensor(l.scalars.reduce(0, +) / Double(Swift.max(l.count, 1)))
        case .crossEntropy:
            let target = try CrossEntropyTarget(logits: x[0], target: x[1])
            let ls = x[0].logSoftmax
            return Tensor(-target.weightedSum(ls) / Double(target.rows))
        case .logisticLoss:
            try Op.checkLossShapes("logistic_loss", x)
            let l = try Tensor.zip(x[0], x[1], op: "logistic_loss") { z, y in softplusValue(-y * z) }
            return Tensor(l.scalars.reduce(0, +) / Double(Swift.max(l.count, 1)))
        case .accuracy:
            return try Tensor(Op.accuracy(x[0], x[1]))
        case .hinge:
            try Op.checkLossShapes("hinge", x)
            let l = try Tensor.zip(x[0], x[1], op: "hinge") { z, y in Swift.max(0, 1 - y * z) }
            return Tensor(l.scalars.reduce(0, +) / Double(Swift.max(l.count, 1)))
        case .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step, .sin, .cos,
            .scaledTanh, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu:
            throw .invalid("internal: no forward rule for \(self)")
        }
    }

    /// The fraction of rows of `p` whose class matches `y`'s.
    static func accuracy(_ p: Tensor, _ y: Tensor) throws(TensorError) -> Double {
        let rows = p.rank == 2 ? p.shape[0] : p.count
        guard rows > 0 else { return 0 }
        let k = p.rank == 2 ? p.shape[1] : 1
        var right = 0
        if k > 1 {
            guard y.count == rows else { throw .shapeMismatch(op: "accuracy (scores, classes)", p.shape, y.shape) }
            for r in 0..<rows {
                var best = 0
                for j in 1..<k where p.scalars[r * k + j] > p.scalars[r * k + best] { best = j }
                if Double(best) == y.scalars[r] { right += 1 }
            }
        } else {
            guard y.count == rows else { throw .shapeMismatch(op: "accuracy (predictions, targets)", p.shape, y.shape) }
            // ±1 targets when any is negative; 0/1 when any is 0; all +1 says neither, so the
            // predictions decide: a negative score means ±1 scores (threshold 0), else
            // probabilities (threshold 0.5).
            let signs = y.scalars.contains { $0 < 0 }
                || (!y.scalars.contains(0) && p.scalars.contains { $0 < 0 })
            for r in 0..<rows {
                let predicted: Double = signs ? (p.scalars[r] > 0 ? 1 : -1) : (p.scalars[r] > 0.5 ? 1 : 0)
                if predicted == y.scalars[r] { right += 1 }
            }
        }
        return Double(right) / Double(rows)
    }

    /// A loss compares a prediction with its target element by element: their shapes
    /// must agree (or one be a single number). numpy would broadcast [N, 1] against [N]
    /// to [N, N]; here that classic mistake is an error.
    static func checkLossShapes(_ op: String, _ x: [Tensor]) throws(TensorError) {
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

extension Tensor {
    /// Inverted dropout with a mask drawn from `seed` (counter-based, so the VJP
    /// redraws the same mask): each element kept with probability 1 - rate and
    /// scaled by 1/(1 - rate). A negative seed is evaluation mode: unchanged.
    func droppedOut(rate: Double, seed: Double) -> Tensor {
        guard seed >= 0, rate > 0 else { return self }
        guard rate < 1 else { return Tensor.zeros(shape) }
        let base = Tensor.dropoutBase(seed)
        let scale = 1 / (1 - rate)
        var out = scalars
        for i in 0..<out.count {
            out[i] = Tensor.dropoutDraw(base, i) < rate ? 0 : out[i] * scale
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// Dropout's stream for a seed: element `i` is dropped when `dropoutDraw(base, i) < rate`
    /// (a SplitMix64 hash of the seed and the index, uniform in [0, 1)). The float32 tape draws
    /// the same mask.
    static func dropoutBase(_ seed: Double) -> UInt64 { UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 }

    @inline(__always)
    static func dropoutDraw(_ base: UInt64, _ i: Int) -> Double {
        var z = base &+ UInt64(i) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}

/// The target of a cross-entropy: one class index per row, or a distribution per row.
struct CrossEntropyTarget {
    /// One class per row (when the target is given as indices).
    var classes: [Int]?
    /// The target distribution, same shape as the logits (when given that way).
    var distribution: Tensor?
    var rows: Int

    init(logits: Tensor, target: Tensor) throws(TensorError) {
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
            guard c == c.rounded(), c >= 0, c < Double(k) else {
                throw .invalid("cross_entropy: class \(Format.number(c)) is not an integer in 0...\(k - 1)")
            }
            classes.append(Int(c))
        }
        self.classes = classes
    }

    /// Σ target · v over every row (v is a log-probability tensor of the logits' shape).
    func weightedSum(_ v: Tensor) -> Double {
        if let classes {
            let k = v.cols
            return classes.enumerated().reduce(0) { $0 + v.scalars[$1.offset * k + $1.element] }
        }
        guard let distribution else { return 0 }
        return zip(distribution.scalars, v.scalars).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// The target as a dense tensor of the logits' shape (one-hot rows for class indices).
    func dense(like logits: Tensor) -> Tensor {
        if let distribution { return distribution }
        var t = Tensor.zeros(logits.shape)
        let k = logits.cols
        for (row, c) in (classes ?? []).enumerated() { t.scalars[row * k + c] = 1 }
        return t
    }
}

// MARK: - Vector-Jacobian products

extension Op {
    /// The VJP: given the inputs `x`, the output `y` and the upstream gradient `g`
    /// (shaped like `y`), the gradient for each input (shaped like that input),
    /// or `nil` for an input that is not differentiable.
    /// `needs[i] == false` lets an op skip input i's gradient (`nil`): training does not
    /// need ∂L/∂X of the data, and for `X @ W` that is a third of the work.
    public func vjp(_ x: [Tensor], _ y: Tensor, _ g: Tensor, needs: [Bool]? = nil) -> [Tensor?] {
        if let rule = unaryRule {
            var out = g.scalars
            for i in 0..<out.count { out[i] *= rule.df(x[0].scalars[i], y.scalars[i]) }
            return [Tensor(shape: x[0].shape, scalars: out)]
        }
        if let rule = binaryRule {
            // Stretch both inputs to the output's shape, apply the partials, then undo the stretch.
            let a = x[0].broadcast(to: y.shape)
            let b = x[1].broadcast(to: y.shape)
            var ga = g.scalars
            var gb = g.scalars
            for i in 0..<g.count {
                ga[i] *= rule.da(a.scalars[i], b.scalars[i], y.scalars[i])
                gb[i] *= rule.db(a.scalars[i], b.scalars[i], y.scalars[i])
            }
            return [Tensor(shape: y.shape, scalars: ga).sumTo(x[0].shape),
                    Tensor(shape: y.shape, scalars: gb).sumTo(x[1].shape)]
        }
        switch self {
        case .constant, .param:
            return []
        case .gradient, .jacobian, .accuracy:
            return [nil, nil]
        case .name, .vec, .reshape:
            return [g.reshaped(x[0].shape)]
        case .matmul:
            // Promote vectors to a row (left) or a column (right); then gA = g Bᵀ, gB = Aᵀ g.
            let (a, b) = (x[0], x[1])
            let m = a.rank == 2 ? a.shape[0] : 1
            let k = a.shape[a.rank - 1]
            let n = b.rank == 2 ? b.shape[1] : 1
            let A = a.reshaped([m, k]), B = b.reshaped([k, n]), G = g.reshaped([m, n])
            let gA = needs?[0] == false ? nil
                : Tensor(shape: [m, k], scalars: Tensor.gemm(G.scalars, false, B.scalars, true, m: m, k: n, n: k)).reshaped(a.shape)
            let gB = needs?[1] == false ? nil
                : Tensor(shape: [k, n], scalars: Tensor.gemm(A.scalars, true, G.scalars, false, m: k, k: m, n: n)).reshaped(b.shape)
            return [gA, gB]
        case .dot:
            return [x[1].map { $0 * g.scalar }, x[0].map { $0 * g.scalar }]
        case let .dropout(rate):
            return [g.droppedOut(rate: rate, seed: x[1].scalars.first ?? -1), nil]
        case .transpose:
            return [g.transposed.reshaped(x[0].shape)]
        case let .sum(axis), let .mean(axis):
            var gShape = x[0].shape
            if let axis { gShape[axis] = 1 } else { gShape = gShape.map { _ in 1 } }
            var out = g.reshaped(gShape).broadcast(to: x[0].shape)
            if case .mean = self {
                let n = Double(Swift.max(x[0].reductionCount(axis: axis), 1))
                out = out.map { $0 / n }
            }
            return [out]
        case .max:
            return [Tensor.unit(x[0].shape, x[0].argmax).map { $0 * g.scalar }]
        case .min:
            return [Tensor.unit(x[0].shape, x[0].argmin).map { $0 * g.scalar }]
        case let .index(indices):
            var out = Tensor.zeros(x[0].shape)
            if let (offset, _) = try? Op.locate(indices, in: x[0].shape) {
                for i in 0..<g.count { out.scalars[offset + i] = g.scalars[i] }
            }
            return [out]
        case .stack:
            let n = x.first?.count ?? 0
            return x.indices.map { i in Tensor(shape: x[i].shape, scalars: Array(g.scalars[i * n..<(i + 1) * n])) }
        case .softmax:
            // gx = y ⊙ (g - Σ_row g ⊙ y)
            return [Op.rowwise(y, g) { y, g, dot in y * (g - dot) } dotOf: { y, g in y * g }]
        case .logSoftmax:
            // gx = g - softmax(x) Σ_row g
            return [Op.rowwise(y, g) { y, g, s in g - scalarExp(y) * s } dotOf: { _, g in g }]
        case .mse:
            return Op.meanLossVJP(x, g) { a, b in (2 * (a - b), -2 * (a - b)) }
        case .bce:
            return Op.meanLossVJP(x, g, Op.bcePartials)
        case .logisticLoss:
            return Op.meanLossVJP(x, g) { z, y in
                let s = logistic(-y * z)
                return (-y * s, -z * s)
            }
        case .hinge:
            return Op.meanLossVJP(x, g) { z, y in 1 - y * z > 0 ? (-y, -z) : (0, 0) }
        case .crossEntropy:
            guard let target = try? CrossEntropyTarget(logits: x[0], target: x[1]) else { return [nil, nil] }
            let p = x[0].softmax
            let t = target.dense(like: x[0])
            let rows = Double(target.rows)
            // dL/dlogits = (softmax · Σt - t) / rows, per row.
            var gl = p.scalars
            let k = x[0].cols
            for r in 0..<target.rows {
                var mass = 0.0
                for j in 0..<k { mass += t.scalars[r * k + j] }
                for j in 0..<k { gl[r * k + j] = (p.scalars[r * k + j] * mass - t.scalars[r * k + j]) * g.scalar / rows }
            }
            let gLogits = Tensor(shape: x[0].shape, scalars: gl)
            if target.classes != nil { return [gLogits, nil] }
            return [gLogits, x[0].logSoftmax.map { -$0 * g.scalar / rows }]
        case .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step, .sin, .cos,
            .scaledTanh, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu:
            return x.map { _ in nil }
        }
    }

    /// Applies `f(y, g, Σ_row dotOf(y, g))` elementwise, row by row along the last axis.
    static func rowwise(
        _ y: Tensor, _ g: Tensor, _ f: (Double, Double, Double) -> Double,
        dotOf: (Double, Double) -> Double
    ) -> Tensor {
        let n = y.cols
        var out = g.scalars
        guard n > 0 else { return g }
        for start in stride(from: 0, to: y.count, by: n) {
            var s = 0.0
            for j in start..<start + n { s += dotOf(y.scalars[j], g.scalars[j]) }
            for j in start..<start + n { out[j] = f(y.scalars[j], g.scalars[j], s) }
        }
        return Tensor(shape: y.shape, scalars: out)
    }

    /// The VJP of a loss that is the mean of `ℓ(a, b)` over broadcast elements,
    /// given `ℓ`'s two partial derivatives.
    static func meanLossVJP(
        _ x: [Tensor], _ g: Tensor, _ partials: (Double, Double) -> (Double, Double)
    ) -> [Tensor?] {
        let shape = (try? Broadcast.shape(x[0].shape, x[1].shape, op: "")) ?? x[0].shape
        let a = x[0].broadcast(to: shape), b = x[1].broadcast(to: shape)
        let n = Double(Swift.max(a.count, 1))
        var ga = a.scalars, gb = b.scalars
        for i in 0..<a.count {
            let (da, db) = partials(a.scalars[i], b.scalars[i])
            ga[i] = da * g.scalar / n
            gb[i] = db * g.scalar / n
        }
        return [Tensor(shape: shape, scalars: ga).sumTo(x[0].shape), Tensor(shape: shape, scalars: gb).sumTo(x[1].shape)]
    }
}
