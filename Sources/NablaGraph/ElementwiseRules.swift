import NablaTensor

// MARK: - Elementwise rules: forward and derivative side by side
//
// Each elementwise op is a small type holding its function, its derivative and the
// derivative's text. The rules are types, not closures, so that every loop that applies one
// is specialized to it (in each precision) and vectorizes: the float32 tape pays no call per
// element. `Op.unaryRule(_:)` and `Op.binaryRule(_:)` pick the rule of an op.

/// An elementwise op of one input: `f(x)`, its derivative `df(x, y)` given `y = f(x)`, and the
/// derivative's text given the input's label.
protocol UnaryRule {
    static func f<T: TensorElement>(_ x: T) -> T
    static func df<T: TensorElement>(_ x: T, _ y: T) -> T
    static func text(_ x: String) -> String
}

/// An elementwise op of two inputs (broadcast): `f(a, b)`, its partials given `(a, b, y)`, and their text.
protocol BinaryRule {
    static func f<T: TensorElement>(_ a: T, _ b: T) -> T
    static func da<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T
    static func db<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T
    static func text(_ a: String, _ b: String) -> (String, String)
    /// The partials when they are constants (+: 1 and 1, -: 1 and -1): the VJP is then ±g
    /// summed back to each input's shape, without stretching the inputs.
    static var constantPartials: (Double, Double)? { get }
}

extension BinaryRule {
    static var constantPartials: (Double, Double)? { nil }
}

/// What is done with a rule: the forward, the VJP, the text. Its `visit` is generic over the
/// rule, and each op's case calls it with its own rule type, so each gets its own specialized code.
protocol UnaryVisitor {
    associatedtype Result
    func visit<R: UnaryRule>(_ rule: R.Type) -> Result
}

protocol BinaryVisitor {
    associatedtype Result
    func visit<R: BinaryRule>(_ rule: R.Type) -> Result
}

