import Foundation
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

/// Where a session's text goes: results to `out`, diagnostics to `err`.
public struct SessionOutput {
    public var out: (String) -> Void
    public var err: (String) -> Void

    public init(out: @escaping (String) -> Void, err: @escaping (String) -> Void) {
        self.out = out
        self.err = err
    }

    /// Standard output and standard error.
    public static var standard: SessionOutput {
        SessionOutput(out: { print($0) }, err: { Terminal.flushOutput(); Terminal.writeError($0 + "\n") })
    }
}

/// One definition of the live graph: `name = expr` or `param name = expr`.
package struct Definition {
    package var name: String
    /// The `.name` node that users of the name read; it survives redefinition.
    package var slot: NodeID
    /// The nodes built for the current expression (the slot excluded).
    package var nodes: [NodeID]
    package var expr: Expr
    package var isParam: Bool
    /// Names the expression reads (empty for params: their value is copied once).
    package var dependencies: Set<String>
    /// Where it was typed, for diagnostics and `:save`.
    var source: SourceText
    /// The order in which names were first defined.
    package var sequence: Int
    /// Defined by a command (`:data`, `:mlp`) with a value rather than a formula: `:save` writes the value.
    package var storesValue = false
}

/// Where a node came from, for carets under warnings and errors.
package struct NodeOrigin {
    package var range: SourceRange
    package var source: SourceText

    package init(range: SourceRange, source: SourceText) {
        (self.range, self.source) = (range, source)
    }
}

/// A session: the environment of live definitions, the graph they compile to,
/// and the commands that inspect and change it. The REPL, `nabla FILE`,
/// `nabla -e` and `nabla check` all drive one of these.
public final class Session {
    package var graph = Graph()
    package var definitions: [String: Definition] = [:]
    package var nextSequence = 0
    /// The commands that made definitions, for `:save` (Session+Makers.swift).
    package var makers: [Maker] = []
    /// Each statement run at the top level and what it printed, for `:export`.
    package var log: [LogEntry] = []
    package var logDepth = 0
    package var makingDepth = 0
    package var madeNow: Set<String> = []
    package var origins: [NodeID: NodeOrigin] = [:]
    package var random: RandomSource
    public var output: SessionOutput
    /// When true, results that are not failures are not printed (`nabla check`).
    public var quiet = false

    /// The last `:backward`: its root, how to name it, and the gradients (recomputed when stale).
    package struct BackwardState {
        package var root: NodeID
        package var label: String
        /// Nodes built for a `:backward` of an expression rather than a name.
        package var ownedNodes: [NodeID]
        package var source: SourceText
        package var gradients: Gradients
        package var version: Int
        /// Said by :grad when the gradients are incomplete (a :step left early).
        package var note: String? = nil

        package init(
            root: NodeID, label: String, ownedNodes: [NodeID], source: SourceText, gradients: Gradients, version: Int, note: String? = nil
        ) {
            (self.root, self.label, self.ownedNodes, self.source) = (root, label, ownedNodes, source)
            (self.gradients, self.version, self.note) = (gradients, version, note)
        }
    }
    package var lastBackward: BackwardState?
    /// One judged `:verify` of a gradient, kept to find the first wrong link of a chain.
    package struct VerifyRecord {
        package var root: NodeID
        package var node: NodeID
        package var label: String
        package var correct: Bool
        package var version: Int

        package init(root: NodeID, node: NodeID, label: String, correct: Bool, version: Int) {
            (self.root, self.node, self.label, self.correct, self.version) = (root, node, label, correct, version)
        }
    }

