import Synchronization

/// The syntax errors, detected by the lexer and parser; `message` formats them.
public enum SyntaxError: Equatable, Sendable {
    case unexpectedCharacter(Character)
    case badNumber(String)
    /// Something else stood where `expected` should be.
    case expected(String, found: String)
    /// A bracket opened at `column` (of `line` when it differs) was not closed.
    case unclosed(open: String, close: String, line: Int?, column: Int, found: String?)
    /// Two operands with no operator between them (`2x`, `2 exp(x)`).
    case missingOperator(after: String, before: String)
    case tooDeep(limit: Int)
    case tooLong(limit: Int)
    /// `==` outside `:expect`.
    case comparison

    public var message: String {
        switch self {
        case let .unexpectedCharacter(c):
            let code = c.unicodeScalars.first.map { "U+" + String($0.value, radix: 16, uppercase: true) } ?? ""
            return "unexpected character '\(c)' (\(code))"
        case let .badNumber(text):
            return "'\(text)' is not a number nabla can hold (too large for a Double?)"
        case let .expected(what, found):
            return "expected \(what), found \(found)"
        case let .unclosed(open, close, line, column, found):
            let place = line.map { "line \($0), column \(column)" } ?? "column \(column)"
            return "expected '\(close)' to close '\(open)' at \(place)" + (found.map { ", found \($0)" } ?? "")
        case let .missingOperator(after, before):
            return "missing operator between '\(after)' and '\(before)' (multiply with *, matrix product with @)"
        case let .tooDeep(limit):
            return "expression nested too deeply (more than \(limit) levels of brackets or operators; :limits nesting=N changes the limit)"
        case let .tooLong(limit):
            return "expression too long (more than \(limit) operators in a chain); split it into several definitions (or :limits height=N)"
        case .comparison:
            return "'==' compares only in ':expect' (to define a name, use '=')"
        }
    }
}

/// Parses one statement. One function per grammar rule, loosest first:
///
///     statement  := ':' command | 'param' name '=' expr | 'seed' int | name '=' expr | expr
///     expr       := term (('+' | '-') term)*
///     term       := unary (('*' | '/' | '@' | '·') unary)*
///     unary      := '-' unary | power
///     power      := postfix ('^' unary)?            (right-associative)
///     postfix    := primary ("'" | '[' expr (',' expr)* ']')*
///     primary    := number | name | name '(' args ')' | '(' expr ')' | '[' items ']' | '∂' name '/' '∂' name
public struct Parser {
    /// Deepest bracket or operator nesting accepted (keeps recursion far from the stack's end).
    /// A session's `:limits nesting=N` binds it (up to `nestingCeiling`) while the session
    /// runs a statement (`withLimits`): task-local, so two sessions never see each other's
    /// limit; while nothing is bound anywhere, the default, read without asking the task-local.
    public static var maxNesting: Int { bindings.load(ordering: .relaxed) == 0 ? defaultMaxNesting : boundNesting }
    public static let defaultMaxNesting = 64
    public static let nestingCeiling = 256
    /// Tallest expression tree accepted (a long chain `a+b+c+...` counts one level per operator).
    /// A session's `:limits height=N` binds it (up to `heightCeiling`), as above.
    public static var maxHeight: Int { bindings.load(ordering: .relaxed) == 0 ? defaultMaxHeight : boundHeight }
    public static let defaultMaxHeight = 256
    public static let heightCeiling = 1000
    @TaskLocal private static var boundNesting = 64
    @TaskLocal private static var boundHeight = 256
    /// How many bindings are in force on any thread (0: every task sees the defaults).
    private static let bindings = Atomic<Int>(0)

    /// Runs `body` with `maxNesting` and `maxHeight` bound for this task and the tasks it starts.
    public static func withLimits<T>(nesting: Int, height: Int, _ body: () throws -> T) rethrows -> T {
        bindings.add(1, ordering: .relaxed)
        defer { bindings.subtract(1, ordering: .relaxed) }
        return try $boundNesting.withValue(nesting) { try $boundHeight.withValue(height, operation: body) }
    }

