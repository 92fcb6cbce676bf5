import NablaRuntime
import NablaTeaching
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

extension Session {
    package static let descendUsage = CommandKeys.usage(":descend J", CommandKeys.descend)
    package static let scheduleUsage = CommandKeys.usage(":schedule power:10|exponential:20|piecewise:5:0.01,10:0.001|1cycle[:max]", CommandKeys.schedule)

    // MARK: - :descend

    /// Runs an optimizer on a function of the params alone (no data): the optimizers
    /// lesson. With two numbers to optimize, the path is drawn over J's level sets.
    package func descendCommand(_ args: CommandArguments) throws(Diagnostic) {
        let s = settings(args, CommandKeys.descend, usage: Session.descendUsage)
        try s.check()
        guard let (name, range) = s.positional.first else { throw args.missing("the function to minimise", usage: Session.descendUsage) }
        let root = try resolve(name, at: range, within: nil)
        try requireScalar(root, name, at: range, command: ":descend")
        let steps = try s.integer("steps")
        let settings = try optimizerSettings(s)
        let params = paramLeaves().filter { graph.depends(root, on: $0.1) }
        guard !params.isEmpty else { throw Diagnostic(.error, "\(name) depends on no param", at: range) }
        // The session's one optimizer store, shared with :train and :update: a second :descend
        // with the same optimizer goes on with its momentum and moments.
        adopt(settings)
        var slots = params.map { name, leaf in
            self.slots[name].flatMap { $0.m.count == graph.value(leaf).count ? $0 : nil } ?? OptimizerSlot(count: graph.value(leaf).count)
        }
        defer { for (i, (name, _)) in params.enumerated() { self.slots[name] = slots[i] } }
        var theta = params.map { graph.value($0.1).scalars }
        var path: [[Double]] = [theta.flatMap { $0 }]
        var values = [graph.value(root).scalar]
        func set(_ t: [[Double]]) throws(GraphError) {
            try graph.setValues(zip(params, t).map { p, v in (p.1, Tensor(shape: graph.value(p.1).shape, scalars: v)) })
        }
        var stopped: String?
        for step in 1...steps {
            if isInterrupted() { stopped = "interrupted after \(step - 1) steps"; break }
            do {
                if settings.needsLookahead { try set(zip(theta, slots).map { settings.lookahead($0, $1) }) }
                let grads = try graph.backward(from: root)
                var next = theta
                for i in params.indices {
                    guard let g = grads[params[i].1] else { continue }
                    next[i] = settings.step(theta[i], gradient: g.scalars, slot: &slots[i])
                }
                guard next.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
                    stopped = "stopped at step \(step): a param went NaN or infinite (lr too large?)"
                    break
                }
                theta = next
                try set(theta)
            } catch {
                stopped = "stopped at step \(step): \(error)"
                break
            }
            path.append(theta.flatMap { $0 })
            values.append(graph.value(root).scalar)
        }
        try? set(theta)
        version += 1
        lastBackward = nil
        var lines = ["\(settings.kind.rawValue) on \(name), η = \(Format.number(settings.lr)): \(values.count - 1) steps, \(name) from \(Format.number(values[0])) to \(Format.number(values.last ?? 0))"]
        if let stopped { lines.append(stopped) }
        let shown = params.map { p in "\(p.0) = \(Printer.value(graph.value(p.1)))" }.joined(separator: "   ")
        lines.append("  " + shown)
        if path[0].count == 2, let drawing = trajectory(path, root: root, width: plotWidth(60, margin: 2), height: Swift.max(8, plotWidth(60, margin: 2) / 3), set: { t in try? set([t].count == params.count ? [t] : [[t[0]], [t[1]]]) }) {
            try? set(theta)
            lines += drawing
        }
        say(lines.joined(separator: "\n"))
    }

    /// The path of two numbers over the level sets of J (darker is lower).
    func trajectory(_ path: [[Double]], root: NodeID, width: Int = 60, height: Int = 20, set: ([Double]) -> Void) -> [String]? {
        let xs = path.map { $0[0] }, ys = path.map { $0[1] }
        guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max(),
              [x0, x1, y0, y1].allSatisfy(\.isFinite) else { return nil }
        let mx = Swift.max((x1 - x0) * 0.15, 0.1), my = Swift.max((y1 - y0) * 0.15, 0.1)
        let (left, right, bottom, top) = (x0 - mx, x1 + mx, y0 - my, y1 + my)
        guard [left, right, bottom, top, right - left, top - bottom].allSatisfy(\.isFinite) else { return nil }
        var levels: [Double] = []
        for r in 0..<height {
            for c in 0..<width {
                set([left + (Double(c) + 0.5) / Double(width) * (right - left), top - (Double(r) + 0.5) / Double(height) * (top - bottom)])
                levels.append(graph.value(root).scalar)
            }
        }
        // Shade by rank, so the level sets show whatever J's scale.
        let sorted = levels.sorted()
        let shades: [Character] = ["█", "▓", "▒", "░", "·", " "]
        var canvas: [Character] = levels.map { v in
            let rank = sorted.firstIndex { $0 >= v } ?? 0
            return shades[Swift.min(rank * shades.count / Swift.max(sorted.count, 1), shades.count - 1)]
        }
        for (i, p) in path.enumerated() {
            let cx = (p[0] - left) / (right - left) * Double(width), ry = (top - p[1]) / (top - bottom) * Double(height)
            guard cx.isFinite, ry.isFinite, cx >= 0, cx < Double(width), ry >= 0, ry < Double(height) else { continue }
            let c = Int(cx), r = Int(ry)
            canvas[r * width + c] = i == 0 ? "S" : (i == path.count - 1 ? "E" : "●")
        }
        var lines = ["the path from S to E over the level sets (darker is lower):"]
        for r in 0..<height { lines.append("│" + String(canvas[r * width..<(r + 1) * width]) + "│") }
        lines.append("horizontal \(Format.number(left, digits: 3)) to \(Format.number(right, digits: 3)), vertical \(Format.number(bottom, digits: 3)) to \(Format.number(top, digits: 3))")
        return lines
    }

    // MARK: - :schedule

    package func scheduleCommand(_ args: CommandArguments) throws(Diagnostic) {
        let usage = Session.scheduleUsage
        let s = settings(args, CommandKeys.schedule, usage: usage)
        try s.check()
        guard let (text, range) = s.positional.first else { throw args.missing("a schedule", usage: usage) }
        guard let schedule = Schedule.parse(text) else { throw Diagnostic(.error, "unknown schedule '\(text)' (usage: \(usage))", at: range) }
        let lr = try s.number("lr")
        let epochs = try s.integer("epochs")
        let rates = (0..<epochs).map { schedule.rate(lr, epoch: $0, of: epochs) }
        var lines = ["\(schedule.description), η0 = \(Format.number(lr)), \(epochs) epochs"]
        let marks = Array(Set([0, 1, epochs / 10, epochs / 4, epochs / 2, 3 * epochs / 4, epochs - 1])).filter { $0 < epochs }.sorted()
        lines.append("  " + marks.map { "η(\($0)) = \(Format.number(rates[$0]))" }.joined(separator: "   "))
        lines += Plot.curves([("η", rates, "•")], width: plotWidth(60), height: 8, title: "learning rate", axis: "t =", first: 0)
        say(lines.joined(separator: "\n"))
    }
}