enum Rules {
    enum Neg: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { -x }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { -1 }
        static func text(_ x: String) -> String { "-1" }
    }
    enum Exp: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { T.exp(x) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { y }
        static func text(_ x: String) -> String { "exp(\(x))" }
    }
    enum Log: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { T.log(x) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { 1 / x }
        static func text(_ x: String) -> String { "1/\(wrap(x))" }
    }
    enum Log10: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { T.log(x) / T.log(10) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { 1 / (x * T.log(10)) }
        static func text(_ x: String) -> String { "1/(\(wrap(x))·ln 10)" }
    }
    enum Log2: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { T.log(x) / T.log(2) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { 1 / (x * T.log(2)) }
        static func text(_ x: String) -> String { "1/(\(wrap(x))·ln 2)" }
    }
    enum Sqrt: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { x.squareRoot() }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { 0.5 / y }
        static func text(_ x: String) -> String { "1/(2√\(wrap(x)))" }
    }
    enum Abs: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { Swift.abs(x) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { x > 0 ? 1 : (x < 0 ? -1 : 0) }
        static func text(_ x: String) -> String { "sign(\(x))" }
    }
    enum Sigmoid: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { T.logistic(x) }
        /// σ' from the input, not y(1-y): y rounds to 1 long before σ' is 0.
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { T.logisticSlope(x) }
        static func text(_ x: String) -> String { "σ(\(x))(1-σ(\(x)))" }
    }
    enum Tanh: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { T.tanh(x) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { 1 - y * y }
        static func text(_ x: String) -> String { "1-tanh²(\(x))" }
    }
    enum Relu: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { Swift.max(x, 0) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { x > 0 ? 1 : 0 }
        static func text(_ x: String) -> String { "[\(x) > 0]" }
    }
    enum Softplus: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { T.softplus(x) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { T.logistic(x) }
        static func text(_ x: String) -> String { "σ(\(x))" }
    }
    enum Step: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { x >= 0 ? 1 : 0 }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { 0 }
        static func text(_ x: String) -> String { "0" }
    }
    /// The McCulloch-Pitts output: +1 where x ≥ 0, else -1.
    enum Sign: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { x >= 0 ? 1 : (x < 0 ? -1 : x) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { 0 }
        static func text(_ x: String) -> String { "0" }
    }
    enum Sin: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { T.sin(x) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { T.cos(x) }
        static func text(_ x: String) -> String { "cos(\(x))" }
    }
    enum Cos: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { T.cos(x) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { -T.sin(x) }
        static func text(_ x: String) -> String { "-sin(\(x))" }
    }
    /// LeCun's scaled tanh, 1.7159 tanh(2x/3).
    enum ScaledTanh: UnaryRule {
        static func f<T: TensorElement>(_ x: T) -> T { 1.7159 * T.tanh(x * 2 / 3) }
        static func df<T: TensorElement>(_ x: T, _ y: T) -> T { 1.7159 * 2 / 3 * (1 - (y / 1.7159) * (y / 1.7159)) }
        static func text(_ x: String) -> String { "1.14393(1-tanh²(2\(wrap(x))/3))" }
    }

    enum Add: BinaryRule {
        static var constantPartials: (Double, Double)? { (1, 1) }
        static func f<T: TensorElement>(_ a: T, _ b: T) -> T { a + b }
        static func da<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { 1 }
        static func db<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { 1 }
        static func text(_ a: String, _ b: String) -> (String, String) { ("1", "1") }
    }
    enum Sub: BinaryRule {
        static var constantPartials: (Double, Double)? { (1, -1) }
        static func f<T: TensorElement>(_ a: T, _ b: T) -> T { a - b }
        static func da<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { 1 }
        static func db<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { -1 }
        static func text(_ a: String, _ b: String) -> (String, String) { ("1", "-1") }
    }
    enum Mul: BinaryRule {
        static func f<T: TensorElement>(_ a: T, _ b: T) -> T { a * b }
        static func da<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { b }
        static func db<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { a }
        static func text(_ a: String, _ b: String) -> (String, String) { (b, a) }
    }
    enum Div: BinaryRule {
        static func f<T: TensorElement>(_ a: T, _ b: T) -> T { a / b }
        static func da<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { 1 / b }
        static func db<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { -a / (b * b) }
        static func text(_ a: String, _ b: String) -> (String, String) { ("1/\(wrap(b))", "-\(wrap(a))/\(wrap(b))²") }
    }
    /// C's pow: integer powers of negative numbers are defined, other powers of them are NaN.
    enum Pow: BinaryRule {
        static func f<T: TensorElement>(_ a: T, _ b: T) -> T { T.pow(a, b) }
        static func da<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { b == 0 ? 0 : b * T.pow(a, b - 1) }
        /// For a < 0, a^b is defined only at whole b: there is no derivative in b (NaN says so).
        static func db<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { a > 0 ? y * T.log(a) : (a == 0 ? 0 : .nan) }
        static func text(_ a: String, _ b: String) -> (String, String) {
            ("\(wrap(b))·\(wrap(a))^(\(b)-1)", "\(wrap(a))^\(wrap(b))·log(\(a))")
        }
    }
    enum Maximum: BinaryRule {
        static func f<T: TensorElement>(_ a: T, _ b: T) -> T { Swift.max(a, b) }
        static func da<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { a >= b ? 1 : 0 }
        static func db<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { a < b ? 1 : 0 }
        static func text(_ a: String, _ b: String) -> (String, String) { ("[\(a) ≥ \(b)]", "[\(a) < \(b)]") }
    }
    enum Minimum: BinaryRule {
        static func f<T: TensorElement>(_ a: T, _ b: T) -> T { Swift.min(a, b) }
        static func da<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { a <= b ? 1 : 0 }
        static func db<T: TensorElement>(_ a: T, _ b: T, _ y: T) -> T { a > b ? 1 : 0 }
        static func text(_ a: String, _ b: String) -> (String, String) { ("[\(a) ≤ \(b)]", "[\(a) > \(b)]") }
    }
    /// leaky_relu(x, a): x where x > 0, a·x elsewhere.
    enum LeakyRelu: BinaryRule {
        static func f<T: TensorElement>(_ x: T, _ a: T) -> T { x > 0 ? x : a * x }
        static func da<T: TensorElement>(_ x: T, _ a: T, _ y: T) -> T { x > 0 ? 1 : a }
        static func db<T: TensorElement>(_ x: T, _ a: T, _ y: T) -> T { x > 0 ? 0 : x }
        static func text(_ x: String, _ a: String) -> (String, String) {
            ("[\(x) > 0] + \(wrap(a))·[\(x) ≤ 0]", "\(wrap(x))·[\(x) ≤ 0]")
        }
    }
}