    var tokens: [Token]
    var position = 0
    var depth = 0
    /// The statement's characters (and its bytes when ASCII), for the text of each expression.
    let lexer: Lexer
    /// Brackets still open, innermost last, for the "to close" message.
    var openBrackets: [Token] = []
    /// The limits in force, read once per statement (a task-local read is not free).
    let nestingLimit = Parser.maxNesting, heightLimit = Parser.maxHeight

    init(_ text: String, line: Int, column: Int) throws(Diagnostic) {
        let lexer = Lexer(text, line: line, column: column)
        tokens = try Lexer.tokenize(lexer)
        self.lexer = lexer
    }

    // MARK: - Entry points

    /// Parses one statement (which may span lines if a bracket is open).
    public static func parseStatement(_ text: String, line: Int = 1) throws(Diagnostic) -> Statement {
        // A command's arguments are not tokenized here: file names and `lr=0.1` have their own rules.
        let trimmed = text.drop { $0 == " " || $0 == "\t" }
        if trimmed.first == ":" {
            return try parseCommand(text, line: line)
        }
        if trimmed.first == "?" {
            // IPython's and Julia's `?name`: `:help name`.
            let column = text.count - trimmed.count + 1
            let rest = trimmed.dropFirst().drop { $0 == " " || $0 == "\t" }
            return .command(
                name: "help", nameRange: SourceRange(start: SourceLocation(line: line, column: column), end: SourceLocation(line: line, column: column + 1), offsets: (column - 1)..<column),
                arguments: String(Parser.withoutComment(Array(rest)[...]).reversed().drop { $0.isWhitespace }.reversed()),
                argumentsStart: SourceLocation(line: line, column: text.count - rest.count + 1))
        }
        if let literal = NumericLiteral.definition(text, line: line) { return literal }
        var parser = try Parser(text, line: line, column: 1)
        return try parser.statement()
    }

    /// Parses a whole expression that must fill `text` (a command's argument).
    public static func parseExpression(_ text: String, line: Int = 1, column: Int = 1) throws(Diagnostic) -> Expr {
        var parser = try Parser(text, line: line, column: column)
        let e = try parser.expression()
        try parser.expectEnd(after: e)
        return e
    }

    /// Parses an expression at the start of `text` and returns it with the tokens after it,
    /// for commands like `:expect a == b tol 1e-6`.
    public static func parseLeadingExpression(
        _ text: String, line: Int = 1, column: Int = 1
    ) throws(Diagnostic) -> (Expr, rest: [Token]) {
        var parser = try Parser(text, line: line, column: column)
        let e = try parser.expression()
        return (e, Array(parser.tokens[parser.position...]))
    }

    static func parseCommand(_ text: String, line: Int) throws(Diagnostic) -> Statement {
        if let command = parseASCIICommand(text, line: line) { return command }
        return try parseCommandByCharacters(text, line: line)
    }

