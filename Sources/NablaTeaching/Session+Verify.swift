import NablaRuntime
import Foundation
import NablaGraph
import NablaSyntax
import NablaTensor

/// How a hand-computed answer compares with the exact value. One rule (docs/teaching.md):
/// - ✓ correct: every entry is the exact value rounded or truncated to the digits typed,
///   with at least 3 significant digits (or exactly the value);
/// - ≈ close: not ✓, and every entry is within 5% of the exact value (the note says why:
///   too few digits, or rounded intermediate values);
/// - ✗ wrong: some entry is more than 5% off.
struct Judgement {
    /// The largest relative error a ≈ allows.
    static let closeBound = 0.05
    enum Kind { case correct, close, wrong }
    var kind: Kind
    /// The largest relative error over the elements.
    var relativeError: Double
    /// How many elements are off by more than the typed precision.
    var offCount: Int
    /// The first element that is off.
    var firstOff: Int?
    /// The element with the largest relative error.
    var worstIndex: Int?
    /// Every element within the typed rounding, but typed with fewer than 3 significant digits.
    var tooFewDigits: Int?
    /// The fewest significant digits of rounded intermediate values that explain the error.
    var explainedByRounding: Int?
    var oppositeSign: Bool

    /// Compares `typed` (what the student wrote as `typedText`) with `exact`.
    /// `roundingBound(d)`: the relative error that rounding intermediate values to d
    /// significant digits can cause (nil when unknown).
    static func judge(exact: Tensor, typed: Tensor, typedText: String, isLiteral: Bool, roundingBound: (Int) -> Double?) -> Judgement {
        let literals = isLiteral ? Judgement.literals(in: typedText) : []
        let perElement = literals.count == exact.count
        let biggest = exact.scalars.map { Swift.abs($0) }.max() ?? 0
        var worst = 0.0
        var offCount = 0
        var firstOff: Int?, worstIndex: Int?
        var fewestDigits = Int.max
        var opposite = true
        for i in 0..<exact.count {
            let e = exact.scalars[i], s = typed.isSingleElement ? typed.scalar : typed.scalars[i]
            let diff = Swift.abs(s - e)
            let scale = Swift.max(Swift.abs(e), 1e-3 * biggest, 1e-12)
            let relative = diff.isNaN ? .infinity : diff / scale
            if relative > worst { worstIndex = i }
            worst = Swift.max(worst, relative)
            let exactly = diff <= 1e-9 * Swift.max(1, Swift.abs(e))
            let (halfUlp, digits) = perElement ? literals[i] : (0, 17)
            // Truncation is rounding too: 0.8807 for 0.880797 (toward zero, under one unit).
            let truncated = s * e > 0 && Swift.abs(s) <= Swift.abs(e) && diff < 2 * halfUlp * (1 - 1e-9)
            if !(exactly || diff <= halfUlp * (1 + 1e-9) || truncated) {
                offCount += 1
                if firstOff == nil { firstOff = i }
            } else if !exactly {
                fewestDigits = Swift.min(fewestDigits, digits)
            }
            if !(Swift.abs(s + e) <= 0.05 * scale) || e == 0 { opposite = false }
        }
        var j = Judgement(
            kind: .wrong, relativeError: worst, offCount: offCount, firstOff: firstOff, worstIndex: worstIndex, tooFewDigits: nil,
            explainedByRounding: nil, oppositeSign: opposite && offCount > 0)
        if offCount == 0 && fewestDigits >= 3 {
            j.kind = .correct
            return j
        }
        if offCount == 0 { j.tooFewDigits = fewestDigits }
        for d in [3, 2] {
            if let bound = roundingBound(d), worst <= bound { j.explainedByRounding = d }
        }
        if worst <= closeBound { j.kind = .close }
        return j
    }

