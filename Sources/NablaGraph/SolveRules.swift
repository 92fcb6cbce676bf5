import NablaTensor

/// `inv(A)` and `solve(A, b)`, forward and VJP side by side, for the closed forms of the
/// course: w* = (XᵀX)⁻¹Xᵀy, ridge (XᵀX + λI)⁻¹Xᵀy and the Gauss-Newton step -(JᵀJ)⁻¹Jᵀr.
///
/// | op | forward | VJP (g the output's gradient) |
/// | --- | --- | --- |
/// | inv | Y = A⁻¹ | ḡA = -Yᵀ g Yᵀ |
/// | solve | X = A⁻¹ B | ḡB = A⁻ᵀ g (a solve with Aᵀ);  ḡA = -ḡB Xᵀ |
extension Op {
    static func inverse<T: TensorElement>(_ a: DenseTensor<T>) throws(TensorError) -> DenseTensor<T> {
        let n = try squareSide(a, op: "inv")
        var identity = [T](repeating: 0, count: n * n)
        for i in 0..<n { identity[i * n + i] = 1 }
        return try eliminate(a, DenseTensor(shape: [n, n], scalars: identity), op: "inv")
    }

    static func solve<T: TensorElement>(_ a: DenseTensor<T>, _ b: DenseTensor<T>) throws(TensorError) -> DenseTensor<T> {
        let n = try squareSide(a, op: "solve")
        guard (b.rank == 1 || b.rank == 2), b.shape[0] == n else {
            throw .badShape(op: "solve's right-hand side", b.shape, expected: "[\(n)] or [\(n), k] for A of shape [\(n), \(n)]")
        }
        let columns = b.rank == 1 ? 1 : b.shape[1]
        let x = try eliminate(a, b.reshaped([n, columns]), op: "solve")
        return x.reshaped(b.shape)
    }

    static func inverseVJP<T: TensorElement>(_ y: DenseTensor<T>, _ g: DenseTensor<T>) -> [DenseTensor<T>?] {
        let yt = y.transposed
        guard let product = try? DenseTensor<T>.matmul(DenseTensor<T>.matmul(yt, g), yt) else { return [nil] }
        return [product.map { -$0 }]
    }

    static func solveVJP<T: TensorElement>(_ a: DenseTensor<T>, _ x: DenseTensor<T>, _ g: DenseTensor<T>) -> [DenseTensor<T>?] {
        // Aᵀ is as regular as A, which the forward already solved with.
        guard let gb = try? solve(a.transposed, g) else { return [nil, nil] }
        let n = a.shape[0]
        let columns = x.rank == 1 ? 1 : x.shape[1]
        guard let ga = try? DenseTensor<T>.matmul(gb.reshaped([n, columns]), x.reshaped([n, columns]).transposed) else { return [nil, gb] }
        return [ga.map { -$0 }, gb]
    }

    private static func squareSide<T: TensorElement>(_ a: DenseTensor<T>, op: String) throws(TensorError) -> Int {
        guard a.rank == 2, a.shape[0] == a.shape[1], a.shape[0] > 0 else {
            throw .badShape(op: op, a.shape, expected: "a square matrix [n, n]")
        }
        return a.shape[0]
    }

    /// Gauss-Jordan elimination with partial pivoting of [A | B]: A⁻¹ B, for A [n, n] and
    /// B [n, k]. A pivot below n·ε·max|A| means A is singular (to working precision).
    private static func eliminate<T: TensorElement>(_ a: DenseTensor<T>, _ b: DenseTensor<T>, op: String) throws(TensorError) -> DenseTensor<T> {
        let n = a.shape[0], k = b.shape[1]
        var m = a.scalars, r = b.scalars
        let scale = m.reduce(T(0)) { Swift.max($0, Swift.abs($1)) }
        let tiny = T(n) * T.ulpOfOne * scale
        for col in 0..<n {
            let pivot = (col..<n).max { Swift.abs(m[$0 * n + col]) < Swift.abs(m[$1 * n + col]) } ?? col
            guard Swift.abs(m[pivot * n + col]) > tiny, m[pivot * n + col].isFinite else {
                throw .invalid("\(op): the matrix is singular (no pivot in column \(col)); "
                    + (op == "inv" ? "add λI to regularize it, as ridge does" : "the system has no unique solution"))
            }
            if pivot != col {
                for j in 0..<n { m.swapAt(col * n + j, pivot * n + j) }
                for j in 0..<k { r.swapAt(col * k + j, pivot * k + j) }
            }
            let p = m[col * n + col]
            for j in 0..<n { m[col * n + j] /= p }
            for j in 0..<k { r[col * k + j] /= p }
            for row in 0..<n where row != col {
                let f = m[row * n + col]
                guard f != 0 else { continue }
                for j in 0..<n { m[row * n + j] -= f * m[col * n + j] }
                for j in 0..<k { r[row * k + j] -= f * r[col * k + j] }
            }
        }
        return DenseTensor(shape: [n, k], scalars: r)
    }
}
