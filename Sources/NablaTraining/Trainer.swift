import NablaRuntime
import NablaTeaching
import Foundation
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

/// What `:train` was asked for, read and checked before anything changes.
struct TrainPlan {
    var lossName: String
    var lossRange: SourceRange
    var root: NodeID
    var training: TrainingData
    var epochs: Int
    var batch: Int
    var every: Int
    var patience: Int?
    var settings: OptimizerSettings
    var schedule: Schedule
    var checkpoint: (String, SourceRange)?
    var precision: String
    var params: [(String, NodeID)]
    var leaves: (NodeID, NodeID)
    var prediction: (NodeID, PredictionKind)?
    var seeds: [NodeID]
    /// The nodes recomputed per step: the loss's own graph (and the prediction's).
    var only: [Bool]
    /// `require=`: the test accuracy the run must reach, counted as an `:expect` is.
    var require: (Double, SourceRange)?
    var samples: Int { training.train.count }
}

/// What changes while `:train` runs.
struct TrainRun {
    var theta: [String: [Double]]
    var lastFinite: [String: [Double]]
    var state32: [OptimizerSlot32]
    var history = TrainingHistory()
    var best: (loss: Double, epoch: Int, theta: [String: [Double]])?
    var stopped: String?
    var checkpointFailure: Diagnostic?
    var finishedEpochs = 0
    var runningLoss = 0.0
    var runningRight = 0
    let start = Date()
    /// When the last progress within an epoch was shown.
    var lastShown = Date()
}

extension Session {
    // MARK: - :train

    package func trainCommand(_ args: CommandArguments) throws(Diagnostic) {
        let plan = try trainPlan(args)
        adopt(plan.settings)
        var run = startRun(plan)
        let tape = try trainTape(plan, args)
        sayTrainingStart(plan, tape: tape)
        var order = Array(0..<plan.samples)
        epochLoop: for epoch in 0..<plan.epochs {
            let lr = plan.schedule.rate(plan.settings.lr, epoch: epoch, of: plan.epochs)
            random.shuffle(&order)
            run.runningLoss = 0
            run.runningRight = 0
            for first in stride(from: 0, to: plan.samples, by: plan.batch) {
                if isInterrupted() {
                    keepInterruptedTape(&run, plan, tape)
                    run.stopped = "interrupted in epoch \(epoch + 1): the weights are those of the last finished step"
                    break epochLoop
                }
                let rows = order[first..<Swift.min(first + plan.batch, plan.samples)]
                let stepped = tape.map { tapeStep(&run, plan, $0, rows: rows, lr: lr, epoch: epoch) }
                    ?? graphStep(&run, plan, rows: rows, lr: lr, epoch: epoch)
                if !stepped { break epochLoop }
                showWithinEpoch(&run, plan, epoch: epoch, done: first + rows.count)
            }
            if let tape, !endTapeEpoch(&run, plan, tape, lr: lr, epoch: epoch) { break }
            run.finishedEpochs = epoch + 1
            if !endEpoch(&run, plan, tape: tape, epoch: epoch) { break }
        }
        try finishTraining(run, plan, tape: tape)
    }

    /// Reads and checks every setting of `:train`, and finds what it trains.
    func trainPlan(_ args: CommandArguments) throws(Diagnostic) -> TrainPlan {
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
        let params = paramLeaves().filter { graph.depends(root, on: $0.1) }
        guard !params.isEmpty else {
            throw Diagnostic(.error, "\(lossName) depends on no param: declare trainable values with param (or :mlp)", at: lossRange)
        }
        let prediction = predictionNode(under: root)
        // Per step only the loss's own graph is recomputed: other definitions that read X
        // are brought up to date when X holds the whole training split again.
        var only = graph.mask(of: root)
        if let (p, _) = prediction { for (i, m) in graph.mask(of: p).enumerated() where m { only[i] = true } }
        return TrainPlan(
            lossName: lossName, lossRange: lossRange, root: root, training: training, epochs: epochs, batch: batch,
            every: try s.integer("every", default: Swift.max(1, epochs / 10)), patience: patience,
            settings: try optimizerSettings(s), schedule: schedule, checkpoint: checkpoint,
            precision: try s.choice("precision") ?? "auto", params: params, leaves: try dataLeaves(training, at: args.wholeRange),
            prediction: prediction, seeds: dropoutSeeds(under: root), only: only,
            require: try s.string("require").map { (_, range) throws(Diagnostic) in (try s.number("require"), range) })
    }

