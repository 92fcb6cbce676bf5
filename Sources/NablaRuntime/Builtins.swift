import NablaGraph

/// A function of the language: what a call compiles to, and its help entry.
package struct Builtin: Sendable {
    enum Kind: Sendable {
        /// A graph op taking the call's arguments as inputs.
        case op(Op)
        /// `sum(x)` / `sum(x, axis)`, `mean(...)`: an op with an optional constant axis.
        case reduction(sum: Bool)
        /// `max(x)` reduces; `max(a, b)` is elementwise.
        case extremum(max: Bool)
        /// `leaky_relu(x)` with slope 0.01, or `leaky_relu(x, a)`.
        case leakyRelu
        /// `reshape(x, dims...)`.
        case reshape
        /// `conv2d(x, k)`, `conv2d(x, k, stride)`, `conv2d(x, k, stride, pad)`: stride and pad constants.
        case conv2d
        /// `maxpool(x, size)`, `maxpool(x, size, stride)` (and avgpool, l2pool): constants.
        case pool(PoolKind)
        /// `zeros(dims...)` and friends: a constant made once, at definition time.
        case builder(Builder)
        /// `sigmoid(x)` or `sigmoid(x, a)`: σ(a x), a logistic of steepness a.
        case sigmoid
        /// `dropout(x, p)`: inverted dropout with rate p, off (the identity) outside :train.
        case dropout(inverted: Bool)
        /// `neuron(x, w, b, act)` and `dense(X, W, b, act)`: act(x @ w + b).
        case neuron
        /// `linear(x)`: x itself (an activation name for `dense`).
        case identity
    }

    enum Builder: Sendable {
        case zeros, ones, eye, randn, glorot, he, lecun
    }

    package var name: String
    var kind: Kind
    var arity: ClosedRange<Int>
    /// The signature as help shows it: `leaky_relu(x, a)`.
    package var signature: String
    package var summary: String
    package var example: String
}

extension Builtin {
    /// True for the functions `neuron` and `dense` take as an activation.
    var isActivation: Bool {
        ["sigmoid", "σ", "tanh", "relu", "leaky_relu", "softplus", "step", "scaled_tanh", "softmax", "linear"].contains(name)
    }
}

