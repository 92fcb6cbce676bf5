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
        if let short = shortG(value, digits: digits) { return short }
        return printf("%.\(digits)g", value)
    }

    /// `%.<digits>g` of a normal number, from Swift's shortest round-trip digits (`description`)
    /// instead of printf. When they are at most `digits`, the number printed is those digits (the
    /// correctly rounded decimal differs from them by less than half an ulp). When there are at
    /// least two more, rounding them half up gives printf's digits: a tie at the rounding place
    /// would be a decimal of `digits + 1` digits inside the number's round-trip interval, and the
    /// shortest digits would have been that short. Exactly one more digit, or a subnormal, is
    /// left to printf (`nil`). The layout is %g's: fixed for exponents -4 up to digits-1, else
    /// `d.ddde±XX`, trailing zeros dropped.
    public static func shortG(_ value: Double, digits: Int) -> String? {
        // Past 15 digits a unit in the last place printed is below half an ulp: printf decides.
        guard value.isNormal, digits >= 1, digits <= 15 else { return nil }
        // On the stack: bytes 0..<24 hold the significant digits, 24..<64 the text.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buf -> String? in
            let zero = UInt8(ascii: "0")
            var n = 0, point = 0, exponent = 0, exponentSign = 1, inExponent = false, seenPoint = false
            for c in value.description.utf8 {
                switch c {
                case UInt8(ascii: "-") where inExponent: exponentSign = -1
                case UInt8(ascii: "-"), UInt8(ascii: "+"): continue
                case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
                case UInt8(ascii: "."): seenPoint = true
                case zero...UInt8(ascii: "9"):
                    if inExponent { exponent = exponent * 10 + Int(c - zero); continue }
                    if !seenPoint { point += 1 }
                    if n == 0 && c == zero { point -= 1; continue }
                    guard n < 24 else { return nil }
                    buf[n] = c
                    n += 1
                default: return nil
                }
            }
            while n > 0 && buf[n - 1] == zero { n -= 1 }
            guard n > 0, n != digits + 1 else { return nil }
            var x = point + exponentSign * exponent - 1  // the decimal exponent: d.ddd × 10^x
            if n > digits {
                let up = buf[digits] >= UInt8(ascii: "5")
                n = digits
                if up {  // one in the last place, carried; out of the first: 999 → 1, a power up
                    var i = n - 1
                    while i >= 0 && buf[i] == UInt8(ascii: "9") { buf[i] = zero; i -= 1 }
                    if i >= 0 { buf[i] += 1 } else { buf[0] = UInt8(ascii: "1"); x += 1 }
                }
                while n > 0 && buf[n - 1] == zero { n -= 1 }
            }
            var o = 24
            func put(_ b: UInt8) { buf[o] = b; o += 1 }
            if value < 0 { put(UInt8(ascii: "-")) }
            if x < -4 || x >= digits {
                put(buf[0])
                if n > 1 { put(UInt8(ascii: ".")); for i in 1..<n { put(buf[i]) } }
                put(UInt8(ascii: "e"))
                put(x < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
                let e = Swift.abs(x)
                if e >= 100 { put(zero + UInt8(e / 100)) }
                put(zero + UInt8(e / 10 % 10))
                put(zero + UInt8(e % 10))
            } else if x >= 0 {
                for i in 0...x { put(i < n ? buf[i] : zero) }
                if n > x + 1 { put(UInt8(ascii: ".")); for i in (x + 1)..<n { put(buf[i]) } }
            } else {
                put(zero)
                put(UInt8(ascii: "."))
                for _ in 0..<(-x - 1) { put(zero) }
                for i in 0..<n { put(buf[i]) }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buf[24..<o]), as: UTF8.self)
        }
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
