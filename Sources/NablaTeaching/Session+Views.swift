import NablaRuntime
import Foundation
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

// MARK: - :forward, :step, :graph, :dot

extension Session {
    /// A value on one line when it is small, else its shape.
    package static func inline(_ t: Tensor, limit: Int = 6) -> String {
        if t.isSingleElement && t.rank == 0 { return Format.number(t.scalar) }
        guard t.count <= limit else { return Shape.describe(t.shape) }
        if t.rank <= 1 { return Printer.value(t) }
        let n = t.cols
        let rows = stride(from: 0, to: t.count, by: Swift.max(n, 1)).map { start in
            "[" + t.scalars[start..<start + n].map { Format.number($0) }.joined(separator: ", ") + "]"
        }
        return "[" + rows.joined(separator: ", ") + "]"
    }

    /// The node a command names: `L`, or an expression's node (built now, `owned` to discard).
    package func rootNode(_ args: CommandArguments, usage: String, what: String) throws(Diagnostic) -> (NodeID, String, [NodeID]) {
        guard !args.text.isEmpty else { throw args.missing(what, usage: usage) }
        let expr = try args.expression()
        if case let .name(name) = expr.kind { return (try lookup(name, at: expr.range), name, []) }
        if let root = lastBackward?.root, let id = try? resolve(expr.text, at: expr.range, within: root) {
            return (id, expr.text, [])
        }
        let (root, owned) = try compile(expr)
        return (root, expr.text, owned)
    }

    /// The nodes the views show: every node `root` depends on, names folded away, inputs first.
    func shownNodes(from root: NodeID) -> [NodeID] {
        graph.topologicalOrder(from: root).filter { if case .name = graph[$0].op { return false } else { return true } }
    }

    /// A node with name nodes looked through: what the views draw for an input.
    package func throughNames(_ id: NodeID) -> NodeID {
        var id = id
        var hops = 0
        while case .name = graph[id].op, let next = graph[id].inputs.first, hops < 10_000 {
            id = next
            hops += 1
        }
        return id
    }

    // MARK: - :forward

    package func forwardCommand(_ args: CommandArguments) throws(Diagnostic) {
        let (root, label, owned) = try rootNode(args, usage: ":forward L", what: "the node to compute")
        defer { discard(owned) }
        let nodes = shownNodes(from: root)
        let aliases = self.aliases
        var rows: [[String]] = [["  #", "node", "op", "shape", "value"]]
        for (i, id) in nodes.enumerated() {
            let node = graph[id]
            let op = node.op.isLeaf ? (node.op == .param ? "param" : "input") : node.op.symbol
            rows.append([
                String(repeating: " ", count: Swift.max(0, 3 - String(i + 1).count)) + "\(i + 1)",
                describedNode(id, aliases: aliases), op, Shape.describe(node.value.shape), Session.inline(node.value, limit: 12),
            ])
        }
        var lines = ["the forward pass of \(label): \(nodes.count) node\(nodes.count == 1 ? "" : "s"), each computed after its inputs"]
        lines.append(Session.table(rows))
        say(lines.joined(separator: "\n"))
    }

    // MARK: - :step