    /// For each number literal in `text`: half a unit in its last typed place, and its significant digits.
    static func literals(in text: String) -> [(Double, Int)] {
        var out: [(Double, Int)] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            let startsNumber = c.isASCII && (c.isNumber || (c == "." && i + 1 < chars.count && chars[i + 1].isNumber))
            let afterName = i > 0 && (chars[i - 1].isLetter || chars[i - 1] == "_")
            guard startsNumber, !afterName else {
                i += 1
                continue
            }
            var mantissa = ""
            while i < chars.count, chars[i].isASCII, chars[i].isNumber || chars[i] == "." {
                mantissa.append(chars[i])
                i += 1
            }
            var exponent = 0
            if i < chars.count, chars[i] == "e" || chars[i] == "E" {
                var j = i + 1
                var digits = ""
                if j < chars.count, chars[j] == "-" || chars[j] == "+" {
                    digits.append(chars[j])
                    j += 1
                }
                while j < chars.count, chars[j].isASCII, chars[j].isNumber {
                    digits.append(chars[j])
                    j += 1
                }
                if let e = Int(digits.prefix(6)) {
                    exponent = Swift.min(Swift.max(e, -400), 400)
                    i = j
                }
            }
            let decimals = mantissa.firstIndex(of: ".").map { mantissa.distance(from: $0, to: mantissa.endIndex) - 1 } ?? 0
            let significant = mantissa.filter(\.isNumber).drop { $0 == "0" }.count
            // A typed 0 claims no precision: it is judged as exactly 0.
            out.append(significant == 0 ? (0, 17) : (0.5 * power10(exponent - Swift.min(decimals, 400)), significant))
        }
        return out
    }

    /// The largest relative error of rounding `x` to `d` significant digits (0 when that is exact).
    static func roundingError(_ x: Double, digits d: Int) -> Double {
        guard x != 0, x.isFinite else { return 0 }
        let magnitude = Int((Swift.abs(x)).log10Floor)
        let unit = power10(magnitude - d + 1)
        let rounded = (x / unit).rounded() * unit
        if Swift.abs(rounded - x) <= 1e-12 * Swift.abs(x) { return 0 }
        return 0.5 * unit / Swift.abs(x)
    }
}

/// 10^n, exactly for small n (clamped far outside Double's range).
func power10(_ n: Int) -> Double {
    let e = Swift.min(Swift.max(n, -400), 400)
    var r = 1.0
    for _ in 0..<Swift.abs(e) { r *= 10 }
    return e >= 0 ? r : 1 / r
}

extension Double {
    /// ⌊log10 |x|⌋ for a finite non-zero x.
    var log10Floor: Double {
        var e = 0.0
        var v = Swift.abs(self)
        while v >= 10 { v /= 10; e += 1 }
        while v < 1 { v *= 10; e -= 1 }
        return e
    }
}

extension Session {

    /// What a `:verify` line asks about.
    enum VerifySubject {
        case gradient(root: NodeID, rootLabel: String, node: NodeID, nodeLabel: String)
        case value(Expr)
    }

    package func verifyCommand(_ args: CommandArguments) throws(Diagnostic) {
        let usage = ":verify dL/dw = value"
        let chars = Array(args.text)
        guard let eq = chars.indices.first(where: { chars[$0] == "=" }) else {
            throw args.missing("'=' between what you computed and your value", usage: usage)
        }
        let valueStart = eq + 1 < chars.count && chars[eq + 1] == "=" ? eq + 2 : eq + 1
        let leftText = String(chars[..<eq])
        let rightText = String(chars[valueStart...])
        guard !leftText.allSatisfy(\.isWhitespace) else { throw args.missing("what you computed before '=' (like dL/dw1)", usage: usage) }
        guard !rightText.allSatisfy(\.isWhitespace) else { throw args.missing("your value after '='", usage: usage) }
        if let parts = Session.bracketParts(leftText), parts.contains(where: { part in
            let t = part.0.trimmingCharacters(in: .whitespaces)
            return (t.hasPrefix("d") && t.contains("/d")) || (t.hasPrefix("∂") && t.contains("/∂"))
        }) {
            try verifyList(parts, leftColumn: args.start.column, rightText, rightColumn: args.start.column + valueStart)
            return
        }
        let subject = try verifySubject(leftText, column: args.start.column)
        let typedExpr = try Parser.parseExpression(rightText, line: args.start.line, column: args.start.column + valueStart)
        let typed = try evaluate(typedExpr)
        let lines = try verify(subject, typed: typed, typedExpr: typedExpr)
        say(lines.joined(separator: "\n"))
    }

