/// A position in the source: 1-based line and column, columns counted in characters
/// (so a caret lands under `σ` as a person sees it).
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    public var description: String { "line \(line), column \(column)" }
}

/// A span of source text: where it starts and ends (exclusive), and its
/// character offsets into the statement's text.
public struct SourceRange: Hashable, Sendable {
    public var start: SourceLocation
    public var end: SourceLocation
    public var offsets: Range<Int>

    public init(start: SourceLocation, end: SourceLocation, offsets: Range<Int>) {
        self.start = start
        self.end = end
        self.offsets = offsets
    }

    /// The smallest range covering both.
    public func union(_ other: SourceRange) -> SourceRange {
        SourceRange(
            start: Swift.min(start, other.start), end: Swift.max(end, other.end),
            offsets: Swift.min(offsets.lowerBound, other.offsets.lowerBound)..<Swift.max(offsets.upperBound, other.offsets.upperBound))
    }
}

/// A problem found in the user's input, with where it is.
public struct Diagnostic: Error, Sendable, Equatable {
    public enum Severity: String, Sendable {
        case error, warning
    }

    public var severity: Severity
    public var message: String
    public var range: SourceRange?
    /// True when the input ended inside an unclosed bracket: a terminal asks for a continuation line.
    public var isIncomplete: Bool

    public init(_ severity: Severity = .error, _ message: String, at range: SourceRange?, incomplete: Bool = false) {
        self.severity = severity
        self.message = message
        self.range = range
        self.isIncomplete = incomplete
    }
}

/// Where a statement's text came from: a file (or `nil` for typed input) and its first line.
public struct SourceText: Sendable {
    public var file: String?
    /// The statement's text; it may span several lines (a bracket left open continues).
    public var text: String
    public var firstLine: Int

    public init(file: String?, text: String, firstLine: Int) {
        self.file = file
        self.text = text
        self.firstLine = firstLine
    }

    /// The text of an absolute line number, if the statement covers it.
    public func line(_ number: Int) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let i = number - firstLine
        return i >= 0 && i < lines.count ? String(lines[i]) : nil
    }
}

extension Diagnostic {
    /// The diagnostic as the user sees it: one line naming the place, the source
    /// line, and a caret (with `~` under the rest of the span) below the spot.
    ///
    ///     line 1, column 5: error: unknown name 'w3' (did you mean 'w1'?)
    ///       z = w3*x1
    ///           ^~
    public func rendered(in source: SourceText?) -> String {
        var out = ""
        if let file = source?.file { out += "\(file), " }
        if let range { out += "line \(range.start.line), column \(range.start.column): " }
        // Messages quote at most 200 characters of the input (SafeText.clipped where they
        // quote it); no line of a message is ever longer than 1,000 characters.
        out += "\(severity.rawValue): " + message.split(separator: "\n", omittingEmptySubsequences: false)
            .map { SafeText.clipped($0, limit: 1000) }.joined(separator: "\n")
        guard let range, let source, let rawLine = source.line(range.start.line) else { return out }
        let width = range.end.line == range.start.line ? Swift.max(1, range.end.column - range.start.column) : 1
        // Control characters are shown escaped, and the caret still points at the spot.
        let lineText = SafeText.escaped(rawLine)
        guard lineText == rawLine else {
            let before = SafeText.escaped(String(rawLine.prefix(Swift.max(0, range.start.column - 1))))
            return out + Diagnostic.caretLine(lineText, column: before.count + 1, width: 1)
        }
        return out + Diagnostic.caretLine(lineText, column: range.start.column, width: width)
    }

    /// The source line (windowed when long) and a caret under `column`.
    /// Long lines are shown as a window around the spot, so the caret stays on screen.
    static func caretLine(_ line: String, column: Int, width: Int) -> String {
        var shown = Array(line)
        var column = column
        var width = width
        let window = 72
        if shown.count > window + 8 {
            let from = Swift.max(0, Swift.min(column - 1 - window / 2, shown.count - window))
            let to = Swift.min(shown.count, from + window)
            shown = (from > 0 ? Array("...") : []) + Array(shown[from..<to]) + (to < shown.count ? Array("...") : [])
            column = column - from + (from > 0 ? 3 : 0)
            width = Swift.min(width, Swift.max(1, shown.count - column + 1))
        }
        let indent = String(shown.prefix(Swift.max(0, column - 1)).map { $0 == "\t" ? "\t" : " " })
        return "\n  \(String(shown))\n  \(indent)^\(String(repeating: "~", count: Swift.max(0, width - 1)))"
    }
}
