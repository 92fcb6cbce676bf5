import NablaRuntime
import NablaGraph
import NablaSyntax
import NablaTensor

/// One factor of a chain-rule product: ∂top/∂bottom along some edges of the graph.
///
/// Definitions' name nodes are identities and a negation merges into the factor
/// after it, so the factors read as the course writes them:
/// `∂L/∂p · ∂p/∂(y*z) · ...` with `∂L/∂p = -1/p` for `L = -log(p)`.
package struct ChainFactor {
    package var top: NodeID
    package var bottom: NodeID
    package var edges: [Edge]
    /// The local derivative as a formula in the inputs' labels.
    var formula: String
    /// The op that gives the factor its form (nil for a pure identity).
    var op: Op?
}

/// A path from a root down to a target, as chain-rule factors.
package struct ChainPath {
    package var edges: [Edge]
    package var factors: [ChainFactor]
}

extension Session {
    // MARK: - Names of nodes, as the views print them

    /// For each node that is a definition's root, the definition's name.
    var aliases: [NodeID: String] {
        var out: [NodeID: String] = [:]
        for d in definitions.values {
            guard let root = graph[d.slot].inputs.first else { continue }
            if case .name = graph[root].op { continue }
            out[root] = d.name
        }
        return out
    }

    /// A node's name in the views: a definition's name for its name node and its
    /// root, else the node's own text.
    func displayName(_ id: NodeID, aliases: [NodeID: String]) -> String {
        if case let .name(n) = graph[id].op { return n }
        return aliases[id] ?? graph[id].label
    }

    /// A node with its definition, for tables: `p = sigmoid(y*z)`, `w1 (param)`, `x1 = 2`.
    func describedNode(_ id: NodeID, aliases: [NodeID: String]) -> String {
        let node = graph[id]
        guard let alias = aliases[id] else {
            if node.op == .constant { return "\(node.label) (constant)" }
            return node.label
        }
        if node.op == .param { return "\(alias) (param)" }
        return alias == node.label ? alias : "\(alias) = \(node.label)"
    }

    /// `∂L/∂(y*z)`.
    static func partial(_ top: String, _ bottom: String) -> String {
        "∂\(partialName(top))/∂\(partialName(bottom))"
    }

    /// A product too long to read, with its middle left out.
    package static func elided(_ items: [String], separator: String = " · ", keep: Int = 8) -> String {
        guard items.count > 2 * keep + 1 else { return items.joined(separator: separator) }
        return (items.prefix(keep) + ["… (\(items.count - 2 * keep) more factors) …"] + items.suffix(keep)).joined(separator: separator)
    }

    /// A path count; `pathCount` saturates, so the largest counts are said in words.
    static func count(_ n: Int) -> String { n >= Int.max / 4 ? "more than 10^18" : "\(n)" }

    // MARK: - Paths as factors

    /// The factors of a path, with identities folded away and negations merged.
    func factors(of path: [Edge], from root: NodeID) -> [ChainFactor] {
        var factors: [ChainFactor] = []
        var top = root
        var pending: [Edge] = []
        var negated = false
        for edge in path {
            let node = graph[edge.node]
            pending.append(edge)
            if case .name = node.op { continue }
            if node.op == .neg {
                negated.toggle()
                continue
            }
            let bottom = node.inputs[edge.input]
            let labels = node.inputs.map { graph[$0].label }
            let shapes = node.inputs.map { graph[$0].value.shape }
            let text = node.op.derivativeText(labels, shapes: shapes)[edge.input]
            factors.append(ChainFactor(
                top: top, bottom: bottom, edges: pending, formula: negated ? Session.negated(text) : text, op: node.op))
            pending = []
            negated = false
            top = bottom
        }
        if let last = pending.last {
            let bottom = graph[last.node].inputs[last.input]
            if negated || factors.isEmpty {
                factors.append(ChainFactor(top: top, bottom: bottom, edges: pending, formula: negated ? "-1" : "1", op: negated ? .neg : nil))
            } else {
                factors[factors.count - 1].edges += pending
                factors[factors.count - 1].bottom = bottom
            }
        }
        return factors
    }

    /// `-f`, written simply: `-1/p` for `1/p`, `x` for `-x`.
    static func negated(_ formula: String) -> String {
        if formula == "1" { return "-1" }
        if formula.hasPrefix("-") && Op.grouped(String(formula.dropFirst())) == String(formula.dropFirst()) {
            return String(formula.dropFirst())
        }
        if formula.first?.isNumber == true || Op.grouped(formula) == formula { return "-" + formula }
        return "-(\(formula))"
    }