    /// `[dL/dw1, dL/db1] = [8, 8]`: each gradient judged with its own number, as if typed alone.
    func verifyList(_ parts: [(String, Int)], leftColumn: Int, _ rightText: String, rightColumn: Int) throws(Diagnostic) {
        let line = currentLine
        let typedExpr = try Parser.parseExpression(rightText, line: line, column: rightColumn)
        let typed = try evaluate(typedExpr)
        guard typed.count == parts.count else {
            throw Diagnostic(.error, "\(parts.count) gradients on the left but \(typed.count) number\(typed.count == 1 ? "" : "s") on the right", at: typedExpr.range)
        }
        let texts = Session.bracketParts(rightText)
        // Every subject is resolved before any verdict, so a typo in the last one logs nothing.
        var subjects: [VerifySubject] = []
        for (text, offset) in parts { subjects.append(try verifySubject(text, column: leftColumn + offset)) }
        var lines: [String] = []
        for (i, subject) in subjects.enumerated() {
            let element: Expr
            if let texts, texts.count == parts.count {
                element = try Parser.parseExpression(texts[i].0, line: line, column: rightColumn + texts[i].1)
            } else {
                element = Expr(.number(typed.scalars[i]), range: typedExpr.range, text: Format.number(typed.scalars[i]), height: 1)
            }
            lines += try verify(subject, typed: Tensor(typed.scalars[i]), typedExpr: element)
        }
        say(lines.joined(separator: "\n"))
    }

    /// The top-level comma-separated parts of `[a, b, c]` with each part's offset in `text`;
    /// nil when `text` is not one bracketed list.
    static func bracketParts(_ text: String) -> [(String, Int)]? {
        let chars = Array(text)
        guard let open = chars.firstIndex(where: { !$0.isWhitespace }), chars[open] == "[",
              let close = chars.lastIndex(where: { !$0.isWhitespace }), chars[close] == "]", close > open else { return nil }
        var parts: [(String, Int)] = []
        var depth = 0, start = open + 1
        for i in (open + 1)..<close {
            switch chars[i] {
            case "(", "[": depth += 1
            case ")", "]":
                depth -= 1
                if depth < 0 { return nil }
            case "," where depth == 0:
                parts.append((String(chars[start..<i]), start))
                start = i + 1
            default: break
            }
        }
        guard depth == 0 else { return nil }
        parts.append((String(chars[start..<close]), start))
        return parts.allSatisfy({ !$0.0.allSatisfy(\.isWhitespace) }) ? parts : nil
    }

    /// `dL/dw1`, `∂L/∂(y*z)`, or an expression whose value was computed by hand.
    func verifySubject(_ text: String, column: Int) throws(Diagnostic) -> VerifySubject {
        let lead = text.prefix { $0 == " " }.count
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let chars = Array(trimmed)
        func range(_ from: Int, _ to: Int) -> SourceRange {
            let start = column + lead + from
            return SourceRange(
                start: SourceLocation(line: currentLine, column: start),
                end: SourceLocation(line: currentLine, column: column + lead + to), offsets: (start - 1)..<(column + lead + to - 1))
        }
        if let first = chars.first, first == "d" || first == "∂" {
            var depth = 0
            var split: Int?
            for i in 1..<chars.count {
                if chars[i] == "(" { depth += 1 }
                if chars[i] == ")" { depth -= 1 }
                if depth == 0, chars[i] == "/", i + 1 < chars.count, chars[i + 1] == first { split = i; break }
            }
            if let split, split > 1, split + 2 < chars.count {
                let of = Session.unparenthesized(String(chars[1..<split]))
                let wrt = Session.unparenthesized(String(chars[(split + 2)...]))
                let ofRange = range(1, split), wrtRange = range(split + 2, chars.count)
                if first == "∂" || definitions[of] != nil || lastBackward.map({ graph[$0.root].label == of }) == true {
                    let root = try resolve(of, at: ofRange, within: lastBackward?.root)
                    try requireScalar(root, of, at: ofRange, command: ":verify of a gradient")
                    let node = try resolve(wrt, at: wrtRange, within: root)
                    return .gradient(root: root, rootLabel: of, node: node, nodeLabel: wrt)
                }
            }
        }
        return .value(try Parser.parseExpression(trimmed, line: currentLine, column: column + lead))
    }

