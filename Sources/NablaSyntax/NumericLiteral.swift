/// A fast path for big literals (`W = [[0.1, -2e-3, ...], ...]` as `:save` writes a param): a
/// definition whose value is a nested list of plain numbers is read byte by byte into its
/// numbers and shape, without a token or an `Expr` per number. The general parser costs about
/// 170 bytes of memory per byte of such a literal (1.7 GB for 9 MB); this costs the numbers.
/// Anything it does not recognise exactly (a name, an operator, a comment, ragged rows, a
/// non-ASCII character) is left to the general parser, which says what is wrong.
public enum NumericLiteral {
    /// Literals shorter than this go through the general parser (the same result, and every
    /// small literal keeps its usual syntax tree).
    static let threshold = 65_536
    /// The most levels of brackets (a tensor's rank; `Shape.maxRank` in NablaTensor).
    static let maxRank = 8

    /// `[param] name = [ ... ]` of numbers only, as a definition; nil to use the general parser.
    static func definition(_ text: String, line: Int) -> Statement? {
        guard text.utf8.count >= threshold else { return nil }  // a short statement: no copy of its bytes
        let b = Array(text.utf8)
        guard let (name, nameStart, isParam, literalStart) = header(b) else { return nil }
        guard case let .complete(values, shape, end) = numbers(b, from: literalStart) else { return nil }
        var i = end
        while i < b.count, b[i] == 32 || b[i] == 9 || b[i] == 10 { i += 1 }
        guard i == b.count else { return nil }
        let nameRange = range(b, nameStart, nameStart + name.utf8.count, line: line)
        let literalRange = range(b, literalStart, end, line: line)
        let literalText = String(decoding: b[literalStart..<end], as: UTF8.self)
        let expr = Expr(.numbers(values, shape: shape), range: literalRange, text: literalText, height: shape.count + 1)
        return .definition(name: name, nameRange: nameRange, isParam: isParam, expr)
    }

    /// True when `text` is the start of such a definition with brackets still open: the
    /// statement reader then waits for more lines without running the general parser (which
    /// would cost 170 bytes a byte on each of its re-reads of a literal written a row a line).
    public static func isOpenPrefix(_ text: String) -> Bool {
        guard text.utf8.count >= threshold else { return false }
        let b = Array(text.utf8)
        guard let (_, _, _, literalStart) = header(b), case .open = numbers(b, from: literalStart) else { return false }
        return true
    }

    /// `[param] name = ` in plain ASCII (no CR: the lexer counts columns differently there):
    /// the name, where it starts, whether it is a param, where the literal starts.
    static func header(_ b: [UInt8]) -> (String, Int, Bool, Int)? {
        guard b.allSatisfy({ $0 < 0x80 && $0 != 13 }) else { return nil }
        var i = 0
        func skipSpaces() { while i < b.count, b[i] == 32 || b[i] == 9 || b[i] == 10 || b[i] == 13 { i += 1 } }
        func identifier() -> (String, Int)? {
            let start = i
            guard i < b.count, isLetter(b[i]) else { return nil }
            while i < b.count, isLetter(b[i]) || (b[i] >= 48 && b[i] <= 57) { i += 1 }
            return (String(decoding: b[start..<i], as: UTF8.self), start)
        }
        skipSpaces()
        guard var (name, nameStart) = identifier() else { return nil }
        var isParam = false
        if name == "param", i < b.count, b[i] == 32 || b[i] == 9 {
            skipSpaces()
            guard let (n, s) = identifier() else { return nil }
            (name, nameStart, isParam) = (n, s, true)
        }
        skipSpaces()
        guard i < b.count, b[i] == UInt8(ascii: "=") else { return nil }
        i += 1
        skipSpaces()
        guard i < b.count, b[i] == UInt8(ascii: "[") else { return nil }
        return (name, nameStart, isParam, i)
    }

    enum Scan {
        case complete([Double], [Int], Int)
        /// Well formed so far, brackets still open at the end of the text.
        case open
        case notNumbers
    }

