import NablaRuntime
import NablaTeaching
import NablaTensor

/// Random well-typed programs in nabla's language, for checking the engine against finite
/// differences (`nabla selfcheck`, and a fixed-seed run in the tests).
///
/// A program seeds the random builders, declares a few params and constants of random
/// shapes (scalars, vectors and matrices of 1 to 4 elements a side), defines intermediate
/// values with every op and function of the language (elementwise functions, broadcasting
/// arithmetic, the four forms of `@`, reductions, indexing, softmax, losses, `dense`),
/// reusing earlier names (so nodes have several users) and now and then chaining many
/// unary functions (deep graphs), and ends with a scalar `L` that reads most of them.
/// Functions with a restricted domain get arguments inside it (`log(1 + x^2)`), and `bce`
/// gets probabilities that float64 can tell from 0 and 1.
public struct RandomProgram: Sendable {
    public var lines: [String]
    public var text: String { lines.joined(separator: "\n") }

    /// A value the program has defined: its name and shape.
    struct Value {
        var name: String
        var shape: [Int]
        var isParam: Bool
    }

    public init(lines: [String]) { self.lines = lines }

    /// The program for `seed`, with about `size` intermediate definitions.
    public static func generate(seed: UInt64, size: Int = 8) -> RandomProgram {
        var g = Generator(random: RandomSource(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 1))
        return RandomProgram(lines: g.program(seed: seed, size: size))
    }

    struct Generator {
        var random: RandomSource
        var pool: [Value] = []
        var lines: [String] = []
        var counter = 0

        mutating func int(_ range: ClosedRange<Int>) -> Int {
            range.lowerBound + Int(random.next() % UInt64(range.count))
        }
        mutating func chance(_ p: Double) -> Bool { random.uniform() < p }
        mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
        mutating func number() -> String {
            let v = (random.uniform() * 3 - 1.5)
            let s = String(Double(Int(v * 1000)) / 1000)
            return s.hasPrefix("-") ? "(\(s))" : s
        }
        mutating func shape() -> [Int] {
            switch int(0...2) {
            case 0: return []
            case 1: return [int(1...4)]
            default: return [int(1...4), int(1...4)]
            }
        }
        /// A builder of that shape: randn, or for a matrix an initializer of the course; a
        /// constant may also be all ones. (Not a param: equal elements tie in max and min, where
        /// backprop takes one subgradient and central differences may see another.)
        mutating func builder(_ shape: [Int], param: Bool) -> String {
            let dims = shape.map(String.init).joined(separator: ", ")
            if shape.count == 2 && chance(0.4) { return "\(pick(["glorot", "he", "lecun"]))(\(dims))" }
            if !param && chance(0.2) { return "ones(\(dims)) * \(number())" }
            return "randn(\(dims))"
        }

        mutating func fresh(_ prefix: String) -> String {
            counter += 1
            return "\(prefix)\(counter)"
        }

        mutating func define(_ prefix: String, _ expr: String, _ shape: [Int], param: Bool = false) {
            let name = fresh(prefix)
            lines.append("\(param ? "param " : "")\(name) = \(expr)")
            pool.append(Value(name: name, shape: shape, isParam: param))
        }

        mutating func program(seed: UInt64, size: Int) -> [String] {
            lines = ["seed \(seed % 1_000_000)"]
            for _ in 0..<int(1...3) {
                let s = shape()
                define("p", s.isEmpty ? number() : builder(s, param: true), s, param: true)
            }
            for _ in 0..<int(0...2) {
                let s = shape()
                define("c", s.isEmpty ? number() : builder(s, param: false), s)
            }
            for _ in 0..<size {
                if chance(0.1) {
                    deepChain()
                } else if let (expr, shape) = expression(depth: 2) {
                    define("v", expr, shape)
                }
            }
            lines.append("L = " + root())
            return lines
        }