    var currentLine: Int { currentSource.firstLine }

    static func unparenthesized(_ s: String) -> String {
        let t = s.trimmingCharacters(in: .whitespaces)
        guard t.hasPrefix("("), t.hasSuffix(")") else { return t }
        var depth = 0
        for (i, c) in t.enumerated() {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if depth == 0 && i < t.count - 1 { return t }
        }
        return String(t.dropFirst().dropLast())
    }

    /// Judges `typed` against the exact value of `subject`; the lines to print.
    func verify(_ subject: VerifySubject, typed: Tensor, typedExpr: Expr) throws(Diagnostic) -> [String] {
        let exact: Tensor
        let title: String
        var bound: (Int) -> Double? = { _ in nil }
        switch subject {
        case let .gradient(root, rootLabel, node, nodeLabel):
            title = Session.partial(rootLabel, nodeLabel)
            let grads: Gradients
            do { grads = try graph.backward(from: root) } catch { throw Diagnostic(.error, error.message, at: typedExpr.range) }
            exact = grads[node] ?? Tensor.zeros(graph.value(node).shape)
            bound = { d in self.roundingBound(from: root, to: node, digits: d) }
        case let .value(expr):
            title = expr.text
            exact = try evaluate(expr)
        }
        var typed = typed
        var lines: [String] = []
        if let transposed = transposeVerdict(exact: exact, typed: typed, title: title) {
            if case let .gradient(root, _, node, nodeLabel) = subject {
                remember(VerifyRecord(root: root, node: node, label: nodeLabel, correct: false, version: version))
            }
            return [transposed]
        }
        if exact.rank == 1, typed.rank == 2, typed.count == exact.count, typed.shape.contains(1) {
            // The slides write a vector's gradient as a row (the Jacobian's form); a column is the same numbers.
            lines.append("(your \(typed.shape[0] == 1 ? "row" : "column") \(Shape.describe(typed.shape)) is read as the vector \(title), shape \(Shape.describe(exact.shape)))")
            typed = typed.reshaped(exact.shape)
        }
        guard typed.count == exact.count, typed.isSingleElement || typed.shape == exact.shape else {
            throw Diagnostic(
                .error,
                "your value has shape \(Shape.describe(typed.shape)), but \(title) has shape \(Shape.describe(exact.shape))",
                at: typedExpr.range)
        }
        let j = Judgement.judge(exact: exact, typed: typed, typedText: typedExpr.text, isLiteral: typedExpr.isLiteral, roundingBound: bound)
        lines.insert(verdictLine(j, title: title, exact: exact, typed: typed), at: 0)
        if case let .gradient(root, rootLabel, node, nodeLabel) = subject {
            let right = j.kind != .wrong
            lines += firstWrongLink(root: root, node: node, label: nodeLabel, rootLabel: rootLabel, correct: right)
            remember(VerifyRecord(root: root, node: node, label: nodeLabel, correct: right, version: version))
            if j.kind == .wrong {
                lines.append("how it is computed:")
                lines += explanation(of: root, rootLabel, wrt: node, nodeLabel).map { "  " + $0 }
            }
        } else if j.kind == .wrong, case let .value(expr) = subject, case let .name(name) = expr.kind, let d = definitions[name], !d.expr.isLiteral {
            lines.append("how it is computed: \(name) = \(d.expr.text)" + inputsText(of: d))
        }
        return lines
    }

    /// Keeps the latest verdict per gradient: a corrected answer replaces the wrong one.
    func remember(_ record: VerifyRecord) {
        verifyLog.removeAll { $0.root == record.root && $0.node == record.node && $0.version == record.version }
        verifyLog.append(record)
    }