    package func stepCommand(_ args: CommandArguments) throws(Diagnostic) {
        var args = args
        var all = !interactive
        if args.text == "all" || args.text.hasPrefix("all ") {
            all = true
            args.text = String(args.text.dropFirst(3)).trimmingCharacters(in: .whitespaces)
            args.start.column += 4
        }
        if args.text.isEmpty, let last = lastBackward { args.text = last.label }
        let (root, label, owned) = try rootNode(args, usage: ":step L", what: "the loss to backprop from (define one first, like L = ...)")
        let value = graph.value(root)
        guard value.isSingleElement else {
            discard(owned)
            throw Diagnostic(
                .error, "\(label) has shape \(Shape.describe(value.shape)), not a scalar: backprop starts from one number",
                at: args.wholeRange)
        }
        var stepper = Stepper(session: self, root: root, label: label, owned: owned)
        say(stepper.header())
        if all {
            while let text = stepper.next() {
                say(text)
                // Ctrl-C: the gradients of the steps shown are kept, as `q` keeps them.
                if isInterrupted() {
                    say("interrupted: " + stepper.finish(stopped: true))
                    return
                }
            }
            say(stepper.finish(stopped: false))
            return
        }
        guard let first = stepper.next() else {
            say(stepper.finish(stopped: false))
            return
        }
        say(first)
        // The next step is computed ahead, so the last one ends the walk without another Enter;
        // what `q` keeps is what was shown.
        stepper.snapshot()
        var upcoming = stepper.next()
        guard upcoming != nil else {
            say(stepper.finish(stopped: false))
            return
        }
        pending = PendingInteraction(prompt: "step (Enter: next, a: all, q: leave)> ") { [unowned self] line in
            let answer = line.trimmingCharacters(in: .whitespaces)
            if answer == "q" || answer == "quit" {
                self.say(stepper.finish(stopped: true))
                return false
            }
            repeat {
                guard let text = upcoming else { break }
                self.say(text)
                stepper.snapshot()
                if self.isInterrupted() {
                    self.say("interrupted: " + stepper.finish(stopped: true))
                    return false
                }
                upcoming = stepper.next()
            } while answer == "a" || answer == "all"
            if upcoming == nil {
                self.say(stepper.finish(stopped: false))
                return false
            }
            return true
        }
    }

    /// Backprop shown one node at a time (`:step`).
    struct Stepper {
        unowned let session: Session
        let root: NodeID
        let label: String
        let owned: [NodeID]
        var walk: BackwardWalk
        let aliases: [NodeID: String]
        /// How many gradient contributions each node will receive in all.
        let expected: [NodeID: Int]
        let total: Int
        var shown = 0

        init(session: Session, root: NodeID, label: String, owned: [NodeID]) {
            self.session = session
            self.root = root
            self.label = label
            self.owned = owned
            let graph = session.graph
            let order = graph.topologicalOrder(from: root)
            walk = BackwardWalk(order: order, seed: Tensor(shape: graph.value(root).shape, scalars: [1]), capacity: graph.capacity)
            aliases = session.aliases
            // The nodes a gradient reaches: the root, then through differentiable edges.
            var reached: Set<NodeID> = [root]
            var expected: [NodeID: Int] = [:]
            for id in order.reversed() where reached.contains(id) {
                for (i, input) in graph[id].inputs.enumerated() where graph.isDifferentiable(Edge(node: id, input: i)) {
                    expected[input, default: 0] += 1
                    reached.insert(input)
                }
            }
            self.expected = expected
            total = order.filter { id in
                if case .name = graph[id].op { return false }
                return !graph[id].inputs.isEmpty && reached.contains(id)
            }.count
        }

        func name(_ id: NodeID) -> String { session.displayName(id, aliases: aliases) }
        func of(_ id: NodeID) -> String { Session.partial(label, name(id)) }

        func header() -> String {
            "backprop from \(label), one node at a time (\(total) node\(total == 1 ? "" : "s") with inputs); "
                + "the seed is ∂\(Session.partialName(label))/∂\(Session.partialName(label)) = 1"
        }

        /// The text of the next step, or nil when backprop is done.
        package mutating func next() -> String? {
            let graph = session.graph
            while let step = walk.step(in: graph) {
                let node = graph[step.node]
                if case .name = node.op { continue }
                shown += 1
                return describe(step, node, graph)
            }
            return nil
        }

