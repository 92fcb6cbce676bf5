import NablaTensor
import Testing

/// Random tensors of 0 to 12 elements (inline or not, in both precisions) through
/// broadcasting ops, compared with the same work done on plain arrays by index arithmetic
/// written here, apart from the library's.
@Suite("Tiny and small tensors against arrays, at random")
struct InlineRandomTests {
    /// A deterministic generator (splitmix64), so a failure repeats.
    struct Mix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// The flat index into `small` (right-aligned against `big`, extent-1 axes stretched) of
    /// each flat index of `big`.
    static func sources(_ small: [Int], in big: [Int]) -> [Int] {
        let n = big.reduce(1, *)
        let pad = big.count - small.count
        return (0..<n).map { flat in
            var rest = flat, index = 0, step = 1
            for axis in stride(from: big.count - 1, through: 0, by: -1) {
                let i = rest % big[axis]
                rest /= big[axis]
                if axis >= pad {
                    let extent = small[axis - pad]
                    if extent != 1 { index += i * step }
                    step *= extent
                }
            }
            return index
        }
    }

    /// Two shapes that broadcast together and the shape they broadcast to: a shape of rank 0
    /// to 3 with extents 1 to 3, and its last axes with some extents made 1, in either order.
    static func shapes(_ rng: inout Mix) -> (a: [Int], b: [Int], out: [Int]) {
        let big = (0..<Int.random(in: 0...3, using: &rng)).map { _ in Int.random(in: 1...3, using: &rng) }
        let cut = Int.random(in: 0...big.count, using: &rng)
        let small = big.dropFirst(cut).map { Bool.random(using: &rng) ? 1 : $0 }
        return Bool.random(using: &rng) ? (big, small, big) : (small, big, big)
    }

    static func check<T: TensorElement>(_: T.Type, seed: UInt64) throws {
        var rng = Mix(state: seed)
        for _ in 0..<300 {
            let (sa, sb, shape) = shapes(&rng)
            let a = (0..<sa.reduce(1, *)).map { _ in T(Int.random(in: -9...9, using: &rng)) / 4 }
            let b = (0..<sb.reduce(1, *)).map { _ in T(Int.random(in: -9...9, using: &rng)) / 4 }
            let ta = DenseTensor<T>(shape: sa, scalars: a), tb = DenseTensor<T>(shape: sb, scalars: b)
            #expect(ta.isInline == (1...DenseTensor<T>.inlineCapacity).contains(a.count))
            let ia = sources(sa, in: shape), ib = sources(sb, in: shape)
            let sum = try DenseTensor<T>.zip(ta, tb, op: "+", +)
            #expect(sum.shape == shape)
            #expect(sum.scalars == zip(ia, ib).map { a[$0] + b[$1] })
            #expect(sum.isInline == (1...DenseTensor<T>.inlineCapacity).contains(sum.count))
            #expect(ta.broadcast(to: shape).scalars == ia.map { a[$0] })
            var back = [T](repeating: 0, count: a.count)
            for (k, i) in ia.enumerated() { back[i] += sum[flat: k] }
            #expect(sum.sumTo(sa).scalars == back)
            #expect(ta.map { $0 * 3 - 1 }.scalars == a.map { $0 * 3 - 1 })
            var changed = sum
            if changed.count > 0 {
                let k = Int.random(in: 0..<changed.count, using: &rng)
                changed[flat: k] = 100
                #expect(changed[flat: k] == 100 && sum[flat: k] != 100)  // a copy is its own
                changed.accumulate(sum)
                #expect(changed.scalars == zip(changed.scalars.indices, sum.scalars).map { i, s in (i == k ? 100 : s) + s })
            }
        }
    }

    @Test("float64: zip, broadcast, sumTo, map, writes and accumulate agree with arrays", arguments: [1, 2, 3] as [UInt64])
    func float64(seed: UInt64) throws { try Self.check(Double.self, seed: seed) }

    @Test("float32: the same, with 8 elements inline", arguments: [4, 5] as [UInt64])
    func float32(seed: UInt64) throws { try Self.check(Float.self, seed: seed) }
}