        /// An operand: a name of the pool (reuse makes shared nodes), or a nested expression.
        mutating func operand(depth: Int, shape wanted: [Int]? = nil) -> (String, [Int])? {
            if depth > 0 && chance(0.35), let e = expression(depth: depth - 1, shape: wanted) { return ("(\(e.0))", e.1) }
            let fits = pool.filter { $0.shape == (wanted ?? $0.shape) }
            guard !fits.isEmpty else {
                guard let wanted else { return nil }
                // A literal of that shape.
                if wanted.isEmpty { return (number(), []) }
                let count = wanted.reduce(1, *)
                var items: [String] = []
                for _ in 0..<count { items.append(number().trimmingCharacters(in: ["(", ")"])) }
                if wanted.count == 1 { return ("[\(items.joined(separator: ", "))]", wanted) }
                let rows = stride(from: 0, to: count, by: wanted[1]).map { "[" + items[$0..<$0 + wanted[1]].joined(separator: ", ") + "]" }
                return ("[\(rows.joined(separator: ", "))]", wanted)
            }
            let v = pick(fits)
            return (v.name, v.shape)
        }

        static let unary = [
            "tanh", "sigmoid", "σ", "sin", "cos", "relu", "softplus", "abs", "exp", "step", "scaled_tanh", "linear",
        ]

        mutating func expression(depth: Int, shape wanted: [Int]? = nil) -> (String, [Int])? {
            for _ in 0..<8 {
                if let e = attempt(depth: depth), e.1 == (wanted ?? e.1) { return e }
            }
            return wanted.map { _ in operand(depth: 0, shape: wanted) } ?? nil
        }

        /// One random construct; nil when the pool has nothing of the shapes it needs.
        mutating func attempt(depth: Int) -> (String, [Int])? {
            switch int(0...15) {
            case 0, 1: return unaryOf(depth: depth)
            case 2: return mathOf(depth: depth)
            case 3, 4, 5: return arithmetic(depth: depth)
            case 6, 7: return product(depth: depth)
            case 8, 9: return reduction(depth: depth)
            case 10: return softmaxOf(depth: depth)
            case 11: return indexing(depth: depth)
            case 12: return vectorOfScalars(depth: depth)
            case 13: return layer(depth: depth)
            default: return loss(depth: depth)
            }
        }

        /// A unary function of an operand.
        mutating func unaryOf(depth: Int) -> (String, [Int])? {
            guard let (x, s) = operand(depth: depth) else { return nil }
            var f = pick(Generator.unary)
            if f == "exp" { return ("exp(tanh(\(x)))", s) }  // no overflow
            if f == "linear" && chance(0.5) { f = "-" }
            if f == "step" && chance(0.5) { return ("dropout(\(x), 0.3)", s) }  // the identity outside :train
            return (f == "-" ? "-\(x)" : "\(f)(\(x))", s)
        }

        /// A formula of one operand (log, sqrt, powers, leaky ReLU, a steep sigmoid).
        mutating func mathOf(depth: Int) -> (String, [Int])? {
            guard let (x, s) = operand(depth: depth) else { return nil }
            switch int(0...6) {
            case 0: return ("log(1 + \(x)^2)", s)
            case 1: return ("sqrt(1 + \(x)^2)", s)
            case 2: return ("\(x)^\(int(2...3))", s)
            case 3: return ("leaky_relu(\(x), 0.2)", s)
            case 4: return ("sigmoid(\(x), \(number()))", s)
            case 5: return ("log(sigmoid(\(x)))", s)
            default: return ("(1 + \(x)^2)^0.5", s)
            }
        }

        /// Arithmetic with broadcasting: same shape, a scalar, or a row of a matrix.
        mutating func arithmetic(depth: Int) -> (String, [Int])? {
            guard let (a, s) = operand(depth: depth) else { return nil }
            var other = s
            if chance(0.25) { other = [] } else if s.count == 2 && chance(0.3) { other = [s[1]] }
            guard let (b, t) = operand(depth: depth, shape: other) else { return nil }
            let result = s.count >= t.count ? s : t
            let (left, right) = chance(0.5) ? (a, b) : (b, a)
            switch int(0...4) {
            case 0: return ("\(left) + \(right)", result)
            case 1: return ("\(left) - \(right)", result)
            case 2: return ("\(left) * \(right)", result)
            case 3: return ("\(left) / (1 + \(right)^2)", result)
            default:
                return t == s ? ("\(pick(["max", "min"]))(\(a), \(b))", s) : ("\(left) * \(right)", result)
            }
        }

