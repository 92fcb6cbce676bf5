import CBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Matrix products, transpose, reductions

extension DenseTensor {
    /// The matrix product `a @ b` of the course: matrix-matrix `[m,k]@[k,n] -> [m,n]`,
    /// matrix-vector `[m,k]@[k] -> [m]`, vector-matrix `[k]@[k,n] -> [n]` and
    /// vector-vector (the dot product, a scalar).
    public static func matmul(_ a: DenseTensor, _ b: DenseTensor) throws(TensorError) -> DenseTensor {
        guard a.rank >= 1, b.rank >= 1, a.rank <= 2, b.rank <= 2 else {
            let bad = a.rank == 0 || a.rank > 2 ? a.shape : b.shape
            throw .badShape(op: "@", bad, expected: "vectors or matrices (use * to scale by a scalar)")
        }
        let m = a.rank == 2 ? a.shape[0] : 1
        let k = a.shape[a.rank - 1]
        let k2 = b.shape[0]
        let n = b.rank == 2 ? b.shape[1] : 1
        guard k == k2 else {
            throw .invalid("shape mismatch in @: \(Shape.describe(a.shape)) @ \(Shape.describe(b.shape)): the inner dimensions \(k) and \(k2) differ")
        }
        var outShape: [Int] = []
        if a.rank == 2 { outShape.append(m) }
        if b.rank == 2 { outShape.append(n) }
        try Shape.checkSize(outShape)
        return DenseTensor(shape: outShape, scalars: gemm(a.scalars, b.scalars, m: m, k: k, n: n))
    }

    /// Row-major `[m,k] x [k,n]` product (OpenBLAS's gemm of this precision).
    public static func gemm(_ a: [Element], _ b: [Element], m: Int, k: Int, n: Int) -> [Element] {
        gemm(a, false, b, false, m: m, k: k, n: n)
    }

    /// C = op(A) op(B), m x n, where op(A) is m x k and op(B) is k x n; a transpose is
    /// BLAS's flag, never a copy (A is stored k x m when `transA`, B n x k when `transB`).
    public static func gemm(_ a: [Element], _ transA: Bool, _ b: [Element], _ transB: Bool, m: Int, k: Int, n: Int) -> [Element] {
        // BLAS writes every element (beta 0), so the result is not zeroed first.
        [Element](unsafeUninitializedCapacity: m * n) { buffer, initialized in
            gemm(a, transA, b, transB, into: buffer, m: m, k: k, n: n, accumulate: false)
            initialized = m * n
        }
    }