package enum Builtins {
    /// Every function, in the order `:help` lists them.
    package static let all: [Builtin] = [
        // Elementwise
        .init(name: "exp", kind: .op(.exp), arity: 1...1, signature: "exp(x)", summary: "e to the x, elementwise", example: "exp(1)"),
        .init(name: "log", kind: .op(.log), arity: 1...1, signature: "log(x)", summary: "natural logarithm, elementwise", example: "log(p)"),
        .init(name: "log10", kind: .op(.log10), arity: 1...1, signature: "log10(x)", summary: "base-10 logarithm, elementwise (the slides' L = -log10(p) = 0.57)", example: "-log10(p)"),
        .init(name: "log2", kind: .op(.log2), arity: 1...1, signature: "log2(x)", summary: "base-2 logarithm, elementwise (bits)", example: "-log2(p)"),
        .init(name: "sqrt", kind: .op(.sqrt), arity: 1...1, signature: "sqrt(x)", summary: "square root, elementwise", example: "sqrt(2)"),
        .init(name: "abs", kind: .op(.abs), arity: 1...1, signature: "abs(x)", summary: "absolute value (derivative sign(x), 0 at 0)", example: "abs(-3)"),
        .init(name: "sigmoid", kind: .sigmoid, arity: 1...2, signature: "sigmoid(x), σ(x), sigmoid(x, a)", summary: "the logistic function 1/(1+exp(-x)); with a steepness a: σ(a x)", example: "σ(y*z)"),
        .init(name: "σ", kind: .sigmoid, arity: 1...2, signature: "σ(x)", summary: "alias of sigmoid", example: "σ(0)"),
        .init(name: "tanh", kind: .op(.tanh), arity: 1...1, signature: "tanh(x)", summary: "hyperbolic tangent", example: "tanh(W @ x)"),
        .init(name: "scaled_tanh", kind: .op(.scaledTanh), arity: 1...1, signature: "scaled_tanh(x)", summary: "LeCun's 1.7159 tanh(2x/3)", example: "scaled_tanh(z)"),
        .init(name: "relu", kind: .op(.relu), arity: 1...1, signature: "relu(x)", summary: "max(x, 0) (derivative 0 at 0)", example: "relu(w1*x + b1)"),
        .init(name: "leaky_relu", kind: .leakyRelu, arity: 1...2, signature: "leaky_relu(x, a)", summary: "x where x > 0, a*x elsewhere (a defaults to 0.01)", example: "leaky_relu(z, 0.1)"),
        .init(name: "softplus", kind: .op(.softplus), arity: 1...1, signature: "softplus(x)", summary: "log(1 + exp(x))", example: "softplus(z)"),
        .init(name: "sign", kind: .op(.sign), arity: 1...1, signature: "sign(x)", summary: "the McCulloch-Pitts output: +1 where x ≥ 0, else -1 (derivative 0)", example: "sign(w · x + b)"),
        .init(name: "step", kind: .op(.step), arity: 1...1, signature: "step(x)", summary: "the unit step: 1 where x ≥ 0, else 0 (derivative 0)", example: "step(w · x + b)"),
        .init(name: "dropout", kind: .dropout(inverted: true), arity: 2...2, signature: "dropout(x, p)", summary: "during :train zero each element with probability p, scale the rest by 1/(1-p); the identity otherwise (inverted dropout, as the frameworks)", example: "dropout(H, 0.5)"),
        .init(name: "dropout_classic", kind: .dropout(inverted: false), arity: 2...2, signature: "dropout_classic(x, p)", summary: "the slides' dropout: during :train zero each element with probability p, leave the rest; otherwise multiply by 1-p (halve the weights at inference for p = 0.5)", example: "dropout_classic(H, 0.5)"),
        .init(name: "dropconnect", kind: .dropout(inverted: true), arity: 2...2, signature: "dropconnect(W, p)", summary: "DropConnect: dropout of the weights, not the activations: during :train zero each weight with probability p (a fresh mask each step), scale the rest by 1/(1-p); W otherwise", example: "neuron(X, dropconnect(W, 0.5), b, relu)"),
        .init(name: "neuron", kind: .neuron, arity: 3...4, signature: "neuron(x, w, b, act)", summary: "act(x @ w + b): a neuron (x, w vectors) with an activation function's name", example: "neuron(x, w, b, sigmoid)"),
        .init(name: "dense", kind: .neuron, arity: 3...4, signature: "dense(X, W, b, act)", summary: "act(X @ W + b): a layer, one sample per row of X (act may be omitted: linear)", example: "H = dense(X, W1, b1, relu)"),
        .init(name: "sin", kind: .op(.sin), arity: 1...1, signature: "sin(x)", summary: "sine", example: "sin(x)"),
        .init(name: "cos", kind: .op(.cos), arity: 1...1, signature: "cos(x)", summary: "cosine", example: "cos(x)"),
        // Reductions and linear algebra
        .init(name: "sum", kind: .reduction(sum: true), arity: 1...2, signature: "sum(x), sum(X, axis)", summary: "sum of all elements, or along axis 0 (down columns) or 1 (along rows)", example: "sum(x^2)"),
        .init(name: "mean", kind: .reduction(sum: false), arity: 1...2, signature: "mean(x), mean(X, axis)", summary: "mean of all elements, or along an axis", example: "mean((y - t)^2)"),
        .init(name: "max", kind: .extremum(max: true), arity: 1...2, signature: "max(x), max(a, b)", summary: "largest element, or the elementwise maximum of two", example: "max(x, 0)"),
        .init(name: "min", kind: .extremum(max: false), arity: 1...2, signature: "min(x), min(a, b)", summary: "smallest element, or the elementwise minimum of two", example: "min(x)"),
        .init(name: "dot", kind: .op(.dot), arity: 2...2, signature: "dot(a, b), a · b", summary: "dot product of two same-shaped tensors", example: "dot(w, x)"),
        .init(name: "vec", kind: .op(.vec), arity: 1...1, signature: "vec(X)", summary: "the elements as one vector, row by row", example: "vec(W)"),
        .init(name: "conv2d", kind: .conv2d, arity: 2...4, signature: "conv2d(x, k), conv2d(x, k, stride), conv2d(x, k, stride, pad)", summary: "x [C, H, W] or [B, C, H, W] cross-correlated with kernels k [F, C, kh, kw]: [F, H', W'] or [B, F, H', W'], H' = (H + 2 pad - kh)/stride + 1", example: "conv2d(x, K, 1, 0)"),
        .init(name: "maxpool", kind: .pool(.max), arity: 2...3, signature: "maxpool(x, size), maxpool(x, size, stride)", summary: "the largest element of each size x size window of the last two axes (stride = size by default)", example: "maxpool(h, 2)"),
        .init(name: "avgpool", kind: .pool(.avg), arity: 2...3, signature: "avgpool(x, size), avgpool(x, size, stride)", summary: "the mean of each size x size window of the last two axes", example: "avgpool(h, 2)"),
        .init(name: "l2pool", kind: .pool(.l2), arity: 2...3, signature: "l2pool(x, size), l2pool(x, size, stride)", summary: "the square root of the sum of squares of each window of the last two axes", example: "l2pool(h, 2)"),
        .init(name: "flatten", kind: .op(.flatten), arity: 1...1, signature: "flatten(x)", summary: "[B, C, H, W] becomes [B, C·H·W]; [C, H, W] becomes a vector", example: "flatten(h)"),
        .init(name: "reshape", kind: .reshape, arity: 1...9, signature: "reshape(x, d1, ..., dk)", summary: "the same elements under another shape (any rank up to 8; one -1 is inferred)", example: "reshape(x, 2, 3)"),
        .init(name: "inv", kind: .op(.inv), arity: 1...1, signature: "inv(A)", summary: "the inverse of a square matrix (an error when it is singular); VJP -inv(A)'·g·inv(A)'", example: "w = inv(X' @ X) @ X' @ y"),
        .init(name: "solve", kind: .op(.solve), arity: 2...2, signature: "solve(A, b)", summary: "the x with A x = b (b a vector or a matrix), without forming inv(A)", example: "w = solve(X' @ X + 0.1 * eye(2), X' @ y)"),
        .init(name: "transpose", kind: .op(.transpose), arity: 1...1, signature: "transpose(X), X'", summary: "the transpose of a matrix", example: "W'"),
        .init(name: "softmax", kind: .op(.softmax), arity: 1...1, signature: "softmax(z)", summary: "exp(z)/sum(exp(z)), along each row", example: "softmax([1, 2, 3])"),
        .init(name: "linear", kind: .identity, arity: 1...1, signature: "linear(x)", summary: "the identity, as an activation name: dense(X, W, b, linear)", example: "dense(H, W2, b2, linear)"),
        .init(name: "log_softmax", kind: .op(.logSoftmax), arity: 1...1, signature: "log_softmax(z)", summary: "log(softmax(z)), computed stably", example: "log_softmax(z)"),
        // Losses
        .init(name: "mse", kind: .op(.mse), arity: 2...2, signature: "mse(yhat, t)", summary: "mean squared error: mean((yhat - t)^2)", example: "mse(y, t)"),
        .init(name: "bce", kind: .op(.bce), arity: 2...2, signature: "bce(p, d)", summary: "binary cross-entropy: mean(-(d log p + (1-d) log(1-p))), d in {0, 1}", example: "bce(σ(z), 1)"),
        .init(name: "cross_entropy", kind: .op(.crossEntropy), arity: 2...2, signature: "cross_entropy(logits, class)", summary: "softmax cross-entropy; class is an index (0-based), a vector of indices (one per row) or a distribution", example: "cross_entropy(z, 2)"),
        .init(name: "logistic_loss", kind: .op(.logisticLoss), arity: 2...2, signature: "logistic_loss(z, y)", summary: "log(1 + exp(-y z)) with y in {-1, +1}, averaged", example: "logistic_loss(w · x, 1)"),
        .init(name: "hinge", kind: .op(.hinge), arity: 2...2, signature: "hinge(z, y)", summary: "max(0, 1 - y z) with y in {-1, +1}, averaged", example: "hinge(w · x, -1)"),
        .init(name: "accuracy", kind: .op(.accuracy), arity: 2...2, signature: "accuracy(P, Y)", summary: "the fraction of rows classified right (argmax against class indices; > 0.5 against 0/1; > 0 against ±1); not differentiated", example: "accuracy(net, Y)"),
        // Builders
        .init(name: "eye", kind: .builder(.eye), arity: 1...1, signature: "eye(n)", summary: "the n x n identity matrix I", example: "w = solve(X' @ X + 0.1 * eye(2), X' @ y)"),
        .init(name: "zeros", kind: .builder(.zeros), arity: 1...8, signature: "zeros(n), zeros(m, n), zeros(d1, ..., dk)", summary: "a tensor of zeros", example: "param b = zeros(3)"),
        .init(name: "ones", kind: .builder(.ones), arity: 1...8, signature: "ones(n), ones(m, n), ones(d1, ..., dk)", summary: "a tensor of ones", example: "ones(2, 2)"),
        .init(name: "randn", kind: .builder(.randn), arity: 1...8, signature: "randn(n), randn(m, n), randn(d1, ..., dk)", summary: "standard normal samples (seed them with `seed 42`)", example: "param W = randn(3, 4)"),
        .init(name: "glorot", kind: .builder(.glorot), arity: 1...8, signature: "glorot(m, n), glorot(F, C, kh, kw)", summary: "Glorot/Xavier normal init: std sqrt(2/(fan_in + fan_out)), fan_in = m, fan_out = n as in X @ W (kernels: C·kh·kw, F·kh·kw)", example: "param W = glorot(3, 4)"),
        .init(name: "he", kind: .builder(.he), arity: 1...8, signature: "he(m, n), he(F, C, kh, kw)", summary: "He normal init: std sqrt(2/fan_in), fan_in = m as in X @ W (kernels: C·kh·kw)", example: "param W = he(784, 256)"),
        .init(name: "lecun", kind: .builder(.lecun), arity: 1...8, signature: "lecun(m, n), lecun(F, C, kh, kw)", summary: "LeCun normal init: std sqrt(1/fan_in), fan_in = m as in X @ W (kernels: C·kh·kw)", example: "param W = lecun(3, 4)"),
        // Value functions
        .init(name: "grad", kind: .op(.gradient), arity: 2...2, signature: "grad(L, w), ∂L/∂w", summary: "the gradient ∂L/∂w as a value (a constant: not differentiated further)", example: "g = grad(L, w1)"),
        .init(name: "jacobian", kind: .op(.jacobian), arity: 2...2, signature: "jacobian(y, x)", summary: "the m x n Jacobian ∂y/∂x as a matrix (a constant)", example: "J = jacobian(h, x)"),
    ]

    package static let byName: [String: Builtin] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

    /// True for the words that cannot be used as names (`param`, `seed`); compared, not
    /// hashed: it is asked at every definition.
    package static func isKeyword(_ word: String) -> Bool { word == "param" || word == "seed" }
}
