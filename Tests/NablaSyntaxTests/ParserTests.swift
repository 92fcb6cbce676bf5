@testable import NablaSyntax
import Foundation
import Testing

/// The parse tree of an expression as a compact string, to check precedence.
func tree(_ e: Expr) -> String {
    switch e.kind {
    case let .number(v): return v == v.rounded() ? String(Int(v)) : String(v)
    case let .name(n): return n
    case let .array(items): return "[" + items.map(tree).joined(separator: " ") + "]"
    case let .numbers(values, shape): return "(numbers \(shape) \(values.count))"
    case let .negate(x): return "(neg \(tree(x)))"
    case let .binary(op, a, b): return "(\(op.rawValue) \(tree(a)) \(tree(b)))"
    case let .transpose(x): return "(T \(tree(x)))"
    case let .call(f, args, _): return "(\(f) " + args.map(tree).joined(separator: " ") + ")"
    case let .index(x, idx): return "(at \(tree(x)) " + idx.map(tree).joined(separator: " ") + ")"
    case let .partial(of, wrt): return "(∂ \(tree(of)) \(tree(wrt)))"
    }
}

@Suite("Parser")
struct ParserTests {
    @Test("precedence and associativity", arguments: [
        ("1 + 2 * 3", "(+ 1 (* 2 3))"),
        ("a - b - c", "(- (- a b) c)"),
        ("-x^2", "(neg (^ x 2))"),
        ("2^3^2", "(^ 2 (^ 3 2))"),
        ("2^-1", "(^ 2 -1)"),
        ("W @ x + b", "(+ (@ W x) b)"),
        ("a · b * c", "(* (· a b) c)"),
        ("W'", "(T W)"),
        ("x' @ y'", "(@ (T x) (T y))"),
        ("(W @ x)'[1]", "(at (T (@ W x)) 1)"),
        ("W[1, 2]", "(at W 1 2)"),
        ("σ(y*z)", "(σ (* y z))"),
        ("-log(p)", "(neg (log p))"),
        ("[[1, 2], [3, -4]]", "[[1 2] [3 -4]]"),
        ("∂L/∂w1", "(∂ L w1)"),
        ("leaky_relu(x, 0.1)", "(leaky_relu x 0.1)"),
        ("1e-3 * .5", "(* 0.001 0.5)"),
        ("poids_élevé − 1 × 2", "(- poids_élevé (* 1 2))"),
        ("x # a comment", "x"),
    ])
    func precedence(input: String, expected: String) throws {
        guard case let .expression(e) = try Parser.parseStatement(input) else {
            Issue.record("not an expression")
            return
        }
        #expect(tree(e) == expected)
    }

    @Test("every sub-expression keeps its source text as its label")
    func labels() throws {
        guard case let .definition(name, _, isParam, e) = try Parser.parseStatement("z = w1*x1 + w2*x2") else {
            Issue.record("not a definition")
            return
        }
        #expect(name == "z" && !isParam)
        #expect(e.text == "w1*x1 + w2*x2")
        guard case let .binary(_, a, b) = e.kind else { return }
        #expect(a.text == "w1*x1")
        #expect(b.text == "w2*x2")
        guard case let .definition(_, _, _, p) = try Parser.parseStatement("p = (a + b) * c") else { return }
        guard case let .binary(_, inner, _) = p.kind else { return }
        #expect(inner.text == "a + b")
    }

