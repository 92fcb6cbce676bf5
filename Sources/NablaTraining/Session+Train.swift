import NablaRuntime
import NablaTeaching
import Foundation
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

extension Session {
    package static let trainUsage = CommandKeys.usage(":train L", CommandKeys.train)
    package static let updateUsage = CommandKeys.usage(":update", CommandKeys.update)

    // MARK: - Optimizer settings shared by :train and :update

    /// The optimizer a command asks for (`opt=`, `lr=`, `beta=`, `beta2=`, `eps=`, `eps_form=`,
    /// `decay=`, `decay_form=`).
    /// The optimizer keys (`CommandKeys.optimizer`) of a command, read into settings; `kind`
    /// and `lr` override the declared defaults (`:update` continues the last optimizer).
    func optimizerSettings(_ s: Settings, kind defaultKind: OptimizerKind? = nil, lr defaultLR: Double? = nil) throws(Diagnostic) -> OptimizerSettings {
        let kind = try s.choice("opt", default: defaultKind?.rawValue).flatMap(OptimizerKind.init(rawValue:)) ?? .sgd
        let lr = try s.number("lr", default: defaultLR)
        let beta = s.values["beta"] == nil ? nil : try s.number("beta")
        let beta2 = s.values["beta2"] == nil ? nil : try s.number("beta2")
        let eps = try s.number("eps")
        let decay = try s.number("decay")
        let epsForm = try s.choice("eps_form").flatMap(EpsilonForm.init(rawValue:)) ?? .outside
        let decayForm = try s.choice("decay_form").flatMap(DecayForm.init(rawValue:)) ?? .l2
        if decayForm == .shrink, decay >= 1, let (_, range) = s.values["decay"] {
            throw Diagnostic(.error, "decay_form=shrink multiplies θ by 1 − ζ: ζ (decay=) must be below 1, like 0.001", at: range)
        }
        var settings = OptimizerSettings(
            kind: kind, lr: lr, beta1: beta, beta2: beta2, epsilon: eps, epsilonForm: epsForm, decay: decay, decayForm: decayForm)
        if kind == .rmsprop, let beta, beta2 == nil { settings.beta2 = beta }
        return settings
    }

    /// Starts fresh optimizer state when the optimizer changes.
    func adopt(_ settings: OptimizerSettings) {
        if optimizer?.kind != settings.kind || optimizer?.beta1 != settings.beta1 || optimizer?.beta2 != settings.beta2 {
            slots = [:]
        }
        optimizer = settings
    }

    /// The params with their leaves, in definition order.
    func paramLeaves() -> [(String, NodeID)] {
        paramNames.compactMap { name in paramLeaf(name).map { (name, $0) } }
    }

    // MARK: - The loss and its prediction

    /// The loss op under `root` and how its first input reads as a class.
    func predictionNode(under root: NodeID) -> (NodeID, PredictionKind)? {
        let leaves = paramLeaves().map(\.1)
        for id in graph.topologicalOrder(from: root).reversed() {
            var node = graph[id]
            // mse(Y, pred) is allowed: the prediction is the input that depends on a param.
            if node.inputs.count == 2, [Op.mse, .bce].contains(node.op),
               !leaves.contains(where: { graph.depends(node.inputs[0], on: $0) }),
               leaves.contains(where: { graph.depends(node.inputs[1], on: $0) }) {
                node.inputs.swapAt(0, 1)
            }
            switch node.op {
            case .bce: return (node.inputs[0], .probability)
            case .crossEntropy: return (node.inputs[0], .argmax)
            case .logisticLoss, .hinge: return (node.inputs[0], .sign)
            case .mse where data?.train.classes == 2:
                // 0/1 targets: a probability; -1/+1 targets (pm1): a sign.
                let signs = data?.train.y.scalars.contains { $0 < 0 } ?? false
                return (node.inputs[0], signs ? .sign : .probability)
            default: continue
            }
        }
        return nil
    }

    /// The classes a prediction stands for, one per row.
    static func classes(_ p: Tensor, _ kind: PredictionKind) -> [Int] {
        switch kind {
        case .probability: return p.scalars.map { $0 > 0.5 ? 1 : 0 }
        case .sign: return p.scalars.map { $0 > 0 ? 1 : -1 }
        case .argmax:
            let k = Swift.max(p.cols, 1)
            return stride(from: 0, to: p.count, by: k).map { start in
                var best = start
                for j in start..<start + k where p.scalars[j] > p.scalars[best] { best = j }
                return best - start
            }
        }
    }

