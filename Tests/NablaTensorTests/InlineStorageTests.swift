import NablaTensor
import Testing

/// A tiny tensor (up to 32 bytes of elements) keeps them inline (no array per op); every way of
/// making, reading and changing a tensor, inline or not, must give what the same steps on a
/// plain array give, and the ops' results on tiny tensors must be inline themselves.
@Suite("Tensors held inline")
struct InlineStorageTests {
    static let shapes: [[Int]] = [[], [1], [1, 1], [2], [3], [4], [2, 2], [1, 3], [5], [2, 3], [0]]

    static func elements(_ n: Int) -> [Double] { (0..<n).map { Double($0) * 1.5 - 2 } }

    @Test("held inline exactly when there is one element", arguments: shapes)
    func inlineWhenTiny(shape: [Int]) {
        let n = Shape.count(shape)
        let t = Tensor(shape: shape, scalars: Self.elements(n))
        #expect(t.isInline == (1...Tensor.inlineCapacity).contains(n))
        #expect(t.count == n)
        #expect(t.scalars == Self.elements(n))
        for i in 0..<n { #expect(t[flat: i] == Self.elements(n)[i]) }
        #expect(t.withUnsafeBufferPointer { Array($0) } == Self.elements(n))
    }

    @Test("map, zip, sumTo and reshape agree with the same work on arrays", arguments: shapes)
    func opsAgree(shape: [Int]) throws {
        let n = Shape.count(shape)
        let a = Self.elements(n), b = a.map { $0 * $0 + 1 }
        let ta = Tensor(shape: shape, scalars: a), tb = Tensor(shape: shape, scalars: b)
        #expect(ta.map { $0 * 3 }.scalars == a.map { $0 * 3 })
        #expect(try Tensor.zip(ta, tb, op: "+", +).scalars == zip(a, b).map { $0 + $1 })
        #expect(ta.zip(tb, tb) { $0 * $1 - $2 }.scalars == zip(a, b).map { $0 * $1 - $1 })
        #expect(ta.sumTo([]).scalar == a.reduce(0, +))
        #expect(ta.reshaped([n]).scalars == a)
        #expect(ta.map { $0 * 3 } == Tensor(shape: shape, scalars: a.map { $0 * 3 }))
        #expect(ta.map { $0 + 1 } != ta || n == 0)
    }

    @Test("changing elements in place keeps the others", arguments: shapes)
    func changesInPlace(shape: [Int]) {
        let n = Shape.count(shape)
        guard n > 0 else { return }
        var expected = Self.elements(n)
        var t = Tensor(shape: shape, scalars: expected)
        t[flat: n - 1] = 40
        expected[n - 1] = 40
        #expect(t.scalars == expected)
        t.scalars[0] += 7
        expected[0] += 7
        #expect(t.scalars == expected)
        t.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] *= 2 } }
        expected = expected.map { $0 * 2 }
        #expect(t == Tensor(shape: shape, scalars: expected))
        #expect(t.isInline == (1...Tensor.inlineCapacity).contains(n))
    }

    @Test("a broadcast between a tiny tensor and a scalar, and its sum back")
    func broadcastTiny() throws {
        let v = Tensor(vector: [1, 2, 3]), s = Tensor(10)
        #expect(try Tensor.zip(v, s, op: "*", *).scalars == [10, 20, 30])
        let m = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        #expect(try Tensor.zip(m, Tensor(vector: [10, 20]), op: "+", +).scalars == [11, 22, 13, 24])
        #expect(m.sumTo([2]).scalars == [4, 6])
        #expect(Tensor.zeros([]).isInline && Tensor.zeros([3]).scalars == [0, 0, 0])
        #expect(Tensor(2).broadcast(to: [2, 3]).scalars == Array(repeating: 2, count: 6))
        #expect(Tensor(shape: [1], scalars: [4]).broadcast(to: [3]) == Tensor(vector: [4, 4, 4]))
        #expect(Tensor(vector: [1, 2]).broadcast(to: [2, 2]).scalars == [1, 2, 1, 2])
        #expect(try Tensor.zip(Tensor(shape: [1, 1], scalars: [2]), Tensor(3), op: "*", *) == Tensor(shape: [1, 1], scalars: [6]))
    }

    @Test("equality compares elements as arrays do, inline or not", arguments: [[], [1], [3]] as [[Int]])
    func equality(shape: [Int]) {
        let n = Shape.count(shape)
        let zeros = Tensor(shape: shape, scalars: Array(repeating: 0, count: n))
        let negativeZeros = Tensor(shape: shape, scalars: Array(repeating: -0.0, count: n))
        let nans = Tensor(shape: shape, scalars: Array(repeating: .nan, count: n))
        #expect(zeros == negativeZeros)
        #expect(nans != nans)
        #expect(Array(repeating: Double.nan, count: n) != Array(repeating: Double.nan, count: n))
        #expect(zeros != Tensor(shape: [n, 1], scalars: Array(repeating: 0, count: n)))
        #expect(Tensor32(shape: shape, scalars: Array(repeating: 1.5, count: n)).converted(to: Double.self)
            == Tensor(shape: shape, scalars: Array(repeating: 1.5, count: n)))
    }

    @Test("what ops make from tiny tensors is inline; from larger ones, not", arguments: [[2], [3], [4], [2, 2], [1, 4], [5], [2, 3]] as [[Int]])
    func resultsInline(shape: [Int]) throws {
        let n = Shape.count(shape)
        let tiny = n <= Tensor.inlineCapacity
        let a = Tensor(shape: shape, scalars: Self.elements(n)), b = a.map { $0 + 3 }
        #expect(a.isInline == tiny && b.isInline == tiny)
        #expect(try Tensor.zip(a, b, op: "*", *).isInline == tiny)
        #expect(try Tensor.zip(a, Tensor(2), op: "*", *).isInline == tiny)
        #expect(a.zip(b, b) { $0 * $1 + $2 }.isInline == tiny)
        #expect(a.zip(b, b, a) { $0 * $1 + $2 - $3 }.isInline == tiny)
        #expect(Tensor(7).broadcast(to: shape) == Tensor(shape: shape, scalars: Array(repeating: 7, count: n)))
        #expect(Tensor(7).broadcast(to: shape).isInline == tiny)
        let row = Tensor(vector: Array(Self.elements(shape.last ?? 1)))
        let stretched = row.broadcast(to: shape)
        #expect(stretched.isInline == tiny)
        #expect(stretched.sumTo(row.shape).isInline == (row.count <= Tensor.inlineCapacity))
        #expect(stretched.sumTo(row.shape).scalars == row.scalars.map { $0 * Double(n / row.count) })
    }

    @Test("float32 holds up to 8 elements inline, in the same 32 bytes")
    func float32Capacity() throws {
        #expect(Tensor32.inlineCapacity == 8 && Tensor.inlineCapacity == 4)
        let eight = Tensor32(vector: (0..<8).map { Float($0) / 4 })
        let nine = Tensor32(vector: (0..<9).map { Float($0) / 4 })
        #expect(eight.isInline && !nine.isInline)
        #expect(eight.map { $0 * 2 }.scalars == (0..<8).map { Float($0) / 2 })
        #expect(try Tensor32.zip(eight, eight, op: "+", +).scalars == (0..<8).map { Float($0) / 2 })
        #expect(eight.reshaped([2, 4])[flat: 7] == 1.75)
    }
}
