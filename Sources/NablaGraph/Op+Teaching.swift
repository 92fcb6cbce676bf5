import NablaTensor

/// What a local Jacobian looks like, so views can mark the ones never built in practice.
public enum JacobianKind: String, Sendable {
    /// The identity: the gradient passes through unchanged.
    case identity
    /// Diagonal (elementwise ops): the VJP is an elementwise product.
    case diagonal
    /// An input stretched by broadcasting: each row has one entry; the VJP sums.
    case broadcast
    /// Zeros and ones that pick or move elements (transpose, index, stack).
    case selection
    /// Mostly zeros: each output reads one window of the input (a convolution, with the same
    /// kernel weights at every position; a pooling).
    case sparse
    /// A general matrix.
    case dense
    /// Not differentiated (a constant, an index argument).
    case zero
}

/// The shape of one local Jacobian: rows = elements of the output, cols = elements of the input.
public struct JacobianShape: Sendable, Equatable, CustomStringConvertible {
    public var rows: Int
    public var cols: Int
    public var kind: JacobianKind

    public init(rows: Int, cols: Int, kind: JacobianKind) {
        self.rows = rows
        self.cols = cols
        self.kind = kind
    }

    /// `3x12`, the course's m x n.
    public var description: String { "\(rows)x\(cols)" }
}

// MARK: - Jacobian shape rule

extension Op {
    /// The local Jacobian ∂output/∂input `i`: m x n with m the output's element count
    /// and n the input's (a scalar counts as 1, a matrix as its vec), and its kind.
    public func jacobianShape(input i: Int, inputShapes: [[Int]], outputShape: [Int]) -> JacobianShape {
        let m = Shape.count(outputShape)
        let n = Shape.count(inputShapes[i])
        return JacobianShape(rows: m, cols: n, kind: jacobianKind(input: i, inputShapes: inputShapes, outputShape: outputShape))
    }

    func jacobianKind(input i: Int, inputShapes: [[Int]], outputShape: [Int]) -> JacobianKind {
        let sameShape = inputShapes[i] == outputShape
        if unaryRule(HasRule()) != nil { return .diagonal }
        if binaryRule(HasRule()) != nil {
            if !sameShape { return .broadcast }
            return (self == .add || (self == .sub && i == 0)) ? .identity : .diagonal
        }
        switch self {
        case .name, .vec, .reshape, .flatten: return .identity
        case .transpose, .index, .stack: return .selection
        case .conv2d: return .sparse
        case let .pool(kind, _, _): return kind == .max ? .selection : .sparse
        case .gradient, .jacobian, .accuracy: return .zero
        case .dropout: return i == 0 ? .diagonal : .zero
        case .crossEntropy where i == 1 && inputShapes[1] != inputShapes[0]: return .zero
        case .constant, .param, .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step,
            .sin, .cos, .scaledTanh, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu, .matmul,
            .dot, .sum, .mean, .max, .min, .softmax, .logSoftmax, .mse, .bce, .crossEntropy, .logisticLoss,
            .hinge, .log10, .log2, .sign, .inv, .solve: return .dense
        }
    }
}

// MARK: - Local derivative text