        func describe(_ step: BackwardStep, _ node: Node, _ graph: Graph) -> String {
            let style = session.style
            let opName = node.op == .sigmoid ? "σ" : node.op.symbol
            var lines = [style.heading("step \(shown) of \(total): \(session.describedNode(step.node, aliases: aliases))")
                + "   [\(opName), \(Shape.describe(node.value.shape))]"]
            let up = "∂\(Session.partialName(label))/∂\(Session.partialName(name(step.node)))"
            lines.append("  upstream   \(up) = \(Session.shown(step.upstream, indent: 16 + up.count))   \(style.shape("shape \(Shape.describe(step.upstream.shape))"))")
            let labels = node.inputs.map { graph[$0].label }
            let shapes = node.inputs.map { graph[$0].value.shape }
            let formulas = node.op.derivativeText(labels, shapes: shapes)
            for c in step.contributions {
                // A literal (the 1 of logistic_loss(s, 1)) gets a gradient too, but nobody asks for it.
                if graph[c.id].op == .constant && aliases[c.id] == nil { continue }
                let edge = Edge(node: step.node, input: c.input)
                let js = graph.jacobianShape(edge)
                let local = "∂\(Session.partialName(name(step.node)))/∂\(Session.partialName(name(c.id)))"
                guard let vjp = c.vjp else {
                    lines.append("  \(name(c.id)): not differentiated (\(js.kind == .zero ? "a constant argument" : "no gradient"))")
                    continue
                }
                var localText = "  local      \(local) = \(formulas[c.input])"
                var localValue: Double?
                if js.rows * js.cols == 1, let j = graph.localJacobian(edge) {
                    localValue = j.scalar
                    localText += (formulas[c.input] == Format.number(j.scalar) ? "" : " = \(Format.number(j.scalar))") + "   \(style.shape("1x1"))"
                } else if js.kind == .diagonal, node.value.shape == graph.value(c.id).shape {
                    let diagonal = graph.carry(Tensor(shape: node.value.shape, scalars: Array(repeating: 1, count: node.value.count)), along: [edge])
                    localText += "\n             diagonal of the \(js): \(Session.shown(diagonal, indent: 30))   \(style.shape("(only the diagonal is ever used)"))"
                } else if let j = graph.localJacobian(edge, maxElements: 36) {
                    localText += "\n             = \(Printer.value(j, indent: 15))   \(style.shape(js.description))"
                } else {
                    localText += "   \(style.shape("\(js), \(js.kind.rawValue); never built"))"
                }
                if case let .pool(.max, size, stride) = node.op {
                    localText += "\n" + Session.maxPoolRouting(graph.value(c.id), upstream: step.upstream, size: size, stride: stride)
                }
                lines.append(localText)
                let product = localValue.map { "\(Session.factor(step.upstream.scalar)) · \(Session.factor($0))" } ?? "upstream · \(local)"
                let vjpHead = "  VJP        \(product) = "
                lines.append(vjpHead + Session.shown(vjp, indent: vjpHead.count) + "   \(style.shape("shape \(Shape.describe(vjp.shape))"))")
                let total = expected[c.id] ?? 1
                let sofar = c.received > 1 || total > 1 ? "   (contribution \(c.received) of \(total): the sum over paths)" : ""
                if let acc = c.accumulated {
                    let head = "  \(name(c.id)) accumulates: \(of(c.id)) \(c.received > 1 ? "+=" : "=") "
                    let now = c.received > 1 ? " → \(Session.shown(acc, indent: head.count))" : ""
                    lines.append(head + Session.shown(vjp, indent: head.count) + now + sofar)
                }
            }
            return lines.joined(separator: "\n")
        }

        /// Ends the walk: the gradients computed so far become the session's last backward.
        /// Remembers the gradients and the count as they are now (what has been shown).
        mutating func snapshot() {
            kept = (walk.gradients, shown)
        }
        var kept: (Gradients, Int)?

        func finish(stopped: Bool) -> String {
            let (gradients, shown) = stopped ? (kept ?? (walk.gradients, self.shown)) : (walk.gradients, self.shown)
            let owned = self.owned
            if let previous = session.lastBackward { session.discard(previous.ownedNodes) }
            session.lastBackward = BackwardState(
                root: root, label: label, ownedNodes: owned, source: session.currentSource,
                gradients: gradients, version: session.version,
                note: stopped ? "partial: :step stopped after \(shown) of \(total) nodes; :backward \(label) completes it" : nil)
            if stopped {
                return "left after \(shown) of \(total) steps; the gradients computed so far are kept (:grad shows them)"
            }
            return "backprop done: every gradient of \(label) is known (:grad w shows one)"
        }
    }

    /// A number as a factor of a product: `(-0.5)` in parentheses when negative.
    static func factor(_ x: Double) -> String { x < 0 ? "(\(Format.number(x)))" : Format.number(x) }