    /// The float32 tape when the data is big (or when asked for). Every op runs in float32; only a
    /// loss that reads grad() or jacobian() as a value stays in float64 (the graph computes those).
    func trainTape(_ plan: TrainPlan, _ args: CommandArguments) throws(Diagnostic) -> Tape32? {
        let big = plan.training.train.count * plan.training.train.features >= 100_000
        guard plan.precision == "f32" || (plan.precision == "auto" && big) else { return nil }
        let tape = Tape32(graph: graph, root: plan.root, params: plan.params.map(\.1), feeds: [plan.leaves.0, plan.leaves.1])
        if tape == nil && plan.precision == "f32" {
            throw Diagnostic(
                .error, "\(plan.lossName) reads grad() or jacobian() as a value, which only the float64 graph computes; use precision=f64",
                at: plan.lossRange)
        }
        return tape
    }

    /// The weights and optimizer state a run starts from (the session's store, in both precisions).
    func startRun(_ plan: TrainPlan) -> TrainRun {
        var theta: [String: [Double]] = [:]
        for (name, leaf) in plan.params {
            theta[name] = graph.value(leaf).scalars
            if slots[name]?.m.count != theta[name]?.count { slots[name] = OptimizerSlot(count: graph.value(leaf).count) }
        }
        let state32: [OptimizerSlot32] = plan.params.map { name, leaf in
            var s32 = OptimizerSlot32(count: graph.value(leaf).count)
            if let slot = slots[name], slot.m.count == s32.m.count {
                s32.m = slot.m.map { Float($0) }
                s32.s = slot.s.map { Float($0) }
                s32.t = slot.t
            }
            return s32
        }
        return TrainRun(theta: theta, lastFinite: theta, state32: state32)
    }

    func sayTrainingStart(_ plan: TrainPlan, tape: Tape32?) {
        let numbers = plan.params.reduce(0) { $0 + graph.value($1.1).count }
        let p = plan.params.count, s = plan.settings
        say("training \(plan.lossName): \(p) param\(p == 1 ? "" : "s") (\(numbers) numbers), \(plan.samples) samples, batch \(plan.batch), \(s.kind.rawValue) lr \(Format.number(s.lr))"
            + (plan.schedule == .constant ? "" : ", schedule \(plan.schedule.description)") + (s.decay > 0 ? ", weight decay \(Format.number(s.decay))" : ""))
        if tape != nil { say("(float32 backend: the graph as a tape of vectorized kernels, OpenBLAS sgemm)") }
    }

    /// Ctrl-C in float32 training: the tape's last finished step, with its optimizer state.
    func keepInterruptedTape(_ run: inout TrainRun, _ plan: TrainPlan, _ tape: Tape32?) {
        guard let tape else { return }
        for (name, leaf) in plan.params { if let (v, _) = tape.values(leaf), v.allSatisfy(\.isFinite) { run.theta[name] = v.map { Double($0) } } }
        for (i, (name, _)) in plan.params.enumerated() { slots[name] = run.state32[i].asDouble }
    }

    /// One batch on the float32 tape; false when training must stop (`run.stopped` says why).
    func tapeStep(_ run: inout TrainRun, _ plan: TrainPlan, _ tape: Tape32, rows: ArraySlice<Int>, lr: Double, epoch: Int) -> Bool {
        Session.feed(tape, plan.leaves, plan.training.train, rows)
        for s in plan.seeds { tape.set(s, [Float(random.next() % 16_777_216)], shape: []) }
        // Nesterov: the gradient at the look-ahead point θ + β m; θ itself is put back before the step.
        var saved = plan.settings.needsLookahead ? lookAhead(run, plan, tape) : []
        func putBack() {
            for (leaf, values, shape) in saved { tape.set(leaf, values, shape: shape) }
            saved = []
        }
        defer { putBack() }  // when training stops here
        let loss = Double(tape.forward())
        if let problem = tape.problem {
            run.stopped = "stopped in epoch \(epoch + 1): \(problem)"
            return false
        }
        guard loss.isFinite else {
            run.stopped = "stopped in epoch \(epoch + 1): the loss became \(loss.isNaN ? "NaN" : "infinite") (lr \(Format.number(lr)) too large?)\(culprit(run, plan, tape)); the weights are those of the last finite epoch"
            return false
        }
        run.runningLoss += loss * Double(rows.count)
        if let (p, kind) = plan.prediction, let (values, shape) = tape.values(p) {
            run.runningRight += Session.right(values, shape: shape, kind, truth: plan.training.train.y, rows: rows)
        }
        tape.backward()
        putBack()
        for (i, (_, leaf)) in plan.params.enumerated() {
            // The optimizer state is updated in place (no copy of m and s per step).
            tape.update(leaf) { values, gradient in
                plan.settings.step32(&values, gradient: gradient, slot: &run.state32[i], lr: lr)
            }
        }
        return true
    }