    /// The gradients judged by `:verify`, to find the first wrong link of a chain.
    package var verifyLog: [VerifyRecord] = []
    /// The data of the last `:data`.
    package var data: TrainingData?
    /// `:mode train` is on: a dropout defined now draws its mask at once, like those before it.
    package var dropoutTraining = false
    /// The environment the data search reads (`$NABLA_DATA`, `$XDG_CACHE_HOME`, `$HOME`).
    public var environment = ProcessInfo.processInfo.environment
    /// The most nodes the graph may hold (`:limits nodes=N`).
    public var maxNodes = Session.defaultMaxNodes
    /// The largest tensor, the deepest nesting and the tallest expression this session accepts
    /// (`:limits elements=N nesting=N height=N`): bound for each statement it runs
    /// (`withLimits`), so they belong to the session, not the process.
    public var maxElements = TensorLimits.defaultMaxElements
    public var maxNesting = Parser.defaultMaxNesting
    public var maxHeight = Parser.defaultMaxHeight
    /// The longest script `nabla FILE`, `:load` and `nabla check` run, in bytes (`:limits script=N`).
    public var maxScriptBytes = Session.defaultMaxScriptBytes
    /// The most numbers of a data split the graph holds at once (above: a window of its rows).
    public var heldNumbers = TrainingData.defaultHeldNumbers
    /// The layers (hidden definitions and output) of each `:mlp`, by its name.
    package var layerNames: [String: [String]] = [:]
    /// The optimizer of the last `:train` or `:update`, and its state per param.
    package var optimizer: OptimizerSettings?
    package var slots: [String: OptimizerSlot] = [:]
    package var history: TrainingHistory?
    /// Bumped whenever a value in the graph may have changed.
    package var version = 0

    /// Set by `nabla mnist`: messages name its flags (`--download`, `--data DIR`), not the
    /// REPL's commands, since that is where the user is.
    public var speaksCommandLine = false

    /// `:expect` and `:check` results so far.
    public package(set) var passed = 0
    public package(set) var failed = 0
    /// Each result, for `nabla check --format tap|junit` (the first 10,000).
    public package(set) var outcomes: [CheckOutcome] = []

    /// Counts one `:expect`, `:check` or `require=` result (nil problem: it passed).
    package func record(_ name: String, line: Int, problem: String?) {
        if problem == nil { passed += 1 } else { failed += 1 }
        if outcomes.count < 10_000 { outcomes.append(CheckOutcome(line: line, name: name, problem: problem)) }
    }

    /// The source currently running and, for files, its directory (for relative `:load`).
    package var currentSource = SourceText(file: nil, text: "", firstLine: 1)
    package var directoryStack: [String] = []
    /// Polled by long computations; set from a SIGINT handler by the REPL.
    public var isInterrupted: () -> Bool = { false }
    /// True at a terminal prompt: `:step` then waits for Enter between nodes.
    public var interactive = false
    /// The terminal's width and height: long lines wrap to the width, plots shrink to it,
    /// and long help pages through `pager` at a terminal. Away from a terminal (a file, a
    /// pipe, a test) lines are not wrapped unless `$COLUMNS` says a width.
    public var width = Session.unlimitedWidth
    public static let unlimitedWidth = 1_000_000
    public var rows = 24
    /// Shows long text a screen at a time; false when it could not (the REPL sets it).
    public var pager: ((String) -> Bool)?
    /// A status line redrawn in place at a terminal (progress within an epoch); "" clears
    /// it. Nil away from a terminal, where long work prints a line now and then instead.
    public var status: ((String) -> Void)?
    /// Seconds between two progress reports within an epoch: at a terminal, in a log.
    package var progressEvery = (terminal: 0.5, log: 30.0)
    /// True when output goes to a colour terminal (and NO_COLOR is not set).
    public var colors = false
    /// Set by `:quit`.
    public package(set) var wantsToQuit = false

    /// A command waiting for the user's next line (`:step`, `:exercise`): it gets
    /// each line until it returns false. Scripts feed it their next lines too.
    package struct PendingInteraction {
        package var prompt: String
        var respond: (String) -> Bool
        package init(prompt: String, respond: @escaping (String) -> Bool) {
            self.prompt = prompt
            self.respond = respond
        }
    }
    package var pending: PendingInteraction?

    /// The prompt of a command waiting for an answer, if one is.
    public var pendingPrompt: String? { pending?.prompt }

    /// Gives the waiting command the user's line.
    public func answer(_ line: String) {
        guard let p = pending else { return }
        // What the answer prints belongs to the statement that asked (`:export`).
        logDepth += 1
        defer { logDepth -= 1 }
        if !withLimits({ p.respond(line) }) { pending = nil }
    }

    /// Runs `body` with this session's limits bound (task-local values that the tensor
    /// builders and the parser read).
    public func withLimits<T>(_ body: () -> T) -> T {
        // Binding a task-local allocates; a statement under the limits already bound (a
        // session at its defaults, or inside its own statement) runs as it is.
        if TensorLimits.maxElements == maxElements, Parser.maxNesting == maxNesting, Parser.maxHeight == maxHeight {
            return body()
        }
        return TensorLimits.withMaxElements(maxElements) {
            Parser.withLimits(nesting: maxNesting, height: maxHeight, body)
        }
    }