    /// A tensor in a view: the number, a small vector or matrix, or its shape when large.
    static func shown(_ t: Tensor, indent: Int) -> String {
        if t.rank == 0 || t.count == 1 { return Format.number(t.scalar) }
        if t.count <= 24 { return Printer.value(t, indent: indent) }
        return "(\(Shape.describe(t.shape)), \(t.count) numbers)"
    }

    // MARK: - :graph

    package func graphCommand(_ args: CommandArguments) throws(Diagnostic) {
        var args = args
        if args.text.isEmpty {
            if let last = lastBackward {
                args.text = last.label
            } else if let newest = definitions.values.max(by: { $0.sequence < $1.sequence }) {
                args.text = newest.name
            } else {
                throw args.missing("a name (nothing is defined yet)", usage: ":graph [L]")
            }
        }
        let (root, label, owned) = try rootNode(args, usage: ":graph L", what: "a node")
        defer { discard(owned) }
        say(drawing(of: root, label: label).joined(separator: "\n"))
    }

    /// The gradients of the last backward, when it ran on this graph as it is now.
    package func gradientsToShow() -> (Gradients, String)? {
        guard let state = lastBackward else { return nil }
        if state.version != version, let g = try? graph.backward(from: state.root) {
            return (g, state.label)
        }
        return (state.gradients, state.label)
    }

    /// The graph below `root` as a tree of box-drawing characters; a node
    /// reached again is named, not drawn again; big graphs are cut at a depth.
    func drawing(of root: NodeID, label: String, maxNodes: Int = 40) -> [String] {
        let aliases = self.aliases
        let nodes = shownNodes(from: root)
        let grads = gradientsToShow()
        let big = nodes.count > maxNodes
        let maxDepth = big ? 3 : Int.max
        var rows: [[String]] = [["node", "value", grads.map { "∂\(Session.partialName($0.1))/∂·" } ?? "gradient (after :backward)"]]
        var lines: [String] = []
        if big {
            var counts: [String: Int] = [:]
            for id in nodes { counts[graph[id].op.isLeaf ? (graph[id].op == .param ? "param" : "input") : graph[id].op.symbol, default: 0] += 1 }
            let parts = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(6).map { "\($0.value) \($0.key)" }
            lines.append("\(label): \(nodes.count) nodes (\(parts.joined(separator: ", "))); the top \(maxDepth) levels:")
        }
        var drawn: Set<NodeID> = []
        // Each frame: node, prefix for its children, its own connector, depth.
        var stack: [(NodeID, String, String, Int)] = [(throughNames(root), "", "", 0)]
        while let (id, childPrefix, connector, depth) = stack.popLast() {
            let node = graph[id]
            var text = connector + describedNode(id, aliases: aliases)
            if drawn.contains(id) {
                rows.append([text + "  ↑ (drawn above)", "", ""])
                continue
            }
            drawn.insert(id)
            let inputs = node.inputs.map(throughNames)
            if depth >= maxDepth && !inputs.isEmpty {
                text += "  … (\(graph.topologicalOrder(from: id).count - 1) nodes below)"
            }
            let grad = grads.flatMap { $0.0[id] }.map { Session.inline($0, limit: 4) } ?? ""
            rows.append([text, Session.inline(node.value, limit: 4), grad])
            guard depth < maxDepth else { continue }
            for (i, input) in inputs.enumerated().reversed() {
                let last = i == inputs.count - 1
                stack.append((input, childPrefix + (last ? "   " : "│  "), childPrefix + (last ? "└─ " : "├─ "), depth + 1))
            }
        }
        return lines + Session.table(rows).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    // MARK: - :dot

    package func dotCommand(_ args: CommandArguments) throws(Diagnostic) {
        let words = args.words
        guard let first = words.first else { throw args.missing("the node to draw", usage: ":dot L [file]") }
        guard words.count <= 2 else { throw args.missing("a node and at most one file", usage: ":dot L [file]") }
        var rootArgs = args
        rootArgs.text = first.0
        let (root, label, owned) = try rootNode(rootArgs, usage: ":dot L [file]", what: "the node to draw")
        defer { discard(owned) }
        let text = dot(of: root, label: label)
        guard words.count == 2 else {
            say(text)
            return
        }
        let (file, fileRange) = words[1]
        let path = resolvePath(file)
        let ext = Session.fileKind(file)
        let rendered = ["png", "svg", "pdf"].contains(ext)
        guard rendered || ["dot", "gv", "txt"].contains(ext) else {
            throw Diagnostic(.error, "'\(file)': the file must end in .dot or .gv (DOT text), or .png, .svg or .pdf (drawn by Graphviz)", at: fileRange)
        }
        guard rendered else {
            do { try SafeFile.write(text, to: path) } catch { throw Diagnostic(.error, error.message, at: fileRange) }
            say("wrote \(file) (Graphviz DOT; render it with: dot -Tpng \(file) -o graph.png)")
            return
        }
        guard let dotTool = Session.findExecutable("dot") else {
            throw Diagnostic(
                .error, "Graphviz's dot is not installed, so \(file) cannot be drawn (apt-get install graphviz); "
                    + "write the DOT text instead: :dot \(words[0].0) graph.dot", at: fileRange)
        }
        // Drawn in a private folder, then written to the path like any other file (SafeFile).
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-dot-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let dotPath = scratch.appendingPathComponent("graph.dot").path, drawn = scratch.appendingPathComponent("graph.\(ext)").path
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            try SafeFile.write(text, to: dotPath)
        } catch {
            throw Diagnostic(.error, "cannot prepare the drawing: \(error)", at: fileRange)
        }
        let (status, message) = Session.run(dotTool, ["-T\(ext)", dotPath, "-o", drawn])
        guard status == 0, let picture = FileManager.default.contents(atPath: drawn) else {
            throw Diagnostic(.error, "dot failed: \(message)", at: fileRange)
        }
        do { try SafeFile.write(picture, to: path) } catch { throw Diagnostic(.error, error.message, at: fileRange) }
        say("wrote \(file) (drawn by Graphviz)")
    }