    /// How many rows of a float32 batch's prediction match their labels (the rows `rows` of `truth`).
    static func right(_ values: [Float], shape: [Int], _ kind: PredictionKind, truth: Tensor, rows: ArraySlice<Int>) -> Int {
        let k = kind == .argmax && shape.count == 2 ? shape[1] : 1
        guard k > 0, values.count == rows.count * k, truth.rank <= 1 || truth.cols == 1, truth.count > (rows.max() ?? 0) else { return 0 }
        var right = 0
        for (r, i) in rows.enumerated() {
            let predicted: Int
            switch kind {
            case .probability: predicted = values[r] > 0.5 ? 1 : 0
            case .sign: predicted = values[r] > 0 ? 1 : -1
            case .argmax:
                var best = 0
                for j in 1..<Swift.max(k, 1) where values[r * k + j] > values[r * k + best] { best = j }
                predicted = best
            }
            if predicted == label(truth.scalars[i], kind) { right += 1 }
        }
        return right
    }

    static func labels(_ y: Tensor, _ kind: PredictionKind) -> [Int] {
        y.scalars.map { label($0, kind) }
    }

    /// A target read as a class: 0/1 for a probability, −1/+1 for a sign, else the class index.
    static func label(_ v: Double, _ kind: PredictionKind) -> Int {
        switch kind {
        case .probability: return v > 0.5 ? 1 : 0
        case .sign: return v > 0 ? 1 : -1
        case .argmax: return Int(v)
        }
    }

    // MARK: - Feeding data

    /// The leaves behind X and Y, or an error saying what is missing.
    func dataLeaves(_ training: TrainingData, at range: SourceRange) throws(Diagnostic) -> (NodeID, NodeID) {
        guard let x = valueLeaf(training.xName), let y = valueLeaf(training.yName) else {
            throw Diagnostic(
                .error, "\(training.xName) and \(training.yName) must hold data: run :data again (they were redefined)", at: range)
        }
        return (x, y)
    }

    /// The split X and Y hold now when it is not the training split (after `:use val` or
    /// `:use test`), for `:save` to write its `:use` again.
    package func splitInUse() -> String? {
        guard let training = data, let x = valueLeaf(training.xName), let y = valueLeaf(training.yName) else { return nil }
        let (xs, ys) = (graph.value(x), graph.value(y))
        guard xs != training.heldTrain.x || ys != training.heldTrain.y else { return nil }
        for (name, part) in [("val", training.validation), ("test", training.test)] {
            guard let part else { continue }
            let h = held(part, numbers: heldSplitNumbers)
            if xs == h.x && ys == h.y { return name }
        }
        return nil
    }

    /// The dropout nodes' hidden seeds under `root`.
    func dropoutSeeds(under root: NodeID) -> [NodeID] {
        graph.topologicalOrder(from: root).compactMap { id in
            if case .dropout = graph[id].op { return graph[id].inputs[1] }
            return nil
        }
    }

    /// The loss (and accuracy and the predicted classes, when there are classes) on a whole
    /// data set, dropout off. A big set goes through the graph in windows (`chunks`):
    /// the loss is then the mean of the pieces' losses weighted by their rows (exact for a
    /// mean over samples, as every loss of the course is). The graph keeps the last piece.
    func evaluate(
        on set: Dataset, root: NodeID, leaves: (NodeID, NodeID), prediction: (NodeID, PredictionKind)?, seeds: [NodeID],
        only: [Bool]? = nil, extra: [(NodeID, Tensor)] = []
    ) throws(GraphError) -> (loss: Double, accuracy: Double?, predicted: [Int]) {
        var total = 0.0
        var predicted: [Int] = []
        var first = true
        for part in chunks(set) {
            try graph.setValues([(leaves.0, part.x), (leaves.1, part.y)] + seeds.map { ($0, Tensor(-1)) } + (first ? extra : []), only: only)
            first = false
            total += graph.value(root).scalar * Double(part.count)
            if let (p, kind) = prediction { predicted += Session.classes(graph.value(p), kind) }
        }
        let loss = total / Double(Swift.max(set.count, 1))
        guard let (_, kind) = prediction else { return (loss, nil, []) }
        let truth = Session.labels(set.y, kind)
        guard predicted.count == truth.count, !truth.isEmpty else { return (loss, nil, []) }
        let right = zip(predicted, truth).filter { $0 == $1 }.count
        return (loss, Double(right) / Double(truth.count), predicted)
    }

