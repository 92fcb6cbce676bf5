import CBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Matrix products, transpose, reductions

extension Tensor {
    /// The matrix product `a @ b` of the course: matrix-matrix `[m,k]@[k,n] -> [m,n]`,
    /// matrix-vector `[m,k]@[k] -> [m]`, vector-matrix `[k]@[k,n] -> [n]` and
    /// vector-vector (the dot product, a scalar).
    public static func matmul(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
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
        return Tensor(shape: outShape, scalars: gemm(a.scalars, b.scalars, m: m, k: k, n: n))
    }

    /// Row-major `[m,k] x [k,n]` product (OpenBLAS dgemm).
    public static func gemm(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        gemm(a, false, b, false, m: m, k: k, n: n)
    }

    /// C = op(A) op(B), m x n, where op(A) is m x k and op(B) is k x n; a transpose is
    /// BLAS's flag, never a copy (A is stored k x m when `transA`, B n x k when `transB`).
    public static func gemm(_ a: [Double], _ transA: Bool, _ b: [Double], _ transB: Bool, m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        guard m > 0, n > 0, k > 0 else { return c }
        // OpenBLAS's dgemm, row-major.
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    cblas_dgemm(
                        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k),
                        1, pa.baseAddress, Int32(transA ? m : k), pb.baseAddress, Int32(transB ? k : n), 0, pc.baseAddress, Int32(n))
                }
            }
        }
        return c
    }

    /// The outer product of two vectors, `[m] x [n] -> [m, n]`.
    public static func outer(_ a: Tensor, _ b: Tensor) -> Tensor {
        Tensor(shape: [a.count, b.count], scalars: gemm(a.scalars, b.scalars, m: a.count, k: 1, n: b.count))
    }

    /// The transpose of a matrix; scalars and vectors are their own transpose, and a tensor of
    /// rank 3 or more has its axes reversed (numpy's `.T`): [a, b, c] becomes [c, b, a].
    public var transposed: Tensor {
        guard rank == 2 else { return rank > 2 ? reversedAxes : self }
        let (m, n) = (shape[0], shape[1])
        var out = [Double](repeating: 0, count: count)
        for i in 0..<m {
            for j in 0..<n { out[j * m + i] = scalars[i * n + j] }
        }
        return Tensor(shape: [n, m], scalars: out)
    }

    /// The axes in reverse order: element (i0, ..., ik) goes to (ik, ..., i0).
    var reversedAxes: Tensor {
        let outShape = Array(shape.reversed())
        let outStrides = Shape.strides(outShape)
        var out = [Double](repeating: 0, count: count)
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
        return Tensor(shape: outShape, scalars: out)
    }

    // MARK: Reductions

    /// The sum of all elements, or along one axis (the axis disappears from the shape).
    public func sum(axis: Int? = nil) throws(TensorError) -> Tensor {
        guard let axis else { return Tensor(scalars.reduce(0, +)) }
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
    public var logSoftmax: Tensor {
        rowwise { row, out in
            let m = row.max() ?? 0
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            for j in row.indices { out[j - row.startIndex] = row[j] - lse }
        }
    }

    /// `softmax` along the last axis (each row of a matrix): exp(x - max) / Σ exp(x - max).
    public var softmax: Tensor {
        rowwise { row, out in
            let m = row.max() ?? 0
            var s = 0.0
            for j in row.indices {
                out[j - row.startIndex] = exp(row[j] - m)
                s += out[j - row.startIndex]
            }
            for j in 0..<out.count { out[j] /= s }
        }
    }

    /// Applies `f` to each row (the last axis), writing that row's results.
    private func rowwise(_ f: (ArraySlice<Double>, inout [Double]) -> Void) -> Tensor {
        let n = cols
        guard n > 0 else { return self }
        var result = [Double](repeating: 0, count: count)
        var out = [Double](repeating: 0, count: n)
        for start in stride(from: 0, to: count, by: n) {
            f(scalars[start..<start + n], &out)
            result.replaceSubrange(start..<start + n, with: out)
        }
        return Tensor(shape: shape, scalars: result)
    }
}