    /// The paths from `root` to `target` as factors (at most `limit`), and how many there are.
    package func chainPaths(from root: NodeID, to target: NodeID, limit: Int = 12) -> (paths: [ChainPath], total: Int) {
        let total = graph.pathCount(from: root, to: target)
        let paths = graph.paths(from: root, to: target, limit: limit).map {
            ChainPath(edges: $0, factors: factors(of: $0, from: root))
        }
        return (paths, total)
    }

    /// The value of one factor when it is a single number, else nil.
    func scalarValue(of factor: ChainFactor) -> Double? {
        let top = graph.value(factor.top), bottom = graph.value(factor.bottom)
        guard top.isSingleElement, bottom.isSingleElement else { return nil }
        return graph.carry(Tensor(shape: top.shape, scalars: [1]), along: factor.edges).scalar
    }

    /// The m x n of a factor: elements of its top by elements of its bottom.
    package func jacobianSize(of factor: ChainFactor) -> (Int, Int) {
        (graph.value(factor.top).count, graph.value(factor.bottom).count)
    }

    /// How the local Jacobian of a factor looks (its op edge's kind; identity when there is none).
    func kind(of factor: ChainFactor) -> JacobianKind {
        guard let edge = factor.edges.last(where: { edge in
            if case .name = graph[edge.node].op { return false }
            return true
        }) else { return .identity }
        let kind = graph.jacobianShape(edge).kind
        if kind == .identity && factor.edges.contains(where: { graph[$0.node].op == .neg }) { return .diagonal }
        return kind
    }

    // MARK: - Resolving the two ends

    /// The root and target named by `L` and `w` in `:explain L w` and friends.
    func chainEnds(_ args: CommandArguments, usage: String) throws(Diagnostic) -> (NodeID, String, NodeID, String) {
        let words = args.words
        guard words.count == 2 else {
            throw args.missing(words.count < 2 ? "two names, the output and the input" : "exactly two names", usage: usage)
        }
        let root = try resolve(words[0].0, at: words[0].1, within: lastBackward?.root)
        let target = try resolve(words[1].0, at: words[1].1, within: root)
        return (root, words[0].0, target, words[1].0)
    }

    /// Refuses a root that is not a single number (the chain views start from a loss).
    package func requireScalar(_ root: NodeID, _ label: String, at range: SourceRange, command: String) throws(Diagnostic) {
        let value = graph.value(root)
        guard value.isSingleElement else {
            throw Diagnostic(
                .error,
                "\(label) has shape \(Shape.describe(value.shape)), not a scalar: \(command) starts from one number, "
                    + "such as a loss (use :jacobian for a vector output, or reduce it: sum(\(label)))",
                at: range)
        }
    }

    // MARK: - :explain

    package func explainCommand(_ args: CommandArguments) throws(Diagnostic) {
        let (root, rootLabel, target, targetLabel) = try chainEnds(args, usage: ":explain L w")
        try requireScalar(root, rootLabel, at: args.words[0].1, command: ":explain")
        say(explanation(of: root, rootLabel, wrt: target, targetLabel).joined(separator: "\n"))
    }

    /// ∂root/∂target as the sum over paths of products of local derivatives:
    /// symbols, formulas, numbers (shapes for tensors), the result.
    package func explanation(of root: NodeID, _ rootLabel: String, wrt target: NodeID, _ targetLabel: String) -> [String] {
        explanationText(of: root, rootLabel, wrt: target, targetLabel).flatMap { $0.split(separator: "\n").map(String.init) }
    }

