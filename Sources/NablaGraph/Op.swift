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
    /// Logarithms in base 10 and 2 (the slides' L = 0.57 is -log10(p)).
    case log10, log2
    /// The McCulloch-Pitts perceptron's output: +1 where x ≥ 0, else -1 (derivative 0).
    case sign
    /// LeCun's scaled tanh, `1.7159 tanh(2x/3)`.
    case scaledTanh

    // MARK: - Binary elementwise (with broadcasting)
    case add, sub, mul, div, pow, maximum, minimum
    /// `leaky_relu(x, a)`: x where x > 0, a*x elsewhere.
    case leakyRelu
    /// `dropout(x, p)`: inputs x and a mask seed (a hidden constant). In training the seed is
    /// a number ≥ 0 and each element is kept with probability 1 - p and scaled by 1/(1 - p)
    /// (inverted dropout); the seed -1 means evaluation: the identity. Not `inverted`
    /// (`dropout_classic`, the slides' form): kept elements are not scaled, and evaluation
    /// multiplies by 1 - p (halves the weights' effect for p = 0.5).
    case dropout(rate: Double, inverted: Bool)

    // MARK: - Linear algebra
    /// `a @ b`: matrix-matrix, matrix-vector, vector-matrix, vector-vector (dot).
    case matmul
    /// `dot(a, b)` or `a · b`: the sum of the elementwise product of two same-shaped tensors.
    case dot
    /// `inv(A)`: the inverse of a square matrix (refused when singular).
    case inv
    /// `solve(A, b)`: the x with A x = b, for a square A and a vector or matrix b.
    case solve
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

    // MARK: - Convolutional networks (ConvRules.swift)
    /// `conv2d(x, k, stride, pad)`: x [C, H, W] or [B, C, H, W], kernels k [F, C, kh, kw];
    /// the result [F, oh, ow] or [B, F, oh, ow], oh = (H + 2 pad - kh) / stride + 1.
    case conv2d(stride: Int, pad: Int)
    /// `maxpool(x, size, stride)`, `avgpool`, `l2pool`: over the last two axes, windows that fit.
    case pool(PoolKind, size: Int, stride: Int)
    /// `flatten(x)`: [B, C, H, W] becomes [B, C·H·W]; a rank-3 tensor becomes a vector.
    case flatten

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
            .transpose, .sum, .mean, .max, .min, .vec, .reshape, .index, .softmax, .logSoftmax, .pool, .flatten,
            .log10, .log2, .sign, .inv:
            return 1
        case .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu, .matmul, .dot, .dropout,
            .mse, .bce, .crossEntropy, .logisticLoss, .hinge, .gradient, .jacobian, .accuracy, .conv2d, .solve:
            return 2
        case .stack: return nil
        }
    }

    /// One op of each case, in the order the enum declares them (the ops added since conv2d at
    /// the end, so older indices stay): what a test enumerates to
    /// hold every op to a gradient row. `catalogIndex` is an exhaustive switch, so a new case
    /// does not compile until it has its place here.
    public static let catalog: [Op] = [
        .constant, .param, .name("x"), .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step,
        .sin, .cos, .scaledTanh, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu, .dropout(rate: 0.5, inverted: true),
        .matmul, .dot, .transpose, .sum(axis: nil), .mean(axis: nil), .max, .min, .vec, .reshape([1]), .index([0]),
        .stack, .softmax, .logSoftmax, .mse, .bce, .crossEntropy, .logisticLoss, .hinge, .accuracy, .gradient, .jacobian,
        .conv2d(stride: 1, pad: 0), .pool(.max, size: 2, stride: 2), .flatten, .log10, .log2, .sign, .inv, .solve,
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
        case .conv2d: return 46
        case .pool: return 47
        case .flatten: return 48
        case .log10: return 49
        case .log2: return 50
        case .sign: return 51
        case .inv: return 52
        case .solve: return 53
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
        case let .dropout(_, inverted): return inverted ? "dropout" : "dropout_classic"
        case .logSoftmax: return "log_softmax"
        case .crossEntropy: return "cross_entropy"
        case .logisticLoss: return "logistic_loss"
        case .gradient: return "grad"
        case .sum: return "sum"
        case .mean: return "mean"
        case .reshape: return "reshape"
        case .conv2d: return "conv2d"
        case let .pool(kind, _, _): return "\(kind.rawValue)pool"
        case .flatten: return "flatten"
        case .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step, .sin, .cos, .dot, .max, .min,
            .vec, .softmax, .mse, .bce, .hinge, .accuracy, .jacobian, .log10, .log2, .sign, .inv, .solve: return "\(self)"
        }
    }
}