    @Test("statements: param, seed, command, empty")
    func statements() throws {
        guard case let .definition(name, _, isParam, _) = try Parser.parseStatement("param w = randn(3)") else {
            Issue.record("param")
            return
        }
        #expect(name == "w" && isParam)
        #expect(try Parser.parseStatement("seed 42") == .seed(42, range: SourceRange(
            start: .init(line: 1, column: 1), end: .init(line: 1, column: 8), offsets: 0..<7)))
        guard case let .command(cmd, _, args, start) = try Parser.parseStatement(":load  lessons/a b.nabla ") else {
            Issue.record("command")
            return
        }
        #expect(cmd == "load" && args == "lessons/a b.nabla" && start.column == 8)
        #expect(try Parser.parseStatement("   # only a comment") == .empty)
        #expect(try Parser.parseStatement("") == .empty)
    }

    /// Inputs and the exact message, line and column of their error.
    @Test("syntax errors: exact messages and places", arguments: [
        ("x = [1, 2", "expected ']' to close '[' at column 5", 1, 10),
        ("y = (a + b", "expected ')' to close '(' at column 5", 1, 11),
        ("f(x", "expected ')' to close '(' at column 2", 1, 4),
        ("x = [1, 2)", "expected ']' to close '[' at column 5, found ')'", 1, 10),
        ("x = 1 +", "expected a value (a number, a name, '(' or '['), found end of line", 1, 8),
        ("x = * 2", "expected a value (a number, a name, '(' or '['), found '*'", 1, 5),
        ("2x", "missing operator between '2' and 'x' (multiply with *, matrix product with @)", 1, 2),
        ("2 exp(1)", "missing operator between '2' and 'exp' (multiply with *, matrix product with @)", 1, 3),
        ("x = 3 $ 4", "unexpected character '$' (U+24)", 1, 7),
        ("a == b", "'==' compares only in ':expect' (to define a name, use '=')", 1, 3),
        ("x = (1))", "expected an operator or the end of the line, found unmatched ')'", 1, 8),
        ("x = [1,, 2]", "expected a value, found ','", 1, 8),
        ("∂L/w", "expected '∂' in ∂L/∂w, found 'w'", 1, 4),
        ("seed 1.5", "expected a whole number ≥ 0 after 'seed', found '1.5'", 1, 6),
        ("x = 1e999", "'1e999' is not a number nabla can hold (too large for a Double?)", 1, 5),
        (": help", "expected a command name after ':' (try :help), found ' '", 1, 1),
    ] as [(String, String, Int, Int)])
    func errors(input: String, message: String, line: Int, column: Int) {
        do {
            let s = try Parser.parseStatement(input)
            Issue.record("parsed: \(s)")
        } catch {
            #expect(error.message == message)
            #expect(error.range?.start.line == line)
            #expect(error.range?.start.column == column)
        }
    }

    @Test("an unclosed bracket at the end is incomplete (a terminal asks for more); a wrong one is not")
    func incomplete() {
        #expect(throws: Diagnostic.self) { try Parser.parseStatement("x = [1,") }
        do { _ = try Parser.parseStatement("x = [1,") } catch { #expect(error.isIncomplete) }
        do { _ = try Parser.parseStatement("x = [1)") } catch { #expect(!error.isIncomplete) }
        // Continued over lines, it parses, and the bracket's line is named when it differs.
        #expect((try? Parser.parseStatement("W = [[1, 2],\n     [3, 4]]")) != nil)
        do { _ = try Parser.parseStatement("W = [[1, 2],\n [3, 4]") } catch {
            #expect(error.message == "expected ']' to close '[' at line 1, column 5")
        }
    }

    @Test("10,000 nested parentheses give an error, not a stack overflow")
    func deepNesting() {
        let input = "x = " + String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000)
        do {
            _ = try Parser.parseStatement(input)
            Issue.record("parsed")
        } catch {
            #expect(error.message == "expression nested too deeply (more than 64 levels of brackets or operators; :limits nesting=N changes the limit)")
            #expect(error.range?.start.column == 4 + 65)
        }
        let minus = "x = " + String(repeating: "-", count: 10_000) + "y"
        #expect(throws: Diagnostic.self) { try Parser.parseStatement(minus) }
    }

    @Test("a very long chain is refused with a hint; a long but reasonable one parses")
    func longChain() throws {
        let ok = (1...200).map { "x\($0)" }.joined(separator: " + ")
        #expect((try? Parser.parseStatement(ok)) != nil)
        let tooLong = (1...10_000).map { _ in "1" }.joined(separator: "+")
        do {
            _ = try Parser.parseStatement(tooLong)
            Issue.record("parsed")
        } catch {
            #expect(error.message == "expression too long (more than 256 operators in a chain); split it into several definitions (or :limits height=N)")
        }
    }

    @Test("a diagnostic renders with the place, the line and a caret under the span")
    func rendering() {
        let source = SourceText(file: nil, text: "z = w3*x1", firstLine: 1)
        let d = Diagnostic(.error, "unknown name 'w3'", at: SourceRange(
            start: .init(line: 1, column: 5), end: .init(line: 1, column: 7), offsets: 4..<6))
        #expect(d.rendered(in: source) == "line 1, column 5: error: unknown name 'w3'\n  z = w3*x1\n      ^~")
        let unicode = SourceText(file: "a.nabla", text: "σσ = ∂L/∂q", firstLine: 3)
        let d2 = Diagnostic(.error, "unknown name 'q'", at: SourceRange(
            start: .init(line: 3, column: 10), end: .init(line: 3, column: 11), offsets: 9..<10))
        #expect(d2.rendered(in: unicode) == "a.nabla, line 3, column 10: error: unknown name 'q'\n  σσ = ∂L/∂q\n           ^")
    }
}

@Suite("Big literals: read without a token per number, the same as the general parser")
struct BigLiteralTests {
    /// A literal of `rows` x `cols` numbers (negative, exponents, decimals) as :save writes it.
    static func literal(_ rows: Int, _ cols: Int, levels3: Bool = false) -> (String, [Double]) {
        var values: [Double] = []
        var rowTexts: [String] = []
        for i in 0..<rows {
            var cells: [String] = []
            for j in 0..<cols {
                let v = Double((i * 7919 + j * 104_729) % 2001 - 1000) / 37.0 * (j % 3 == 0 ? 1e-3 : 1)
                values.append(v)
                cells.append("\(v)")
            }
            rowTexts.append("[" + cells.joined(separator: ", ") + "]")
        }
        var pairs: [String] = []
        for k in stride(from: 0, to: rows, by: 2) {
            let pair: String = "[" + rowTexts[k] + ",\n " + rowTexts[k + 1] + "]"
            pairs.append(pair)
        }
        let flat: String = "[" + rowTexts.joined(separator: ",\n ") + "]"
        let nested: String = "[" + pairs.joined(separator: ", ") + "]"
        return (levels3 ? nested : flat, values)
    }

