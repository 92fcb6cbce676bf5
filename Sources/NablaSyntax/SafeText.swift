/// Text from a file or a pipe, made safe to show on a terminal: a script line holding
/// `ESC ] 2 ; ... BEL` must not rename the terminal when an error quotes it.
public enum SafeText {
    /// Control characters (C0 but newline and tab, DEL, C1) shown as escapes: `\e`, `\a`,
    /// `\r`, `\u{9B}`. With `allowColor`, nabla's own colour sequences (`ESC [ digits ; m`)
    /// pass; anything else that starts with ESC is escaped.
    public static func escaped(_ text: String, allowColor: Bool = false) -> String {
        guard hasControl(text) else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if allowColor, c == "\u{1B}", let end = colorEnd(scalars, from: i) {
                out.append(contentsOf: scalars[i...end])
                i = end + 1
                continue
            }
            if isControl(c) {
                out.append(contentsOf: name(of: c).unicodeScalars)
            } else {
                out.append(c)
            }
            i += 1
        }
        return String(out)
    }

    /// At most `limit` characters of a long line, saying how many were left out.
    public static func clipped(_ line: Substring, limit: Int = 200) -> String {
        guard line.count > limit + 40 else { return String(line) }
        return "\(line.prefix(limit))… (\(line.count - limit) more characters)"
    }

    /// True when `text` holds a control character (`isControl`), read from its UTF-8 bytes:
    /// a byte below 0x20 (but newline and tab) or 0x7F, or 0xC2 before 0x80...0x9F (the C1
    /// controls); no other sequence encodes them.
    static func hasControl(_ text: String) -> Bool {
        let found = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for (i, b) in bytes.enumerated() {
                if b < 0x20 { if b != 10 && b != 9 { return true } } else if b == 0x7F { return true }
                if b == 0xC2, i + 1 < bytes.count, (0x80...0x9F).contains(bytes[i + 1]) { return true }
            }
            return false
        }
        return found ?? text.unicodeScalars.contains(where: isControl)
    }

    static func isControl(_ c: Unicode.Scalar) -> Bool {
        (c.value < 0x20 && c != "\n" && c != "\t") || (0x7F...0x9F).contains(c.value)
    }

    static func name(of c: Unicode.Scalar) -> String {
        switch c {
        case "\u{1B}": return "\\e"
        case "\u{07}": return "\\a"
        case "\r": return "\\r"
        case "\u{08}": return "\\b"
        case "\0": return "\\0"
        default: return "\\u{\(String(c.value, radix: 16, uppercase: true))}"
        }
    }

    /// The index of the `m` ending an SGR sequence `ESC [ (digits | ;)* m` starting at `i`.
    static func colorEnd(_ s: [Unicode.Scalar], from i: Int) -> Int? {
        guard i + 2 < s.count, s[i + 1] == "[" else { return nil }
        var j = i + 2
        while j < s.count, s[j] == ";" || ("0"..."9").contains(s[j]) { j += 1 }
        return j < s.count && s[j] == "m" ? j : nil
    }
}
