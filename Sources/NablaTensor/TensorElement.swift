import CBLAS
import CNablaKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a tensor may hold: `Double` (the live graph, every view) or `Float` (the training
/// tape on big batches). Every op is written once over this protocol; the two conformances
/// below only name the C math functions and the BLAS routine of each precision.
public protocol TensorElement: BinaryFloatingPoint, SIMDScalar, Sendable, LosslessStringConvertible, Codable {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func sin(_ x: Self) -> Self
    static func cos(_ x: Self) -> Self
    /// C's `pow`: integer powers of negative numbers are defined, other powers of them are NaN.
    static func pow(_ x: Self, _ y: Self) -> Self
    /// C = op(A) op(B) + beta C, row-major, m x n with inner size k (BLAS's gemm, on the
    /// calling thread): lda, ldb and ldc are the strides between the rows of A, B and C as stored.
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        _ a: UnsafePointer<Self>?, lda: Int, _ b: UnsafePointer<Self>?, ldb: Int,
        beta: Self, _ c: UnsafeMutablePointer<Self>?, ldc: Int)
    /// Rows `rows` of C = op(A) B + beta C computed from the nonzeros of op(A) (B not
    /// transposed; op(A) has k columns), when those rows hold at most `most` of them; false,
    /// with C untouched, otherwise. Float has the kernel (CNablaKernels); Double answers false.
    static func gemmSkippingZeros(
        transA: Bool, rows: Range<Int>, k: Int, _ a: UnsafePointer<Self>, lda: Int, most: Int,
        n: Int, _ b: UnsafePointer<Self>, ldb: Int, beta: Self, _ c: UnsafeMutablePointer<Self>, ldc: Int) -> Bool
    /// The nonzeros (NaN counts) of a stored matrix, nil when there are more than `limit`
    /// (always nil for Double, which has no kernel that skips them).
    static func nonzeros(rows: Int, cols: Int, _ a: UnsafePointer<Self>, lda: Int, limit: Int) -> Int?
    /// A name for messages: "float64" or "float32".
    static var precisionName: String { get }
}

extension Double: TensorElement {
    @inlinable public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inlinable public static func log1p(_ x: Double) -> Double { Glibc.log1p(x) }
    @inlinable public static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
    @inlinable public static func sin(_ x: Double) -> Double { Glibc.sin(x) }
    @inlinable public static func cos(_ x: Double) -> Double { Glibc.cos(x) }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        _ a: UnsafePointer<Double>?, lda: Int, _ b: UnsafePointer<Double>?, ldb: Int,
        beta: Double, _ c: UnsafeMutablePointer<Double>?, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func gemmSkippingZeros(
        transA: Bool, rows: Range<Int>, k: Int, _ a: UnsafePointer<Double>, lda: Int, most: Int,
        n: Int, _ b: UnsafePointer<Double>, ldb: Int, beta: Double, _ c: UnsafeMutablePointer<Double>, ldc: Int
    ) -> Bool { false }
    public static func nonzeros(rows: Int, cols: Int, _ a: UnsafePointer<Double>, lda: Int, limit: Int) -> Int? { nil }
    public static var precisionName: String { "float64" }
}

extension Float: TensorElement {
    @inlinable public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable public static func log1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable public static func sin(_ x: Float) -> Float { sinf(x) }
    @inlinable public static func cos(_ x: Float) -> Float { cosf(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        _ a: UnsafePointer<Float>?, lda: Int, _ b: UnsafePointer<Float>?, ldb: Int,
        beta: Float, _ c: UnsafeMutablePointer<Float>?, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func gemmSkippingZeros(
        transA: Bool, rows: Range<Int>, k: Int, _ a: UnsafePointer<Float>, lda: Int, most: Int,
        n: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
    ) -> Bool {
        nabla_sgemm_sparse(transA ? 1 : 0, rows.lowerBound, rows.upperBound, k, a, lda, most, n, b, ldb, beta, c, ldc) != 0
    }
    public static func nonzeros(rows: Int, cols: Int, _ a: UnsafePointer<Float>, lda: Int, limit: Int) -> Int? {
        let count = nabla_nonzeros_f32(rows, cols, a, lda, limit)
        return count <= limit ? count : nil
    }
    public static var precisionName: String { "float32" }
}

// MARK: - Scalar functions every precision shares

extension TensorElement {
    /// The stable logistic function σ.
    @inlinable public static func logistic(_ x: Self) -> Self {
        x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
    }

    /// σ'(x) = σ(x)σ(-x), from x: never exactly 0 where σ(x) rounds to 1 (up to |x| ≈ 745 in
    /// float64, 88 in float32).
    @inlinable public static func logisticSlope(_ x: Self) -> Self {
        let e = exp(-Swift.abs(x))
        return e / ((1 + e) * (1 + e))
    }

    /// log(1 + exp(x)) without overflow.
    @inlinable public static func softplus(_ x: Self) -> Self {
        Swift.max(x, 0) + log1p(exp(-Swift.abs(x)))
    }
}