    func explanationText(of root: NodeID, _ rootLabel: String, wrt target: NodeID, _ targetLabel: String) -> [String] {
        let head = Session.partial(rootLabel, targetLabel)
        if throughNames(root) == throughNames(target) { return ["\(head) = 1 (a node's derivative with respect to itself)"] }
        let (paths, total) = chainPaths(from: root, to: target)
        let targetValue = graph.value(target)
        guard total > 0 else {
            let zero = Printer.value(Tensor.zeros(targetValue.shape))
            return ["\(head) = \(zero): no gradient flows from \(rootLabel) to \(targetLabel) "
                + "(\(rootLabel) does not depend on it, or only through class indices or grad/jacobian values)"]
        }
        let aliases = self.aliases
        let seed = Tensor(shape: graph.value(root).shape, scalars: [1])
        let terms = paths.map { graph.carry(seed, along: $0.edges) }
        let all = try? graph.backward(from: root)
        let gradient = all?[target] ?? Tensor.zeros(targetValue.shape)

        func symbols(_ p: ChainPath) -> String {
            Session.elided(p.factors.map { Session.partial(displayName($0.top, aliases: aliases), displayName($0.bottom, aliases: aliases)) })
        }
        func formulas(_ p: ChainPath) -> String { Session.elided(p.factors.map { Op.grouped($0.formula) }) }
        func numbers(_ p: ChainPath) -> String {
            Session.elided(p.factors.map { f in
                if let v = scalarValue(of: f) { return "(\(Format.number(v)))" }
                if let numbers = factorNumbers(f) { return numbers }
                let (m, n) = jacobianSize(of: f)
                return "(\(m)x\(n)\(kind(of: f) == .diagonal ? " diag" : ""))"
            })
        }
        func term(_ t: Tensor) -> String { t.isSingleElement ? Format.number(t.scalar) : Session.inline(t, limit: 4) }

        let more = (total > paths.count ? ["(\(Session.count(total - paths.count)) more paths are not shown; the result includes them)"] : [])
            + pathValues(paths, except: target) + Session.notation(paths.flatMap { $0.factors.map(\.formula) })
            + (all.map { weightSharing(paths, gradients: $0) } ?? [])
        let result = Printer.value(gradient, indent: head.count + 3)
        let pad = String(repeating: " ", count: head.count)
        if paths.count == 1 {
            return ["\(head) = \(symbols(paths[0]))", "\(pad) = \(formulas(paths[0]))", "\(pad) = \(numbers(paths[0]))", "\(pad) = \(result)"] + more
        }
        let joined = [paths.map(symbols), paths.map(formulas), paths.map(numbers)].map { $0.joined(separator: "  +  ") }
        if joined.allSatisfy({ $0.count + head.count < 110 }) {
            return [
                "\(head) = \(joined[0])", "\(pad) = \(joined[1])", "\(pad) = \(joined[2])",
                "\(pad) = \(terms.map(term).joined(separator: " + "))", "\(pad) = \(result)",
            ] + more
        }
        var lines = ["\(head) is a sum over \(total) paths from \(rootLabel) to \(targetLabel):"]
        for (i, p) in paths.enumerated() {
            let tag = "  path \(i + 1): "
            let under = String(repeating: " ", count: tag.count - 2)
            lines += ["\(tag)\(symbols(p))", "\(under)= \(formulas(p))", "\(under)= \(numbers(p))", "\(under)= \(Printer.value(terms[i], indent: under.count + 2))"]
        }
        lines += more
        lines.append("\(head) = \(terms.count <= 8 ? terms.map(term).joined(separator: " + ") + " = " : "")\(result)")
        return lines
    }

    /// A factor's local Jacobian written out when it is small (at most 16 entries): `diag([1, 0])`
    /// for a diagonal one, a row `[1, 2]`, or the matrix; nil when big (its size is shown instead).
    func factorNumbers(_ f: ChainFactor) -> String? {
        let (m, n) = jacobianSize(of: f)
        guard m * n <= 16, m > 0, n > 0 else { return nil }
        let topShape = graph.value(f.top).shape
        var rows: [[Double]] = []
        for i in 0..<m {
            var seed = [Double](repeating: 0, count: m)
            seed[i] = 1
            let row = graph.carry(Tensor(shape: topShape, scalars: seed), along: f.edges)
            guard row.count == n else { return nil }
            rows.append(row.scalars)
        }
        func list(_ v: [Double]) -> String { "[" + v.map { Format.number($0) }.joined(separator: ", ") + "]" }
        if kind(of: f) == .diagonal, m == n { return "diag(" + list((0..<m).map { rows[$0][$0] }) + ")" }
        if m == 1 { return list(rows[0]) }
        return "[" + rows.map(list).joined(separator: ", ") + "]"
    }

    /// `where h = [3, 0], x = [1, 2]`: the small vector and matrix values the path's formulas read.
    func pathValues(_ paths: [ChainPath], except target: NodeID) -> [String] {
        let aliases = self.aliases
        var seen: Set<NodeID> = [target]
        var parts: [String] = []
        for f in paths.flatMap(\.factors) {
            let opNode = f.edges.last { if case .name = graph[$0.node].op { return false }; return true }?.node
            let reads = (opNode.map { graph[$0].inputs } ?? []) + [f.top]
            for id in reads where seen.insert(id).inserted {
                let v = graph.value(id)
                guard !v.isSingleElement, v.count <= 6, parts.count < 6 else { continue }
                parts.append("\(displayName(id, aliases: aliases)) = \(Session.inline(v))")
            }
        }
        return parts.isEmpty ? [] : ["where " + parts.joined(separator: ", ")]
    }