    /// Ends a waiting command (Ctrl-C).
    public func cancelPending() {
        if pending != nil { say("(left)") }
        pending = nil
    }

    public init(output: SessionOutput = .standard, seed: UInt64? = nil) {
        self.output = output
        random = RandomSource(seed: seed ?? Terminal.entropy())
        // Room for an exercise's worth of names and nodes: growing from empty rehashed both
        // tables several times in a short script's first statements.
        definitions.reserveCapacity(64)
        origins.reserveCapacity(256)
        graph.reserveCapacity(256)
        log.reserveCapacity(64)
    }

    // MARK: - Output

    package func say(_ text: String) {
        status?("")
        guard !quiet else { return }
        output.out(SafeText.escaped(text, allowColor: colors))
        keepInLog(text)
    }

    /// What a statement printed, for `:export` (its first 400 lines; the last 2,000 statements).
    package func keepInLog(_ text: String, failed: Bool = false) {
        guard logDepth > 0, !log.isEmpty else { return }
        if log[log.count - 1].output.count < 400 { log[log.count - 1].output.append(text) }
        if failed { log[log.count - 1].failed = true }
    }

    /// Long text (`:help`): each line wrapped to the terminal's width, and at a terminal,
    /// when it is taller than the screen, shown through the pager (`$PAGER`, else `less -FRX`).
    package func sayLong(_ text: String) {
        let wrapped = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { Session.wrap(String($0), width: width) }.joined(separator: "\n")
        let lines = wrapped.split(separator: "\n", omittingEmptySubsequences: false).count
        if interactive, !quiet, lines > rows - 2, let pager, pager(SafeText.escaped(wrapped, allowColor: colors)) { return }
        say(wrapped)
    }

    public func report(_ diagnostic: Diagnostic, in source: SourceText? = nil) {
        var text = diagnostic.rendered(in: source ?? currentSource)
        status?("")
        if logDepth == 0, !quiet, let source {
            // A line that did not parse never ran: it is a statement of the log of its own.
            if log.count >= 2000 { log.removeFirst(log.count - 1999) }
            log.append(LogEntry(input: source.text))
            logDepth += 1
            keepInLog(text, failed: diagnostic.severity.rawValue == "error")
            logDepth -= 1
        } else {
            keepInLog(text, failed: diagnostic.severity.rawValue == "error")
        }
        if colors {
            let word = "\(diagnostic.severity.rawValue):"
            let painted = diagnostic.severity.rawValue == "error" ? style.bad(word) : style.close(word)
            if let r = text.range(of: word) { text.replaceSubrange(r, with: painted) }
            if let caret = text.range(of: "\n  ", options: .backwards) {
                let tail = String(text[caret.upperBound...])
                text = String(text[..<caret.upperBound]) + style.bad(tail)
            }
        }
        output.err(SafeText.escaped(text, allowColor: colors))
    }

    // MARK: - Definitions

    /// Defines each line (`name = expr` or `param name = expr`) in order, as a script would;
    /// false at the first line that is not a definition or fails (an exercise's sheet).
    package func defineAll(_ lines: [String]) -> Bool {
        withLimits {
            for (i, line) in lines.enumerated() {
                guard let statement = try? Parser.parseStatement(line, line: i + 1),
                      case let .definition(name, nameRange, isParam, expr) = statement else { return false }
                do throws(Diagnostic) { try define(name, nameRange: nameRange, isParam: isParam, expr) } catch { return false }
            }
            return true
        }
    }