    /// The same product written into `c` (added to what it holds when `accumulate`).
    public static func gemm(
        _ a: [Element], _ transA: Bool, _ b: [Element], _ transB: Bool, into c: UnsafeMutableBufferPointer<Element>,
        m: Int, k: Int, n: Int, accumulate: Bool
    ) {
        guard m > 0, n > 0, k > 0, a.count >= m * k, b.count >= k * n, c.count >= m * n,
              let pc = c.baseAddress else {
            if !accumulate { for i in c.indices { c[i] = 0 } }
            return
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                guard let pa = pa.baseAddress, let pb = pb.baseAddress else { return }
                gemmInParts(pa, transA, pb, transB, into: pc, m: m, k: k, n: n, beta: accumulate ? 1 : 0, split: BLAS.nablaSplits)
            }
        }
    }

    /// With `split` (OpenBLAS on one thread: `BLAS.use(.nabla)`), a product big enough to pay
    /// for a thread (a million multiply-adds) is computed in parts, one BLAS call per core: C's
    /// rows when it has more rows than columns (each part reads its rows of op(A)), its columns
    /// otherwise (each part reads its columns of op(B)). Otherwise OpenBLAS splits it.
    static func gemmInParts(
        _ a: UnsafePointer<Element>, _ transA: Bool, _ b: UnsafePointer<Element>, _ transB: Bool,
        into c: UnsafeMutablePointer<Element>, m: Int, k: Int, n: Int, beta: Element, split: Bool
    ) {
        let (lda, ldb) = (transA ? m : k, transB ? k : n)
        if skippingZeros(a, transA, b, transB, into: c, m: m, k: k, n: n, beta: beta) { return }
        if !split || m * n * k < 1 << 20 {
            Element.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: n)
        } else if m >= n {
            Parallel.forEachRange(m, cost: n * k, minimum: 1 << 20) { rows in
                let first = rows.lowerBound
                Element.gemm(transA: transA, transB: transB, m: rows.count, n: n, k: k,
                             a + (transA ? first : first * lda), lda: lda, b, ldb: ldb, beta: beta, c + first * n, ldc: n)
            }
        } else {
            Parallel.forEachRange(n, cost: m * k, minimum: 1 << 20) { columns in
                let first = columns.lowerBound
                Element.gemm(transA: transA, transB: transB, m: m, n: columns.count, k: k,
                             a, lda: lda, b + (transB ? first * ldb : first), ldb: ldb, beta: beta, c + first, ldc: n)
            }
        }
    }

    /// A big product whose op(A) is at most a quarter nonzeros (a batch of MNIST images: about
    /// a fifth) is computed from op(A)'s nonzeros (CNablaKernels), C's rows split over the cores:
    /// a fifth of the multiply-adds, at about half BLAS's rate per multiply-add (a row of B is
    /// read per nonzero). False when the product is small, B is transposed, op(A) is denser, or
    /// the element has no such kernel (Double): then BLAS computes it.
    static func skippingZeros(
        _ a: UnsafePointer<Element>, _ transA: Bool, _ b: UnsafePointer<Element>, _ transB: Bool,
        into c: UnsafeMutablePointer<Element>, m: Int, k: Int, n: Int, beta: Element
    ) -> Bool {
        guard !transB, n >= 32, m * n * k >= 1 << 20 else { return false }
        let lda = transA ? m : k
        guard let nonzeros = Element.nonzeros(rows: transA ? k : m, cols: transA ? m : k, a, lda: lda, limit: m * k / 4)
        else { return false }
        Parallel.forEachRange(m, cost: Swift.max(1, nonzeros / Swift.max(m, 1)) * n, minimum: 1 << 20) { rows in
            let done = Element.gemmSkippingZeros(
                transA: transA, rows: rows, k: k, a, lda: lda, most: nonzeros, n: n, b, ldb: n, beta: beta, c, ldc: n)
            guard !done else { return }
            // Only when the memory for the part's nonzeros could not be had.
            let first = rows.lowerBound
            Element.gemm(transA: transA, transB: false, m: rows.count, n: n, k: k,
                         a + (transA ? first : first * lda), lda: lda, b, ldb: n, beta: beta, c + first * n, ldc: n)
        }
        return true
    }

    /// The outer product of two vectors, `[m] x [n] -> [m, n]`.
    public static func outer(_ a: DenseTensor, _ b: DenseTensor) -> DenseTensor {
        DenseTensor(shape: [a.count, b.count], scalars: gemm(a.scalars, b.scalars, m: a.count, k: 1, n: b.count))
    }

    /// The transpose of a matrix; scalars and vectors are their own transpose, and a tensor of
    /// rank 3 or more has its axes reversed (numpy's `.T`): [a, b, c] becomes [c, b, a].
    public var transposed: DenseTensor {
        guard rank == 2 else { return rank > 2 ? reversedAxes : self }
        let (m, n) = (shape[0], shape[1])
        var out = [Element](repeating: 0, count: count)
        for i in 0..<m {
            for j in 0..<n { out[j * m + i] = scalars[i * n + j] }
        }
        return DenseTensor(shape: [n, m], scalars: out)
    }

    /// The axes in reverse order: element (i0, ..., ik) goes to (ik, ..., i0).
    var reversedAxes: DenseTensor {
        let outShape = Array(shape.reversed())
        let outStrides = Shape.strides(outShape)
        var out = [Element](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: rank)
        for flat in 0..<count {
            var target = 0
            for axis in 0..<rank { target += index[axis] * outStrides[rank - 1 - axis] }
            out[target] = scalars[flat]
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return DenseTensor(shape: outShape, scalars: out)
    }

    // MARK: Reductions

    /// The sum of all elements, or along one axis (the axis disappears from the shape).
    public func sum(axis: Int? = nil) throws(TensorError) -> DenseTensor {
        guard let axis else { return DenseTensor(scalars.reduce(0, +)) }
        guard axis >= 0 && axis < rank else {
            throw .invalid("axis \(axis) does not exist for shape \(Shape.describe(shape))")
        }
        var outShape = shape
        outShape.remove(at: axis)
        var reducedShape = shape
        reducedShape[axis] = 1
        let summed = sumTo(reducedShape)
        return summed.reshaped(outShape)
    }

    /// Number of elements a reduction along `axis` (or over everything) averages.
    public func reductionCount(axis: Int?) -> Int {
        guard let axis, axis >= 0, axis < rank else { return count }
        return shape[axis]
    }

    /// The flat position of the largest element (the first one on ties).
    public var argmax: Int {
        var best = 0
        for i in 1..<Swift.max(count, 1) where scalars[i] > scalars[best] { best = i }
        return best
    }

    /// The flat position of the smallest element (the first one on ties).
    public var argmin: Int {
        var best = 0
        for i in 1..<Swift.max(count, 1) where scalars[i] < scalars[best] { best = i }
        return best
    }

    // MARK: Softmax along the last axis

    /// `log_softmax` along the last axis (each row of a matrix), computed stably.
    public var logSoftmax: DenseTensor {
        rowwise { row, out in
            let m = row.max() ?? 0
            let lse = m + Element.log(row.reduce(0) { $0 + Element.exp($1 - m) })
            for j in row.indices { out[j - row.startIndex] = row[j] - lse }
        }
    }

    /// `softmax` along the last axis (each row of a matrix): exp(x - max) / Σ exp(x - max).
    public var softmax: DenseTensor {
        rowwise { row, out in
            let m = row.max() ?? 0
            var s: Element = 0
            for j in row.indices {
                out[j - row.startIndex] = Element.exp(row[j] - m)
                s += out[j - row.startIndex]
            }
            for j in 0..<out.count { out[j] /= s }
        }
    }

    /// Applies `f` to each row (the last axis), writing that row's results.
    private func rowwise(_ f: (ArraySlice<Element>, inout [Element]) -> Void) -> DenseTensor {
        let n = cols
        guard n > 0 else { return self }
        var result = [Element](repeating: 0, count: count)
        var out = [Element](repeating: 0, count: n)
        for start in stride(from: 0, to: count, by: n) {
            f(scalars[start..<start + n], &out)
            result.replaceSubrange(start..<start + n, with: out)
        }
        return DenseTensor(shape: shape, scalars: result)
    }
}