extension Op {
    /// Runs `visitor` with this op's unary rule; nil when the op is not elementwise of one input.
    func unaryRule<V: UnaryVisitor>(_ visitor: V) -> V.Result? {
        switch self {
        case .neg: return visitor.visit(Rules.Neg.self)
        case .exp: return visitor.visit(Rules.Exp.self)
        case .log: return visitor.visit(Rules.Log.self)
        case .log10: return visitor.visit(Rules.Log10.self)
        case .log2: return visitor.visit(Rules.Log2.self)
        case .sign: return visitor.visit(Rules.Sign.self)
        case .sqrt: return visitor.visit(Rules.Sqrt.self)
        case .abs: return visitor.visit(Rules.Abs.self)
        case .sigmoid: return visitor.visit(Rules.Sigmoid.self)
        case .tanh: return visitor.visit(Rules.Tanh.self)
        case .relu: return visitor.visit(Rules.Relu.self)
        case .softplus: return visitor.visit(Rules.Softplus.self)
        case .step: return visitor.visit(Rules.Step.self)
        case .sin: return visitor.visit(Rules.Sin.self)
        case .cos: return visitor.visit(Rules.Cos.self)
        case .scaledTanh: return visitor.visit(Rules.ScaledTanh.self)
        case .constant, .param, .name, .add, .sub, .mul, .div, .pow, .maximum, .minimum, .leakyRelu,
            .dropout, .matmul, .dot, .transpose, .sum, .mean, .max, .min, .vec, .reshape, .index, .stack,
            .softmax, .logSoftmax, .mse, .bce, .crossEntropy, .logisticLoss, .hinge, .accuracy, .gradient,
            .jacobian, .conv2d, .pool, .flatten, .inv, .solve: return nil
        }
    }

    /// Runs `visitor` with this op's binary rule; nil when the op is not elementwise of two inputs.
    func binaryRule<V: BinaryVisitor>(_ visitor: V) -> V.Result? {
        switch self {
        case .add: return visitor.visit(Rules.Add.self)
        case .sub: return visitor.visit(Rules.Sub.self)
        case .mul: return visitor.visit(Rules.Mul.self)
        case .div: return visitor.visit(Rules.Div.self)
        case .pow: return visitor.visit(Rules.Pow.self)
        case .maximum: return visitor.visit(Rules.Maximum.self)
        case .minimum: return visitor.visit(Rules.Minimum.self)
        case .leakyRelu: return visitor.visit(Rules.LeakyRelu.self)
        case .constant, .param, .name, .neg, .exp, .log, .sqrt, .abs, .sigmoid, .tanh, .relu, .softplus,
            .step, .sin, .cos, .scaledTanh, .dropout, .matmul, .dot, .transpose, .sum, .mean, .max, .min,
            .vec, .reshape, .index, .stack, .softmax, .logSoftmax, .mse, .bce, .crossEntropy, .logisticLoss,
            .hinge, .accuracy, .gradient, .jacobian, .conv2d, .pool, .flatten, .log10, .log2, .sign, .inv, .solve:
            return nil
        }
    }
}

// MARK: - The visitors: forward, VJP, text

/// y = f(x), element by element.
struct UnaryForward<T: TensorElement>: UnaryVisitor {
    let x: DenseTensor<T>
    func visit<R: UnaryRule>(_: R.Type) -> DenseTensor<T> { x.map(R.f) }
}