        /// The four forms of @ (and ·, dot).
        mutating func product(depth: Int) -> (String, [Int])? {
            let matrices = pool.filter { $0.shape.count == 2 }
            let vectors = pool.filter { $0.shape.count == 1 }
            switch int(0...3) {
            case 0:
                guard !matrices.isEmpty else { return nil }
                let a = pick(matrices)
                let (k, n) = (a.shape[1], int(1...4))
                guard let (b, _) = operand(depth: depth, shape: [k, n]) else { return nil }
                return ("\(a.name) @ \(b)", [a.shape[0], n])
            case 1:
                guard !matrices.isEmpty else { return nil }
                let a = pick(matrices)
                guard let (b, _) = operand(depth: depth, shape: [a.shape[1]]) else { return nil }
                return ("\(a.name) @ \(b)", [a.shape[0]])
            case 2:
                guard !vectors.isEmpty else { return nil }
                let a = pick(vectors)
                let n = int(1...4)
                guard let (b, _) = operand(depth: depth, shape: [a.shape[0], n]) else { return nil }
                return ("\(a.name) @ \(b)", [n])
            default:
                guard let (a, s) = operand(depth: depth), !s.isEmpty else { return nil }
                guard let (b, _) = operand(depth: depth, shape: s) else { return nil }
                return (pick(["\(a) · \(b)", "dot(\(a), \(b))", s.count == 1 ? "\(a) @ \(b)" : "dot(\(a), \(b))"]), [])
            }
        }

        /// Reductions and reshaping.
        mutating func reduction(depth: Int) -> (String, [Int])? {
            guard let (x, s) = operand(depth: depth) else { return nil }
            switch int(0...6) {
            case 0: return ("sum(\(x))", [])
            case 1: return ("mean(\(x))", [])
            case 2: return ("\(pick(["max", "min"]))(\(x))", [])
            case 3:
                guard s.count == 2 else { return ("sum(\(x))", []) }
                let axis = int(0...1)
                return ("\(pick(["sum", "mean"]))(\(x), \(axis))", [s[1 - axis]])
            case 4:
                guard s.count == 2 else { return ("vec(\(x))", [s.reduce(1, *)]) }
                return chance(0.5) ? ("\(x)'", [s[1], s[0]]) : ("transpose(\(x))", [s[1], s[0]])
            case 5:
                let n = s.reduce(1, *)
                return s.count == 2 ? ("reshape(\(x), \(n))", [n]) : ("reshape(\(x), 1, \(n))", [1, n])
            default: return ("vec(\(x))", [s.reduce(1, *)])
            }
        }

        /// Softmax along the last axis.
        mutating func softmaxOf(depth: Int) -> (String, [Int])? {
            guard let (x, s) = operand(depth: depth), !s.isEmpty else { return nil }
            return ("\(pick(["softmax", "log_softmax"]))(\(x))", s)
        }

        /// Indexing: an element, a row.
        mutating func indexing(depth: Int) -> (String, [Int])? {
            let named = pool.filter { !$0.shape.isEmpty }
            guard !named.isEmpty else { return nil }
            let v = pick(named)
            if v.shape.count == 1 { return ("\(v.name)[\(int(0...(v.shape[0] - 1)))]", []) }
            if chance(0.5) { return ("\(v.name)[\(int(0...(v.shape[0] - 1)))]", [v.shape[1]]) }
            return ("\(v.name)[\(int(0...(v.shape[0] - 1))), \(int(0...(v.shape[1] - 1)))]", [])
        }

        /// A vector built from scalars.
        mutating func vectorOfScalars(depth: Int) -> (String, [Int])? {
            let scalars = pool.filter { $0.shape.isEmpty }
            guard !scalars.isEmpty else { return nil }
            let n = int(1...3)
            var items: [String] = []
            for _ in 0..<n { items.append(chance(0.8) ? pick(scalars).name : number().trimmingCharacters(in: ["(", ")"])) }
            return ("[\(items.joined(separator: ", "))]", [n])
        }

