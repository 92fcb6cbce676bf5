import CNablaKernels
@testable import NablaTensor
import Testing

/// Products whose left operand is mostly zeros (CNablaKernels/sparse.c), each body the CPU has
/// (plain C, AVX2, AVX-512), against the product written out by hand in float64; and the way
/// float32 products reach them (`gemm` on a batch of images).
@Suite("Products that skip zeros")
struct SparseProductTests {
    /// op(A) with about `density` of its entries nonzero (A stored k x m when transposed).
    static func sparse(_ count: Int, density: Double, _ random: inout RandomSource) -> [Float] {
        (0..<count).map { _ in random.uniform() < density ? Float(random.normal()) : 0 }
    }

    static func reference(_ a: [Float], _ transA: Bool, _ b: [Float], m: Int, k: Int, n: Int, start: [Float]?) -> [Double] {
        var out = start.map { $0.map(Double.init) } ?? [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(transA ? a[p * m + i] : a[i * k + p]) * Double(b[p * n + j]) }
                out[i * n + j] += sum
            }
        }
        return out
    }

    static func close(_ got: [Float], _ expected: [Double], k: Int) -> Bool {
        got.count == expected.count && zip(got, expected).allSatisfy { abs(Double($0) - $1) <= 1e-5 * Double(k) * Swift.max(1, abs($1)) }
    }

    // Widths that reach every tile: 16 and 4 vectors, single vectors, single floats.
    @Test("each body, every width, both layouts of A, in row ranges, with and without accumulating",
          arguments: [(7, 50, 256), (5, 33, 300), (9, 20, 100), (3, 64, 37), (40, 20, 48), (4, 10, 5), (1, 1, 1)] as [(Int, Int, Int)])
    func kernels(m: Int, k: Int, n: Int) {
        var random = RandomSource(seed: 11)
        let b = (0..<(k * n)).map { _ in Float(random.normal()) }
        let start = (0..<(m * n)).map { _ in Float(random.normal()) }
        for transA in [false, true] {
            let a = Self.sparse(m * k, density: 0.2, &random)
            for kernel in Int32(1)...3 {
                for accumulate in [false, true] {
                    var c = start
                    // Two row ranges, as two threads would take them.
                    let ranges = [0..<(m / 2), (m / 2)..<m]
                    var done = true
                    for rows in ranges where !rows.isEmpty {
                        done = done && c.withUnsafeMutableBufferPointer { pc in
                            nabla_sgemm_sparse_using(kernel, transA ? 1 : 0, rows.lowerBound, rows.upperBound, k, a,
                                                     transA ? m : k, m * k, n, b, n, accumulate ? 1 : 0, pc.baseAddress, n)
                        } != 0
                    }
                    // Plain C runs everywhere; AVX2 and AVX-512 where the CPU has them.
                    #expect(done || kernel > 1, "the plain body refused")
                    guard done else { continue }
                    let expected = Self.reference(a, transA, b, m: m, k: k, n: n, start: accumulate ? start : nil)
                    let agrees = Self.close(c, expected, k: k)
                    #expect(agrees, "kernel \(kernel), transA \(transA), accumulate \(accumulate)")
                }
            }
        }
    }

    /// A, B and C as windows of wider matrices (rows lda, ldb, ldc apart), for each body.
    @Test("strides wider than the rows")
    func strides() {
        var random = RandomSource(seed: 13)
        let (m, k, n) = (21, 18, 40), (lda, ldb, ldc) = (29, 47, 45)
        for transA in [false, true] {
            let stored = Self.sparse((transA ? k : m) * lda, density: 0.25, &random)
            let b = (0..<(k * ldb)).map { _ in Float(random.normal()) }
            // The same matrices packed tight, for the reference.
            let a = transA ? (0..<k).flatMap { p in stored[p * lda..<p * lda + m] } : (0..<m).flatMap { i in stored[i * lda..<i * lda + k] }
            let tight = (0..<k).flatMap { p in b[p * ldb..<p * ldb + n] }
            let expected = Self.reference(a, transA, tight, m: m, k: k, n: n, start: nil)
            for kernel in Int32(1)...3 {
                var c = [Float](repeating: .nan, count: m * ldc)
                let done = c.withUnsafeMutableBufferPointer { pc in
                    nabla_sgemm_sparse_using(kernel, transA ? 1 : 0, 0, m, k, stored, lda, m * k, n, b, ldb, 0, pc.baseAddress, ldc)
                }
                guard done != 0 else { continue }
                let got = (0..<m).flatMap { i in c[i * ldc..<i * ldc + n] }
                let agrees = Self.close(got, expected, k: k)
                #expect(agrees, "kernel \(kernel), transA \(transA)")
                let padding = (0..<m).allSatisfy { i in c[i * ldc + n..<(i + 1) * ldc].allSatisfy(\.isNaN) }
                #expect(padding, "wrote outside C's rows")
            }
        }
    }

    @Test("exactly `most` nonzeros are taken, one more refused")
    func mostIsTheLimit() {
        let (m, k, n) = (3, 5, 32)
        let a: [Float] = [1, 0, 2, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 5, 0]  // 5 nonzeros
        let b = [Float](repeating: 1, count: k * n)
        for transA in [Int32(0), 1] {
            let lda = transA == 1 ? m : k
            var c = [Float](repeating: 0, count: transA == 1 ? k * n : m * n)
            let rows = transA == 1 ? k : m, inner = transA == 1 ? m : k
            let five = c.withUnsafeMutableBufferPointer { nabla_sgemm_sparse(transA, 0, rows, inner, a, lda, 5, n, b, n, 0, $0.baseAddress, n) }
            let four = c.withUnsafeMutableBufferPointer { nabla_sgemm_sparse(transA, 0, rows, inner, a, lda, 4, n, b, n, 0, $0.baseAddress, n) }
            #expect(five == 1)
            #expect(four == 0)
        }
    }

    @Test("which products skip zeros: big, B not transposed, at most a quarter nonzeros, float32 only")
    func decision() {
        var random = RandomSource(seed: 17)
        let (m, k, n) = (128, 784, 64)
        let sparse = Self.sparse(m * k, density: 0.2, &random), denser = Self.sparse(m * k, density: 0.3, &random)
        let b = [Float](repeating: 0.5, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        func skips(_ a: [Float], transB: Bool = false, n: Int = 64) -> Bool {
            c.withUnsafeMutableBufferPointer { pc in
                DenseTensor<Float>.skippingZeros(a, false, b, transB, into: pc.baseAddress!, m: m, k: k, n: n, beta: 0)
            }
        }
        #expect(skips(sparse))
        #expect(!skips(denser))
        #expect(!skips(sparse, transB: true))
        #expect(!skips(sparse, n: 16))  // too narrow for the vectors
        var out = [Float](repeating: 0, count: 64)
        let small = out.withUnsafeMutableBufferPointer { po in
            DenseTensor<Float>.skippingZeros([Float](repeating: 0, count: 4), false, [Float](repeating: 1, count: 64), false,
                                             into: po.baseAddress!, m: 1, k: 4, n: 64, beta: 0)
        }
        #expect(!small)  // too few multiply-adds to pay
        var d = [Double](repeating: 0, count: m * n)
        let double = d.withUnsafeMutableBufferPointer { pd in
            DenseTensor<Double>.skippingZeros(sparse.map(Double.init), false, b.map(Double.init), false, into: pd.baseAddress!, m: m, k: k, n: n, beta: 0)
        }
        #expect(!double)
    }

    @Test("more nonzeros than allowed: refused, C untouched")
    func refusesDense() {
        var random = RandomSource(seed: 3)
        let (m, k, n) = (8, 40, 32)
        let a = Self.sparse(m * k, density: 0.9, &random), b = [Float](repeating: 1, count: k * n)
        for transA in [Int32(0), 1] {
            var c = [Float](repeating: 7, count: m * n)
            let done = c.withUnsafeMutableBufferPointer { pc in
                nabla_sgemm_sparse(transA, 0, m, k, a, transA == 1 ? m : k, m * k / 4, n, b, n, 0, pc.baseAddress, n)
            }
            let untouched = c.allSatisfy { $0 == 7 }
            #expect(done == 0)
            #expect(untouched)
        }
    }

    @Test("a zero of A skips B's row, even an infinity there; a NaN of A still counts")
    func zerosSkip() {
        // op(A) = [[0, 2], [nan, 0]], B = [[inf ...], [1 ...]]
        let n = 32
        let a: [Float] = [0, 2, .nan, 0]
        let b = [Float](repeating: .infinity, count: n) + [Float](repeating: 1, count: n)
        var c = [Float](repeating: 0, count: 2 * n)
        let done = c.withUnsafeMutableBufferPointer { nabla_sgemm_sparse(0, 0, 2, 2, a, 2, 4, n, b, n, 0, $0.baseAddress, n) }
        #expect(done == 1)
        let first = c[0..<n].allSatisfy { $0 == 2 }, second = c[n...].allSatisfy(\.isNaN)
        #expect(first)
        #expect(second)
    }

    /// A batch of 128 images of which a fifth of the pixels are lit, times a 784 x 256 layer:
    /// what `gemm` gives (through the kernel that skips zeros, split over the cores) against
    /// the loops by hand, for X W and for the weights' gradient Xᵀ G.
    @Test("a batch of images through gemm, forward and the weights' gradient")
    func throughGemm() {
        var random = RandomSource(seed: 5)
        let (m, k, n) = (128, 784, 256)
        let x = Self.sparse(m * k, density: 0.19, &random)
        let w = (0..<(k * n)).map { _ in Float(random.normal()) }, g = (0..<(m * n)).map { _ in Float(random.normal()) }
        let forward = DenseTensor<Float>.gemm(x, false, w, false, m: m, k: k, n: n)
        let forwardAgrees = Self.close(forward, Self.reference(x, false, w, m: m, k: k, n: n, start: nil), k: k)
        #expect(forwardAgrees)
        let gradient = DenseTensor<Float>.gemm(x, true, g, false, m: k, k: m, n: n)
        let gradientAgrees = Self.close(gradient, Self.reference(x, true, g, m: k, k: m, n: n, start: nil), k: m)
        #expect(gradientAgrees)
        // A dense left operand goes to BLAS: the same answer.
        let dense = (0..<(m * k)).map { _ in Float(random.normal()) }
        let denseAgrees = Self.close(DenseTensor<Float>.gemm(dense, false, w, false, m: m, k: k, n: n),
                                     Self.reference(dense, false, w, m: m, k: k, n: n, start: nil), k: k)
        #expect(denseAgrees)
    }

    @Test("nonzeros are counted, NaN among them, up to the limit")
    func counting() {
        let a: [Float] = [0, 1, -0.0, .nan, 0, 3, 0, 0, 5]
        #expect(nabla_nonzeros_f32(3, 3, a, 3, 100) == 4)
        #expect(nabla_nonzeros_f32(3, 2, a, 3, 100) == 2)  // the first two columns of each row
        #expect(nabla_nonzeros_f32(3, 3, a, 3, 2) == 3)  // more than 2: limit + 1
    }
}

