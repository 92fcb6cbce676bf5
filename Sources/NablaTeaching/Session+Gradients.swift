import NablaRuntime
import NablaGraph
import NablaSyntax
import NablaTensor

// MARK: - :backward, :grad, :jacobian, :check, :expect, :update

extension Session {
    package func backwardCommand(_ args: CommandArguments) throws(Diagnostic) {
        guard !args.text.isEmpty else { throw args.missing("the scalar to start from", usage: ":backward L") }
        let expr = try args.expression()
        var root: NodeID
        var owned: [NodeID] = []
        if case let .name(name) = expr.kind {
            root = try lookup(name, at: expr.range)
        } else {
            (root, owned) = try compile(expr)
        }
        let gradients: Gradients
        do {
            gradients = try graph.backward(from: root)
        } catch {
            // The shape is read before the nodes made for this command are discarded
            // (`:backward [-4, 1.5]` read a removed node: found by the line fuzzer).
            let shape = graph.value(root).shape
            discard(owned)
            throw Diagnostic(
                .error,
                "\(expr.text) has shape \(Shape.describe(shape)), not a scalar: backprop starts "
                    + "from one number, such as a loss (reduce it first, e.g. :backward sum(\(expr.text)))",
                at: expr.range)
        }
        if let previous = lastBackward { discard(previous.ownedNodes) }
        lastBackward = BackwardState(
            root: root, label: expr.text, ownedNodes: owned, source: currentSource, gradients: gradients, version: version)
    }

    /// The gradients of the last backward, recomputed if anything changed since.
    package func currentGradients(for args: CommandArguments) throws(Diagnostic) -> BackwardState {
        guard var state = lastBackward else {
            throw Diagnostic(.error, "no gradients yet: run :backward L first", at: args.nameRange)
        }
        if state.version != version {
            if let g = try? graph.backward(from: state.root) { state.gradients = g }
            state.version = version
            state.note = nil
            lastBackward = state
        }
        return state
    }