    /// ✗ with "this is the transpose" when the typed matrix is wrong as it stands (or has the
    /// transposed shape) but its transpose is right to 5%; nil otherwise.
    func transposeVerdict(exact: Tensor, typed: Tensor, title: String) -> String? {
        guard exact.rank == 2, typed.rank == 2, typed.shape == Array(exact.shape.reversed()), exact.count > 1 else { return nil }
        let none: (Int) -> Double? = { _ in nil }
        if typed.shape == exact.shape, Judgement.judge(exact: exact, typed: typed, typedText: "", isLiteral: false, roundingBound: none).kind != .wrong {
            return nil
        }
        let flipped = Judgement.judge(exact: exact, typed: typed.transposed, typedText: "", isLiteral: false, roundingBound: none)
        guard flipped.kind != .wrong else { return nil }
        let head = "  exact \(title) = "
        return "\(style.bad("✗ wrong")): this is the transpose of \(title), which has the shape of what it is taken with respect to, "
            + "\(Shape.describe(exact.shape)) (its entry [i, j] is the derivative with respect to entry [i, j])\n" + head + Printer.value(exact, indent: head.count)
    }

    /// `, where y*z = -1` — the values a definition's top node reads.
    func inputsText(of d: Definition) -> String {
        guard let root = graph[d.slot].inputs.first else { return "" }
        let aliases = self.aliases
        let parts = graph[root].inputs.filter { id in
            graph[id].value.count > 0 && !(graph[id].op == .constant && aliases[id] == nil)
        }.map { id -> String in
            let v = graph.value(id)
            return "\(graph[id].label) = \(v.count <= 4 ? Printer.value(v) : Shape.describe(v.shape))"
        }
        return parts.isEmpty ? "" : ", where " + parts.joined(separator: ", ")
    }

    /// The one line of the verdict: ✓, ≈ or ✗ with the exact value and the error.
    func verdictLine(_ j: Judgement, title: String, exact: Tensor, typed: Tensor) -> String {
        let r = j.relativeError * 100
        let percent = r < 10 ? Format.number(r, digits: 2) + "%" : r < 1e6 ? "\(Int(r.rounded()))%" : "more than 1,000,000%"
        let exactText = Printer.value(exact), yours = Printer.value(typed)
        switch j.kind {
        case .correct:
            return "\(style.ok("✓ correct")): \(title) = \(Printer.value(exact, indent: title.count + 14))"
        case .close:
            var why: String
            if let d = j.tooFewDigits {
                why = "right to the \(d) significant digit\(d == 1 ? "" : "s") you gave; give 3 for a ✓"
            } else if let d = j.explainedByRounding {
                why = "\(percent) off; rounding of intermediate values to \(d) significant digits explains it"
            } else {
                why = "\(percent) off (≈ is within 5%); :explain shows each step"
            }
            if exact.count > 1 && j.tooFewDigits == nil { why = "\(j.offCount) of \(exact.count) entries off, up to " + why }
            if exact.count > 1 {
                let head = "  exact \(title) = "
                return "\(style.close("≈ close")) (\(why))\n" + head + Printer.value(exact, indent: head.count)
            }
            return "\(style.close("≈ close")): exact \(exactText), yours \(yours) (\(why))"
        case .wrong:
            var note = j.oppositeSign ? "opposite sign" : "\(percent) off, more than the 5% a ≈ allows"
            if let d = j.tooFewDigits { note += "; \(d) significant digit\(d == 1 ? "" : "s") cannot say more" }
            if let d = j.explainedByRounding { note += "; rounding intermediate values to \(d) digits could cause it: carry 3 or more" }
            guard exact.count > 1, let i = j.firstOff ?? j.worstIndex else {
                return "\(style.bad("✗ wrong")): exact \(exactText), yours \(yours) (\(note))"
            }
            let at = Shape.describe(Session.multiIndex(i, shape: exact.shape))
            let head = "  exact \(title) = "
            let off = j.offCount > 0 ? "\(j.offCount) of \(exact.count) entries are off" : "an entry is more than 5% off"
            return "\(style.bad("✗ wrong")): \(off)\(j.oppositeSign ? " (opposite sign)" : ""); "
                + "the first at \(at): exact \(Format.number(exact.scalars[i])), "
                + "yours \(Format.number(typed.isSingleElement ? typed.scalar : typed.scalars[i]))\n"
                + head + Printer.value(exact, indent: head.count)
        }
    }

