import NablaRuntime
import NablaTeaching
import NablaTraining
import NablaSelfCheck
import NablaGraph
import NablaSyntax
import NablaTensor

/// The commands: a closed set, so dispatch is an exhaustive switch.
enum CommandKind: String, CaseIterable, Sendable {
    case help, vars, forward, backward, grad, step, jacobian, shapes, explain, check, verify, expect, update
    case graph, dot, exercise, data, mlp, cnn, reject, vote, train, opt, predict, perceptron, stats, mode, use, show, descend, schedule, load, save, seed, reset, del, limits, plot, export, quit
}

/// One row of the command table: what `:help` says about a command.
struct Command: Sendable {
    var kind: CommandKind
    var usage: String
    var summary: String
    var example: String
    var name: String { kind.rawValue }

    /// The `key=value` arguments the command accepts, declared once (`CommandKeys`).
    var keys: [Key] {
        switch kind {
        case .train: return CommandKeys.train
        case .update: return CommandKeys.update
        case .descend: return CommandKeys.descend
        case .perceptron: return CommandKeys.perceptron
        case .schedule: return CommandKeys.schedule
        case .data: return CommandKeys.data
        case .mlp: return CommandKeys.mlp
        case .cnn: return CommandKeys.cnn
        case .reject: return CommandKeys.reject
        case .vote: return CommandKeys.vote
        case .limits: return CommandKeys.limits
        case .help, .vars, .forward, .backward, .grad, .step, .jacobian, .shapes, .explain, .check, .verify, .expect,
             .graph, .dot, .exercise, .opt, .predict, .stats, .mode, .use, .show, .load, .save, .seed, .reset, .del, .plot, .export, .quit:
            return []
        }
    }

    /// What `:help NAME` adds to the one-line summary.
    var details: String {
        switch kind {
        case .forward: return "Lists every node L depends on, each after its inputs: its text, op, shape and value.\nNames of definitions are folded in: `p = sigmoid(y*z)` is one row."
        case .step: return "Backprop from L one node at a time: at each node the upstream gradient ∂L/∂node, the local\nderivative of the node with respect to each input (its Jacobian, or only the diagonal for an\nelementwise op), the VJP, and what the input accumulates (+= when a node feeds several others).\nAt a prompt: Enter shows the next node, `a` the rest, `q` leaves and keeps the gradients so far.\nIn a script, or with `:step all L`, every step is printed at once."
        case .explain: return "∂L/∂w as the chain rule writes it: one product of local derivatives per path from L to w,\nsummed over the paths. Four lines: the symbols, the formulas, the numbers, the result.\nFor tensors the Jacobians' shapes stand in for numbers that would not fit. w may be any node:\n:explain L y*z. A negation is merged into the next factor (∂L/∂p = -1/p for L = -log(p))."
        case .shapes: return "The m x n shape of every local Jacobian along each path from L to w, and their product:\n∂L/∂W = (1x1)(1x3)(3x3)(3x12) = 1x12. Diagonal Jacobians (elementwise ops) are marked; the last\nline shows the gradient shapes backprop carries instead of building any of these matrices."
        case .verify: return "Judges a value you computed by hand: `:verify dL/dw1 = -1.48`, `:verify ∂L/∂W = [[..], [..]]`,\nor a forward value, `:verify p = 0.27`. ✓ correct when it is the exact value rounded or truncated\nto the digits you typed (at least 3 significant digits); ≈ close when it is within 5% (the note\nsays why: too few digits, or rounded intermediate values); ✗ wrong beyond 5%, with the exact value\nand the :explain derivation. A list [dL/dw1, dL/db1] = [8, 8] judges each. Verify the gradients along the chain (dL/dp, dL/dz, ...) and nabla names\nthe first wrong link."
        case .graph: return "The graph below L as a tree: each node's text, value and, after a :backward, its gradient.\nA node used twice is drawn once and then named. Graphs over 40 nodes are summarised (node\ncount by op) and drawn 3 levels deep. With no L: the last :backward's, else the newest definition."
        case .dot: return "Graphviz DOT of the graph below L: values, gradients, params in yellow, L in blue.\nWithout a file the DOT text is printed; `file.dot` writes it; `file.png`, `.svg` or `.pdf` draws it\nwith Graphviz's dot (apt-get install graphviz)."
        case .exercise: return "A small graph with friendly numbers, printed as definitions; you compute a forward value and the\ngradients along its chain by hand and type them one by one (Enter skips, q leaves); each answer is judged as\n:verify does, then the solution is derived. Kinds: neuron (logistic loss), chain (a ReLU unit with\nsquared error), vector (a 2x2 layer). `:exercise chain 12` gives exercise 12 again. Your own\ndefinitions are not touched."
        case .check: return "For every param, each element is moved by ±h, h = 1e-5·max(1, |x|), and the central difference\nis compared with backprop. A relative error under 1e-5 passes. Large params are sampled (1,000\nelements). Ctrl-C stops a long check."
        case .update: return "w ← w - lr·∂L/∂w for every param, from the last :backward; everything downstream follows."
        case .cnn: return "Layers joined by '-': convFxK (F feature maps of KxK; s2 a stride, p2 a padding: conv20x5p2),\npool2 (max; avgpool2, l2pool2), then dense layers, the last one the outputs (logits).\nThe course's network: :cnn net conv20x5-pool2-conv40x5-pool2-100-10 (act=relu by default).\nLoad the images with :data mnist hold=64 so that the definitions stay quick."
        default: return ""
        }
    }
}

