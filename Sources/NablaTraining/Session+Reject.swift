import NablaRuntime
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

extension Session {
    package static let rejectUsage = CommandKeys.usage(":reject NET", CommandKeys.reject)
    package static let voteUsage = CommandKeys.usage(":vote NET1 NET2 ...", CommandKeys.vote)

    /// A committee of nets voting, as the slide's 5 convnets (33 of 10,000 test images wrong):
    /// each image gets the class most nets give (a tie goes to the larger summed probability).
    /// Each member's accuracy, the committee's, and the images it gets wrong.
    package func voteCommand(_ args: CommandArguments) throws(Diagnostic) {
        let s = settings(args, CommandKeys.vote, usage: Session.voteUsage)
        try s.check()
        guard s.positional.count >= 2 else { throw args.missing("two nets or more", usage: Session.voteUsage) }
        let (training, set, split, classes) = try classSplit(s, args: args, command: ":vote")
        let leaves = try dataLeaves(training, at: args.wholeRange)
        var votes = [[Int]](repeating: [Int](repeating: 0, count: classes), count: set.count)
        var mass = [[Float]](repeating: [Float](repeating: 0, count: classes), count: set.count)
        var lines = ["a committee of \(s.positional.count) nets votes on the \(set.count) \(split) images:"]
        for (name, range) in s.positional {
            let net = try resolve(name, at: range, within: nil)
            guard let tape = Tape32(graph: graph, root: net, params: [], feeds: [leaves.0, leaves.1]) else {
                throw Diagnostic(.error, "\(name) reads grad() or jacobian() as a value; :vote needs a net's outputs", at: range)
            }
            let probabilities = try classProbabilities(tape, net: net, set: set, classes: classes, at: range)
            var right = 0
            for i in 0..<set.count {
                let p = Array(probabilities[i * classes..<(i + 1) * classes])
                var best = 0
                for c in 1..<classes where p[c] > p[best] { best = c }
                votes[i][best] += 1
                for c in 0..<classes { mass[i][c] += p[c] }
                if Double(best) == set.y.scalars[i] { right += 1 }
            }
            lines.append("  \(name): \(Session.percent(Double(right) / Double(set.count))) (\(set.count - right) wrong)")
        }
        var wrong: [(Int, Int, Int)] = []
        for i in 0..<set.count {
            let choice = (0..<classes).max { (votes[i][$0], mass[i][$0]) < (votes[i][$1], mass[i][$1]) } ?? 0
            if Double(choice) != set.y.scalars[i] { wrong.append((i, Int(set.y.scalars[i]), choice)) }
        }
        let accuracy = Double(set.count - wrong.count) / Double(set.count)
        lines.append("the committee: \(Session.percent(accuracy)) (\(wrong.count) of \(set.count) wrong)")
        // `nabla mnist --committee N` reports it as the test accuracy.
        if split == "test" { history?.testAccuracy = accuracy }
        if !wrong.isEmpty {
            lines.append("wrong (image: true → voted): " + wrong.prefix(20).map { "#\($0.0): \($0.1) → \($0.2)" }.joined(separator: ", ")
                + (wrong.count > 20 ? ", ... (\(wrong.count - 20) more)" : "") + "; :show N \(split) draws one")
        }
        say(lines.joined(separator: "\n"))
    }

    /// LeNet-1's rule: withhold the answer when the two largest class probabilities of NET differ
    /// by less than a margin. A table of margins (the share rejected, the error on the images
    /// answered) and the chosen margin's counts, on the test split by default.
    package func rejectCommand(_ args: CommandArguments) throws(Diagnostic) {
        let s = settings(args, CommandKeys.reject, usage: Session.rejectUsage)
        try s.check()
        guard let (netName, netRange) = s.positional.first, s.positional.count == 1 else {
            throw args.missing("the net whose answers may be withheld", usage: Session.rejectUsage)
        }
        let (training, set, split, classes) = try classSplit(s, args: args, command: ":reject")
        let net = try resolve(netName, at: netRange, within: nil)
        let margin = try s.number("margin")
        let leaves = try dataLeaves(training, at: args.wholeRange)
        guard let tape = Tape32(graph: graph, root: net, params: [], feeds: [leaves.0, leaves.1]) else {
            throw Diagnostic(.error, "\(netName) reads grad() or jacobian() as a value; :reject needs a net's outputs", at: netRange)
        }
        let (gaps, right) = try margins(tape, net: net, set: set, classes: classes, at: netRange)
        var rows: [[String]] = [["  margin", "rejected", "error on the answered"]]
        for m in Array(Set([0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, margin])).sorted() {
            let (rejected, errors, answered) = Session.rejection(gaps, right, margin: m)
            rows.append(["  \(Format.number(m))\(m == margin ? " ←" : "")", Session.percent(Double(rejected) / Double(set.count)),
                         answered == 0 ? "none answered" : Session.percent(Double(errors) / Double(answered))])
        }
        let (rejected, errors, answered) = Session.rejection(gaps, right, margin: margin)
        say(["rejection (LeNet-1's rule): \(netName)'s answer is withheld when its two largest class probabilities (softmax) differ by less than the margin; on the \(set.count) \(split) images:",
             Session.table(rows),
             "margin \(Format.number(margin)): \(rejected) rejected (\(Session.percent(Double(rejected) / Double(set.count)))); \(answered) answered with \(errors) error\(errors == 1 ? "" : "s")"
                + (answered > 0 ? " (\(Session.percent(Double(errors) / Double(answered))))" : "")].joined(separator: "\n"))
    }

