import NablaNN
import NablaSyntax
import NablaTensor

// MARK: - Command arguments as key=value

/// `epochs=100 opt=adam lr=0.01 pm1`: settings with their places, for errors, read by the
/// command's declared keys (`CommandKeys`): the range, the default and what a value must be
/// are written once there. A number may be written as an expression (`lr=1/4`).
package struct Settings {
    package var values: [String: (String, SourceRange)] = [:]
    package var positional: [(String, SourceRange)] = []
    package var keys: [Key] = []
    package var usage = ""
    /// Evaluates a value that is not a plain number (`1/4`, `eta`) to a number.
    package var evaluate: ((String, SourceRange) throws(Diagnostic) -> Double)?

    package init(_ words: [(String, SourceRange)], keys: [Key] = [], usage: String = "",
         evaluate: ((String, SourceRange) throws(Diagnostic) -> Double)? = nil) {
        self.keys = keys
        self.usage = usage
        self.evaluate = evaluate
        for (word, range) in words {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = (parts[1], range) } else { positional.append((word, range)) }
        }
    }

    /// Refuses a key that the command does not declare.
    package func check() throws(Diagnostic) { try check(keys.map(\.name), usage: usage) }

    /// Refuses a key that is not one of `allowed`.
    package func check(_ allowed: [String], usage: String) throws(Diagnostic) {
        for (key, (_, range)) in values where !allowed.contains(key) {
            var message = "unknown setting '\(key)'"
            if let near = Suggest.nearest(key, among: allowed) { message += " (did you mean '\(near)'?)" }
            throw Diagnostic(.error, message + " (usage: \(usage))", at: range)
        }
    }

    package func declared(_ name: String) -> Key? { keys.first { $0.name == name } }

    /// A declared number key: its value, or `override`, or the declared default.
    package func number(_ name: String, default override: Double? = nil) throws(Diagnostic) -> Double {
        guard let key = declared(name), case let .number(range, declaredDefault) = key.kind else {
            preconditionFailure("\(name) is not a declared number key")
        }
        return try number(name, default: override ?? declaredDefault ?? range.lowerBound, in: range, what: key.what)
    }

    /// A declared whole-number key.
    package func integer(_ name: String, default override: Int? = nil) throws(Diagnostic) -> Int {
        guard let key = declared(name), case let .integer(range, declaredDefault) = key.kind else {
            preconditionFailure("\(name) is not a declared integer key")
        }
        return try integer(name, default: override ?? declaredDefault ?? range.lowerBound, in: range, what: key.what)
    }

    /// A declared choice key: the value if it is one of the options (else an error naming them).
    package func choice(_ name: String, default override: String? = nil) throws(Diagnostic) -> String? {
        guard let key = declared(name), case let .choice(options, declaredDefault) = key.kind else {
            preconditionFailure("\(name) is not a declared choice key")
        }
        guard let (v, range) = values[name] else { return override ?? declaredDefault }
        guard options.contains(v) else {
            var message = "\(name) must be \(key.what), not '\(v)'"
            if let near = Suggest.nearest(v, among: options) { message += " (did you mean '\(near)'?)" }
            throw Diagnostic(.error, message, at: range)
        }
        return v
    }

    package func number(_ key: String, default value: Double, in range: ClosedRange<Double>, what: String) throws(Diagnostic) -> Double {
        guard let (text, place) = values[key] else { return value }
        var v = Double(text)
        if v == nil, let evaluate { v = try evaluate(text, Settings.valueRange(place, key: key)) }
        guard let v, v.isFinite, range.contains(v) else {
            throw Diagnostic(.error, "\(key) must be \(what), like \(key)=\(Format.number(value))", at: place)
        }
        return v
    }

    package func integer(_ key: String, default value: Int, in range: ClosedRange<Int>, what: String) throws(Diagnostic) -> Int {
        guard let (text, place) = values[key] else { return value }
        var v = Int(text)
        if v == nil, let evaluate {
            let x = try evaluate(text, Settings.valueRange(place, key: key))
            if x == x.rounded(), Swift.abs(x) < 1e15 { v = Int(x) }
        }
        guard let v, range.contains(v) else {
            throw Diagnostic(.error, "\(key) must be \(what), like \(key)=\(value)", at: place)
        }
        return v
    }

    package func string(_ key: String) -> (String, SourceRange)? { values[key] }

    /// Where the value of `key=value` starts (for carets inside an expression value).
    static package func valueRange(_ word: SourceRange, key: String) -> SourceRange {
        let start = SourceLocation(line: word.start.line, column: word.start.column + key.count + 1)
        return SourceRange(start: start, end: word.end, offsets: Swift.min(word.offsets.lowerBound + key.count + 1, word.offsets.upperBound)..<word.offsets.upperBound)
    }
}

extension Session {
    /// The settings of a command that declares `keys`, with values that may be expressions.
    package func settings(_ args: CommandArguments, _ keys: [Key], usage: String) -> Settings {
        Settings(args.words, keys: keys, usage: usage) { [unowned self] text, range throws(Diagnostic) in
            let expr = try Parser.parseExpression(text, line: range.start.line, column: range.start.column)
            let value = try evaluate(expr)
            guard value.isSingleElement else {
                throw Diagnostic(.error, "a setting is one number; \(text) has shape \(Shape.describe(value.shape))", at: range)
            }
            return value.scalar
        }
    }
}