extension Session {
    /// Every command, in the order `:help` lists them.
    static let commands: [Command] = [
        Command(kind: .help, usage: ":help [topic]", summary: "every command and function, or one in full", example: ":help grad"),
        Command(kind: .vars, usage: ":vars", summary: "names, kinds, shapes and values", example: ":vars"),
        Command(kind: .forward, usage: ":forward L", summary: "the forward pass node by node, in topological order", example: ":forward L"),
        Command(kind: .backward, usage: ":backward L", summary: "backprop from the scalar L (every path summed)", example: ":backward L"),
        Command(kind: .grad, usage: ":grad [w ...]", summary: "∂L/∂w and its shape (no name: every param)", example: ":grad w1"),
        Command(kind: .step, usage: ":step L | :step all L", summary: "backprop one node per Enter: upstream, local Jacobian, VJP, accumulation", example: ":step L"),
        Command(kind: .jacobian, usage: ":jacobian y x", summary: "the m x n Jacobian ∂y/∂x", example: ":jacobian h x"),
        Command(kind: .shapes, usage: ":shapes L w", summary: "the chain of Jacobian shapes, e.g. (1x1)(1x3)(3x3)(3x12) = 1x12", example: ":shapes L W"),
        Command(kind: .explain, usage: ":explain L w", summary: "∂L/∂w as a sum over paths of products of local derivatives", example: ":explain L w1"),
        Command(kind: .check, usage: ":check [L]", summary: "gradients against central differences", example: ":check L"),
        Command(kind: .verify, usage: ":verify dL/dw = value", summary: "judge a hand-computed gradient or value: ✓ correct, ≈ close, ✗ wrong", example: ":verify dL/dw1 = -1.48"),
        Command(kind: .expect, usage: ":expect expr == value [tol t]", summary: "assert |a - b| <= t·max(1, |b|); t = 1e-6", example: ":expect ∂L/∂w1 == -1.46212 tol 1e-5"),
        Command(kind: .update, usage: Session.updateUsage, summary: "one optimizer step on every param (SGD: w -= lr · ∂L/∂w)", example: ":update lr=0.25"),
        Command(kind: .graph, usage: ":graph [L]", summary: "the graph drawn in the terminal, values and gradients on it", example: ":graph L"),
        Command(kind: .dot, usage: ":dot L [file]", summary: "the graph as Graphviz DOT (file.png/.svg/.pdf renders it with dot)", example: ":dot L neuron.png"),
        Command(kind: .exercise, usage: ":exercise [neuron|chain|vector] [n]", summary: "an exam-style exercise: compute by hand, get judged, see the solution", example: ":exercise neuron"),
        Command(kind: .data, usage: Session.dataUsage, summary: "load a data set: defines X, Y (and X_val, Y_val, X_test, Y_test)", example: ":data moons 200 noise=0.2"),
        Command(kind: .mlp, usage: Session.mlpUsage, summary: "an MLP: params NAME_W1, NAME_b1, ... and layers NAME_h1, ..., NAME", example: ":mlp net 2-8-1 act=tanh"),
        Command(kind: .cnn, usage: Session.cnnUsage, summary: "a convolutional net in one line: kernels NAME_K1, biases NAME_c1, dense NAME_W3, ... and layers NAME_h1, ..., NAME (logits)", example: ":cnn net conv20x5-pool2-conv40x5-pool2-100-10"),
        Command(kind: .train, usage: Session.trainUsage, summary: "mini-batch training with a progress bar, loss and accuracy curves, decision regions", example: ":train L epochs=200 opt=adam lr=0.01"),
        Command(kind: .opt, usage: ":opt", summary: "the optimizer's formula and its state per param (m, s, m̂, ŝ)", example: ":opt"),
        Command(kind: .predict, usage: ":predict P input", summary: "the output for new inputs (X replaced by the input)", example: ":predict net [0.5, -0.2]"),
        Command(kind: .perceptron, usage: Session.perceptronUsage, summary: "Rosenblatt's learning rule on X, Y: params w, b", example: ":perceptron epochs=10"),
        Command(kind: .stats, usage: ":stats L [names...]", summary: "mean and std of activations and gradients per layer", example: ":stats L"),
        Command(kind: .mode, usage: ":mode train|eval", summary: "dropout on (a fresh mask) or off", example: ":mode eval"),
        Command(kind: .use, usage: ":use train|val|test", summary: "X and Y hold that split of the data (to measure a trained net on it)", example: ":use test"),
        Command(kind: .reject, usage: Session.rejectUsage, summary: "LeNet-1's rejection: withhold an answer when the two largest class probabilities are closer than a margin; the share rejected and the error on the rest", example: ":reject net margin=0.3"),
        Command(kind: .vote, usage: Session.voteUsage, summary: "a committee of nets votes on each image (the slide's 5 convnets); each member's accuracy, the committee's and its mistakes", example: ":vote net1 net2 net3"),
        Command(kind: .show, usage: ":show N [net] [test] | :show wrong net [test] | :show kernels K | :show maps H N [test]", summary: "draw an image of the data (MNIST) with its label and the net's prediction; list the mistakes; draw a convnet's kernels and an image's feature maps", example: ":show 17 net"),
        Command(kind: .descend, usage: Session.descendUsage, summary: "run an optimizer on a function of the params; with 2 numbers, draw the path", example: ":descend J steps=40 opt=momentum lr=0.05"),
        Command(kind: .schedule, usage: Session.scheduleUsage, summary: "a learning-rate schedule's rates, printed and drawn", example: ":schedule 1cycle:1 lr=0.1"),
        Command(kind: .plot, usage: Session.plotUsage, summary: "a picture to keep, as SVG: the loss or accuracy curves, the decision regions, the graph (PNG/PDF too, by Graphviz), digits, a net's mistakes, kernels", example: ":plot regions moons.svg"),
        Command(kind: .export, usage: ":export file.html", summary: "the session as one self-contained web page: each statement and what it printed, the graph, the params and gradients, the training curves and regions", example: ":export session.html"),
        Command(kind: .load, usage: ":load file.nabla|file.npz|file.safetensors", summary: "run a script in this session, or set the params from a weights file", example: ":load neuron.nabla"),
        Command(kind: .save, usage: ":save file.nabla|file.npz|file.safetensors", summary: "the session as a script that :load turns back into it (the commands that made data and nets, the definitions, the params); .npz and .safetensors: the params only", example: ":save mynet.nabla"),
        Command(kind: .seed, usage: ":seed n", summary: "seed the random builders, like `seed n`", example: ":seed 42"),
        Command(kind: .reset, usage: ":reset", summary: "forget every definition", example: ":reset"),
        Command(kind: .del, usage: ":del name ...", summary: "forget one definition (refused while another reads it)", example: ":del h2"),
        Command(kind: .limits, usage: Session.limitsUsage, summary: "the limits that refuse runaway input (elements, nodes, nesting, height, script), shown or changed", example: ":limits elements=200000000"),
        Command(kind: .quit, usage: ":quit", summary: "leave nabla (Ctrl-D does the same)", example: ":quit"),
    ]