    /// Defines (or redefines) `name`. Redefinition keeps the name's node, so
    /// everything that reads it is recomputed; if that fails, nothing changes.
    package func define(_ name: String, nameRange: SourceRange, isParam: Bool, _ expr: Expr) throws(Diagnostic) {
        if Builtins.byName[name] != nil || Builtins.isKeyword(name) {
            let what = Builtins.isKeyword(name) ? "a keyword" : "a built-in function"
            throw Diagnostic(.error, "'\(name)' is \(what); choose another name", at: nameRange)
        }
        // `_` reads `ans` unless `_` is defined.
        let reads = isParam ? [] : Set(expr.names.map { $0 == "_" && definitions["_"] == nil ? "ans" : $0 })
        try checkCycle(defining: name, reads: reads, nameRange: nameRange, expr: expr)

        var (root, created) = try compile(expr)
        if graph.count > maxNodes {
            let count = graph.count
            discard(created)
            throw tooManyNodes(count, at: expr.range)
        }
        if let refusal = heldRefusal(at: expr.range) {
            discard(created)
            throw refusal
        }
        if isParam {
            let value = graph.value(root)
            discard(created)
            root = graph.addLeaf(.param, value: value, label: name)
            created = [root]
            origins[root] = NodeOrigin(range: expr.range, source: currentSource)
        }

        try install(name, root: root, created: created, expr: expr, isParam: isParam, reads: reads, nameRange: nameRange)
        version += 1
        if !expr.isLiteral {
            let prefix = "\(name) = "
            say(prefix + style.value(Printer.value(graph.value(root), indent: prefix.count)))
        }
    }

    /// Makes `root` (built as `created`) the definition of `name`: a new name node, or the
    /// existing one rebound, so every user follows. On failure nothing changes.
    package func install(
        _ name: String, root: NodeID, created: [NodeID], expr: Expr, isParam: Bool, reads: Set<String>,
        nameRange: SourceRange, storesValue: Bool = false
    ) throws(Diagnostic) {
        if var existing = definitions[name] {
            do {
                try graph.rebind(existing.slot, to: root)
            } catch {
                discard(created)
                throw brokenDependent(name, error, at: expr.range)
            }
            discard(existing.nodes)
            existing.nodes = created
            existing.expr = expr
            existing.isParam = isParam
            existing.dependencies = reads
            existing.source = currentSource
            existing.storesValue = storesValue
            definitions[name] = existing
        } else {
            let slot: NodeID
            do {
                slot = try graph.add(.name(name), [root], label: name)
            } catch {
                discard(created)
                throw Diagnostic(.error, error.reason.message, at: expr.range)
            }
            origins[slot] = NodeOrigin(range: nameRange, source: currentSource)
            definitions[name] = Definition(
                name: name, slot: slot, nodes: created, expr: expr, isParam: isParam,
                dependencies: reads, source: currentSource, sequence: nextSequence, storesValue: storesValue)
            nextSequence += 1
        }
        // A param defined anew starts its optimizer afresh (momentum, Adam's moments).
        if isParam { slots[name] = nil }
        // Made by the command running now (:data, :mlp), or taken from its maker by the user.
        if makingDepth > 0 { noteMade([name]) } else { forgetMade(name) }
    }

    /// Refuses a definition that would read itself, directly or through other names.
    func checkCycle(defining name: String, reads: Set<String>, nameRange: SourceRange, expr: Expr) throws(Diagnostic) {
        if reads.contains(name) {
            throw Diagnostic(
                .error,
                "'\(name)' cannot be defined in terms of itself: definitions are live formulas, not assignments "
                    + "(use a new name, or a param and :update)",
                at: expr.range)
        }
        guard definitions[name] != nil else { return }  // nothing can read a new name yet
        for start in reads.sorted() {
            if let path = dependencyPath(from: start, to: name) {
                let cycle = ([name] + path).joined(separator: " → ")
                throw Diagnostic(.error, "this definition would make a cycle: \(cycle)", at: expr.range)
            }
        }
    }

    /// The chain of names from `start` to `target` through definitions' reads, if any.
    func dependencyPath(from start: String, to target: String) -> [String]? {
        var parent: [String: String] = [:]
        var queue = [start]
        var seen: Set<String> = [start]
        var head = 0
        while head < queue.count {
            let current = queue[head]
            head += 1
            if current == target {
                var path = [current]
                var node = current
                while let p = parent[node] {
                    path.append(p)
                    node = p
                }
                return path.reversed()
            }
            for next in definitions[current]?.dependencies.sorted() ?? [] where !seen.contains(next) {
                seen.insert(next)
                parent[next] = current
                queue.append(next)
            }
        }
        return nil
    }

