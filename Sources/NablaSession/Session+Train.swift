import Foundation
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

extension Session {
    static let trainUsage = CommandKeys.usage(":train L", CommandKeys.train)
    static let updateUsage = CommandKeys.usage(":update", CommandKeys.update)

    // MARK: - Optimizer settings shared by :train and :update

    /// The optimizer a command asks for (`opt=`, `lr=`, `beta=`, `beta2=`, `eps=`, `decay=`).
    /// The optimizer keys (`CommandKeys.optimizer`) of a command, read into settings; `kind`
    /// and `lr` override the declared defaults (`:update` continues the last optimizer).
    func optimizerSettings(_ s: Settings, kind defaultKind: OptimizerKind? = nil, lr defaultLR: Double? = nil) throws(Diagnostic) -> OptimizerSettings {
        let kind = try s.choice("opt", default: defaultKind?.rawValue).flatMap(OptimizerKind.init(rawValue:)) ?? .sgd
        let lr = try s.number("lr", default: defaultLR)
        let beta = s.values["beta"] == nil ? nil : try s.number("beta")
        let beta2 = s.values["beta2"] == nil ? nil : try s.number("beta2")
        let eps = try s.number("eps")
        let decay = try s.number("decay")
        var settings = OptimizerSettings(kind: kind, lr: lr, beta1: beta, beta2: beta2, epsilon: eps, decay: decay)
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

    // MARK: - :train

    func trainCommand(_ args: CommandArguments) throws(Diagnostic) {
        let s = settings(args, CommandKeys.train, usage: Session.trainUsage)
        try s.check()
        let checkpoint = s.string("checkpoint").map { (resolvePath($0.0), $0.1) }
        if let (path, range) = checkpoint, !path.hasSuffix(".npz") {
            throw Diagnostic(.error, "a checkpoint is a .npz file, like checkpoint=net.npz", at: range)
        }
        if let (path, range) = checkpoint {
            do { try SafeFile.checkWritable(path) } catch { throw Diagnostic(.error, "checkpoint: \(error.message)", at: range) }
        }
        guard let (lossName, lossRange) = s.positional.first else { throw args.missing("the loss to minimise", usage: Session.trainUsage) }
        guard let training = data else {
            throw Diagnostic(.error, "no data to train on: load some first, e.g. :data moons 200 (it defines X and Y)", at: args.nameRange)
        }
        let root = try resolve(lossName, at: lossRange, within: nil)
        try requireScalar(root, lossName, at: lossRange, command: ":train")
        let epochs = try s.integer("epochs")
        let n = training.train.count
        guard n > 0 else { throw Diagnostic(.error, "the training split is empty: :data ... with smaller val= and test=", at: args.nameRange) }
        var batch = Swift.min(32, n)
        if let (v, range) = s.string("batch") {
            if v == "all" { batch = n } else {
                guard let b = Int(v), b >= 1 else { throw Diagnostic(.error, "batch must be a whole number ≥ 1, or all", at: range) }
                batch = Swift.min(b, n)
            }
        }
        let settings = try optimizerSettings(s)
        var schedule = Schedule.constant
        if let (v, range) = s.string("schedule") {
            guard let parsed = Schedule.parse(v) else {
                throw Diagnostic(
                    .error, "unknown schedule '\(v)' (power:s, power:s:c, exponential:s, piecewise:e1:lr1,e2:lr2, 1cycle, 1cycle:max)", at: range)
            }
            schedule = parsed
        }
        let patience = s.values["patience"] == nil ? nil : try s.integer("patience")
        if patience != nil && training.validation == nil {
            throw Diagnostic(.error, "early stopping needs a validation set: :data ... val=0.2", at: s.values["patience"]?.1 ?? args.wholeRange)
        }
        let every = try s.integer("every", default: Swift.max(1, epochs / 10))
        let params = paramLeaves().filter { graph.depends(root, on: $0.1) }
        guard !params.isEmpty else {
            throw Diagnostic(.error, "\(lossName) depends on no param: declare trainable values with param (or :mlp)", at: lossRange)
        }
        let leaves = try dataLeaves(training, at: args.wholeRange)
        adopt(settings)
        let prediction = predictionNode(under: root)
        let seeds = dropoutSeeds(under: root)
        // Per step only the loss's own graph is recomputed: other definitions that read X
        // are brought up to date when X holds the whole training split again.
        var only = graph.mask(of: root)
        if let (p, _) = prediction { for (i, m) in graph.mask(of: p).enumerated() where m { only[i] = true } }
        var theta: [String: [Double]] = [:]
        for (name, leaf) in params {
            theta[name] = graph.value(leaf).scalars
            if slots[name]?.m.count != theta[name]?.count { slots[name] = OptimizerSlot(count: graph.value(leaf).count) }
        }
        var history = TrainingHistory()
        var best: (loss: Double, epoch: Int, theta: [String: [Double]])?
        var stopped: String?
        var checkpointFailure: Diagnostic?
        let start = Date()
        let bar = 20
        let numbers = params.reduce(0) { $0 + graph.value($1.1).count }
        say("training \(lossName): \(params.count) param\(params.count == 1 ? "" : "s") (\(numbers) numbers), \(n) samples, batch \(batch), \(settings.kind.rawValue) lr \(Format.number(settings.lr))"
            + (schedule == .constant ? "" : ", schedule \(schedule.description)") + (settings.decay > 0 ? ", weight decay \(Format.number(settings.decay))" : ""))
        let held = training.heldTrain
        func restoreData() {
            try? graph.setValues([(leaves.0, held.x), (leaves.1, held.y)] + seeds.map { ($0, Tensor(-1)) })
            version += 1
        }
        func setParams(_ values: [String: [Double]]) -> [(NodeID, Tensor)] {
            params.compactMap { name, leaf in values[name].map { (leaf, Tensor(shape: graph.value(leaf).shape, scalars: $0)) } }
        }
        /// Where a diverging run went non-finite: the first node, in the order the graph computes,
        /// whose value is NaN or infinite, and the param that is (else the one that grew most,
        /// the usual culprit).
        func culprit(_ tape: Tape32? = nil) -> String {
            var current = theta
            if let tape { for (name, leaf) in params { if let (v, _) = tape.values(leaf) { current[name] = v.map { Double($0) } } } }
            var parts: [String] = []
            let node = tape.map { $0.firstNonFinite() } ?? graph.topologicalOrder(from: root).first { !graph.value($0).isFinite }
            if let node, graph.contains(node) { parts.append("the first node to go non-finite is \(graph[node].label)") }
            if let bad = params.first(where: { !(current[$0.0] ?? []).allSatisfy(\.isFinite) }) {
                parts.append("param \(bad.0) holds NaN or infinity")
            } else {
                func size(_ name: String) -> Double { current[name]?.map { Swift.abs($0) }.max() ?? 0 }
                if let largest = params.max(by: { size($0.0) < size($1.0) }) {
                    parts.append("the largest param is \(largest.0) (|·| up to \(Format.number(size(largest.0))))")
                }
            }
            return parts.isEmpty ? "" : "; " + parts.joined(separator: "; ")
        }
        // The float32 backend when the data is big (or asked for) and every op has a kernel.
        let precision = try s.choice("precision") ?? "auto"
        let big = training.train.x.count >= 100_000
        var tape: Tape32?
        if precision == "f32" || (precision == "auto" && big), !settings.needsLookahead {
            tape = Tape32(graph: graph, root: root, params: params.map(\.1), feeds: [leaves.0, leaves.1])
            if tape == nil && precision == "f32" {
                throw Diagnostic(.error, "\(lossName) uses an op without a float32 kernel (those: matmul, + - *, relu, sigmoid, tanh, dropout, cross_entropy, mse, bce); use precision=f64", at: lossRange)
            }
        }
        if precision == "f32" && settings.needsLookahead {
            throw Diagnostic(.error, "nesterov trains in float64 only (precision=f64)", at: args.wholeRange)
        }
        var state32: [OptimizerSlot32] = params.map { name, leaf in
            var s32 = OptimizerSlot32(count: graph.value(leaf).count)
            if let slot = slots[name], slot.m.count == s32.m.count {
                s32.m = slot.m.map { Float($0) }
                s32.s = slot.s.map { Float($0) }
                s32.t = slot.t
            }
            return s32
        }
        var lastFinite = theta
        if tape != nil { say("(float32 backend: the graph as a tape of vectorized kernels, OpenBLAS sgemm)") }
        var order = Array(0..<n)
        var finishedEpochs = 0
        epochLoop: for epoch in 0..<epochs {
            let lr = schedule.rate(settings.lr, epoch: epoch, of: epochs)
            random.shuffle(&order)
            var runningLoss = 0.0, runningRight = 0
            for first in stride(from: 0, to: n, by: batch) {
                if isInterrupted() {
                    if let tape {
                        for (name, leaf) in params { if let (v, _) = tape.values(leaf), v.allSatisfy(\.isFinite) { theta[name] = v.map { Double($0) } } }
                        // The optimizer's state goes with those weights (Adam's m and s of this step).
                        for (i, (name, _)) in params.enumerated() { slots[name] = state32[i].asDouble }
                    }
                    stopped = "interrupted in epoch \(epoch + 1): the weights are those of the last finished step"
                    break epochLoop
                }
                let rows = order[first..<Swift.min(first + batch, n)]
                if let tape {
                    // The float32 backend: the same graph as a tape of vectorized kernels.
                    Session.feed(tape, leaves, training.train, rows)
                    for s in seeds { tape.set(s, [Float(random.next() % 16_777_216)], shape: []) }
                    let loss = Double(tape.forward())
                    if let problem = tape.problem {
                        stopped = "stopped in epoch \(epoch + 1): \(problem)"
                        break epochLoop
                    }
                    guard loss.isFinite else {
                        stopped = "stopped in epoch \(epoch + 1): the loss became \(loss.isNaN ? "NaN" : "infinite") (lr \(Format.number(lr)) too large?)\(culprit(tape)); the weights are those of the last finite epoch"
                        break epochLoop
                    }
                    runningLoss += loss * Double(rows.count)
                    if let (p, kind) = prediction, let (values, shape) = tape.values(p) {
                        runningRight += Session.right(values, shape: shape, kind, truth: training.train.y, rows: rows)
                    }
                    tape.backward()
                    for (i, (_, leaf)) in params.enumerated() {
                        // The optimizer state is updated in place (no copy of m and s per step).
                        tape.update(leaf) { values, gradient in
                            settings.step32(&values, gradient: gradient, slot: &state32[i], lr: lr)
                        }
                    }
                    continue
                }
                var updates: [(NodeID, Tensor)] = [(leaves.0, training.train.x.selectRows(rows)), (leaves.1, training.train.y.selectRows(rows))]
                updates += seeds.map { ($0, Tensor(Double(random.next() % 16_777_216))) }
                if settings.needsLookahead {
                    var ahead: [String: [Double]] = [:]
                    for (name, _) in params { ahead[name] = settings.lookahead(theta[name] ?? [], slots[name] ?? OptimizerSlot(count: 0)) }
                    updates += setParams(ahead)
                } else {
                    updates += setParams(theta)
                }
                let grads: Gradients
                do {
                    try graph.setValues(updates, only: only)
                } catch {
                    stopped = "stopped in epoch \(epoch + 1): \(describe(error))"
                    break epochLoop
                }
                do {
                    grads = try graph.backward(from: root, toward: params.map(\.1))
                } catch {
                    stopped = "stopped in epoch \(epoch + 1): \(error.message)"
                    break epochLoop
                }
                let loss = graph.value(root).scalar
                // The epoch's training figures: averages over its batches, before each update.
                runningLoss += loss * Double(rows.count)
                if let (p, kind) = prediction {
                    let predicted = Session.classes(graph.value(p), kind)
                    let truth = Session.labels(graph.value(leaves.1), kind)
                    if predicted.count == truth.count { runningRight += zip(predicted, truth).filter { $0 == $1 }.count }
                }
                guard loss.isFinite else {
                    stopped = "stopped in epoch \(epoch + 1): the loss became \(loss.isNaN ? "NaN" : "infinite") (lr \(Format.number(lr)) too large?)\(culprit()); the weights are those of the last finite step"
                    break epochLoop
                }
                var next: [String: [Double]] = [:]
                var nextSlots: [String: OptimizerSlot] = [:]
                for (name, leaf) in params {
                    guard let g = grads[leaf]?.scalars, var slot = slots[name], let current = theta[name] else { continue }
                    let updated = settings.step(current, gradient: g, slot: &slot, lr: lr)
                    guard updated.allSatisfy(\.isFinite) else {
                        stopped = "stopped in epoch \(epoch + 1): param \(name) went NaN or infinite (lr \(Format.number(lr)) too large?); the weights are those of the last finite step"
                        break epochLoop
                    }
                    next[name] = updated
                    nextSlots[name] = slot
                }
                // The step is taken only when every param's update is finite.
                for (name, value) in next { theta[name] = value }
                for (name, slot) in nextSlots { slots[name] = slot }
            }
            if let tape {
                for (name, leaf) in params { if let (v, _) = tape.values(leaf) { theta[name] = v.map { Double($0) } } }
                guard theta.values.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
                    stopped = "stopped in epoch \(epoch + 1): a param went NaN or infinite (lr \(Format.number(lr)) too large?)\(culprit(tape))"
                    theta = lastFinite
                    break
                }
                lastFinite = theta
                for (i, (name, _)) in params.enumerated() { slots[name] = state32[i].asDouble }
            }
            finishedEpochs = epoch + 1
            // The end of an epoch: the figures on the whole training and validation sets.
            do {
                // The params go into the graph with the validation data (one recompute on its rows);
                // without validation, once at the end.
                if training.validation == nil && tape == nil { try graph.setValues(setParams(theta), only: only) }
                let loss = runningLoss / Double(n)
                let acc = prediction.map { _ in Double(runningRight) / Double(n) }
                history.loss.append(loss)
                if let acc { history.accuracy.append(acc) }
                var line = "epoch \(String(repeating: " ", count: String(epochs).count - String(epoch + 1).count))\(epoch + 1)/\(epochs) "
                let filled = (epoch + 1) * bar / epochs
                line += "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: bar - filled) + "]"
                line += " loss \(Format.number(loss, digits: 4))" + (acc.map { "  acc \(Session.percent($0))" } ?? "")
                if let v = training.validation {
                    let (vl, va, _) = try evaluate(on: v, root: root, leaves: leaves, prediction: prediction, seeds: seeds, only: only, extra: setParams(theta))
                    guard vl.isFinite else {
                        stopped = "stopped in epoch \(epoch + 1): the validation loss became \(vl.isNaN ? "NaN" : "infinite") (lr too large?)\(culprit())"
                        break epochLoop
                    }
                    history.validationLoss.append(vl)
                    if let va { history.validationAccuracy.append(va) }
                    line += "  │ val loss \(Format.number(vl, digits: 4))" + (va.map { "  acc \(Session.percent($0))" } ?? "")
                    if let patience {
                        if best == nil || vl < best!.loss { best = (vl, epoch + 1, theta) }
                        if let b = best, epoch + 1 - b.epoch >= patience {
                            say(line + "  \(Format.number(Date().timeIntervalSince(start), digits: 2)) s")
                            stopped = "early stopping: no better validation loss for \(patience) epochs; the weights of epoch \(b.epoch) (val loss \(Format.number(b.loss, digits: 4))) are restored"
                            theta = b.theta
                            break epochLoop
                        }
                    }
                }
                let elapsed = Date().timeIntervalSince(start)
                line += "  \(Format.number(elapsed, digits: 3)) s"
                if n >= 1000 { line += "  \(Int(Double(n * (epoch + 1)) / Swift.max(elapsed, 1e-9))) samples/s" }
                if let (path, range) = checkpoint {
                    // The epoch's weights, atomically: a kill during the next epoch leaves this file whole.
                    do {
                        // From the weights of this epoch (in float32 training the graph gets them at the end).
                        _ = try saveWeights(to: path, at: range, values: theta)
                    } catch let problem {
                        // A run whose checkpoints are lost is not a success: stop, keep the weights.
                        say(line)
                        checkpointFailure = Diagnostic(.error, "checkpoint not written after epoch \(epoch + 1): \(problem.message); training stopped, the weights of epoch \(epoch + 1) are kept", at: range)
                        break epochLoop
                    }
                }
                if (epoch + 1) % every == 0 || epoch == 0 || epoch + 1 == epochs { say(line) }
            } catch {
                stopped = "stopped in epoch \(epoch + 1): \(describe(error))"
                break
            }
        }
        try? graph.setValues(setParams(theta), only: only)
        restoreData()
        self.history = history
        if let stopped { say(stopped) }
        // The weights changed: the last backward is stale.
        lastBackward = nil
        if let checkpointFailure { throw checkpointFailure }
        var summary = "trained \(finishedEpochs) epoch\(finishedEpochs == 1 ? "" : "s") in \(Format.number(Date().timeIntervalSince(start), digits: 2)) s"
        if let (loss, acc, _) = try? evaluate(on: training.train, root: root, leaves: leaves, prediction: prediction, seeds: seeds, only: only) {
            summary += "; training loss \(Format.number(loss, digits: 4))" + (acc.map { ", accuracy \(Session.percent($0))" } ?? "")
        }
        var predictedTest: [Int]?
        if let t = training.test, let (loss, acc, predicted) = try? evaluate(on: t, root: root, leaves: leaves, prediction: prediction, seeds: seeds, only: only) {
            summary += "; test loss \(Format.number(loss, digits: 4))" + (acc.map { ", accuracy \(Session.percent($0))" } ?? "")
            predictedTest = predicted
        }
        restoreData()
        say(summary)
        if let classes = training.train.classes, classes > 2, classes <= 20, let (_, kind) = prediction, kind == .argmax {
            let set = training.test ?? training.train
            let predicted = predictedTest ?? (try? evaluate(on: set, root: root, leaves: leaves, prediction: prediction, seeds: seeds, only: only))?.predicted
            if let predicted, !predicted.isEmpty {
                say(Session.confusion(predicted: predicted, truth: Session.labels(set.y, kind), classes: classes,
                                      title: training.test == nil ? "training set" : "test set"))
            }
            restoreData()
        }
        if history.loss.count > 1 {
            var curves: [(label: String, values: [Double], mark: Character)] = [("training", history.loss, "•")]
            if !history.validationLoss.isEmpty { curves.append(("validation", history.validationLoss, "∘")) }
            say(Plot.curves(curves, title: "loss").joined(separator: "\n"))
            if !history.accuracy.isEmpty {
                var acc: [(label: String, values: [Double], mark: Character)] = [("training", history.accuracy.map { $0 * 100 }, "•")]
                if !history.validationAccuracy.isEmpty { acc.append(("validation", history.validationAccuracy.map { $0 * 100 }, "∘")) }
                say(Plot.curves(acc, height: 8, title: "accuracy (%)").joined(separator: "\n"))
            }
        }
        if training.train.features == 2, let (p, kind) = prediction, training.train.classes != nil {
            let labels = Session.labels(training.train.y, kind)
            let drawing = Plot.regions(points: training.train.x, labels: labels.map { kind == .sign ? ($0 > 0 ? 1 : 0) : $0 }) { grid in
                let yShape = [grid.rows] + Array(training.train.y.shape.dropFirst())
                guard (try? graph.setValues([(leaves.0, grid), (leaves.1, Tensor.zeros(yShape))], only: only)) != nil else { return nil }
                let c = Session.classes(graph.value(p), kind)
                return kind == .sign ? c.map { $0 > 0 ? 1 : 0 } : c
            }
            restoreData()
            if let drawing { say(drawing.joined(separator: "\n")) }
        }
    }

    /// A confusion matrix: rows the true class, columns the predicted one.
    static func confusion(predicted: [Int], truth: [Int], classes k: Int, title: String) -> String {
        var m = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (p, t) in zip(predicted, truth) where p >= 0 && p < k && t >= 0 && t < k { m[t][p] += 1 }
        var rows: [[String]] = [["true \\ predicted"] + (0..<k).map(String.init)]
        for t in 0..<k { rows.append(["  \(t)"] + m[t].map(String.init)) }
        return "confusion matrix (\(title)):\n" + Session.table(rows)
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
        if let bytes = set.bytes, bytes.count == set.x.count {
            let w = set.features
            tape.fill(leaves.0, shape: [rows.count, w]) { dst in
                bytes.withUnsafeBufferPointer { src in
                    guard let base = src.baseAddress, var to = dst.baseAddress else { return }
                    for i in rows {
                        let from = base + i * w
                        for j in 0..<w { to[j] = Float(from[j]) / 255 }
                        to += w
                    }
                }
            }
        }
        for (leaf, t) in set.bytes == nil || set.bytes?.count != set.x.count ? [(leaves.0, set.x), (leaves.1, set.y)] : [(leaves.1, set.y)] {
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

    static func percent(_ x: Double) -> String { Format.number(x * 100, digits: 4) + "%" }

    // MARK: - :opt

    func optCommand(_ args: CommandArguments) throws(Diagnostic) {
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
    func optimizerStep(_ args: CommandArguments) throws(Diagnostic) {
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

    func predictCommand(_ args: CommandArguments) throws(Diagnostic) {
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
    func useCommand(_ args: CommandArguments) throws(Diagnostic) {
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
        let held = args.text == "train" ? training.heldTrain : held(part)
        do {
            try graph.setValues([(leaves.0, held.x), (leaves.1, held.y)])
        } catch {
            try? graph.setValues([(leaves.0, training.heldTrain.x), (leaves.1, training.heldTrain.y)])
            throw Diagnostic(.error, error.reason.message, at: args.wholeRange)
        }
        version += 1
        say("X and Y now hold the \(args.text) split: \(held.count == part.count ? "" : "the first \(held.count) of ")\(part.count) samples (:train always trains on the training split)")
    }

    func modeCommand(_ args: CommandArguments) throws(Diagnostic) {
        let seeds = (0..<graph.capacity).map(NodeID.init).compactMap { id -> NodeID? in
            guard graph.contains(id), case .dropout = graph[id].op else { return nil }
            return graph[id].inputs[1]
        }
        switch args.text {
        case "train":
            try? graph.setValues(seeds.map { ($0, Tensor(Double(random.next() % 16_777_216))) })
            say("training mode: dropout drops (a fresh mask on every :mode train); \(seeds.count) dropout node\(seeds.count == 1 ? "" : "s")")
        case "eval":
            try? graph.setValues(seeds.map { ($0, Tensor(-1)) })
            say("evaluation mode: dropout is the identity")
        default:
            throw args.missing("train or eval", usage: ":mode train|eval")
        }
        version += 1
    }
}