    static func multiIndex(_ flat: Int, shape: [Int]) -> [Int] {
        var rest = flat
        var out = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() where shape[axis] > 0 {
            out[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return out
    }

    /// The relative error that rounding each local derivative to `digits` significant digits can cause.
    func roundingBound(from root: NodeID, to node: NodeID, digits: Int) -> Double? {
        guard graph.pathCount(from: root, to: node) <= 64 else { return nil }
        let (paths, total) = chainPaths(from: root, to: node, limit: 64)
        guard total == paths.count, !paths.isEmpty else { return nil }
        var weighted = 0.0, sum = 0.0
        for p in paths {
            var term = 1.0, error = 0.0
            for f in p.factors {
                guard let v = scalarValue(of: f) else { return nil }
                term *= v
                error += Judgement.roundingError(v, digits: digits)
            }
            weighted += Swift.abs(term) * error
            sum += term
        }
        return sum == 0 ? nil : weighted / Swift.abs(sum)
    }

    /// After a verdict on ∂L/∂node: where the first wrong link of the chain lies, from every
    /// gradient of the same L verified since the graph last changed (this one included): the
    /// tightest pair of a right gradient above a wrong one. More verified gradients only ever
    /// narrow it.
    func firstWrongLink(root: NodeID, node: NodeID, label: String, rootLabel: String, correct: Bool) -> [String] {
        let records = verifyLog.filter { $0.root == root && $0.version == version && $0.node != node }
            + [VerifyRecord(root: root, node: node, label: label, correct: correct, version: version)]
        let order = graph.topologicalOrder(from: root)
        let position = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var best: (VerifyRecord, VerifyRecord, Int)?
        for u in records where u.correct {
            for d in records where !d.correct && d.node != u.node && graph.depends(u.node, on: d.node) {
                let gap = Swift.abs((position[u.node] ?? 0) - (position[d.node] ?? 0))
                if best.map({ gap < $0.2 }) ?? true { best = (u, d, gap) }
            }
        }
        if let (u, d, _) = best {
            return ["the first wrong link lies between \(u.label) and \(d.label): "
                + "\(Session.partial(rootLabel, u.label)) was right, \(Session.partial(rootLabel, d.label)) was wrong"]
                + linkChain(u.node, u.label, d.node, d.label)
        }
        if !correct, records.count == 1, let first = chainPaths(from: root, to: node, limit: 1).paths.first?.factors.first,
           first.bottom != node {
            let next = displayName(first.bottom, aliases: aliases)
            return ["to find the wrong step, verify the gradients in between, from \(rootLabel) down: :verify d\(rootLabel)/d\(Session.partialName(next)) = ..."]
        }
        return []
    }

    /// The local derivatives between a right gradient and a wrong one, to check by hand.
    func linkChain(_ top: NodeID, _ topLabel: String, _ bottom: NodeID, _ bottomLabel: String) -> [String] {
        let (paths, _) = chainPaths(from: top, to: bottom)
        let aliases = self.aliases
        let factors = paths.first?.factors ?? []
        let symbols = factors.map { Session.partial(displayName($0.top, aliases: aliases), displayName($0.bottom, aliases: aliases)) }
        let formulas = factors.map { f -> String in
            let v = scalarValue(of: f).map { Format.number($0) }.map { $0 == f.formula ? "" : " = \($0)" } ?? ""
            return "  \(Session.partial(displayName(f.top, aliases: aliases), displayName(f.bottom, aliases: aliases))) = \(f.formula)\(v)"
        }
        // One factor: the link itself, not "check ∂y/∂h = ∂y/∂h".
        guard factors.count > 1 else { return ["  check this local derivative:"] + formulas }
        return ["  check \(Session.partial(topLabel, bottomLabel)) = \(symbols.joined(separator: " · ")):"] + formulas
    }
}
