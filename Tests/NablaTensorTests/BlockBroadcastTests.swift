import NablaTensor
import Testing

/// The per-feature-map fast path of broadcasting against the general index tables (issue 11).
@Suite("Broadcasting a bias per feature map")
struct BlockBroadcastTests {
    /// numpy's rule written out with explicit multi-indices: the reference.
    func reference(_ a: Tensor, _ b: Tensor) -> Tensor {
        let rank = max(a.rank, b.rank)
        let pa = [Int](repeating: 1, count: rank - a.rank) + a.shape, pb = [Int](repeating: 1, count: rank - b.rank) + b.shape
        let shape = zip(pa, pb).map { max($0, $1) }
        var out: [Double] = []
        var index = [Int](repeating: 0, count: rank)
        for _ in 0..<shape.reduce(1, *) {
            func flat(_ s: [Int]) -> Int { zip(index, s).reduce(0) { $0 * $1.1 + ($1.1 == 1 ? 0 : $1.0) } }
            out.append(a.scalars[flat(pa)] + 10 * b.scalars[flat(pb)])
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return Tensor(shape: shape, scalars: out)
    }

    @Test("[F, 1, 1] on [B, F, H, W], [F, 1] on [F, W], and shapes that must not take the fast path", arguments: [
        ([2, 3, 2, 2], [3, 1, 1]), ([3, 4], [3, 1]), ([2, 3, 4], [3, 1]), ([3], [1, 1, 3]), ([2, 1, 3], [4, 1]), ([4, 1], [4, 1, 1]),
    ])
    func blockMatchesReference(a: [Int], b: [Int]) throws {
        let x = Tensor(shape: a, scalars: (0..<a.reduce(1, *)).map(Double.init))
        let y = Tensor(shape: b, scalars: (0..<b.reduce(1, *)).map { Double($0) + 0.5 })
        let z = try Tensor.zip(x, y, op: "+") { $0 + 10 * $1 }
        #expect(z == reference(x, y))
        let w = try Tensor.zip(y, x, op: "+") { 10 * $0 + $1 }
        #expect(w == reference(x, y))
        // Undoing the broadcast: the sum over the repeated places equals summing the stretched copy.
        let stretched = y.broadcast(to: z.shape)
        #expect(stretched.sumTo(y.shape).scalars.map { $0 } == y.scalars.map { $0 * Double(z.count / y.count) })
    }
}
