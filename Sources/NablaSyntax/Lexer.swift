/// The kinds of token in nabla's language.
public enum TokenKind: Equatable, Sendable {
    case number(Double)
    case identifier(String)
    /// One of `+ - * / @ ^ ' · ( ) [ ] , = == : ∂`.
    case symbol(String)
    case end
}

/// A token and where it is.
public struct Token: Equatable, Sendable {
    public var kind: TokenKind
    public var range: SourceRange
    /// The token's text as typed.
    public var text: String
}

/// Splits a statement's text into tokens. Unicode aliases become their ASCII
/// symbols here (`−` is `-`, `×` is `*`, `⋅` is `·`), so the parser sees one spelling.
public struct Lexer {
    let chars: [Character]
    /// The text's bytes when it is all ASCII (nearly every statement): a token's text is then
    /// a copy of its bytes, not a string built a Character at a time.
    let ascii: [UInt8]?
    var offset = 0
    var line: Int
    var column: Int

    public init(_ text: String, line: Int = 1, column: Int = 1) {
        chars = Array(text)
        let bytes = Array(text.utf8)
        ascii = bytes.count == chars.count && bytes.allSatisfy { $0 < 0x80 } ? bytes : nil
        self.line = line
        self.column = column
    }

    /// The text of the characters `range`.
    func text(_ range: Range<Int>) -> String {
        if let ascii { return String(decoding: ascii[range], as: UTF8.self) }
        return String(chars[range])
    }

    static let aliases: [Character: String] = ["−": "-", "×": "*", "⋅": "·", "∙": "·"]
    static let symbols: Set<Character> = ["+", "-", "*", "/", "@", "^", "'", "·", "(", ")", "[", "]", ",", "=", ":", "∂"]

    /// Every token up to and including `.end`, or the first lexical error.
    public static func tokenize(_ text: String, line: Int = 1, column: Int = 1) throws(Diagnostic) -> [Token] {
        try tokenize(Lexer(text, line: line, column: column))
    }

    /// Every token of a lexer's text (the lexer itself is left at its start).
    static func tokenize(_ start: Lexer) throws(Diagnostic) -> [Token] {
        var lexer = start
        var tokens: [Token] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    var location: SourceLocation { SourceLocation(line: line, column: column) }

    mutating func advance() {
        if chars[offset] == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        offset += 1
    }

    func peek(_ ahead: Int = 0) -> Character? {
        offset + ahead < chars.count ? chars[offset + ahead] : nil
    }

    /// The next token.
    public mutating func next() throws(Diagnostic) -> Token {
        skipBlanksAndComments()
        let start = location
        let startOffset = offset
        func token(_ kind: TokenKind, text typed: String? = nil) -> Token {
            Token(kind: kind, range: SourceRange(start: start, end: location, offsets: startOffset..<offset),
                  text: typed ?? text(startOffset..<offset))
        }
        guard let c = peek() else { return token(.end) }
        if Lexer.isDigit(c) || (c == "." && peek(1).map(Lexer.isDigit) ?? false) {
            return try lexNumber(start: start, startOffset: startOffset)
        }
        if Lexer.isIdentifierStart(c) {
            while let d = peek(), Lexer.isIdentifierPart(d) { advance() }
            let name = text(startOffset..<offset)
            return token(.identifier(name), text: name)
        }
        if c == "=" && peek(1) == "=" {
            advance()
            advance()
            return token(.symbol("=="))
        }
        if let symbol = Lexer.asciiSymbol(c) {
            advance()
            return token(.symbol(symbol))
        }
        if let alias = Lexer.aliases[c] {
            advance()
            return token(.symbol(alias))
        }
        if Lexer.symbols.contains(c) {
            advance()
            return token(.symbol(String(c)))
        }
        advance()
        let range = SourceRange(start: start, end: location, offsets: startOffset..<offset)
        throw Diagnostic(.error, SyntaxError.unexpectedCharacter(c).message, at: range)
    }

    mutating func skipBlanksAndComments() {
        while let c = peek() {
            if c == "#" {
                while let d = peek(), d != "\n" { advance() }
            } else if c == " " || c == "\n" || c == "\t" || c.isWhitespace {
                advance()
            } else {
                return
            }
        }
    }

    mutating func lexNumber(start: SourceLocation, startOffset: Int) throws(Diagnostic) -> Token {
        func digits() { while let d = peek(), Lexer.isDigit(d) { advance() } }
        digits()
        if peek() == ".", let d = peek(1), Lexer.isDigit(d) {
            advance()
            digits()
        } else if peek() == ".", !(peek(1).map(Lexer.isIdentifierStart) ?? false) {
            advance()  // `2.` is 2.0
        }
        if peek() == "e" || peek() == "E" {
            let hasSign = peek(1) == "+" || peek(1) == "-"
            if let d = peek(hasSign ? 2 : 1), Lexer.isDigit(d) {
                advance()
                if hasSign { advance() }
                digits()
            }
        }
        let text = self.text(startOffset..<offset)
        let range = SourceRange(start: start, end: location, offsets: startOffset..<offset)
        guard let value = Double(text), value.isFinite else {
            throw Diagnostic(.error, SyntaxError.badNumber(text).message, at: range)
        }
        // 1e-400 would silently be 0: say so rather than compute with it.
        let mantissa = text.prefix { $0 != "e" && $0 != "E" }
        if value == 0, mantissa.contains(where: { ("1"..."9").contains($0) }) {
            throw Diagnostic(.error, "\(text) is smaller than the smallest float64 (about 4.9e-324): it would be 0; write 0 if you mean it", at: range)
        }
        return Token(kind: .number(value), range: range, text: text)
    }

    // ASCII first (what nearly every statement is made of): Unicode's properties only for the rest.

    static func isDigit(_ c: Character) -> Bool {
        guard let a = c.asciiValue else { return false }
        return a >= 48 && a <= 57
    }

    static func isIdentifierStart(_ c: Character) -> Bool {
        if let a = c.asciiValue { return a == 95 || (a | 32 >= 97 && a | 32 <= 122) }
        return c.isLetter && c != "∂"
    }

    /// True for a character that can continue a name (letters, digits, `_`).
    public static func isIdentifierPart(_ c: Character) -> Bool {
        if let a = c.asciiValue { return a == 95 || (a | 32 >= 97 && a | 32 <= 122) || (a >= 48 && a <= 57) }
        return isIdentifierStart(c) || c.isNumber
    }

    /// The symbol an ASCII character is, without hashing it.
    static func asciiSymbol(_ c: Character) -> String? {
        switch c.asciiValue {
        case 43: return "+"
        case 45: return "-"
        case 42: return "*"
        case 47: return "/"
        case 64: return "@"
        case 94: return "^"
        case 39: return "'"
        case 40: return "("
        case 41: return ")"
        case 91: return "["
        case 93: return "]"
        case 44: return ","
        case 61: return "="
        case 58: return ":"
        default: return nil
        }
    }
}
