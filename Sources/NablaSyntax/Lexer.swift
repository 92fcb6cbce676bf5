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
///
/// The lexer reads a unit per character (a grapheme, as the columns of messages count): an
/// ASCII character is its code, any other is `Lexer.other` plus its index in `others`. Every
/// decision on ASCII (nearly every statement is all ASCII) is a comparison of integers;
/// Unicode's properties are asked only of the others.
public struct Lexer {
    let units: [UInt32]
    /// The characters that are not ASCII, in order (their units point here).
    let others: [Character]
    /// The text's characters when it is not all ASCII (for the text of a token).
    let chars: [Character]?
    /// The text's bytes when it is all ASCII: a token's text is a copy of its bytes.
    let ascii: [UInt8]?
    var offset = 0
    var line: Int
    var column: Int

    static let other: UInt32 = 0x8000_0000

    public init(_ text: String, line: Int = 1, column: Int = 1) {
        let bytes = Array(text.utf8)
        if bytes.allSatisfy({ $0 < 0x80 }) && !bytes.contains(13) {
            // ("\r\n" is one character: texts with a carriage return take the general path.)
            (units, others, chars, ascii) = (bytes.map(UInt32.init), [], nil, bytes)
        } else {
            let chars = Array(text)
            var others: [Character] = []
            units = chars.map { c in
                if let a = c.asciiValue, c.utf8.count == 1 { return UInt32(a) }
                others.append(c)
                return Lexer.other + UInt32(others.count - 1)
            }
            (self.others, self.chars, ascii) = (others, chars, nil)
        }
        self.line = line
        self.column = column
    }

    /// The text of the characters `range`.
    func text(_ range: Range<Int>) -> String {
        if let ascii { return String(decoding: ascii[range], as: UTF8.self) }
        return chars.map { String($0[range]) } ?? ""
    }

    /// The character a unit stands for.
    func character(_ u: UInt32) -> Character {
        u >= Lexer.other ? others[Int(u - Lexer.other)] : Character(Unicode.Scalar(UInt8(u)))
    }

    static let aliases: [Character: String] = ["−": "-", "×": "*", "⋅": "·", "∙": "·"]
    static let symbols: Set<Character> = ["·", "∂"]

    /// Every token up to and including `.end`, or the first lexical error.
    public static func tokenize(_ text: String, line: Int = 1, column: Int = 1) throws(Diagnostic) -> [Token] {
        try tokenize(Lexer(text, line: line, column: column))
    }

    /// Every token of a lexer's text (the lexer itself is left at its start).
    static func tokenize(_ start: Lexer) throws(Diagnostic) -> [Token] {
        var lexer = start
        var tokens: [Token] = []
        tokens.reserveCapacity(Swift.min(start.units.count + 1, 256))  // a unit or more a token, and the end
        while true {
            tokens.append(try lexer.next())  // moved in, not copied
            if case .end = tokens[tokens.count - 1].kind { return tokens }
        }
    }

    var location: SourceLocation { SourceLocation(line: line, column: column) }

    mutating func advance() {
        if units[offset] == 10 {
            line += 1
            column = 1
        } else {
            column += 1
        }
        offset += 1
    }

    func peek(_ ahead: Int = 0) -> UInt32? {
        offset + ahead < units.count ? units[offset + ahead] : nil
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
        guard let c = peek() else { return token(.end, text: "") }
        if Lexer.isDigit(c) || (c == 46 && peek(1).map(Lexer.isDigit) ?? false) {
            return try lexNumber(start: start, startOffset: startOffset)
        }
        if isIdentifierStart(c) {
            while let d = peek(), isIdentifierPart(d) { advance() }
            let name = text(startOffset..<offset)
            return token(.identifier(name), text: name)
        }
        if c == 61 && peek(1) == 61 {  // ==
            advance()
            advance()
            return token(.symbol("=="), text: "==")
        }
        if let symbol = Lexer.asciiSymbol(c) {
            advance()
            return token(.symbol(symbol), text: symbol)  // an ASCII symbol is typed as itself
        }
        let character = self.character(c)
        if let alias = Lexer.aliases[character] {
            advance()
            return token(.symbol(alias))
        }
        if Lexer.symbols.contains(character) {
            advance()
            return token(.symbol(String(character)))
        }
        advance()
        let range = SourceRange(start: start, end: location, offsets: startOffset..<offset)
        throw Diagnostic(.error, SyntaxError.unexpectedCharacter(character).message, at: range)
    }

    mutating func skipBlanksAndComments() {
        while let c = peek() {
            if c == 35 {  // # to the end of the line
                while let d = peek(), d != 10 { advance() }
            } else if c == 32 || (9...13).contains(c) || (c >= Lexer.other && character(c).isWhitespace) {
                advance()
            } else {
                return
            }
        }
    }

    mutating func lexNumber(start: SourceLocation, startOffset: Int) throws(Diagnostic) -> Token {
        func digits() { while let d = peek(), Lexer.isDigit(d) { advance() } }
        digits()
        if peek() == 46, let d = peek(1), Lexer.isDigit(d) {  // .
            advance()
            digits()
        } else if peek() == 46, !(peek(1).map(isIdentifierStart) ?? false) {
            advance()  // `2.` is 2.0
        }
        if peek() == 101 || peek() == 69 {  // e E
            let hasSign = peek(1) == 43 || peek(1) == 45
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

    // ASCII by its code; Unicode's properties only for the rest.

    /// True for the code of an ASCII digit.
    public static func isDigit(_ u: UInt32) -> Bool { u >= 48 && u <= 57 }

    /// True for the code of an ASCII letter or `_`.
    public static func isASCIILetterOrUnderscore(_ u: UInt32) -> Bool { u == 95 || (u | 32 >= 97 && u | 32 <= 122) }

    func isIdentifierStart(_ u: UInt32) -> Bool {
        if u < 0x80 { return Lexer.isASCIILetterOrUnderscore(u) }
        return u >= Lexer.other && Lexer.isIdentifierStart(character(u))
    }

    func isIdentifierPart(_ u: UInt32) -> Bool {
        if u < 0x80 { return Lexer.isASCIILetterOrUnderscore(u) || Lexer.isDigit(u) }
        return u >= Lexer.other && Lexer.isIdentifierPart(character(u))
    }

    static func isIdentifierStart(_ c: Character) -> Bool {
        if let a = c.asciiValue { return isASCIILetterOrUnderscore(UInt32(a)) }
        return c.isLetter && c != "∂"
    }

    /// True for a character that can continue a name (letters, digits, `_`).
    public static func isIdentifierPart(_ c: Character) -> Bool {
        if let a = c.asciiValue { return isASCIILetterOrUnderscore(UInt32(a)) || isDigit(UInt32(a)) }
        return isIdentifierStart(c) || c.isNumber
    }

    /// The symbol an ASCII character is, without hashing it.
    static func asciiSymbol(_ u: UInt32) -> String? {
        switch u {
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
