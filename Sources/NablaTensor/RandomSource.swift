#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small, seedable random generator (SplitMix64), so scripts and lessons
/// given `seed 42` draw the same numbers on every machine.
public struct RandomSource: Sendable {
    private var state: UInt64
    private var spareNormal: Double?

    public init(seed: UInt64) {
        state = seed
    }

    /// A generator exactly where another one was (`snapshot`): its state and the normal it
    /// kept for its next call. `:save` writes it so that `:load` draws the same numbers.
    public init(state: UInt64, spareNormal: Double?) {
        self.state = state
        self.spareNormal = spareNormal
    }

    public var snapshot: (state: UInt64, spareNormal: Double?) { (state, spareNormal) }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [0, 1).
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal Double (Box-Muller; the second value is kept for the next call).
    public mutating func normal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        var u = uniform()
        while u <= Double.leastNormalMagnitude { u = uniform() }
        let v = uniform()
        let r = (-2 * log(u)).squareRoot()
        spareNormal = r * sin(2 * Double.pi * v)
        return r * cos(2 * Double.pi * v)
    }

    /// A tensor of independent normals with the given standard deviation.
    public mutating func normal(_ shape: [Int], std: Double) throws(TensorError) -> Tensor {
        try Shape.checkSize(shape)
        var values = [Double](repeating: 0, count: Shape.count(shape))
        for i in values.indices { values[i] = normal() * std }
        return Tensor(shape: shape, scalars: values)
    }
}
