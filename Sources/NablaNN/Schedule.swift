#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Learning-rate schedules (Géron, ch. 11), as functions of the epoch t = 0, 1, 2, ...
///
/// | schedule | η(t) |
/// | --- | --- |
/// | constant | η0 |
/// | power:s[:c] | η0 / (1 + t/s)^c  (c = 1 by default) |
/// | exponential:s | η0 · 0.1^(t/s) |
/// | piecewise:e1:η1,e2:η2,... | η0 before epoch e1, η1 from e1, η2 from e2, ... |
/// | 1cycle[:ηmax] | η0 → ηmax linearly up to halfway (t = (n−1)/2), back to η0 by 90% of the way, then linearly down to η0/1000 at the last epoch (at least one epoch of that drop) |
public enum Schedule: Sendable, Equatable {
    case constant
    case power(s: Double, c: Double)
    case exponential(s: Double)
    case piecewise([(epoch: Int, lr: Double)])
    case oneCycle(maxLR: Double?)

    public static func == (a: Schedule, b: Schedule) -> Bool { a.description == b.description }

    /// The learning rate at epoch `t` of `epochs`, starting from `lr`.
    public func rate(_ lr: Double, epoch t: Int, of epochs: Int) -> Double {
        switch self {
        case .constant:
            return lr
        case let .power(s, c):
            return lr / pow(1 + Double(t) / s, c)
        case let .exponential(s):
            return lr * pow(0.1, Double(t) / s)
        case let .piecewise(steps):
            var rate = lr
            for step in steps where t >= step.epoch { rate = step.lr }
            return rate
        case let .oneCycle(maxLR):
            // The course: up for the first half, down for the second, and the last epochs drop
            // several orders of magnitude, ending below the start.
            let high = maxLR ?? lr * 10
            let end = Double(Swift.max(epochs - 1, 0)), x = Double(t)
            guard end >= 2 else { return end == 0 || x < end ? lr : lr / 1000 }
            let peak = end / 2, back = Swift.min(0.9 * end, end - 1)
            if x <= peak { return lr + (high - lr) * x / peak }
            if x <= back { return high - (high - lr) * (x - peak) / (back - peak) }
            return lr - (lr - lr / 1000) * Swift.min((x - back) / (end - back), 1)
        }
    }

    public var description: String {
        switch self {
        case .constant: return "constant"
        case let .power(s, c): return "power (s = \(s), c = \(c)): η0 / (1 + t/s)^c"
        case let .exponential(s): return "exponential (s = \(s)): η0 · 0.1^(t/s)"
        case let .piecewise(steps): return "piecewise constant: " + steps.map { "η = \($0.lr) from epoch \($0.epoch)" }.joined(separator: ", ")
        case let .oneCycle(maxLR): return "1cycle (up to \(maxLR.map { "\($0)" } ?? "10·η0"))"
        }
    }

    /// Parses `power:10`, `power:10:2`, `exponential:20`, `piecewise:5:0.01,10:0.001`, `1cycle`, `1cycle:0.5`.
    public static func parse(_ text: String) -> Schedule? {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let args = parts.count > 1 ? parts[1] : ""
        let numbers = args.split(separator: ":").compactMap { Double($0) }
        switch parts.first ?? "" {
        case "constant": return .constant
        case "power":
            guard let s = numbers.first, s > 0 else { return nil }
            return .power(s: s, c: numbers.count > 1 ? numbers[1] : 1)
        case "exponential", "exp":
            guard let s = numbers.first, s > 0 else { return nil }
            return .exponential(s: s)
        case "piecewise":
            var steps: [(Int, Double)] = []
            for item in args.split(separator: ",") {
                let pair = item.split(separator: ":")
                guard pair.count == 2, let e = Int(pair[0]), e >= 0, let r = Double(pair[1]), r > 0 else { return nil }
                steps.append((e, r))
            }
            guard !steps.isEmpty else { return nil }
            return .piecewise(steps.sorted { $0.0 < $1.0 }.map { (epoch: $0.0, lr: $0.1) })
        case "1cycle", "onecycle":
            if args.isEmpty { return .oneCycle(maxLR: nil) }
            guard let m = numbers.first, m > 0 else { return nil }
            return .oneCycle(maxLR: m)
        default:
            return nil
        }
    }
}