    /// A confusion matrix: rows the true class, columns the predicted one.
    static func confusion(predicted: [Int], truth: [Int], classes k: Int, title: String) -> String {
        var m = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (p, t) in zip(predicted, truth) where p >= 0 && p < k && t >= 0 && t < k { m[t][p] += 1 }
        var rows: [[String]] = [["true \\ predicted"] + (0..<k).map(String.init)]
        for t in 0..<k { rows.append(["  \(t)"] + m[t].map(String.init)) }
        var text = "confusion matrix (\(title)):\n" + Session.table(rows)
        if k == 2 { text += "\n" + binaryRates(tp: m[1][1], fp: m[0][1], fn: m[1][0]) }
        return text
    }

    /// Two classes, class 1 the positive one: precision, recall and F1, each as its fraction.
    static func binaryRates(tp: Int, fp: Int, fn: Int) -> String {
        func ratio(_ a: Int, _ b: Int) -> String { b == 0 ? "undefined (0/0)" : "\(a)/\(b) = \(Format.number(Double(a) / Double(b), digits: 4))" }
        let precision = tp + fp == 0 ? nil : Double(tp) / Double(tp + fp)
        let recall = tp + fn == 0 ? nil : Double(tp) / Double(tp + fn)
        var f1 = "undefined"
        if let p = precision, let r = recall, p + r > 0 { f1 = Format.number(2 * p * r / (p + r), digits: 4) }
        return "class 1 as positive: precision TP/(TP+FP) = \(ratio(tp, tp + fp)), recall TP/(TP+FN) = \(ratio(tp, tp + fn)), F1 = \(f1)"
    }

    /// A graph error as a sentence naming the node.
    func describe(_ error: GraphError) -> String {
        guard let node = error.node, graph.contains(node) else { return error.reason.message }
        return "\(graph[node].label): \(error.reason.message)"
    }

    /// Copies a batch's rows into the tape's X and Y buffers, as float32, in place (X from
    /// its bytes when it has them: k / 255 in float32 is the float64 k / 255 rounded, for
    /// every byte k, so the batch is the same).
    static func feed(_ tape: Tape32, _ leaves: (NodeID, NodeID), _ set: Dataset, _ rows: ArraySlice<Int>) {
        if let bytes = set.bytes, bytes.count == set.count * set.features {
            let w = set.features
            tape.fill(leaves.0, shape: [rows.count, w]) { dst in
                bytes.withUnsafeBufferPointer { src in
                    // The batcher only asks for rows of the set; a row outside it would be refused, X left unwritten.
                    _ = rows.withUnsafeBufferPointer { Batch.floats(fromBytes: src, width: w, rows: $0, divisor: 255, into: dst) }
                }
            }
        }
        for (leaf, t) in set.bytes == nil || set.bytes?.count != set.count * set.features ? [(leaves.0, set.x), (leaves.1, set.y)] : [(leaves.1, set.y)] {
            let w = t.rank == 2 ? t.shape[1] : 1
            tape.fill(leaf, shape: [rows.count] + Array(t.shape.dropFirst())) { dst in
                t.scalars.withUnsafeBufferPointer { src in
                    guard let base = src.baseAddress, var to = dst.baseAddress else { return }
                    for i in rows {
                        let from = base + i * w
                        for j in 0..<w { to[j] = Float(from[j]) }
                        to += w
                    }
                }
            }
        }
    }

    package static func percent(_ x: Double) -> String { Format.number(x * 100, digits: 4) + "%" }

    // MARK: - :opt

    package func optCommand(_ args: CommandArguments) throws(Diagnostic) {
        guard let settings = optimizer else {
            throw Diagnostic(.error, "no optimizer yet: :update opt=adam or :train L opt=adam sets one", at: args.nameRange)
        }
        var lines = ["\(settings.kind.rawValue), η = \(Format.number(settings.lr))" + (settings.decay > 0 ? ", weight decay λ = \(Format.number(settings.decay))" : ""),
                     "  " + settings.formula]
        for name in paramNames {
            guard let slot = slots[name] else { continue }
            var row = "  \(name): t = \(slot.t)"
            func show(_ label: String, _ v: [Double]) {
                guard !v.isEmpty else { return }
                let t = Tensor(shape: v.count == 1 ? [] : [v.count], scalars: v)
                row += "   \(label) = \(v.count <= 6 ? Printer.value(t) : "(\(v.count) numbers, |·| = \(Format.number(v.reduce(0) { $0 + $1 * $1 }.squareRoot())))")"
            }
            switch settings.kind {
            case .sgd: break
            case .momentum, .nesterov: show("m", slot.m)
            case .adagrad, .rmsprop: show("s", slot.s)
            case .adam:
                show("m", slot.m)
                show("s", slot.s)
                show("m̂", slot.mHat)
                show("ŝ", slot.sHat)
            }
            lines.append(row)
        }
        say(lines.joined(separator: "\n"))
    }