extension Op {
    /// The local derivative ∂output/∂input for each input, as a formula in the
    /// inputs' labels: `σ(y*z)(1-σ(y*z))`, `x1`, `1/p`. `:explain` prints these.
    public func derivativeText(_ labels: [String], shapes: [[Int]]) -> [String] {
        if let text = unaryRule(DerivativeText(labels: labels)) ?? binaryRule(DerivativeText(labels: labels)) { return text }
        let l = labels
        func count(_ i: Int) -> Int { Shape.count(shapes[i]) }
        func over(_ n: Int) -> String { n == 1 ? "" : "/\(n)" }
        switch self {
        case .constant, .param:
            return []
        case .name, .vec, .reshape, .flatten:
            return ["1"]
        case .conv2d:
            return ["K at each window (\(wrap(l[1])) slides over \(wrap(l[0])))", "\(wrap(l[0]))'s windows, summed over the positions (weight sharing)"]
        case let .pool(kind, size, _):
            switch kind {
            case .max: return ["1 at each window's largest element, 0 elsewhere"]
            case .avg: return ["1/\(size * size) over each window"]
            case .l2: return ["\(wrap(l[0]))/l2pool(\(wrap(l[0]))) over each window"]
            }
        case .gradient, .jacobian, .accuracy:
            return ["0", "0"]
        case let .dropout(rate, inverted):
            if !inverted { return ["mask (1 where kept; \(Format.number(1 - rate)) in evaluation)", "0"] }
            return ["mask/\(Format.number(1 - rate)) (the kept elements; 1 in evaluation)", "0"]
        case .matmul:
            let (ra, rb) = (shapes[0].count, shapes[1].count)
            switch (ra, rb) {
            case (1, 1): return ["\(wrap(l[1]))'", "\(wrap(l[0]))'"]
            case (2, 1): return ["I⊗\(wrap(l[1]))'", wrap(l[0])]
            case (1, 2): return ["\(wrap(l[1]))'", "\(wrap(l[0]))'⊗I"]
            default: return ["I⊗\(wrap(l[1]))'", "\(wrap(l[0]))⊗I"]
            }
        case .inv:
            // Row-major vec, as matmul's I⊗B': ∂Y[a,b]/∂A[j,k] = -Y[a,j]·Y[k,b].
            return ["-inv(\(l[0]))⊗inv(\(l[0]))' (the VJP: -Y'·g·Y' with Y = inv(\(l[0])))"]
        case .solve:
            return ["-inv(\(l[0]))⊗x' with x = solve(\(l[0]), \(l[1])) (the VJP: -ḡb·x')", "inv(\(l[0])) (the VJP: ḡb = solve(\(l[0])', g))"]
        case .dot:
            return shapes[0].isEmpty ? [l[1], l[0]] : ["\(wrap(l[1]))'", "\(wrap(l[0]))'"]
        case .transpose:
            return ["(transpose)"]
        case let .sum(axis):
            return [axis == nil && count(0) == 1 ? "1" : "1'"]
        case let .mean(axis):
            let n = axis.map { shapes[0].indices.contains($0) ? shapes[0][$0] : 1 } ?? count(0)
            return [n == 1 ? "1" : "1'/\(n)"]
        case .max:
            return ["onehot(argmax \(l[0]))'"]
        case .min:
            return ["onehot(argmin \(l[0]))'"]
        case .index:
            return ["(selects an element)"]
        case .stack:
            return l.map { _ in "(selects an entry)" }
        case .softmax:
            return ["diag(softmax(\(l[0])))-softmax(\(l[0]))·softmax(\(l[0]))'"]
        case .logSoftmax:
            return ["I-1·softmax(\(l[0]))'"]
        case .mse:
            let n = Swift.max(count(0), count(1))
            return ["2(\(l[0])-\(l[1]))\(n == 1 ? "" : "'")\(over(n))", "-2(\(l[0])-\(l[1]))\(n == 1 ? "" : "'")\(over(n))"]
        case .bce:
            let n = Swift.max(count(0), count(1))
            return ["(\(l[0])-\(l[1]))/(\(l[0])(1-\(l[0])))\(over(n))", "log((1-\(l[0]))/\(l[0]))\(over(n))"]
        case .crossEntropy:
            return ["softmax(\(l[0]))-onehot(\(l[1]))", shapes[1] == shapes[0] ? "-log_softmax(\(l[0]))" : "0"]
        case .logisticLoss:
            let n = Swift.max(count(0), count(1))
            return ["-\(wrap(l[1]))·σ(-\(wrap(l[1]))·\(wrap(l[0])))\(over(n))", "-\(wrap(l[0]))·σ(-\(wrap(l[1]))·\(wrap(l[0])))\(over(n))"]
        case .hinge:
            let n = Swift.max(count(0), count(1))
            return ["-\(wrap(l[1]))·[1-\(wrap(l[1]))·\(wrap(l[0])) > 0]\(over(n))", "-\(wrap(l[0]))·[1-\(wrap(l[1]))·\(wrap(l[0])) > 0]\(over(n))"]
        case .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus, .step, .sin, .cos,
            .scaledTanh, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu, .log10, .log2, .sign:
            return l.map { _ in "?" }
        }
    }
}