    /// Moves each param of the tape to θ + β m (Nesterov's look-ahead); returns the θ to put back.
    func lookAhead(_ run: TrainRun, _ plan: TrainPlan, _ tape: Tape32) -> [(NodeID, [Float], [Int])] {
        let beta = Float(plan.settings.beta1)
        var saved: [(NodeID, [Float], [Int])] = []
        for (i, (_, leaf)) in plan.params.enumerated() {
            guard let (values, shape) = tape.values(leaf), run.state32[i].m.count == values.count else { continue }
            saved.append((leaf, values, shape))
            tape.set(leaf, zip(values, run.state32[i].m).map { $0 + beta * $1 }, shape: shape)
        }
        return saved
    }

    /// One batch on the float64 graph; false when training must stop.
    func graphStep(_ run: inout TrainRun, _ plan: TrainPlan, rows: ArraySlice<Int>, lr: Double, epoch: Int) -> Bool {
        let settings = plan.settings
        var updates: [(NodeID, Tensor)] = { let batch = plan.training.train.rows(rows); return [(plan.leaves.0, batch.x), (plan.leaves.1, batch.y)] }()
        updates += plan.seeds.map { ($0, Tensor(Double(random.next() % 16_777_216))) }
        if settings.needsLookahead {
            var ahead: [String: [Double]] = [:]
            for (name, _) in plan.params { ahead[name] = settings.lookahead(run.theta[name] ?? [], slots[name] ?? OptimizerSlot(count: 0)) }
            updates += paramValues(plan, ahead)
        } else {
            updates += paramValues(plan, run.theta)
        }
        do { try graph.setValues(updates, only: plan.only) } catch {
            run.stopped = "stopped in epoch \(epoch + 1): \(describe(error))"
            return false
        }
        let grads: Gradients
        do { grads = try graph.backward(from: plan.root, toward: plan.params.map(\.1)) } catch {
            run.stopped = "stopped in epoch \(epoch + 1): \(error.message)"
            return false
        }
        let loss = graph.value(plan.root).scalar
        // The epoch's training figures: averages over its batches, before each update.
        run.runningLoss += loss * Double(rows.count)
        if let (p, kind) = plan.prediction {
            let predicted = Session.classes(graph.value(p), kind)
            let truth = Session.labels(graph.value(plan.leaves.1), kind)
            if predicted.count == truth.count { run.runningRight += zip(predicted, truth).filter { $0 == $1 }.count }
        }
        guard loss.isFinite else {
            run.stopped = "stopped in epoch \(epoch + 1): the loss became \(loss.isNaN ? "NaN" : "infinite") (lr \(Format.number(lr)) too large?)\(culprit(run, plan)); the weights are those of the last finite step"
            return false
        }
        var next: [String: [Double]] = [:]
        var nextSlots: [String: OptimizerSlot] = [:]
        for (name, leaf) in plan.params {
            guard let g = grads[leaf]?.scalars, var slot = slots[name], let current = run.theta[name] else { continue }
            let updated = settings.step(current, gradient: g, slot: &slot, lr: lr)
            guard updated.allSatisfy(\.isFinite) else {
                run.stopped = "stopped in epoch \(epoch + 1): param \(name) went NaN or infinite (lr \(Format.number(lr)) too large?); the weights are those of the last finite step"
                return false
            }
            next[name] = updated
            nextSlots[name] = slot
        }
        // The step is taken only when every param's update is finite.
        for (name, value) in next { run.theta[name] = value }
        for (name, slot) in nextSlots { slots[name] = slot }
        return true
    }

