import NablaRuntime
import NablaTeaching
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

extension Session {
    package static let perceptronUsage = CommandKeys.usage(":perceptron", CommandKeys.perceptron)

    // MARK: - :perceptron

    /// Rosenblatt's perceptron learning rule, as the course gives it: for each sample in
    /// turn, ŷ = step(w · x + b); w ← w + η (y − ŷ) x; b ← b + η (y − ŷ). With `out=sign`
    /// (the McCulloch-Pitts slide, targets ±1) ŷ = sign(w · x + b) and the same rule moves
    /// w by 2η y x on a mistake. An epoch with no mistake means the data is separated; on
    /// XOR that never happens.
    package func perceptronCommand(_ args: CommandArguments) throws(Diagnostic) {
        let s = settings(args, CommandKeys.perceptron, usage: Session.perceptronUsage)
        try s.check()
        guard let training = data else {
            throw Diagnostic(.error, "no data: load some first, e.g. :data and, :data xor or :data blobs 40", at: args.nameRange)
        }
        guard training.train.classes == 2 else {
            throw Diagnostic(.error, "the perceptron separates two classes; this data has \(training.train.classes.map(String.init) ?? "no") classes", at: args.nameRange)
        }
        let epochs = try s.integer("epochs")
        let eta = try s.number("lr")
        let pm1 = training.train.y.scalars.contains { $0 < 0 }
        let signed = (try s.choice("out", default: pm1 ? "sign" : "step")) == "sign"
        let low = signed ? -1.0 : 0.0
        let f = signed ? "sign" : "step"
        let x = training.train.x, y = training.train.y.scalars.map { $0 > 0 ? 1.0 : low }
        let d = x.cols
        var w = [Double](repeating: 0, count: d)
        var b = 0.0
        var lines = ["the perceptron on \(training.train.name): w = 0, b = 0, η = \(Format.number(eta)); ŷ = \(f)(w · x + b) ∈ {\(Format.number(low)), 1}, w ← w + η (y − ŷ) x, b ← b + η (y − ŷ)"]
        var converged: Int?
        var mistakes = 0
        for epoch in 1...epochs {
            if isInterrupted() { break }
            mistakes = 0
            for i in 0..<x.rows {
                let row = x.scalars[i * d..<(i + 1) * d]
                let z = zip(w, row).reduce(b) { $0 + $1.0 * $1.1 }
                let yhat: Double = z >= 0 ? 1 : low
                let error = y[i] - yhat
                guard error != 0 else { continue }
                mistakes += 1
                for j in 0..<d { w[j] += eta * error * row[row.startIndex + j] }
                b += eta * error
            }
            if epoch <= 12 || mistakes == 0 || epoch == epochs {
                let wText = Printer.value(Tensor(vector: w))
                lines.append("  epoch \(epoch): \(mistakes) mistake\(mistakes == 1 ? "" : "s")   w = \(wText)   b = \(Format.number(b))")
            } else if epoch == 13 {
                lines.append("  ...")
            }
            if mistakes == 0 {
                converged = epoch
                break
            }
        }
        if let converged {
            lines.append("converged after \(converged) epoch\(converged == 1 ? "" : "s"): every sample is on the right side of w · x + b = 0")
        } else {
            lines.append("did not converge in \(epochs) epochs: still \(mistakes) mistake\(mistakes == 1 ? "" : "s") per epoch"
                + (training.train.name == "xor" ? " — XOR is not linearly separable: no line puts (0,1), (1,0) on one side and (0,0), (1,1) on the other" : ""))
        }
        say(lines.joined(separator: "\n"))
        try defineValue("w", Tensor(vector: w), isParam: true, text: "perceptron weights", at: args.wholeRange)
        try defineValue("b", Tensor(b), isParam: true, text: "perceptron bias", at: args.wholeRange)
        try runDefinition("perceptron = \(f)(\(training.xName) @ w + b)", quietly: true, at: args)
    }

    // MARK: - :stats

    /// Per-layer statistics (the initialization lesson): the mean and standard deviation
    /// of each layer's activations and of the loss's gradient with respect to them.
    package func statsCommand(_ args: CommandArguments) throws(Diagnostic) {
        let words = args.words
        guard let (lossName, lossRange) = words.first else { throw args.missing("the loss", usage: ":stats L [layer names...]") }
        let root = try resolve(lossName, at: lossRange, within: nil)
        try requireScalar(root, lossName, at: lossRange, command: ":stats")
        var names = words.dropFirst().map(\.0)
        if names.isEmpty {
            names = layerNames.values.flatMap { $0 }.filter { name in
                definitions[name].map { graph.depends(root, on: $0.slot) } ?? false
            }.sorted { (definitions[$0]?.sequence ?? 0) < (definitions[$1]?.sequence ?? 0) }
        }
        guard !names.isEmpty else {
            throw args.missing("layer names (or an :mlp whose layers L uses)", usage: ":stats L h1 h2 ...")
        }
        let grads: Gradients
        do { grads = try graph.backward(from: root) } catch { throw Diagnostic(.error, error.message, at: lossRange) }
        func stats(_ v: [Double]) -> (Double, Double) {
            let n = Double(Swift.max(v.count, 1))
            let mean = v.reduce(0, +) / n
            let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
            return (mean, variance.squareRoot())
        }
        var rows: [[String]] = [["layer", "shape", "activation mean", "activation std", "gradient mean", "gradient std"]]
        for (i, name) in names.enumerated() {
            let range = i + 1 < words.count ? words[i + 1].1 : args.wholeRange
            let id = try resolve(name, at: range, within: root)
            let v = graph.value(id)
            let (am, asd) = stats(v.scalars)
            let g = grads[id]?.scalars ?? []
            let (gm, gsd) = stats(g)
            rows.append([name, Shape.describe(v.shape), Format.number(am, digits: 3), Format.number(asd, digits: 3),
                         g.isEmpty ? "-" : Format.number(gm, digits: 3), g.isEmpty ? "-" : Format.number(gsd, digits: 3)])
        }
        say(Session.table(rows))
    }
}