        /// A layer, or a neuron on a vector.
        mutating func layer(depth: Int) -> (String, [Int])? {
            let vectors = pool.filter { $0.shape.count == 1 }
            if !vectors.isEmpty && chance(0.4) {
                let x = pick(vectors)
                let act = pick(["tanh", "sigmoid", "relu", "linear", "softplus"])
                if chance(0.5) {
                    guard let (w, _) = operand(depth: 0, shape: x.shape) else { return nil }
                    return ("neuron(\(x.name), \(w), \(number()), \(act))", [])
                }
                let n = int(1...3)
                guard let (w, _) = operand(depth: 0, shape: [x.shape[0], n]), let (b, _) = operand(depth: 0, shape: [n]) else { return nil }
                return ("neuron(\(x.name), \(w), \(b), \(act))", [n])
            }
            let matrices = pool.filter { $0.shape.count == 2 }
            guard !matrices.isEmpty else { return nil }
            let x = pick(matrices)
            let n = int(1...3)
            guard let (w, _) = operand(depth: 0, shape: [x.shape[1], n]), let (b, _) = operand(depth: 0, shape: [n]) else { return nil }
            let act = pick(["tanh", "sigmoid", "relu", "linear", "softplus"])
            return ("dense(\(x.name), \(w), \(b), \(act))", [x.shape[0], n])
        }

        /// A loss.
        mutating func loss(depth: Int) -> (String, [Int])? {
            guard let (x, s) = operand(depth: depth), !s.isEmpty else { return nil }
            let n = s.reduce(1, *)
            switch int(0...4) {
            case 0:
                guard let (y, _) = operand(depth: 0, shape: s) else { return nil }
                return ("mse(\(x), \(y))", [])
            case 1:
                let targets = (0..<n).map { _ in String(int(0...1)) }
                // σ of at most 4 in size: log(1 - σ(30)) keeps three digits in float64, and
                // central differences of it are noise (the gradient is fine; the check is not).
                return ("bce(sigmoid(4 * tanh(\(x))), \(Generator.literal(targets, s)))", [])
            case 2:
                let k = s.last ?? 1
                if s.count == 1 { return ("cross_entropy(\(x), \(int(0...(k - 1))))", []) }
                let classes = (0..<s[0]).map { _ in String(int(0...(k - 1))) }
                return ("cross_entropy(\(x), [\(classes.joined(separator: ", "))])", [])
            case 3:
                let signs = (0..<n).map { _ in int(0...1) == 0 ? "-1" : "1" }
                return ("logistic_loss(\(x), \(Generator.literal(signs, s)))", [])
            default:
                let signs = (0..<n).map { _ in int(0...1) == 0 ? "-1" : "1" }
                return ("hinge(\(x), \(Generator.literal(signs, s)))", [])
            }
        }

        static func literal(_ items: [String], _ shape: [Int]) -> String {
            if shape.count <= 1 { return "[\(items.joined(separator: ", "))]" }
            let rows = stride(from: 0, to: items.count, by: shape[1]).map { "[" + items[$0..<$0 + shape[1]].joined(separator: ", ") + "]" }
            return "[\(rows.joined(separator: ", "))]"
        }

        /// A long chain of unary functions on one value (a deep graph).
        mutating func deepChain() {
            guard let (x, s) = operand(depth: 0) else { return }
            var text = x
            for _ in 0..<int(8...30) {
                text = "\(pick(["tanh", "sigmoid", "sin", "softplus", "scaled_tanh"]))(\(text))"
            }
            define("d", text, s)
        }

        /// L: a scalar reading several values (params included, so every gradient flows).
        mutating func root() -> String {
            var terms: [String] = []
            let candidates = pool.filter { !$0.isParam } + pool.filter(\.isParam)
            for v in candidates.suffix(6) where chance(0.8) || v.isParam {
                let term = v.shape.isEmpty ? v.name : pick(["sum(\(v.name))", "mean(\(v.name))", "sum(\(v.name)^2)", "\(v.name) · \(v.name)"])
                terms.append(chance(0.3) ? "\(number()) * \(term)" : term)
            }
            if terms.isEmpty, let v = pool.first { terms.append(v.shape.isEmpty ? v.name : "sum(\(v.name))") }
            return terms.joined(separator: " + ")
        }
    }
}