    /// The tape's weights at an epoch's end (the last finite ones are kept); false on NaN.
    func endTapeEpoch(_ run: inout TrainRun, _ plan: TrainPlan, _ tape: Tape32, lr: Double, epoch: Int) -> Bool {
        for (name, leaf) in plan.params { if let (v, _) = tape.values(leaf) { run.theta[name] = v.map { Double($0) } } }
        guard run.theta.values.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
            run.stopped = "stopped in epoch \(epoch + 1): a param went NaN or infinite (lr \(Format.number(lr)) too large?)\(culprit(run, plan, tape))"
            run.theta = run.lastFinite
            return false
        }
        run.lastFinite = run.theta
        for (i, (name, _)) in plan.params.enumerated() { slots[name] = run.state32[i].asDouble }
        return true
    }

    /// The end of an epoch: the figures on the whole training and validation sets, early
    /// stopping, the checkpoint and a line of progress; false when training must stop.
    func endEpoch(_ run: inout TrainRun, _ plan: TrainPlan, tape: Tape32?, epoch: Int) -> Bool {
        do {
            // The params go into the graph with the validation data (one recompute on its rows);
            // without validation, once at the end.
            if plan.training.validation == nil && tape == nil { try graph.setValues(paramValues(plan, run.theta), only: plan.only) }
            let n = Double(plan.samples)
            let loss = run.runningLoss / n
            let acc = plan.prediction.map { _ in Double(run.runningRight) / n }
            run.history.loss.append(loss)
            if let acc { run.history.accuracy.append(acc) }
            var line = Session.progress(epoch: epoch, of: plan.epochs) + " loss \(Format.number(loss, digits: 4))" + (acc.map { "  acc \(Session.percent($0))" } ?? "")
            if let v = plan.training.validation {
                var measured = tape.flatMap { evaluateOnTape(v, plan, $0) }
                if measured == nil {
                    measured = try evaluate(on: v, root: plan.root, leaves: plan.leaves, prediction: plan.prediction, seeds: plan.seeds, only: plan.only, extra: paramValues(plan, run.theta))
                }
                guard let (vl, va, _) = measured else { return false }
                guard vl.isFinite else {
                    run.stopped = "stopped in epoch \(epoch + 1): the validation loss became \(vl.isNaN ? "NaN" : "infinite") (lr too large?)\(culprit(run, plan))"
                    return false
                }
                run.history.validationLoss.append(vl)
                if let va { run.history.validationAccuracy.append(va) }
                line += "  │ val loss \(Format.number(vl, digits: 4))" + (va.map { "  acc \(Session.percent($0))" } ?? "")
                if let patience = plan.patience {
                    if run.best.map({ vl < $0.loss }) ?? true { run.best = (vl, epoch + 1, run.theta) }
                    if let b = run.best, epoch + 1 - b.epoch >= patience {
                        say(line + "  \(Session.seconds(Date().timeIntervalSince(run.start))) s")
                        run.stopped = "early stopping: no better validation loss for \(patience) epochs; the weights of epoch \(b.epoch) (val loss \(Format.number(b.loss, digits: 4))) are restored"
                        run.theta = b.theta
                        return false
                    }
                }
            }
            let elapsed = Date().timeIntervalSince(run.start)
            line += "  \(Session.seconds(elapsed)) s"
            if epoch + 1 < plan.epochs, elapsed > 5 {
                line += "  ETA " + Session.duration(elapsed / Double(epoch + 1) * Double(plan.epochs - epoch - 1))
            }
            if plan.samples >= 1000 { line += "  \(Int(Double(plan.samples * (epoch + 1)) / Swift.max(elapsed, 1e-9))) samples/s" }
            if let (path, range) = plan.checkpoint {
                // The epoch's weights, atomically: a kill during the next epoch leaves this file whole.
                do {
                    // The params this run trains (a committee's fifth net: its own, not all five).
                    _ = try saveWeights(to: path, at: range, values: run.theta, only: paramNames.filter { run.theta[$0] != nil })
                } catch let problem {
                    // A run whose checkpoints are lost is not a success: stop, keep the weights.
                    say(line)
                    run.checkpointFailure = Diagnostic(
                        .error, "checkpoint not written after epoch \(epoch + 1): \(problem.message); training stopped, the weights of epoch \(epoch + 1) are kept", at: range)
                    return false
                }
            }
            if (epoch + 1) % plan.every == 0 || epoch == 0 || epoch + 1 == plan.epochs { say(Session.wrap(line, width: width, indent: 2)) }
            return true
        } catch {
            run.stopped = "stopped in epoch \(epoch + 1): \(describe(error))"
            return false
        }
    }

    /// The loss, accuracy and predicted classes of a whole set on the float32 tape, dropout
    /// off, in batches: what `evaluate` computes on the graph, at the tape's speed (a
    /// convnet's 10,000 test images take a second, not minutes). Nil when the tape fails.
    func evaluateOnTape(_ set: Dataset, _ plan: TrainPlan, _ tape: Tape32) -> (loss: Double, accuracy: Double?, predicted: [Int])? {
        let batch = Swift.max(plan.batch, 256)
        var total = 0.0
        var predicted: [Int] = []
        for s in plan.seeds { tape.set(s, [-1], shape: []) }
        for first in stride(from: 0, to: set.count, by: batch) {
            let rows = Array(first..<Swift.min(first + batch, set.count))[...]
            Session.feed(tape, plan.leaves, set, rows)
            let loss = Double(tape.forward())
            guard tape.problem == nil else { return nil }
            total += loss * Double(rows.count)
            if let (p, kind) = plan.prediction, let (values, shape) = tape.values(p) {
                predicted += Session.classes(Tensor(shape: shape, scalars: values.map { Double($0) }), kind)
            }
        }
        let loss = total / Double(Swift.max(set.count, 1))
        guard let (_, kind) = plan.prediction else { return (loss, nil, []) }
        let truth = Session.labels(set.y, kind)
        guard predicted.count == truth.count, !truth.isEmpty else { return (loss, nil, []) }
        return (loss, Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count), predicted)
    }

    /// Progress within a long epoch: at a terminal a status line redrawn twice a second
    /// (`status`); elsewhere (a log, `nabla mnist > log`) a line every 30 seconds.
    func showWithinEpoch(_ run: inout TrainRun, _ plan: TrainPlan, epoch: Int, done: Int) {
        let now = Date()
        let since = now.timeIntervalSince(run.lastShown)
        guard done < plan.samples, since >= (status == nil ? progressEvery.log : progressEvery.terminal) else { return }
        run.lastShown = now
        let fraction = Double(done) / Double(plan.samples)
        let elapsed = now.timeIntervalSince(run.start)
        let total = Double(epoch) + fraction
        let eta = elapsed / total * (Double(plan.epochs) - total)
        let loss = run.runningLoss / Double(done)
        let acc = plan.prediction.map { _ in Double(run.runningRight) / Double(done) }
        let line = Session.progress(epoch: epoch, of: plan.epochs, within: fraction)
            + " \(Int(fraction * 100))% of the epoch: loss \(Format.number(loss, digits: 4))" + (acc.map { "  acc \(Session.percent($0))" } ?? "")
            + "  ETA " + Session.duration(eta)
        if let status { status(line) } else { say(Session.wrap(line, width: width, indent: 2)) }
    }

    /// A time to wait, as a person reads it: `8 s`, `3 min 20 s`, `1 h 5 min`.
    /// The seconds since a run started, on an epoch's line: three significant digits below
    /// 100 s ("0.369", "12.3"), whole seconds from there ("1234": `%g` would write "1.23e+03").
    static func seconds(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        return seconds < 99.95 ? Format.number(seconds, digits: 3) : String(Int(seconds.rounded()))
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" + (s % 60 == 0 ? "" : " \(s % 60) s") }
        return "\(s / 3600) h" + (s % 3600 / 60 == 0 ? "" : " \(s % 3600 / 60) min")
    }

    /// `epoch  3/10 [██████░░░░░░░░░░░░░░]` (`within`: the share of the epoch done, for a
    /// status line during it).
    static func progress(epoch: Int, of epochs: Int, within: Double = 1, bar: Int = 20) -> String {
        let filled = Swift.min(bar, Int((Double(epoch) + within) * Double(bar) / Double(epochs)))
        return "epoch \(String(repeating: " ", count: String(epochs).count - String(epoch + 1).count))\(epoch + 1)/\(epochs) "
            + "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: bar - filled) + "]"
    }

    /// The params' leaves with the given values (for one `setValues`).
    func paramValues(_ plan: TrainPlan, _ values: [String: [Double]]) -> [(NodeID, Tensor)] {
        plan.params.compactMap { name, leaf in values[name].map { (leaf, Tensor(shape: graph.value(leaf).shape, scalars: $0)) } }
    }

    /// X and Y hold the training window again, dropout is off.
    func restoreTrainingData(_ plan: TrainPlan) {
        let held = plan.training.heldTrain
        try? graph.setValues([(plan.leaves.0, held.x), (plan.leaves.1, held.y)] + plan.seeds.map { ($0, Tensor(-1)) })
        // Training leaves every dropout in evaluation mode, those outside the loss too.
        if dropoutTraining { setDropoutMode(training: false) }
        version += 1
    }

    /// Where a diverging run went non-finite: the first node, in the order the graph computes,
    /// whose value is NaN or infinite, and the param that is (else the one that grew most,
    /// the usual culprit).
    func culprit(_ run: TrainRun, _ plan: TrainPlan, _ tape: Tape32? = nil) -> String {
        var current = run.theta
        if let tape { for (name, leaf) in plan.params { if let (v, _) = tape.values(leaf) { current[name] = v.map { Double($0) } } } }
        var parts: [String] = []
        let node = tape.map { $0.firstNonFinite() } ?? graph.topologicalOrder(from: plan.root).first { !graph.value($0).isFinite }
        if let node, graph.contains(node) { parts.append("the first node to go non-finite is \(graph[node].label)") }
        if let bad = plan.params.first(where: { !(current[$0.0] ?? []).allSatisfy(\.isFinite) }) {
            parts.append("param \(bad.0) holds NaN or infinity")
        } else {
            func size(_ name: String) -> Double { current[name]?.map { Swift.abs($0) }.max() ?? 0 }
            if let largest = plan.params.max(by: { size($0.0) < size($1.0) }) {
                parts.append("the largest param is \(largest.0) (|·| up to \(Format.number(size(largest.0))))")
            }
        }
        return parts.isEmpty ? "" : "; " + parts.joined(separator: "; ")
    }

    /// After the last epoch: the weights into the graph, the summary, and the pictures. With a
    /// tape, the summary is measured on it (float32, in batches), with the weights kept.
    func finishTraining(_ run: TrainRun, _ plan: TrainPlan, tape: Tape32? = nil) throws(Diagnostic) {
        try? graph.setValues(paramValues(plan, run.theta), only: plan.only)
        restoreTrainingData(plan)
        history = run.history
        if let stopped = run.stopped { say(stopped) }
        // The weights changed: the last backward is stale.
        lastBackward = nil
        if let failure = run.checkpointFailure { throw failure }
        if let tape {
            for (name, leaf) in plan.params {
                if let values = run.theta[name], let (_, shape) = tape.values(leaf) { tape.set(leaf, values.map { Float($0) }, shape: shape) }
            }
        }
        let measure: (Dataset) -> (loss: Double, accuracy: Double?, predicted: [Int])? = { [unowned self] set in
            tape.flatMap { self.evaluateOnTape(set, plan, $0) }
                ?? (try? self.evaluate(on: set, root: plan.root, leaves: plan.leaves, prediction: plan.prediction, seeds: plan.seeds, only: plan.only))
        }
        let predictedTest = saySummary(run, plan, measure)
        sayConfusion(plan, predictedTest: predictedTest, measure)
        if let (required, range) = plan.require { checkRequired(required, at: range) }
        sayCurves(run.history)
        sayRegions(plan)
    }

    /// `require=0.992`: the test accuracy the run reached, judged and counted as `:expect` is
    /// (a lesson's `nabla check` fails below it).
    func checkRequired(_ required: Double, at range: SourceRange) {
        guard let accuracy = history?.testAccuracy else {
            record("require=\(Format.number(required))", line: range.start.line, problem: "needs a test split with classes")
            output.out("\(style.bad("✗")) line \(range.start.line): require=\(Format.number(required)) needs a test split with classes")
            return
        }
        record("require=\(Format.number(required))", line: range.start.line,
               problem: accuracy >= required ? nil : "test accuracy \(Session.percent(accuracy)) is below \(Session.percent(required))")
        if accuracy >= required {
            say("\(style.ok("✓")) test accuracy \(Session.percent(accuracy)) ≥ \(Session.percent(required))")
        } else {
            output.out("\(style.bad("✗")) line \(range.start.line): test accuracy \(Session.percent(accuracy)) is below require=\(Format.number(required)) (\(Session.percent(required)))")
        }
    }

    /// `trained 10 epochs in 1.2 s; training loss ...; test loss ...`; the test predictions.
    func saySummary(_ run: TrainRun, _ plan: TrainPlan, _ measure: (Dataset) -> (loss: Double, accuracy: Double?, predicted: [Int])?) -> [Int]? {
        let t = plan.training, e = run.finishedEpochs
        let elapsed = Date().timeIntervalSince(run.start)
        // "1.3 s", "11 min 13 s" (a long run read "6.7e+02 s").
        let took = elapsed < 60 ? "\(Format.number(elapsed, digits: 2)) s" : Session.duration(elapsed)
        var summary = "trained \(e) epoch\(e == 1 ? "" : "s") in \(took)"
        if let (loss, acc, _) = measure(t.train) {
            summary += "; training loss \(Format.number(loss, digits: 4))" + (acc.map { ", accuracy \(Session.percent($0))" } ?? "")
        }
        var predictedTest: [Int]?
        if let test = t.test, let (loss, acc, predicted) = measure(test) {
            summary += "; test loss \(Format.number(loss, digits: 4))" + (acc.map { ", accuracy \(Session.percent($0))" } ?? "")
            predictedTest = predicted
            history?.testAccuracy = acc
        }
        restoreTrainingData(plan)
        say(summary)
        return predictedTest
    }

    func sayConfusion(_ plan: TrainPlan, predictedTest: [Int]?, _ measure: (Dataset) -> (loss: Double, accuracy: Double?, predicted: [Int])?) {
        let t = plan.training
        guard let classes = t.train.classes, classes >= 2, classes <= 20, let (_, kind) = plan.prediction else { return }
        let set = t.test ?? t.train
        let predicted = predictedTest ?? measure(set)?.predicted
        // −1/+1 classes (a sign output) are counted as 0 and 1.
        let asClass = { (c: Int) in kind == .sign ? (c > 0 ? 1 : 0) : c }
        if let predicted, !predicted.isEmpty {
            say(Session.confusion(predicted: predicted.map(asClass), truth: Session.labels(set.y, kind).map(asClass), classes: classes,
                                  title: t.test == nil ? "training set" : "test set"))
        }
        restoreTrainingData(plan)
    }

    func sayCurves(_ history: TrainingHistory) {
        guard history.loss.count > 1 else { return }
        var curves: [(label: String, values: [Double], mark: Character)] = [("training", history.loss, "•")]
        if !history.validationLoss.isEmpty { curves.append(("validation", history.validationLoss, "∘")) }
        say(Plot.curves(curves, width: plotWidth(60), title: "loss").joined(separator: "\n"))
        guard !history.accuracy.isEmpty else { return }
        var acc: [(label: String, values: [Double], mark: Character)] = [("training", history.accuracy.map { $0 * 100 }, "•")]
        if !history.validationAccuracy.isEmpty { acc.append(("validation", history.validationAccuracy.map { $0 * 100 }, "∘")) }
        say(Plot.curves(acc, width: plotWidth(60), height: 8, title: "accuracy (%)").joined(separator: "\n"))
    }

    /// The decision regions of a net on two features: drawn in the terminal, and kept at a
    /// finer grid for `:plot regions file.svg`.
    func sayRegions(_ plan: TrainPlan) {
        let train = plan.training.train
        guard train.features == 2, let (p, kind) = plan.prediction, train.classes != nil else { return }
        let labels = Session.labels(train.y, kind).map { kind == .sign ? ($0 > 0 ? 1 : 0) : $0 }
        let classify = { (grid: Tensor) -> [Int]? in
            let yShape = [grid.rows] + Array(train.y.shape.dropFirst())
            guard (try? self.graph.setValues([(plan.leaves.0, grid), (plan.leaves.1, Tensor.zeros(yShape))], only: plan.only)) != nil else { return nil }
            let c = Session.classes(self.graph.value(p), kind)
            return kind == .sign ? c.map { $0 > 0 ? 1 : 0 } : c
        }
        let columns = plotWidth(64, margin: 2)
        let map = Plot.regionMap(points: train.x, labels: labels, width: columns, height: Swift.max(8, columns * 24 / 64), classify: classify)
        history?.regions = Plot.regionMap(points: train.x, labels: labels, width: 160, height: 120, classify: classify)
        restoreTrainingData(plan)
        if let map { say(Plot.regions(map).map { Session.wrap($0, width: width, indent: 0) }.joined(separator: "\n")) }
    }

}