    /// `:update [lr=..] [opt=..]`: one optimizer step on every param, from the last backward.
    package func optimizerStep(_ args: CommandArguments) throws(Diagnostic) {
        let s = settings(args, CommandKeys.update, usage: Session.updateUsage)
        for (word, range) in s.positional {
            throw Diagnostic(.error, "expected key=value, like lr=0.1, not '\(word)' (usage: \(Session.updateUsage))", at: range)
        }
        try s.check()
        let settings = try optimizerSettings(s, kind: optimizer?.kind, lr: s.values["opt"] == nil ? optimizer?.lr : nil)
        let state = try currentGradients(for: args)
        if state.note != nil {
            throw Diagnostic(.error, "the gradients are partial (:step was left early): run :backward \(state.label) first", at: args.nameRange)
        }
        let params = paramLeaves()
        guard !params.isEmpty else {
            throw Diagnostic(.error, "no params to update: declare trainable values with param w = ...", at: args.nameRange)
        }
        adopt(settings)
        var grads = state.gradients
        if settings.needsLookahead {
            // Nesterov: the gradient at the look-ahead point θ + β m.
            let ahead = params.map { name, leaf in
                (leaf, Tensor(shape: graph.value(leaf).shape, scalars: settings.lookahead(graph.value(leaf).scalars, slots[name] ?? OptimizerSlot(count: graph.value(leaf).count))))
            }
            let saved = params.map { ($0.1, graph.value($0.1)) }
            do {
                try graph.setValues(ahead)
                grads = try graph.backward(from: state.root)
                try graph.setValues(saved)
            } catch {
                try? graph.setValues(saved)
                throw Diagnostic(.error, "\(error)", at: args.nameRange)
            }
        }
        var updates: [(NodeID, Tensor)] = []
        for (name, leaf) in params {
            let w = graph.value(leaf)
            guard let g = grads[leaf] else { continue }
            var slot = slots[name] ?? OptimizerSlot(count: w.count)
            if slot.m.count != w.count { slot = OptimizerSlot(count: w.count) }
            updates.append((leaf, Tensor(shape: w.shape, scalars: settings.step(w.scalars, gradient: g.scalars, slot: &slot))))
            slots[name] = slot
        }
        do {
            try graph.setValues(updates)
        } catch {
            throw Diagnostic(.error, error.reason.message, at: args.nameRange)
        }
        version += 1
        let shown = params.map { name, leaf -> String in
            let v = graph.value(leaf)
            return v.count <= 4 ? "\(name) = \(Printer.value(v))" : "\(name): \(Shape.describe(v.shape)) updated"
        }
        let loss = graph.value(state.root)
        let now = loss.isSingleElement ? "; \(state.label) is now \(Format.number(loss.scalar))" : ""
        let what = settings.kind == .sgd ? "SGD" : settings.kind.rawValue
        say(shown.joined(separator: "   ") + "   (one \(what) step\(now))")
    }

    // MARK: - :predict, :mode

    package func predictCommand(_ args: CommandArguments) throws(Diagnostic) {
        let usage = ":predict P [x1, x2]  or  :predict P [[..], [..]]"
        let text = args.text
        guard let space = text.firstIndex(of: " ") else { throw args.missing("what to compute and the input", usage: usage) }
        let name = String(text[..<space])
        let root = try resolve(name, at: args.range(args.start.column, args.start.column + name.count), within: nil)
        let inputText = String(text[text.index(after: space)...])
        let expr = try Parser.parseExpression(inputText, line: args.start.line, column: args.start.column + name.count + 1)
        var input = try evaluate(expr)
        let xName = data?.xName ?? "X"
        guard let leaf = valueLeaf(xName) else {
            throw Diagnostic(.error, "no input \(xName) to replace: :data defines X", at: args.nameRange)
        }
        let saved = graph.value(leaf)
        if input.rank == 1 && saved.rank == 2 { input = input.reshaped([1, input.count]) }
        guard input.rank == saved.rank, input.shape.last == saved.shape.last else {
            throw Diagnostic(
                .error, "the input has shape \(Shape.describe(input.shape)) but \(xName) has \(saved.shape.last ?? 1) features per row", at: expr.range)
        }
        let out: Tensor
        do { out = try value(of: root, withInput: input) } catch { throw Diagnostic(.error, error.reason.message, at: expr.range) }
        var line = "\(name) = \(Printer.value(out, indent: name.count + 3))"
        // Read as classes: several outputs per row by the largest, one probability by > 0.5.
        if data?.train.classes != nil, out.rank == 2 {
            let kind: PredictionKind? = out.cols > 1 ? .argmax : (out.scalars.allSatisfy { $0 >= 0 && $0 <= 1 } ? .probability : nil)
            if let kind {
                line += "   (class\(out.rows > 1 ? "es" : "") \(Session.classes(out, kind).map(String.init).joined(separator: ", ")))"
            }
        }
        say(line)
    }