    /// The error for a redefinition that breaks a definition reading it.
    func brokenDependent(_ name: String, _ error: GraphError, at range: SourceRange) -> Diagnostic {
        let owner = error.node.flatMap(owner(of:))
        let victim = owner.map { "'\($0.name) = \($0.expr.text)' (line \($0.source.firstLine))" } ?? "a definition that reads it"
        return Diagnostic(.error, "redefining '\(name)' this way breaks \(victim): \(error.reason.message)", at: range)
    }

    /// The definition a node belongs to.
    func owner(of node: NodeID) -> Definition? {
        definitions.values.first { $0.slot == node || $0.nodes.contains(node) }
    }

    /// Removes nodes built for an expression that is no longer used.
    package func discard(_ nodes: [NodeID]) {
        graph.remove(nodes)
        for id in nodes { origins[id] = nil }
    }

    /// The current value of an expression typed as text (for tests and tools).
    public func value(_ text: String) throws(Diagnostic) -> Tensor {
        try withLimits { Result { () throws(Diagnostic) -> Tensor in try evaluate(Parser.parseExpression(text)) } }.get()
    }

    /// Evaluates an expression without defining anything.
    package func evaluate(_ expr: Expr) throws(Diagnostic) -> Tensor {
        let (root, created) = try compile(expr)
        if let refusal = heldRefusal(at: expr.range) {
            discard(created)
            throw refusal
        }
        let value = graph.value(root)
        reportNonFinite()
        discard(created)
        return value
    }

    // MARK: - Warnings

    /// Warns about each node that produced NaN or infinity from finite inputs, with a caret under it.
    package func reportNonFinite() {
        for id in graph.takeNonFiniteOrigins() {
            let node = graph[id]
            let what = node.value.scalars.contains { $0.isNaN } ? "NaN" : "infinite"
            let why = nonFiniteReason(node)
            let origin = origins[id]
            let d = Diagnostic(.warning, "\(node.label) is \(what)\(why.map { " (\($0))" } ?? "")", at: origin?.range)
            report(d, in: origin?.source)
        }
    }

    func nonFiniteReason(_ node: Node) -> String? {
        let inputs = node.inputs.map { graph.value($0).scalars }
        switch node.op {
        case .log, .log10, .log2:
            if inputs[0].contains(where: { $0 < 0 }) { return "log of a negative number" }
            if inputs[0].contains(0) { return "log of 0" }
        case .div:
            if inputs[1].contains(0) { return "division by zero" }
        case .sqrt:
            if inputs[0].contains(where: { $0 < 0 }) { return "square root of a negative number" }
        case .exp:
            return "overflow: exp of a large number"
        case .bce:
            return "log of 0 or of a negative number inside bce: p must be strictly between 0 and 1"
        default:
            break
        }
        return nil
    }

    // MARK: - Lookup

    /// The node a name refers to, or an error with a did-you-mean.
    package func lookup(_ name: String, at range: SourceRange) throws(Diagnostic) -> NodeID {
        if let d = definitions[name] ?? (name == "_" ? definitions["ans"] : nil) { return d.slot }
        if Builtins.byName[name] != nil {
            throw Diagnostic(.error, "'\(name)' is a function: call it, as in \(name)(x)", at: range)
        }
        let candidates = Array(definitions.keys)
        let shown = SafeText.clipped(Substring(name))
        var message = "unknown name '\(shown)'"
        if let near = Suggest.nearest(name, among: candidates) {
            message += " (did you mean '\(near)'?)"
        } else if definitions.isEmpty {
            message += " (nothing is defined yet: define it first, as in \(shown) = 2)"
        }
        throw Diagnostic(.error, message, at: range)
    }

    /// Names of params, in the order they were defined.
    package var paramNames: [String] {
        definitions.values.filter(\.isParam).sorted { $0.sequence < $1.sequence }.map(\.name)
    }

    /// The param leaf behind a param's name.
    package func paramLeaf(_ name: String) -> NodeID? {
        guard let d = definitions[name], d.isParam else { return nil }
        return d.nodes.first
    }
}

/// One checked claim of a script: where, what, and why it failed (nil when it passed).
public struct CheckOutcome: Sendable, Equatable {
    public var line: Int
    public var name: String
    public var problem: String?
}

/// One statement of the session as `:export` shows it: what was typed and what it printed.
package struct LogEntry: Sendable {
    package var input: String
    package var output: [String] = []
    package var failed = false
    package init(input: String) { self.input = input }
}