    /// The data, the split `split=` names (test by default) and its number of classes, for a
    /// command that compares class outputs.
    func classSplit(_ s: Settings, args: CommandArguments, command: String) throws(Diagnostic) -> (TrainingData, Dataset, String, Int) {
        guard let training = data else { throw Diagnostic(.error, "no data: load a classification set first, e.g. :data mnist", at: args.nameRange) }
        guard let classes = training.train.classes, classes > 2 else {
            throw Diagnostic(.error, "\(command) compares several class outputs; this data has \(training.train.classes.map(String.init) ?? "no") classes", at: args.nameRange)
        }
        let split = try s.choice("split") ?? "test"
        let set: Dataset? = split == "train" ? training.train : split == "val" ? training.validation : training.test
        guard let set, set.count > 0 else { throw Diagnostic(.error, "this data has no \(split) split", at: args.wholeRange) }
        return (training, set, split, classes)
    }

    /// NET's class probabilities (softmax of its outputs) for every image of `set`, row by row:
    /// NET on the float32 tape in batches of 256.
    func classProbabilities(_ tape: Tape32, net: NodeID, set: Dataset, classes: Int, at range: SourceRange) throws(Diagnostic) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(set.count * classes)
        let leaves = (tape.feeds[0], tape.feeds[1])
        // Measured with dropout off, whatever :mode says (the tape copied the graph's seeds).
        for seed in dropoutSeeds(under: net) { tape.set(seed, [-1], shape: []) }
        for first in stride(from: 0, to: set.count, by: 256) {
            let rows = Array(first..<Swift.min(first + 256, set.count))[...]
            Session.feed(tape, leaves, set, rows)
            tape.forward()
            if let problem = tape.problem { throw Diagnostic(.error, problem, at: range) }
            guard let (z, shape) = tape.values(net), shape.count == 2, shape[1] == classes, shape[0] == rows.count else {
                throw Diagnostic(.error, "the net's output must be [N, \(classes)], one row of class scores per image", at: range)
            }
            out += DenseTensor<Float>(shape: shape, scalars: z).softmax.scalars
        }
        return out
    }

    /// For each image, the gap between its two largest class probabilities and whether the
    /// largest is right.
    func margins(_ tape: Tape32, net: NodeID, set: Dataset, classes: Int, at range: SourceRange) throws(Diagnostic) -> ([Float], [Bool]) {
        let p = try classProbabilities(tape, net: net, set: set, classes: classes, at: range)
        var gaps: [Float] = [], right: [Bool] = []
        for i in 0..<set.count {
            let row = Array(p[i * classes..<(i + 1) * classes])
            let best = row.indices.max { row[$0] < row[$1] } ?? 0
            let second = row.indices.filter { $0 != best }.map { row[$0] }.max() ?? 0
            gaps.append(row[best] - second)
            right.append(Double(best) == set.y.scalars[i])
        }
        return (gaps, right)
    }

    /// How many are withheld at `margin`, and the errors among the rest.
    static func rejection(_ gaps: [Float], _ right: [Bool], margin: Double) -> (rejected: Int, errors: Int, answered: Int) {
        var rejected = 0, errors = 0
        for (g, r) in zip(gaps, right) {
            if Double(g) < margin { rejected += 1 } else if !r { errors += 1 }
        }
        return (rejected, errors, gaps.count - rejected)
    }
}
