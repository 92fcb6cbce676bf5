import CNablaKernels

/// A batch gathered from a data set.
public enum Batch {
    /// Rows `rows` of `bytes` (each `width` long) as floats in `out`, each byte divided by
    /// `divisor` (255: pixels to 0...1), as `Float(byte) / divisor` would give them. False,
    /// with nothing written, when a row is outside the bytes or `out` is too short.
    @discardableResult
    public static func floats(
        fromBytes bytes: UnsafeBufferPointer<UInt8>, width: Int, rows: UnsafeBufferPointer<Int>, divisor: Float,
        into out: UnsafeMutableBufferPointer<Float>
    ) -> Bool {
        guard width > 0, out.count >= rows.count * width, let src = bytes.baseAddress, let dst = out.baseAddress,
              let first = rows.baseAddress, rows.allSatisfy({ $0 >= 0 && ($0 + 1) * width <= bytes.count })
        else { return false }
        nabla_rows_of_bytes(src, width, first, rows.count, divisor, dst)
        return true
    }
}