    /// Each command by name, and the habits of other REPLs: `:q` and `:exit` leave.
    static let commandsByName: [String: Command] = Dictionary(commands.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        .merging(["q": quitCommand, "exit": quitCommand].compactMapValues { $0 }, uniquingKeysWith: { a, _ in a })
    static var quitCommand: Command? { commands.first { $0.kind == .quit } }

    package func runCommand(_ name: String, nameRange: SourceRange, arguments: String, at start: SourceLocation) throws(Diagnostic) {
        let args = CommandArguments(name: name, nameRange: nameRange, text: arguments, start: start)
        guard let command = Session.commandsByName[name] else {
            var message = "unknown command ':\(name)'"
            if let near = Suggest.nearest(name, among: Session.commands.map(\.name)) {
                message += " (did you mean ':\(near)'?)"
            } else {
                message += " (:help lists the commands)"
            }
            throw Diagnostic(.error, message, at: nameRange)
        }
        switch command.kind {
        case .help: try help(args)
        case .vars: vars(args)
        case .forward: try forwardCommand(args)
        case .backward: try backwardCommand(args)
        case .grad: try gradCommand(args)
        case .step: try stepCommand(args)
        case .jacobian: try jacobianCommand(args)
        case .shapes: try shapesCommand(args)
        case .explain: try explainCommand(args)
        case .check: try checkCommand(args)
        case .verify: try verifyCommand(args)
        case .graph: try graphCommand(args)
        case .dot: try dotCommand(args)
        case .exercise: try exerciseCommand(args)
        case .expect: try expectCommand(args)
        case .update: try optimizerStep(args)
        case .data: try making(":data \(arguments)") { () throws(Diagnostic) in try dataCommand(args) }
        case .mlp: try making(":mlp \(arguments)") { () throws(Diagnostic) in try mlpCommand(args) }
        case .cnn: try making(":cnn \(arguments)") { () throws(Diagnostic) in try cnnCommand(args) }
        case .reject: try rejectCommand(args)
        case .vote: try voteCommand(args)
        case .train: try trainCommand(args)
        case .opt: try optCommand(args)
        case .predict: try predictCommand(args)
        case .perceptron: try making(":perceptron \(arguments)") { () throws(Diagnostic) in try perceptronCommand(args) }
        case .stats: try statsCommand(args)
        case .mode: try modeCommand(args)
        case .use: try useCommand(args)
        case .limits: try limitsCommand(args)
        case .show: try showCommand(args)
        case .descend: try descendCommand(args)
        case .schedule: try scheduleCommand(args)
        case .load: try loadCommand(args)
        case .save: try saveCommand(args)
        case .seed: try seedCommand(args)
        case .reset: resetCommand(args)
        case .del: try deleteCommand(args)
        case .plot: try plotCommand(args)
        case .export: try exportCommand(args)
        case .quit: wantsToQuit = true
        }
    }

    // MARK: - :vars

    func vars(_ args: CommandArguments) {
        let defs = definitions.values.sorted { $0.sequence < $1.sequence }
        guard !defs.isEmpty else {
            say("nothing is defined yet (try: x = 2)")
            return
        }
        var rows: [[String]] = [["name", "kind", "shape", "value"]]
        for d in defs {
            let value = graph.value(d.slot)
            let kind = d.isParam ? "param" : (d.dependencies.isEmpty ? "input" : "def")
            var shown = value.rank <= 1 ? Printer.value(value) : (value.rank == 2 ? "(matrix)" : "(rank-\(value.rank) tensor)")
            if kind == "def" { shown += "   = \(d.expr.text)" }
            rows.append([d.name, kind, Shape.describe(value.shape), shown])
        }
        say(Session.table(rows))
    }

    // MARK: - :seed, :reset

    /// `:seed 42`; `:seed N spare=X` (as `:save` writes it) puts the generator exactly where
    /// it was, with the normal it kept for its next draw.
    func seedCommand(_ args: CommandArguments) throws(Diagnostic) {
        let words = args.words
        guard let first = words.first, let n = UInt64(first.0), words.count <= 2 else { throw args.missing("a whole number ≥ 0", usage: ":seed 42") }
        guard words.count == 2 else {
            random = RandomSource(seed: n)
            return
        }
        guard words[1].0.hasPrefix("spare="), let spare = Double(words[1].0.dropFirst(6)), spare.isFinite else {
            throw Diagnostic(.error, "after the seed, only spare=X (a normal draw kept for the next call, as :save writes it)", at: words[1].1)
        }
        random = RandomSource(state: n, spareNormal: spare)
    }

    func resetCommand(_ args: CommandArguments) {
        let total = graph.maxHeldElements
        graph = Graph()
        graph.maxHeldElements = total
        definitions = [:]
        origins = [:]
        lastBackward = nil
        verifyLog = []
        dropoutTraining = false
        data = nil
        layerNames = [:]
        optimizer = nil
        slots = [:]
        history = nil
        pending = nil
        nextSequence = 0
        makers = []
        version += 1
        say("every definition is forgotten")
    }
}

extension Session {
    // MARK: - ans and :del

