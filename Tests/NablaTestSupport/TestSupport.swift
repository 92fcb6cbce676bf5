import NablaGraph
import NablaTensor

/// True when every element of `a` is within `tol · max(1, |b|)` of `b` and the shapes agree.
public func isClose(_ a: Tensor, _ b: Tensor, tol: Double = 1e-9) -> Bool {
    a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
}

/// Scalar version of `isClose`.
public func isClose(_ a: Double, _ b: Double, tol: Double = 1e-9) -> Bool {
    abs(a - b) <= tol * max(1, abs(b))
}

/// Central differences of a scalar function of one tensor: the gradient, element by element.
public func numericalGradient(at x: Tensor, h: Double = 1e-6, _ f: (Tensor) throws -> Double) rethrows -> Tensor {
    var g = Tensor.zeros(x.shape)
    for i in 0..<x.count {
        var plus = x, minus = x
        plus.scalars[i] += h
        minus.scalars[i] -= h
        g.scalars[i] = (try f(plus) - f(minus)) / (2 * h)
    }
    return g
}

/// The Jacobian by central differences: column j is (f(x + h e_j) - f(x - h e_j)) / 2h.
public func numericalJacobian(at x: Tensor, h: Double = 1e-6, _ f: (Tensor) throws -> Tensor) rethrows -> Tensor {
    let m = try f(x).count
    var j = Tensor.zeros([m, x.count])
    for col in 0..<x.count {
        var plus = x, minus = x
        plus.scalars[col] += h
        minus.scalars[col] -= h
        let fp = try f(plus), fm = try f(minus)
        for row in 0..<m { j.scalars[row * x.count + col] = (fp.scalars[row] - fm.scalars[row]) / (2 * h) }
    }
    return j
}

/// Random tensors for property tests: uniform in `range`, kept `gap` away from the kinks at 0 and 1.
public struct TensorSampler {
    public var random: RandomSource
    public init(seed: UInt64) { random = RandomSource(seed: seed) }

    public mutating func tensor(_ shape: [Int], in range: ClosedRange<Double> = -2...2, awayFrom kinks: [Double] = [0], gap: Double = 0.05) -> Tensor {
        var values: [Double] = []
        for _ in 0..<Shape.count(shape) {
            var v: Double
            repeat {
                v = range.lowerBound + random.uniform() * (range.upperBound - range.lowerBound)
            } while kinks.contains(where: { abs(v - $0) < gap })
            values.append(v)
        }
        return Tensor(shape: shape, scalars: values)
    }
}

/// Σ a ⊙ b.
public func inner(_ a: Tensor, _ b: Tensor) -> Double {
    zip(a.scalars, b.scalars).reduce(0) { $0 + $1.0 * $1.1 }
}
