@testable import NablaTensor
import Testing

/// Matrix products split over the cores by nabla (`BLAS.use(.nabla)`: OpenBLAS on one thread,
/// a big product in parts by rows or by columns) against a product written out by hand.
@Suite("Matrix products in parts")
struct ProductInPartsTests {
    /// C = op(A) op(B) (+ C), the loops of the definition; A is k x m when transposed, B n x k.
    func reference(_ a: [Double], _ transA: Bool, _ b: [Double], _ transB: Bool, m: Int, k: Int, n: Int, c: [Double]?) -> [Double] {
        var out = c ?? [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]) }
                out[i * n + j] += sum
            }
        }
        return out
    }

    @Test("rows (m ≥ n) and columns (m < n), every transpose, with and without accumulating", arguments: [
        (300, 40, 200), (20, 100, 700), (1, 2048, 600),
    ] as [(Int, Int, Int)])
    func parts(m: Int, k: Int, n: Int) {
        var random = RandomSource(seed: 7)
        let a = (0..<(m * k)).map { _ in random.normal() }, b = (0..<(k * n)).map { _ in random.normal() }
        let start = (0..<(m * n)).map { _ in random.normal() }
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            for accumulate in [false, true] {
                var c = start
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            // split: true, whatever the process-wide choice is at the moment.
                            Tensor.gemmInParts(pa.baseAddress!, transA, pb.baseAddress!, transB, into: pc.baseAddress!,
                                               m: m, k: k, n: n, beta: accumulate ? 1 : 0, split: true)
                        }
                    }
                }
                let expected = reference(a, transA, b, transB, m: m, k: k, n: n, c: accumulate ? start : nil)
                let worst = zip(c, expected).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
                #expect(worst < 1e-12, "m \(m) k \(k) n \(n) transA \(transA) transB \(transB) accumulate \(accumulate): \(worst)")
            }
        }
    }
}

/// `Format.number` prints a whole number itself without printf: the same text as C's %g.
@Suite("Numbers as text")
struct NumberTextTests {
    @Test("whole numbers read as printf's %.{digits}g writes them")
    func wholeNumbers() {
        let values: [Double] = [1, -1, 7, 10, 99, 100, 12345, 99999, 123456, 999999, 1_000_000, -999_999, -1_000_000,
                                123_456_789, 1e15, 4_503_599_627_370_496, 2, 3e6]
        for v in values {
            for digits in [3, 6, 8] {
                #expect(Format.number(v, digits: digits) == Format.printf("%.\(digits)g", v), "\(v) with \(digits) digits")
            }
        }
        #expect(Format.number(-0.0) == "0")
        #expect(Format.number(0.5) == "0.5")
    }
}
