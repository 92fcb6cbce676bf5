import NablaTensor

/// Weight initializers (Géron, ch. 11, table 11-1), for a weight matrix with
/// `fanIn` inputs and `fanOut` outputs:
///
/// | initializer | σ² (normal) | uniform on [−r, r] |
/// | --- | --- | --- |
/// | lecun | 1 / fan_in | r = √(3 σ²) |
/// | glorot (Xavier) | 1 / fan_avg = 2 / (fan_in + fan_out) | r = √(3 σ²) |
/// | he | 2 / fan_in | r = √(3 σ²) |
/// | normal:σ | σ² | — |
/// | constant:c | every weight c (shows why symmetry must be broken) | — |
public enum Initializer: Sendable, Equatable {
    case lecun(uniform: Bool)
    case glorot(uniform: Bool)
    case he(uniform: Bool)
    case normal(std: Double)
    case constant(Double)

    /// The variance of the weights for a layer.
    public func variance(fanIn: Int, fanOut: Int) -> Double {
        let fin = Double(Swift.max(fanIn, 1)), fout = Double(Swift.max(fanOut, 1))
        switch self {
        case .lecun: return 1 / fin
        case .glorot: return 2 / (fin + fout)
        case .he: return 2 / fin
        case let .normal(std): return std * std
        case .constant: return 0
        }
    }

    var isUniform: Bool {
        switch self {
        case let .lecun(u), let .glorot(u), let .he(u): return u
        default: return false
        }
    }

    /// A [fanIn, fanOut] weight matrix (rows are inputs: `X @ W`).
    public func weights(fanIn: Int, fanOut: Int, random: inout RandomSource) throws(TensorError) -> Tensor {
        let shape = [fanIn, fanOut]
        try Shape.checkSize(shape)
        if case let .constant(c) = self { return try Tensor.filled(shape, c) }
        let v = variance(fanIn: fanIn, fanOut: fanOut)
        var values = [Double](repeating: 0, count: fanIn * fanOut)
        if isUniform {
            let r = (3 * v).squareRoot()
            for i in values.indices { values[i] = (2 * random.uniform() - 1) * r }
        } else {
            let std = v.squareRoot()
            for i in values.indices { values[i] = random.normal() * std }
        }
        return Tensor(shape: shape, scalars: values)
    }

    /// Parses `glorot`, `glorot_uniform`, `he`, `he_uniform`, `lecun`, `lecun_uniform`, `xavier`, `normal:0.01`, `constant:0.5`.
    public static func parse(_ text: String) -> Initializer? {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard let kind = parts.first else { return nil }
        // A value must be a finite number: constant:nan would poison every weight.
        let value = parts.count > 1 ? Double(parts[1]).flatMap { $0.isFinite ? $0 : nil } : nil
        switch kind {
        case "lecun", "lecun_normal": return .lecun(uniform: false)
        case "lecun_uniform": return .lecun(uniform: true)
        case "glorot", "xavier", "glorot_normal", "xavier_normal": return .glorot(uniform: false)
        case "glorot_uniform", "xavier_uniform": return .glorot(uniform: true)
        case "he", "he_normal": return .he(uniform: false)
        case "he_uniform": return .he(uniform: true)
        case "normal": return value.flatMap { $0 > 0 ? .normal(std: $0) : nil } ?? (parts.count == 1 ? .normal(std: 0.01) : nil)
        case "constant", "const": return value.map { .constant($0) }
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case let .lecun(u): return "LeCun \(u ? "uniform" : "normal") (σ² = 1/fan_in)"
        case let .glorot(u): return "Glorot \(u ? "uniform" : "normal") (σ² = 2/(fan_in + fan_out))"
        case let .he(u): return "He \(u ? "uniform" : "normal") (σ² = 2/fan_in)"
        case let .normal(std): return "N(0, \(std)²)"
        case let .constant(c): return "constant \(c)"
        }
    }
}
