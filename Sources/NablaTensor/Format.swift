#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Number formatting shared by every view: six significant digits, like the course's slides.
public enum Format {
    /// `printf`-style formatting of one Double (`"%g"`, `"%.3e"`, ...).
    public static func printf(_ format: String, _ value: Double) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let n = withVaList([value]) { vsnprintf(buffer.baseAddress, 64, format, $0) }
            let length = Swift.max(0, Swift.min(Int(n), 63))
            return buffer.baseAddress.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""
        }
    }

    /// A number with `digits` significant digits: `-1.46212`, `2`, `1e-08`, `nan`, `inf`.
    public static func number(_ value: Double, digits: Int = 6) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == 0 { return "0" }  // also turns -0 into 0
        // A whole number with at most `digits` digits prints as itself (what %g gives), quickly.
        if value.rounded() == value, digits >= 1, digits <= 15, Swift.abs(value) < pow(10, Double(digits)) {
            return String(Int(value))
        }
        return printf("%.\(digits)g", value)
    }

    /// A count with thousands separators: `10,000,000,000`.
    public static func grouped(_ value: Double) -> String {
        let digits = printf("%.0f", value)
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    /// A byte count in the largest fitting unit: `80 GB`, `800 MB`.
    public static func bytes(_ value: Double) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB"]
        var v = value
        var unit = 0
        while v >= 1000 && unit < units.count - 1 {
            v /= 1000
            unit += 1
        }
        return "\(number(v, digits: 3)) \(units[unit])"
    }
}