    /// The last value printed for an expression on a line of its own is `ans` (`_` reads it too,
    /// unless `_` is defined): `ans * 2` goes on from it, as in the Julia REPL and IPython.
    /// It never fails the statement: when the new value cannot replace it (a definition that
    /// reads `ans` would break, or it does not fit the memory limit), `ans` keeps its value.
    func keepAnswer(_ value: Tensor, at range: SourceRange) {
        guard value.isFinite, definitions["ans"].map({ $0.storesValue && !$0.isParam }) ?? true else { return }
        _ = try? defineValue("ans", value, isParam: false, text: "ans", at: range)
    }

    /// `:del a b`: forgets definitions that nothing else reads; a name still read is refused
    /// with its readers named, and nothing is deleted.
    func deleteCommand(_ args: CommandArguments) throws(Diagnostic) {
        let names = args.words
        guard !names.isEmpty else { throw args.missing("the names to forget", usage: ":del name ...") }
        for (name, range) in names {
            guard definitions[name] != nil else { throw unknownName(name, at: range) }
            let readers = definitions.values.filter { $0.dependencies.contains(name) && !names.map(\.0).contains($0.name) }
            if !readers.isEmpty {
                let list = readers.map(\.name).sorted().joined(separator: ", ")
                throw Diagnostic(.error, "\(list) \(readers.count == 1 ? "reads" : "read") \(name): :del \(readers.count == 1 ? "it" : "them") first, or redefine \(name)", at: range)
            }
        }
        for (name, _) in names {
            guard let d = definitions.removeValue(forKey: name) else { continue }
            forgetMade(name)
            discard(d.nodes + [d.slot])
            slots[name] = nil
            for (net, layers) in layerNames where net == name || layers.contains(name) { layerNames[net] = nil }
        }
        lastBackward = nil
        version += 1
        say("forgot \(names.map(\.0).joined(separator: ", "))")
    }

