import NablaTensor
import Testing

@Suite("Tensor values")
struct TensorTests {
    @Test("broadcast shapes follow numpy's rules", arguments: [
        ([3], [], [3]), ([], [2, 2], [2, 2]), ([4, 3], [3], [4, 3]), ([4, 1], [1, 3], [4, 3]), ([2, 3], [2, 3], [2, 3]),
    ] as [([Int], [Int], [Int])])
    func broadcastShapes(a: [Int], b: [Int], expected: [Int]) throws {
        #expect(try Broadcast.shape(a, b, op: "+") == expected)
    }

    @Test("incompatible shapes name both")
    func broadcastMismatch() {
        #expect(throws: TensorError.shapeMismatch(op: "+", [3], [4])) { try Broadcast.shape([3], [4], op: "+") }
        #expect(TensorError.shapeMismatch(op: "+", [2, 3], [4]).message == "shape mismatch in +: [2, 3] and [4]")
    }

    @Test("bias broadcasting adds a row vector to every row, and sumTo undoes it")
    func biasBroadcast() throws {
        let x = Tensor(rows: [[1, 2, 3], [4, 5, 6]])
        let b = Tensor(vector: [10, 20, 30])
        let y = try Tensor.zip(x, b, op: "+", +)
        #expect(y == Tensor(rows: [[11, 22, 33], [14, 25, 36]]))
        #expect(x.sumTo([3]) == Tensor(vector: [5, 7, 9]))
        #expect(x.sumTo([2, 1]) == Tensor(shape: [2, 1], scalars: [6, 15]))
        #expect(x.sumTo([]) == Tensor(21))
    }

    @Test("the four kinds of @ product")
    func matmul() throws {
        let A = Tensor(rows: [[1, 2], [3, 4], [5, 6]])  // 3x2
        let B = Tensor(rows: [[1, 0, 2], [0, 1, 3]])    // 2x3
        #expect(try Tensor.matmul(A, B) == Tensor(rows: [[1, 2, 8], [3, 4, 18], [5, 6, 28]]))
        #expect(try Tensor.matmul(A, Tensor(vector: [1, -1])) == Tensor(vector: [-1, -1, -1]))
        #expect(try Tensor.matmul(Tensor(vector: [1, 1, 1]), A) == Tensor(vector: [9, 12]))
        #expect(try Tensor.matmul(Tensor(vector: [1, 2]), Tensor(vector: [3, 4])) == Tensor(11))
        #expect(throws: TensorError.self) { try Tensor.matmul(A, A) }
        #expect(throws: TensorError.self) { try Tensor.matmul(Tensor(2), A) }
    }

    @Test("transpose swaps a matrix's axes and leaves vectors alone")
    func transpose() {
        let A = Tensor(rows: [[1, 2, 3], [4, 5, 6]])
        #expect(A.transposed == Tensor(rows: [[1, 4], [2, 5], [3, 6]]))
        #expect(A.transposed.transposed == A)
        #expect(Tensor(vector: [1, 2]).transposed == Tensor(vector: [1, 2]))
    }

    @Test("sums along axes")
    func sums() throws {
        let A = Tensor(rows: [[1, 2, 3], [4, 5, 6]])
        #expect(try A.sum() == Tensor(21))
        #expect(try A.sum(axis: 0) == Tensor(vector: [5, 7, 9]))
        #expect(try A.sum(axis: 1) == Tensor(vector: [6, 15]))
        #expect(throws: TensorError.self) { try A.sum(axis: 2) }
    }

    @Test("softmax sums to one per row and is stable for large inputs")
    func softmax() {
        let s = Tensor(vector: [1, 2, 3]).softmax
        #expect(abs(s.scalars.reduce(0, +) - 1) < 1e-15)
        // e^1 / (e^1 + e^2 + e^3), by hand: 2.718282 / 30.192880 = 0.0900306
        #expect(abs(s.scalars[0] - 0.09003057317038046) < 1e-15)
        let big = Tensor(rows: [[1000, 1000], [0, -1000]]).softmax
        #expect(big.scalars == [0.5, 0.5, 1, 0])
    }

    @Test("a huge tensor is refused with its size, before any allocation")
    func sizeLimit() {
        #expect(throws: TensorError.tooLarge(shape: [100000, 100000])) { try Tensor.filled([100000, 100000], 0) }
        let message = TensorError.tooLarge(shape: [100000, 100000]).message
        #expect(message == "a tensor of shape [100000, 100000] would hold 10,000,000,000 numbers (80 GB); the limit is 100,000,000 numbers (:limits elements=N changes it)")
    }

    @Test("numbers print with six significant digits", arguments: [
        (-1.4621171572600098, "-1.46212"), (2, "2"), (-0.0, "0"), (0.26894142136999516, "0.268941"),
        (1e-8, "1e-08"), (Double.nan, "nan"), (-Double.infinity, "-inf"), (123456789, "1.23457e+08"),
    ])
    func numbers(value: Double, text: String) {
        #expect(Format.number(value) == text)
    }

    @Test("a seeded generator repeats itself and draws standard normals")
    func random() {
        var a = RandomSource(seed: 42), b = RandomSource(seed: 42)
        #expect((0..<5).map { _ in a.next() } == (0..<5).map { _ in b.next() })
        var r = RandomSource(seed: 7)
        let n = 200_000
        let xs = (0..<n).map { _ in r.normal() }
        let mean = xs.reduce(0, +) / Double(n)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)
        // Standard errors: mean 1/sqrt(n) = 0.0022, variance sqrt(2/n) = 0.0032; allow 5 of each.
        #expect(abs(mean) < 0.011)
        #expect(abs(variance - 1) < 0.016)
    }
}