    /// `L` for a name, `(a*b)` for a compound expression: how ∂·/∂· prints it.
    package static func partialName(_ label: String) -> String {
        // ASCII letters, digits and _ decided on bytes; anything else by Character.
        let plain = label.utf8.allSatisfy { Lexer.isASCIILetterOrUnderscore(UInt32($0)) || Lexer.isDigit(UInt32($0)) }
        return plain || label.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) ? label : "(\(label))"
    }

    /// The node a command argument names: a definition, or else a node of `within`'s
    /// graph whose label is the text (so `:grad w1*x1` shows an intermediate gradient).
    package func resolve(_ word: String, at range: SourceRange, within root: NodeID?) throws(Diagnostic) -> NodeID {
        if let d = definitions[word] { return d.slot }
        let squeezed = word.filter { !$0.isWhitespace }
        if let root, let id = graph.topologicalOrder(from: root).first(where: { graph[$0].label.filter { !$0.isWhitespace } == squeezed }) {
            return id
        }
        return try lookup(word, at: range)
    }

    package func gradCommand(_ args: CommandArguments) throws(Diagnostic) {
        let state = try currentGradients(for: args)
        var targets: [(String, NodeID)] = []
        for (word, range) in args.words {
            targets.append((word, try resolve(word, at: range, within: state.root)))
        }
        if targets.isEmpty {
            targets = paramNames.compactMap { name in definitions[name].map { (name, $0.slot) } }
            if targets.isEmpty { throw args.missing("a name (there are no params to list)", usage: ":grad w") }
        }
        let of = Session.partialName(state.label)
        for (word, id) in targets {
            let value = graph.value(id)
            let g = state.gradients[id]
            let head = "∂\(of)/∂\(Session.partialName(word)) = "
            if g == nil, state.note != nil, graph.depends(state.root, on: id) {
                // A :step left early: the walk never reached this node; it is not a zero.
                say(head + "not computed yet: the backward of \(state.label) was left unfinished before it reached \(word) "
                    + "(:backward \(state.label) completes it)")
                continue
            }
            var line = head + style.value(Printer.value(g ?? Tensor.zeros(value.shape), indent: head.count))
            line += "   " + style.shape("(shape: \(Shape.describe(value.shape)))")
            if g == nil { line += "   \(state.label) does not depend on \(word)" }
            if let g, g.scalars.contains(where: \.isNaN) {
                line += "\n(NaN: the derivative does not exist at this point, e.g. x^y in y for x < 0, where x^y is defined only at whole y; :explain \(state.label) \(word) shows which factor)"
            }
            say(line)
        }
        if let note = state.note { say("(\(note))") }
    }

    package func jacobianCommand(_ args: CommandArguments) throws(Diagnostic) {
        let words = args.words
        guard words.count == 2 else { throw args.missing("two names", usage: ":jacobian y x") }
        let y = try resolve(words[0].0, at: words[0].1, within: lastBackward?.root)
        let x = try resolve(words[1].0, at: words[1].1, within: y)
        let j: Tensor
        do {
            j = try graph.jacobian(of: y, withRespectTo: x)
        } catch {
            throw Diagnostic(.error, error.message, at: args.wholeRange)
        }
        let head = "∂\(Session.partialName(words[0].0))/∂\(Session.partialName(words[1].0)) = "
        let m = j.shape[0], n = j.shape[1]
        // Small Jacobians whole (a 3x12 block matrix hides no column), big ones summarised.
        let whole = n <= 24 && m * n <= 600 ? 24 : 10
        var text = head + Printer.value(j, indent: head.count, whole: whole)
            + "   (\(m)x\(n): \(m) output\(m == 1 ? "" : "s") by \(n) input\(n == 1 ? "" : "s"))"
        if let structure = Session.structure(of: j) { text += "\n" + structure }
        say(text)
    }

    /// The structure of a Jacobian, named when it has one: zero, identity, diagonal, or block
    /// diagonal (output i reads only its own block of inputs, as ∂(W @ x)/∂W = I⊗x').
    static func structure(of j: Tensor) -> String? {
        let m = j.shape[0], n = j.shape[1]
        guard m > 1 || n > 1 else { return nil }
        let v = j.scalars
        if v.allSatisfy({ $0 == 0 }) { return "zero: no output depends on these inputs here" }
        if m == n {
            let offDiagonalZero = (0..<m).allSatisfy { i in (0..<n).allSatisfy { k in i == k || v[i * n + k] == 0 } }
            if offDiagonalZero {
                if (0..<m).allSatisfy({ v[$0 * n + $0] == 1 }) { return "the identity: each output is its input" }
                return "diagonal: output i depends only on input i (an elementwise op)"
            }
        }
        guard m > 1, n > m, n % m == 0 else { return nil }
        let k = n / m
        let blocks = (0..<m).allSatisfy { i in (0..<n).allSatisfy { c in c / k == i || v[i * n + c] == 0 } }
        guard blocks else { return nil }
        return "block diagonal: output i depends only on inputs \(k)·i to \(k)·i+\(k - 1), its own block of \(k) "
            + "(∂(W @ x)/∂W has this form, I⊗x': block i is x')"
    }

    package func checkCommand(_ args: CommandArguments) throws(Diagnostic) {
        let root: NodeID
        let label: String
        var owned: [NodeID] = []
        if args.text.isEmpty {
            guard let state = lastBackward else {
                throw args.missing("a loss (or a :backward L before it)", usage: ":check L")
            }
            (root, label) = (state.root, state.label)
        } else {
            let expr = try args.expression()
            if case let .name(name) = expr.kind { root = try lookup(name, at: expr.range) } else { (root, owned) = try compile(expr) }
            label = expr.text
        }
        defer { discard(owned) }
        let params = paramNames
        guard !params.isEmpty else {
            throw Diagnostic(.error, "no params to check: declare trainable values with param w = ...", at: args.nameRange)
        }
        let leaves = params.compactMap(paramLeaf)
        let results: [GradientCheck]
        var interrupted = false
        do {
            results = try graph.checkGradients(of: root, leaves: leaves) { [unowned self] in
                if self.isInterrupted() { interrupted = true }
                return interrupted
            }
        } catch {
            throw Diagnostic(.error, "\(label): \(error.reason.message)", at: args.wholeRange)
        }
        version += 1
        let tolerance = 1e-5
        let absolute = Graph.absoluteTolerance(loss: graph.value(root).scalar)
        say("gradient check of \(label): backprop against central differences (relative error, pass < \(Format.number(tolerance)); "
            + "gaps under \(Format.number(absolute)) = 1e-8·max(1, |\(label)|) pass too, rounding of the differences)")
        var rows: [[String]] = []
        for (name, r) in zip(params, results) {
            if let leaf = paramLeaf(name), !graph.depends(root, on: leaf) {
                rows.append(["  · \(name)", "\(label) does not depend on it"])
                continue
            }
            if r.checked == 0 {
                rows.append(["  · \(name)", "not checked (interrupted before its first element)"])
                continue
            }
            let ok = r.maxRelativeError < tolerance
            record(":check \(label) \(name)", line: args.start.line,
                   problem: ok ? nil : "relative error \(Format.printf("%.1e", r.maxRelativeError)) at element \(r.worstIndex)")
            var cells = ["  \(ok ? style.ok("✓") : style.bad("✗")) \(name)", Format.printf("%.1e", r.maxRelativeError)]
            if r.checked < r.total { cells.append("(\(r.checked) of \(r.total) elements sampled)") }
            if !ok {
                cells.append("at element \(r.worstIndex): backprop \(Format.number(r.analytic)), numeric \(Format.number(r.numeric))")
                say(Session.table([cells]))
            } else {
                rows.append(cells)
            }
        }
        if !rows.isEmpty { say(Session.table(rows)) }
        if interrupted {
            let checked = results.reduce(0) { $0 + $1.checked }
            say("interrupted: \(checked) element\(checked == 1 ? "" : "s") checked before Ctrl-C; the graph is as it was")
        }
    }

    package func expectCommand(_ args: CommandArguments) throws(Diagnostic) {
        let usage = ":expect expr == value [tol t]"
        let chars = Array(args.text)
        guard let split = (0..<Swift.max(chars.count - 1, 0)).first(where: { chars[$0] == "=" && chars[$0 + 1] == "=" }) else {
            throw args.missing("'==' between the expression and the expected value", usage: usage)
        }
        let leftText = String(chars[..<split])
        var rightText = String(chars[(split + 2)...])
        var tolerance = 1e-6
        let rightWords = rightText.split(separator: " ")
        if rightWords.count >= 3, rightWords[rightWords.count - 2] == "tol" {
            guard let t = Double(rightWords[rightWords.count - 1]), t >= 0 else {
                throw Diagnostic(.error, "tol must be a number ≥ 0, like tol 1e-4", at: args.wholeRange)
            }
            tolerance = t
            rightText = rightWords.dropLast(2).joined(separator: " ")
            // keep the original columns: pad back what the split removed at the start
            let leading = String(chars[(split + 2)...]).prefix { $0 == " " }
            rightText = leading + rightText
        }
        guard !leftText.allSatisfy(\.isWhitespace) else { throw args.missing("an expression before '=='", usage: usage) }
        guard !rightText.allSatisfy(\.isWhitespace) else { throw args.missing("an expected value after '=='", usage: usage) }
        let left = try Parser.parseExpression(leftText, line: args.start.line, column: args.start.column)
        let right = try Parser.parseExpression(rightText, line: args.start.line, column: args.start.column + split + 2)
        let actual = try evaluate(left)
        let expected = try evaluate(right)
        let where_ = currentSource.file.map { "\($0), line \(args.start.line)" } ?? "line \(args.start.line)"

        var problem: String?
        if actual.shape != expected.shape && !expected.isSingleElement {
            problem = "shape \(Shape.describe(actual.shape)), expected \(Shape.describe(expected.shape))"
        } else {
            let wanted = expected.isSingleElement ? expected.broadcast(to: actual.shape) : expected
            let target = wanted.count == actual.count ? wanted : Tensor(shape: actual.shape, scalars: Array(repeating: expected.scalar, count: actual.count))
            for i in 0..<actual.count {
                let a = actual.scalars[i], b = target.scalars[i]
                if !(Swift.abs(a - b) <= tolerance * Swift.max(1, Swift.abs(b))) {
                    let at = actual.count > 1 ? " at element \(i)" : ""
                    problem = "got \(Format.number(a, digits: 10))\(at), expected \(Format.number(b, digits: 10)) (tolerance \(Format.number(tolerance)))"
                    break
                }
            }
        }
        record("\(left.text) == \(right.text)", line: args.start.line, problem: problem)
        if let problem {
            output.out(SafeText.escaped("\(style.bad("✗")) \(where_): \(left.text) == \(right.text): \(problem)", allowColor: colors))
        } else {
            say("\(style.ok("✓")) \(left.text) == \(right.text)")
        }
    }
}