/// nabla's thread pool (CNablaKernels/parallel.c) behind `Parallel`.
@Suite("The thread pool")
struct ThreadPoolTests {
    @Test("every index once, in ranges that cover the count, loops inside loops and from many threads")
    func covers() async {
        for count in [1, 2, 3, 1000, 100_003] {
            var seen = [Int](repeating: 0, count: count)
            seen.withUnsafeMutableBufferPointer { s in
                Parallel.forEachRange(count, minimum: 1) { range in for i in range { s[i] += 1 } }
            }
            let once = seen.allSatisfy { $0 == 1 }
            #expect(once)
        }
        // A loop inside a part runs on that part's thread.
        var nested = [Int](repeating: 0, count: 64)
        nested.withUnsafeMutableBufferPointer { s in
            Parallel.forEachRange(8, minimum: 1) { outer in
                for o in outer { Parallel.forEachRange(8, minimum: 1) { inner in for i in inner { s[o * 8 + i] += 1 } } }
            }
        }
        let once = nested.allSatisfy { $0 == 1 }
        #expect(once)
        // Loops started from several threads at once (one runs on the pool, the others alone).
        let sums = await withTaskGroup(of: Int.self) { group in
            for t in 0..<6 {
                group.addTask {
                    var part = [Int](repeating: 0, count: Parallel.parts)
                    part.withUnsafeMutableBufferPointer { p in
                        Parallel.forEachPart(10_000, minimum: 1) { index, range in p[index] += range.reduce(0) { $0 + $1 * t } }
                    }
                    return part.reduce(0, +)
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }.sorted()
        }
        #expect(sums == (0..<6).map { 49_995_000 * $0 })
    }
}

/// A batch of byte rows fed as floats (CNablaKernels/feed.c).
@Suite("Feeding a batch")
struct BatchTests {
    @Test("each byte is Float(byte) / 255, rows gathered in the order asked; rows out of range refused")
    func bytes() {
        let width = 300, count = 5
        let bytes = (0..<(width * count)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let rows = [3, 0, 4, 4, 1, 2, 0]
        var out = [Float](repeating: -1, count: rows.count * width)
        let done = bytes.withUnsafeBufferPointer { src in
            rows.withUnsafeBufferPointer { r in out.withUnsafeMutableBufferPointer { Batch.floats(fromBytes: src, width: width, rows: r, divisor: 255, into: $0) } }
        }
        #expect(done)
        let expected = rows.flatMap { r in (0..<width).map { Float(bytes[r * width + $0]) / 255 } }
        #expect(out == expected)
        for bad in [[5], [-1], [0, 9]] {
            var o = [Float](repeating: -1, count: bad.count * width)
            let ok = bytes.withUnsafeBufferPointer { src in
                bad.withUnsafeBufferPointer { r in o.withUnsafeMutableBufferPointer { Batch.floats(fromBytes: src, width: width, rows: r, divisor: 255, into: $0) } }
            }
            let untouched = o.allSatisfy { $0 == -1 }
            #expect(!ok)
            #expect(untouched)
        }
    }
}