    /// A line that reads the notation the formulas use, only what appears.
    static func notation(_ formulas: [String]) -> [String] {
        let text = formulas.joined(separator: " ")
        var parts: [String] = []
        if text.contains("⊗") { parts.append("A⊗B is the Kronecker product: I⊗x' puts x' in block i of row i (output i reads row i of W)") }
        if text.contains("1'") { parts.append("1' is a row of ones (a sum adds every entry)") }
        if text.contains("'") { parts.append("v' is the transpose (a vector' is a row)") }
        if text.contains("[") && text.contains(">") { parts.append("[c] is 1 where c holds, else 0") }
        if text.contains("diag(") { parts.append("diag(v) is the matrix with v on its diagonal") }
        return parts.isEmpty ? [] : ["notation: " + parts.joined(separator: "; ")]
    }

    // MARK: - :shapes

    package func shapesCommand(_ args: CommandArguments) throws(Diagnostic) {
        let (root, rootLabel, target, targetLabel) = try chainEnds(args, usage: ":shapes L w")
        try requireScalar(root, rootLabel, at: args.words[0].1, command: ":shapes")
        say(shapeChain(of: root, rootLabel, wrt: target, targetLabel).joined(separator: "\n"))
    }

    /// The chain of Jacobian shapes along each path, the diagonal ones marked,
    /// and the VJP shapes that backprop carries instead.
    package func shapeChain(of root: NodeID, _ rootLabel: String, wrt target: NodeID, _ targetLabel: String) -> [String] {
        let head = Session.partial(rootLabel, targetLabel)
        if throughNames(root) == throughNames(target) { return ["\(head) = 1: the identity"] }
        let (paths, total) = chainPaths(from: root, to: target)
        guard total > 0 else { return ["\(head): no gradient flows from \(rootLabel) to \(targetLabel) (\(rootLabel) does not depend on it, or only through class indices or grad/jacobian values)"] }
        let aliases = self.aliases
        let m = graph.value(root).count, n = graph.value(target).count
        var lines: [String] = []
        for (i, p) in paths.enumerated() {
            let chain = Session.elided(p.factors.map { f -> String in
                let (r, c) = jacobianSize(of: f)
                return "(\(r)x\(c))"
            }, separator: "")
            lines.append("\(paths.count > 1 ? "path \(i + 1): " : "")\(head) = \(chain) = \(m)x\(n)")
        }
        if total > paths.count { lines.append("(\(Session.count(total - paths.count)) more paths, each \(m)x\(n); the gradient sums them)") }
        var rows: [[String]] = []
        var seen: Set<String> = []
        for p in paths {
            for f in p.factors where rows.count < 40 {
                let symbol = Session.partial(displayName(f.top, aliases: aliases), displayName(f.bottom, aliases: aliases))
                guard seen.insert(symbol).inserted else { continue }
                let (r, c) = jacobianSize(of: f)
                rows.append(["  " + symbol, "\(r)x\(c)", note(for: f, rows: r, cols: c)])
            }
        }
        lines.append(Session.table(rows))
        let first = paths[0]
        let carried = [Shape.describe(graph.value(root).shape)] + first.factors.map { Shape.describe(graph.value($0.bottom).shape) }
        lines.append("backprop never builds these matrices: it carries one gradient shaped like each node,")
        lines.append("  " + carried.joined(separator: " → ") + "   (∂\(Session.partialName(rootLabel))/∂· keeps the shape of ·)")
        return lines
    }

    /// What to say about one factor's Jacobian in `:shapes`.
    func note(for f: ChainFactor, rows: Int, cols: Int) -> String {
        let opName = f.op.map { $0 == .sigmoid ? "σ" : $0.symbol } ?? "identity"
        switch kind(of: f) {
        case .identity: return "identity: the gradient passes through unchanged"
        case .diagonal:
            return rows == 1 ? "(\(opName) is elementwise)" : "diagonal (\(opName) is elementwise): the VJP multiplies by its \(rows) diagonal entries"
        case .broadcast: return "broadcast: the VJP sums the gradient over the stretched axes"
        case .selection: return "selection (zeros and ones): the VJP moves entries"
        case .sparse:
            if case .conv2d? = f.op { return "sparse: each output reads one window; the same kernel weights at every position" }
            return "sparse: each output reads one window"
        case .zero: return "not differentiated"
        case .dense:
            if rows * cols == 1 { return "a number: \(f.formula) (\(opName))" }
            if f.formula.hasPrefix("I⊗") { return "block diagonal (I⊗x'): output i reads only row i of the matrix" }
            return "dense (\(opName))"
        }
    }
}