    /// The value of `node` with X holding `input` (and Y zeros of as many rows, so a loss
    /// reading both stays well-formed), dropout off; X and Y are restored after.
    func value(of node: NodeID, withInput input: Tensor) throws(GraphError) -> Tensor {
        let xName = data?.xName ?? "X", yName = data?.yName ?? "Y"
        guard let xLeaf = valueLeaf(xName) else { return graph.value(node) }
        var saved = [(xLeaf, graph.value(xLeaf))]
        var updates = [(xLeaf, input)]
        if let yLeaf = valueLeaf(yName) {
            let y = graph.value(yLeaf)
            saved.append((yLeaf, y))
            if y.rank >= 1 { updates.append((yLeaf, Tensor.zeros([input.rows] + Array(y.shape.dropFirst())))) }
        }
        let seeds = dropoutSeeds(under: node)
        saved += seeds.map { ($0, graph.value($0)) }
        defer { try? graph.setValues(saved) }
        try graph.setValues(updates + seeds.map { ($0, Tensor(-1)) })
        return graph.value(node)
    }

    /// `:use test`: X and Y hold another split of the data (both at once, so shapes stay consistent).
    package func useCommand(_ args: CommandArguments) throws(Diagnostic) {
        guard let training = data else { throw Diagnostic(.error, "no data: :data loads some", at: args.nameRange) }
        let part: Dataset?
        switch args.text {
        case "train": part = training.train
        case "val", "validation": part = training.validation
        case "test": part = training.test
        default: throw args.missing("train, val or test", usage: ":use train|val|test")
        }
        guard let part else { throw Diagnostic(.error, "this data has no \(args.text) split (:data ... \(args.text == "test" ? "test" : "val")=0.2)", at: args.wholeRange) }
        let leaves = try dataLeaves(training, at: args.wholeRange)
        let held = args.text == "train" ? training.heldTrain : held(part, numbers: heldSplitNumbers)
        do {
            try graph.setValues([(leaves.0, held.x), (leaves.1, held.y)])
        } catch {
            try? graph.setValues([(leaves.0, training.heldTrain.x), (leaves.1, training.heldTrain.y)])
            throw Diagnostic(.error, error.reason.message, at: args.wholeRange)
        }
        version += 1
        say("X and Y now hold the \(args.text) split: \(held.count == part.count ? "" : "the first \(held.count) of ")\(part.count) samples (:train always trains on the training split)")
    }

    /// Every dropout's mask seed in the graph: a fresh one each (training) or -1 (evaluation);
    /// dropouts defined later follow the same mode. The number of dropout nodes.
    @discardableResult
    package func setDropoutMode(training: Bool) -> Int {
        let seeds = (0..<graph.capacity).map(NodeID.init).compactMap { id -> NodeID? in
            guard graph.contains(id), case .dropout = graph[id].op else { return nil }
            return graph[id].inputs[1]
        }
        dropoutTraining = training
        try? graph.setValues(seeds.map { ($0, Tensor(training ? Double(random.next() % 16_777_216) : -1)) })
        return seeds.count
    }

    package func modeCommand(_ args: CommandArguments) throws(Diagnostic) {
        switch args.text {
        case "train":
            let count = setDropoutMode(training: true)
            say("training mode: dropout drops (a fresh mask on every :mode train); \(count) dropout node\(count == 1 ? "" : "s")")
        case "eval":
            setDropoutMode(training: false)
            say("evaluation mode: dropout is the identity (dropout_classic multiplies by 1 − p)")
        default:
            throw args.missing("train or eval", usage: ":mode train|eval")
        }
        version += 1
    }
}

extension Session {
    /// The accuracy on the whole test split measured at the end of the last `:train`, if any.
    public var lastTestAccuracy: Double? { history?.testAccuracy }
}