    /// The nodes below `root` as they are drawn (`:dot`, `:plot graph`): each one's text, op,
    /// value and, after a backward pass, its gradient; inputs before the nodes that read them.
    package func drawnNodes(of root: NodeID, label: String) -> [SVG.Node] {
        let aliases = self.aliases
        let grads = gradientsToShow()
        let rootID = throughNames(root)
        return shownNodes(from: root).map { id in
            let node = graph[id]
            var lines = [describedNode(id, aliases: aliases)]
            if !node.op.isLeaf { lines.append("[\(node.op == .sigmoid ? "σ" : node.op.symbol)]") }
            lines.append("value \(Session.inline(node.value, limit: 4))")
            if let g = grads?.0[id] { lines.append("∂\(Session.partialName(grads?.1 ?? label))/∂· = \(Session.inline(g, limit: 4))") }
            let kind: SVG.Node.Kind = id == rootID ? .output : node.op == .param ? .param : node.op == .constant ? .constant : .other
            return SVG.Node(id: id.raw, lines: lines, kind: kind, inputs: node.inputs.map { throughNames($0).raw })
        }
    }

    /// Graphviz DOT of the graph below `root`: values, gradients, params highlighted.
    func dot(of root: NodeID, label: String) -> String {
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var lines = [
            "digraph nabla {",
            "  rankdir=BT;",
            "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f4f4\", fontname=\"Helvetica\"];",
        ]
        let nodes = drawnNodes(of: root, label: label)
        for node in nodes {
            var attributes = ["label=" + node.lines.map(quoted).map { String($0.dropFirst().dropLast()) }.joined(separator: "\\n").wrappedInQuotes]
            switch node.kind {
            case .param: attributes.append("fillcolor=\"#fde68a\", penwidth=2")
            case .constant: attributes.append("fillcolor=\"#e5e7eb\"")
            case .output: attributes.append("fillcolor=\"#bfdbfe\", penwidth=2")
            case .other: break
            }
            lines.append("  n\(node.id) [\(attributes.joined(separator: ", "))];")
        }
        for node in nodes {
            for input in node.inputs { lines.append("  n\(input) -> n\(node.id);") }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

}

extension String {
    var wrappedInQuotes: String { "\"" + self + "\"" }
}