    static func flatten(_ e: Expr) -> [Double]? {
        switch e.kind {
        case let .number(v): return [v]
        case let .negate(x): return flatten(x)?.map { -$0 }
        case let .array(items):
            var out: [Double] = []
            for item in items { guard let f = flatten(item) else { return nil }; out += f }
            return out
        default: return nil
        }
    }

    @Test("a 2-level and a 3-level literal over 64 KB: the same numbers and shape as the general parser")
    func sameAsGeneral() throws {
        for levels3 in [false, true] {
            let (body, values) = BigLiteralTests.literal(200, 60, levels3: levels3)
            let text = "param W = " + body
            #expect(text.utf8.count > NumericLiteral.threshold)
            guard case let .definition(name, _, isParam, expr) = try Parser.parseStatement(text, line: 3),
                  case let .numbers(fast, shape) = expr.kind else {
                Issue.record("the fast path did not take it")
                continue
            }
            #expect(name == "W" && isParam)
            #expect(shape == (levels3 ? [100, 2, 60] : [200, 60]))
            #expect(fast == values)
            // The general parser on the same literal (as an expression, which has no fast path).
            let general = try Parser.parseExpression(body)
            #expect(BigLiteralTests.flatten(general) == fast)
            #expect(expr.range.start.line == 3 && expr.range.start.column == 11)
        }
    }

    @Test("a big literal with a mistake goes to the general parser, which names it")
    func mistakesFallBack() throws {
        let (body, _) = BigLiteralTests.literal(200, 60)
        let open: String = String(body.dropLast())
        let ragged: String = "W = " + open + ", [1]]"
        let trailing: String = "W = " + open + ",]"
        let named: String = "W = [[x, " + String(body.dropFirst(2))
        for text in [ragged, trailing, named] {
            let statement = try? Parser.parseStatement(text)
            if case let .definition(_, _, _, expr) = statement, case .numbers = expr.kind {
                Issue.record("a broken literal took the fast path: \(text.prefix(40))")
            }
        }
    }

    @Test("what the lexer refuses, the fast path leaves to it: +1, 1.e5, 2.E-3, a CR; an open literal is a prefix")
    func lexerNumbersOnly() throws {
        let (body, _) = BigLiteralTests.literal(200, 60)
        for bad in ["+1", "1.e5", "2.E-3", "+.5"] {
            let text: String = "W = [[" + bad + ", " + String(body.dropFirst(2))
            if case let .definition(_, _, _, expr) = try? Parser.parseStatement(text), case .numbers = expr.kind {
                Issue.record("\(bad) took the fast path")
            }
            #expect(throws: Diagnostic.self, "\(bad)") { try Parser.parseStatement(text) }
        }
        let crlf: String = "W = " + body.replacingOccurrences(of: "\n", with: "\r\n")
        if case let .definition(_, _, _, expr) = try? Parser.parseStatement(crlf), case .numbers = expr.kind {
            Issue.record("a CR took the fast path")
        }
        let open: String = "W = " + String(body.dropLast(3))
        #expect(NumericLiteral.isOpenPrefix(open))
        #expect(!NumericLiteral.isOpenPrefix("W = " + body))
        #expect(!NumericLiteral.isOpenPrefix("W = [[x, " + String(body.dropFirst(2).dropLast(3))))
    }

    @Test("a command read from bytes is what reading it a character at a time gives", arguments: [
        ":backward L", ":grad w1", "  :train lr=0.1 epochs=5   ", ":plot L # the loss", ":load \"a # b.nabla\"",
        ":expect x == 2 # two", ":mlp net 2-3-1\t", ":dot 'my file#1.dot'", ":check W'", "x = 1 :vars",
        ":data csv a\\ b.csv # c", ":limits elements=10", ":help", ":show-all", ":q", ":", ": train", ":#",
        ":expect s == \"#\" # quoted", "\t:vars\t\t# tabs",
    ])
    func commandFromBytes(text: String) {
        let fast = Parser.parseASCIICommand(text, line: 3)
        let general = Result { () throws(Diagnostic) -> Statement in try Parser.parseCommandByCharacters(text, line: 3) }
        if let fast {
            #expect(general.map { "\($0)" } == .success("\(fast)"))
        } else {
            #expect(throws: Diagnostic.self) { try general.get() }  // only a missing name is left to the general path
        }
    }
}