    /// `parseCommand` for any text, a character at a time.
    static func parseCommandByCharacters(_ text: String, line: Int) throws(Diagnostic) -> Statement {
        let chars = Array(text)
        var i = 0
        while chars[i] != ":" { i += 1 }
        let colon = i
        i += 1
        let nameStart = i
        while i < chars.count, Lexer.isIdentifierPart(chars[i]) || chars[i] == "-" { i += 1 }
        let name = String(chars[nameStart..<i])
        let range = SourceRange(
            start: SourceLocation(line: line, column: colon + 1),
            end: SourceLocation(line: line, column: i + 1), offsets: colon..<i)
        guard !name.isEmpty else {
            throw Diagnostic(.error, SyntaxError.expected("a command name after ':' (try :help)", found: describe(chars, at: i)).message, at: range)
        }
        while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 }
        let argumentsStart = SourceLocation(line: line, column: i + 1)
        var arguments = Parser.withoutComment(chars[i...])
        while arguments.last?.isWhitespace == true { arguments.removeLast() }
        return .command(name: name, nameRange: range, arguments: arguments, argumentsStart: argumentsStart)
    }

    /// `parseCommand` on bytes, for the usual all-ASCII line without a carriage return (the same
    /// columns: a byte is a character there); `nil` for any other line or a missing name, which
    /// the general path reads (and words the error for).
    static func parseASCIICommand(_ text: String, line: Int) -> Statement? {
        let bytes = Array(text.utf8)
        guard bytes.allSatisfy({ $0 < 128 && $0 != 13 }), let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        var i = colon + 1
        while i < bytes.count, Lexer.isASCIILetterOrUnderscore(UInt32(bytes[i])) || Lexer.isDigit(UInt32(bytes[i])) || bytes[i] == UInt8(ascii: "-") {
            i += 1
        }
        guard i > colon + 1 else { return nil }
        let name = String(decoding: bytes[(colon + 1)..<i], as: UTF8.self)
        let range = SourceRange(
            start: SourceLocation(line: line, column: colon + 1),
            end: SourceLocation(line: line, column: i + 1), offsets: colon..<i)
        while i < bytes.count, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t") { i += 1 }
        let argumentsStart = SourceLocation(line: line, column: i + 1)
        var end = commentStart(bytes, from: i)
        while end > i, isASCIISpace(bytes[end - 1]) { end -= 1 }
        let arguments = String(decoding: bytes[i..<end], as: UTF8.self)
        return .command(name: name, nameRange: range, arguments: arguments, argumentsStart: argumentsStart)
    }

    /// Where `withoutComment` cuts ASCII bytes: the index of the comment's `#`, else the end.
    static func commentStart(_ bytes: [UInt8], from start: Int) -> Int {
        var quote: UInt8?
        var previous = UInt8(ascii: " ")
        var escaped = false
        for i in start..<bytes.count {
            let c = bytes[i]
            defer { previous = c }
            if escaped { escaped = false; continue }
            if c == UInt8(ascii: "\\") { escaped = true; continue }
            if let q = quote {
                if c == q { quote = nil }
                continue
            }
            if c == UInt8(ascii: "\"") || (c == UInt8(ascii: "'") && (isASCIISpace(previous) || previous == UInt8(ascii: "="))) { quote = c; continue }
            if c == UInt8(ascii: "#") && isASCIISpace(previous) { return i }
        }
        return bytes.count
    }

    /// Character.isWhitespace on ASCII without a carriage return: tab, line feed, vertical tab,
    /// form feed, space.
    static func isASCIISpace(_ b: UInt8) -> Bool { b == 32 || (b >= 9 && b <= 12) }

    /// A command's arguments without a trailing comment: `#` at the start or after a space, and
    /// not inside a quoted path (`"a # b"`, or '...' that begins a word: `W'` is a transpose).
    static func withoutComment(_ chars: ArraySlice<Character>) -> String {
        var quote: Character?
        var previous: Character = " "
        var escaped = false
        for i in chars.indices {
            let c = chars[i]
            defer { previous = c }
            if escaped { escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if let q = quote {
                if c == q { quote = nil }
                continue
            }
            if c == "\"" || (c == "'" && (previous.isWhitespace || previous == "=")) { quote = c; continue }
            if c == "#" && previous.isWhitespace { return String(chars[chars.startIndex..<i]) }
        }
        return String(chars)
    }

    static func describe(_ chars: [Character], at i: Int) -> String {
        i < chars.count ? "'\(chars[i])'" : "end of line"
    }

    // MARK: - Helpers

    /// The current token, read in place (no copy when only a field is asked for).
    var current: Token { _read { yield tokens[position] } }

    func peek(_ ahead: Int = 1) -> Token {
        tokens[Swift.min(position + ahead, tokens.count - 1)]
    }

    func isSymbol(_ s: String, _ token: Token? = nil) -> Bool {
        // The current token is looked at in place (no copy of it per question).
        if let token { return token.kind == .symbol(s) }
        if case let .symbol(t) = tokens[position].kind { return t == s }
        return false
    }

    mutating func match(_ s: String) -> Token? {
        guard isSymbol(s) else { return nil }
        position += 1
        return tokens[position - 1]
    }

    /// How a token is named in messages: `'x'`, `'2'`, `end of line`.
    static func describe(_ token: Token) -> String {
        token.kind == .end ? "end of line" : "'\(token.text)'"
    }

    func error(_ e: SyntaxError, at token: Token, incomplete: Bool = false) -> Diagnostic {
        Diagnostic(.error, e.message, at: token.range, incomplete: incomplete)
    }

    /// The error for a token found where something else was expected. At the end
    /// of the input inside an open bracket, it names the bracket and marks the
    /// input incomplete (a terminal then asks for another line).
    func unexpected(_ expected: String) -> Diagnostic {
        if current.kind == .end, let open = openBrackets.last {
            return unclosed(open)
        }
        if isSymbol("==") { return error(.comparison, at: current) }
        if let range = rangeSyntax() { return range }
        // Python's power, `x ** 2`: say nabla's.
        if isSymbol("*"), position > 0, tokens[position - 1].kind == .symbol("*") {
            return Diagnostic(.error, "'**' is Python's power; nabla writes it x^2", at: tokens[position - 1].range.union(current.range))
        }
        return error(.expected(expected, found: Parser.describe(current)), at: current)
    }

    /// MATLAB's and Julia's range `a:b` (a ':' between two operands): nabla has none; the
    /// message writes the vector out when it is short.
    func rangeSyntax() -> Diagnostic? {
        guard isSymbol(":"), position > 0, position + 1 < tokens.count else { return nil }
        let before = tokens[position - 1], after = tokens[position + 1]
        func operand(_ t: Token) -> Bool {
            switch t.kind {
            case .number, .identifier: return true
            case .symbol, .end: return false
            }
        }
        guard operand(before) || isSymbol(")", before), operand(after) else { return nil }
        var message = "nabla has no ranges like \(before.text):\(after.text) (MATLAB's, Julia's)"
        if let a = Int(before.text), let b = Int(after.text), a <= b, b - a < 20 {
            message += "; write the vector out: [\((a...b).map(String.init).joined(separator: ", "))]"
        } else {
            message += "; write the vector out, like [1, 2, 3]"
        }
        return Diagnostic(.error, message, at: before.range.union(after.range))
    }

    func unclosed(_ open: Token, found: Token? = nil) -> Diagnostic {
        let close = open.text == "(" ? ")" : "]"
        let sameLine = open.range.start.line == current.range.start.line
        let e = SyntaxError.unclosed(
            open: open.text, close: close, line: sameLine ? nil : open.range.start.line,
            column: open.range.start.column, found: found.map(Parser.describe))
        return error(e, at: current, incomplete: found == nil)
    }

    /// Consumes the closing bracket of `open` or reports it missing.
    mutating func close(_ open: Token) throws(Diagnostic) -> Token {
        let closeSymbol = open.text == "(" ? ")" : "]"
        if let token = match(closeSymbol) {
            openBrackets.removeLast()
            return token
        }
        if current.kind == .end { throw unclosed(open) }
        if let range = rangeSyntax() { throw range }
        throw unclosed(open, found: current)
    }

    mutating func open(_ token: Token) throws(Diagnostic) {
        openBrackets.append(token)
        try enter(token)
    }

    /// Counts one level of nesting; refuses to go past `maxNesting`.
    mutating func enter(_ token: Token) throws(Diagnostic) {
        depth += 1
        if depth > nestingLimit { throw error(.tooDeep(limit: nestingLimit), at: token) }
    }

    mutating func leave() { depth -= 1 }

    func text(_ range: SourceRange) -> String {
        lexer.text(range.offsets)
    }

    /// Builds an expression spanning `from` to `to`, checking the height limit.
    func make(_ kind: Expr.Kind, from: SourceRange, to: SourceRange, children: [Expr]) throws(Diagnostic) -> Expr {
        let range = from.union(to)
        var height = 1
        for child in children { height = Swift.max(height, child.height + 1) }
        if height > heightLimit {
            throw Diagnostic(.error, SyntaxError.tooLong(limit: heightLimit).message, at: range)
        }
        return Expr(kind, range: range, text: text(range), height: height)
    }

    mutating func expectEnd(after e: Expr) throws(Diagnostic) {
        guard current.kind != .end else { return }
        switch current.kind {
        case .identifier, .number:
            throw error(.missingOperator(after: e.text, before: current.text), at: current)
        case .symbol("("), .symbol("["):
            throw error(.missingOperator(after: e.text, before: current.text), at: current)
        case .symbol("=") where e.isLiteral == false:
            throw error(.expected("an operator or the end of the line ('=' defines a name: write name = expr)", found: "'='"), at: current)
        case .symbol(")"), .symbol("]"):
            throw error(.expected("an operator or the end of the line", found: "unmatched '\(current.text)'"), at: current)
        default:
            throw unexpected("an operator or the end of the line")
        }
    }

    // MARK: - Statements

    mutating func statement() throws(Diagnostic) -> Statement {
        if current.kind == .end { return .empty }
        if case let .identifier(word) = current.kind {
            if word == "param", case let .identifier(name) = peek().kind {
                let nameToken = peek()
                position += 2
                guard match("=") != nil else { throw unexpected("'=' after 'param \(name)'") }
                let e = try expression()
                try expectEnd(after: e)
                return .definition(name: name, nameRange: nameToken.range, isParam: true, e)
            }
            if word == "seed", case let .number(n) = peek().kind {
                let token = current
                position += 1
                let numberToken = current
                position += 1
                guard current.kind == .end else { throw unexpected("the end of the line after 'seed \(numberToken.text)'") }
                guard n >= 0, n == n.rounded(), n < 1.8e19 else {
                    throw error(.expected("a whole number ≥ 0 after 'seed'", found: "'\(numberToken.text)'"), at: numberToken)
                }
                return .seed(UInt64(n), range: token.range.union(numberToken.range))
            }
            if isSymbol("=", peek()) {
                let nameToken = current
                position += 2
                let e = try expression()
                try expectEnd(after: e)
                return .definition(name: word, nameRange: nameToken.range, isParam: false, e)
            }
        }
        let e = try expression()
        try expectEnd(after: e)
        return .expression(e)
    }

    // MARK: - Expressions

    public mutating func expression() throws(Diagnostic) -> Expr {
        var left = try term()
        while isSymbol("+") || isSymbol("-") {
            let op: BinaryOperator = isSymbol("+") ? .add : .sub
            position += 1
            let right = try term()
            left = try make(.binary(op, left, right), from: left.range, to: right.range, children: [left, right])
        }
        return left
    }

    mutating func term() throws(Diagnostic) -> Expr {
        var left = try unary()
        while true {
            let op: BinaryOperator
            switch current.kind {
            case .symbol("*"): op = .mul
            case .symbol("/"): op = .div
            case .symbol("@"): op = .matmul
            case .symbol("·"): op = .dot
            default: return left
            }
            position += 1
            let right = try unary()
            left = try make(.binary(op, left, right), from: left.range, to: right.range, children: [left, right])
        }
    }

    mutating func unary() throws(Diagnostic) -> Expr {
        guard let minus = match("-") else { return try power() }
        try enter(minus)
        defer { leave() }
        let operand = try unary()
        // A negative number is a literal, not an op: `-0.5` is one constant node.
        if case let .number(v) = operand.kind {
            return try make(.number(-v), from: minus.range, to: operand.range, children: [])
        }
        return try make(.negate(operand), from: minus.range, to: operand.range, children: [operand])
    }

    mutating func power() throws(Diagnostic) -> Expr {
        let base = try postfix()
        guard let caret = match("^") else { return base }
        try enter(caret)
        defer { leave() }
        let exponent = try unary()
        return try make(.binary(.pow, base, exponent), from: base.range, to: exponent.range, children: [base, exponent])
    }

    mutating func postfix() throws(Diagnostic) -> Expr {
        var e = try primary()
        while true {
            if let quote = match("'") {
                e = try make(.transpose(e), from: e.range, to: quote.range, children: [e])
            } else if isSymbol("["), let bracket = match("[") {
                try open(bracket)
                let indices = try list(closing: bracket, what: "an index")
                leave()
                let end = tokens[position - 1]
                e = try make(.index(e, indices), from: e.range, to: end.range, children: [e] + indices)
            } else {
                return e
            }
        }
    }

    /// Comma-separated expressions up to the bracket that closes `open` (consumed).
    mutating func list(closing open: Token, what: String, allowEmpty: Bool = false) throws(Diagnostic) -> [Expr] {
        var items: [Expr] = []
        let closeSymbol = open.text == "(" ? ")" : "]"
        if allowEmpty, isSymbol(closeSymbol) {
            _ = try close(open)
            return items
        }
        while true {
            if current.kind == .end { throw unclosed(open) }
            if isSymbol(closeSymbol) || isSymbol(",") { throw unexpected(what) }
            items.append(try expression())
            if match(",") != nil { continue }
            _ = try close(open)
            return items
        }
    }

    mutating func primary() throws(Diagnostic) -> Expr {
        let token = current
        switch token.kind {
        case let .number(v):
            position += 1
            return try make(.number(v), from: token.range, to: token.range, children: [])
        case let .identifier(name):
            position += 1
            guard let paren = match("(") else {
                return try make(.name(name), from: token.range, to: token.range, children: [])
            }
            try open(paren)
            let args = try list(closing: paren, what: "an argument", allowEmpty: true)
            leave()
            let end = tokens[position - 1]
            return try make(.call(name, args, nameRange: token.range), from: token.range, to: end.range, children: args)
        case .symbol("("):
            position += 1
            try open(token)
            if current.kind == .end { throw unclosed(token) }
            let inner = try expression()
            let end = try close(token)
            leave()
            // Parentheses group; the node keeps the inner expression's label.
            return Expr(inner.kind, range: inner.range, text: inner.text, height: inner.height).with(outer: token.range.union(end.range))
        case .symbol("["):
            position += 1
            try open(token)
            let items = try list(closing: token, what: "a value", allowEmpty: true)
            leave()
            let end = tokens[position - 1]
            return try make(.array(items), from: token.range, to: end.range, children: items)
        case .symbol("∂"):
            return try partial()
        default:
            // The line ended where a value must come (after `+`, `@`, `=`): the statement goes on
            // on the next line, as in Julia and Python's open expressions.
            if current.kind == .end, openBrackets.isEmpty {
                throw error(.expected("a value (a number, a name, '(' or '[')", found: Parser.describe(current)), at: current, incomplete: true)
            }
            throw unexpected("a value (a number, a name, '(' or '[')")
        }
    }

    /// `∂L/∂w`: the gradient of one name with respect to another.
    mutating func partial() throws(Diagnostic) -> Expr {
        let start = current
        position += 1
        guard case let .identifier(of) = current.kind else { throw unexpected("a name after '∂' (as in ∂L/∂w)") }
        let ofToken = current
        position += 1
        guard match("/") != nil else { throw unexpected("'/' in ∂\(of)/∂w") }
        guard match("∂") != nil else { throw unexpected("'∂' in ∂\(of)/∂w") }
        guard case let .identifier(wrt) = current.kind else { throw unexpected("a name after '∂\(of)/∂'") }
        let wrtToken = current
        position += 1
        let ofExpr = try make(.name(of), from: ofToken.range, to: ofToken.range, children: [])
        let wrtExpr = try make(.name(wrt), from: wrtToken.range, to: wrtToken.range, children: [])
        return try make(.partial(of: ofExpr, wrt: wrtExpr), from: start.range, to: wrtToken.range, children: [ofExpr, wrtExpr])
    }
}

extension Expr {
    /// The same expression, spanning the parentheses around it (its label stays the inner text).
    func with(outer: SourceRange) -> Expr {
        var e = self
        e.range = outer
        return e
    }
}