/// g · f'(x), element by element.
struct UnaryVJP<T: TensorElement>: UnaryVisitor {
    let x: DenseTensor<T>, y: DenseTensor<T>, g: DenseTensor<T>
    func visit<R: UnaryRule>(_: R.Type) -> DenseTensor<T> { g.zip(x, y) { g, x, y in g * R.df(x, y) } }
}

/// f(a, b) after broadcasting.
struct BinaryForward<T: TensorElement>: BinaryVisitor {
    let a: DenseTensor<T>, b: DenseTensor<T>, op: String
    func visit<R: BinaryRule>(_: R.Type) -> Result<DenseTensor<T>, TensorError> {
        do throws(TensorError) { return .success(try DenseTensor.zip(a, b, op: op, R.f)) } catch { return .failure(error) }
    }
}

/// The partials times g, with the stretch of broadcasting undone (summed back to each input's
/// shape); nil for an input whose gradient is not needed.
struct BinaryVJP<T: TensorElement>: BinaryVisitor {
    let a: DenseTensor<T>, b: DenseTensor<T>, y: DenseTensor<T>, g: DenseTensor<T>, needs: (Bool, Bool)
    func visit<R: BinaryRule>(_: R.Type) -> (DenseTensor<T>?, DenseTensor<T>?) {
        if let (ca, cb) = R.constantPartials {
            // g itself where the partial is 1 and the shapes agree: no copy at all.
            let ga = needs.0 ? (ca == 1 ? g : g.map { $0 * T(ca) }).sumTo(a.shape) : nil
            let gb = needs.1 ? (cb == 1 ? g : g.map { $0 * T(cb) }).sumTo(b.shape) : nil
            return (ga, gb)
        }
        let sa = a.broadcast(to: y.shape), sb = b.broadcast(to: y.shape)
        let ga = needs.0 ? g.zip(sa, sb, y) { g, a, b, y in g * R.da(a, b, y) }.sumTo(a.shape) : nil
        let gb = needs.1 ? g.zip(sa, sb, y) { g, a, b, y in g * R.db(a, b, y) }.sumTo(b.shape) : nil
        return (ga, gb)
    }
}

/// The derivative's text for each input, given their labels.
struct DerivativeText: UnaryVisitor, BinaryVisitor {
    let labels: [String]
    func visit<R: UnaryRule>(_: R.Type) -> [String] { [R.text(labels[0])] }
    func visit<R: BinaryRule>(_: R.Type) -> [String] {
        let (da, db) = R.text(labels[0], labels[1])
        return [da, db]
    }
}

/// Only whether the op has such a rule.
struct HasRule: UnaryVisitor, BinaryVisitor {
    func visit<R: UnaryRule>(_: R.Type) -> Bool { true }
    func visit<R: BinaryRule>(_: R.Type) -> Bool { true }
}

// MARK: - The same rules on plain numbers (the live graph's scalar nodes)

/// f(x) on one number: a scalar node's value without tensor machinery.
struct UnaryScalar: UnaryVisitor {
    let x: Double
    func visit<R: UnaryRule>(_: R.Type) -> Double { R.f(x) }
}

/// f'(x) on one number (given y = f(x)).
struct UnaryScalarSlope: UnaryVisitor {
    let x: Double, y: Double
    func visit<R: UnaryRule>(_: R.Type) -> Double { R.df(x, y) }
}

/// f(a, b) on two numbers.
struct BinaryScalar: BinaryVisitor {
    let a: Double, b: Double
    func visit<R: BinaryRule>(_: R.Type) -> Double { R.f(a, b) }
}

/// Both partials on two numbers (given y = f(a, b)).
struct BinaryScalarSlopes: BinaryVisitor {
    let a: Double, b: Double, y: Double
    func visit<R: BinaryRule>(_: R.Type) -> (Double, Double) { (R.da(a, b, y), R.db(a, b, y)) }
}