    /// The error for a name that is not defined, with its did-you-mean.
    func unknownName(_ name: String, at range: SourceRange) -> Diagnostic {
        do { _ = try lookup(name, at: range) } catch { return error }
        return Diagnostic(.error, "unknown name '\(name)'", at: range)
    }

    // MARK: - Running statements

    /// Runs one statement; errors are reported, never thrown. Returns false on an error.
    @discardableResult
    public func run(_ statement: Statement, source: SourceText) -> Bool {
        if logDepth == 0, !quiet, statement != .empty {
            if log.count >= 2000 { log.removeFirst(log.count - 1999) }
            log.append(LogEntry(input: source.text))
        }
        logDepth += 1
        defer { logDepth -= 1 }
        return withLimits { runWithLimits(statement, source: source) }
    }

    private func runWithLimits(_ statement: Statement, source: SourceText) -> Bool {
        let saved = currentSource
        currentSource = source
        defer { currentSource = saved }
        do {
            try execute(habit(statement) ?? statement)
            reportNonFinite()
            return true
        } catch {
            report(error)
            return false
        }
    }

    /// What users of IPython and the Julia REPL type, when it names nothing defined: `help`,
    /// `exit`, `quit` on a line of their own are `:help` and `:quit`.
    func habit(_ statement: Statement) -> Statement? {
        guard case let .expression(expr) = statement, case let .name(word) = expr.kind, definitions[word] == nil else { return nil }
        switch word {
        case "help": return .command(name: "help", nameRange: expr.range, arguments: "", argumentsStart: expr.range.end)
        case "exit", "quit": return .command(name: "quit", nameRange: expr.range, arguments: "", argumentsStart: expr.range.end)
        default: return nil
        }
    }

    package func execute(_ statement: Statement) throws(Diagnostic) {
        switch statement {
        case .empty:
            return
        case let .definition(name, nameRange, isParam, expr):
            try define(name, nameRange: nameRange, isParam: isParam, expr)
        case let .expression(expr):
            if case let .call(name, args, nameRange) = expr.kind, let kind = Session.dataFunctions[name] {
                try loadData(kind, args, nameRange: nameRange, whole: expr.range)
                return
            }
            let value = try evaluate(expr)
            say(style.value(Printer.value(value)))
            keepAnswer(value, at: expr.range)
        case let .seed(n, _):
            random = RandomSource(seed: n)
        case let .command(name, nameRange, arguments, argumentsStart):
            try runCommand(name, nameRange: nameRange, arguments: arguments, at: argumentsStart)
        }
    }
}