    static func isLetter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }

    /// The numbers and shape of a nested list starting at `start` (a `[`), and where it ends.
    static func numbers(_ b: [UInt8], from start: Int) -> Scan {
        scan(b, from: start) ?? .notNumbers
    }

    static func scan(_ b: [UInt8], from start: Int) -> Scan? {
        var values: [Double] = []
        var shape: [Int]?            // fixed by the first innermost list
        var counts: [Int] = []       // items so far at each open depth
        var leafDepth: Int?          // the depth of the numbers (all at one depth)
        var i = start
        var expectItem = true
        while i < b.count {
            let c = b[i]
            switch c {
            case 32, 9, 10, 13:
                i += 1
            case UInt8(ascii: "["):
                // One level short of the nesting limit (a minus sign is a level to the general
                // parser), and no more levels than the height limit allows: else the general
                // parser decides.
                guard expectItem, counts.count + 1 < Parser.maxNesting, counts.count + 2 <= Parser.maxHeight,
                      leafDepth.map({ counts.count < $0 }) ?? true else { return nil }
                counts.append(0)
                i += 1
            case UInt8(ascii: "]"):
                guard let items = counts.popLast(), !expectItem || items == 0 else { return nil }
                let depth = counts.count
                if shape == nil {
                    // The first list to close is innermost: the shape is read on the way out.
                    shape = Array(repeating: 0, count: depth + 1)
                }
                guard var s = shape, depth < s.count else { return nil }
                if s[depth] == 0 { s[depth] = items; shape = s } else if s[depth] != items { return nil }
                i += 1
                if counts.isEmpty {
                    guard let s = shape, s.allSatisfy({ $0 > 0 }) || s == [0], s.count <= maxRank,
                          leafDepth.map({ $0 == s.count }) ?? (s == [0]), s.reduce(1, *) == values.count else { return nil }
                    return .complete(values, s == [0] ? [0] : s, i)
                }
                counts[counts.count - 1] += 1
                expectItem = false
            case UInt8(ascii: ","):
                guard !expectItem, !counts.isEmpty else { return nil }
                expectItem = true
                i += 1
            default:
                // A number: sign, digits, '.', exponent; lists and numbers do not mix at a depth.
                guard expectItem, !counts.isEmpty, leafDepth.map({ counts.count == $0 }) ?? true else { return nil }
                leafDepth = counts.count
                let from = i
                while i < b.count, isNumberByte(b[i]) { i += 1 }
                // The lexer's numbers: an optional minus, digits with at most one '.', an exponent
                // (no '+' in front, no '1.e5'); anything else is the general parser's to refuse.
                guard i > from, isLexerNumber(b[from..<i]), let v = Double(String(decoding: b[from..<i], as: UTF8.self)), v.isFinite else { return nil }
                if v == 0, b[from..<i].prefix(while: { $0 != 101 && $0 != 69 }).contains(where: { $0 >= 49 && $0 <= 57 }) { return nil }
                values.append(v)
                counts[counts.count - 1] += 1
                expectItem = false
            }
        }
        return counts.isEmpty ? nil : .open
    }

    /// `-`? digits* (`.` digits*)? ([eE] [+-]? digits+)?, with a digit before the exponent
    /// and a digit after a trailing '.' only where the lexer takes it.
    static func isLexerNumber(_ s: ArraySlice<UInt8>) -> Bool {
        var i = s.startIndex
        if i < s.endIndex, s[i] == 45 { i += 1 }
        var digits = 0, dot = false
        while i < s.endIndex, (s[i] >= 48 && s[i] <= 57) || (s[i] == 46 && !dot) {
            if s[i] == 46 { dot = true } else { digits += 1 }
            i += 1
        }
        guard digits > 0 else { return false }
        if i < s.endIndex {
            guard s[i] == 101 || s[i] == 69, s[i - 1] != 46 else { return false }
            i += 1
            if i < s.endIndex, s[i] == 45 || s[i] == 43 { i += 1 }
            let expStart = i
            while i < s.endIndex, s[i] >= 48 && s[i] <= 57 { i += 1 }
            guard i > expStart else { return false }
        }
        return i == s.endIndex
    }

    static func isNumberByte(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || c == 46 || c == 101 || c == 69 || c == 43 || c == 45
    }

    /// The source range of bytes `from..<to` (ASCII: a byte is a character and a column).
    static func range(_ b: [UInt8], _ from: Int, _ to: Int, line: Int) -> SourceRange {
        func location(_ offset: Int) -> SourceLocation {
            var l = line, column = 1
            for k in 0..<offset where b[k] == 10 {
                l += 1
                column = offset - k
            }
            if l == line { column = offset + 1 }
            return SourceLocation(line: l, column: column)
        }
        return SourceRange(start: location(from), end: location(to), offsets: from..<to)
    }
}

