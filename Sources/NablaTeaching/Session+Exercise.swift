import NablaRuntime
import Foundation
import NablaSyntax
import NablaTensor

/// An exam-style exercise: a small graph with friendly numbers, and what to compute by hand.
struct Exercise {
    enum Kind: String, CaseIterable {
        case neuron, chain, vector
    }

    var kind: Kind
    var number: Int
    /// The definitions, as a script.
    var lines: [String]
    /// What the student computes, in order: a value's name or a gradient as `dL/dw`. The
    /// intermediate gradients come first (dL/dp, dL/dz), so a ✗ further down names its link.
    var questions: [String]

    /// The exercise `number` of a kind: the same number always gives the same exercise.
    static func make(_ kind: Kind, number: Int) -> Exercise {
        var random = RandomSource(seed: UInt64(number) &* 2_654_435_761 &+ UInt64(kind.rawValue.count))
        func pick(_ options: [Double]) -> Double { options[Int(random.next() % UInt64(options.count))] }
        func n(_ x: Double) -> String { Format.number(x) }
        switch kind {
        case .neuron:
            let x1 = pick([-2, -1, 1, 2, 3]), x2 = pick([-2, -1, 1, 2])
            let w1 = pick([-2, -1, -0.5, 0.5, 1, 2]), w2 = pick([-1, -0.5, 0.5, 1, 2]), b = pick([-1, 0, 1])
            let y = pick([-1, 1])
            return Exercise(kind: kind, number: number, lines: [
                "x1 = \(n(x1))", "x2 = \(n(x2))", "y = \(n(y))",
                "param w1 = \(n(w1))", "param w2 = \(n(w2))", "param b = \(n(b))",
                "z = w1*x1 + w2*x2 + b", "p = sigmoid(y*z)", "L = -log(p)",
            ], questions: ["p", "dL/dp", "dL/dz", "dL/dw1", "dL/db"])
        case .chain:
            let x = pick([-1, 1, 2]), t = pick([0, 1, 2])
            let w1 = pick([-2, -1, 1, 2, 3]), w2 = pick([-2, -1, 1, 2]), b2 = pick([-3, -1, 0, 1])
            // Keep the ReLU active: its input is w1*x + b1 > 0.
            let b1 = Swift.max(pick([-1, 0, 1, 2]), 1 - w1 * x)
            return Exercise(kind: kind, number: number, lines: [
                "x = \(n(x))", "t = \(n(t))",
                "param w1 = \(n(w1))", "param b1 = \(n(b1))", "param w2 = \(n(w2))", "param b2 = \(n(b2))",
                "h = relu(w1*x + b1)", "yhat = w2*h + b2", "L = (yhat - t)^2",
            ], questions: ["L", "dL/dyhat", "dL/dh", "dL/dw1", "dL/db1"])
        case .vector:
            let x = [pick([-1, 1, 2]), pick([-1, 1, 2])]
            var w = (0..<4).map { _ in pick([-1, 0, 1, 2]) }
            // Keep both ReLUs active so the exercise is about the matrix product.
            for r in 0..<2 {
                var tries = 0
                while w[2 * r] * x[0] + w[2 * r + 1] * x[1] <= 0 && tries < 50 {
                    w[2 * r] = pick([-1, 0, 1, 2])
                    w[2 * r + 1] = pick([-1, 0, 1, 2])
                    tries += 1
                }
                // Always reachable: the row (sign(x0), sign(x1)) gives |x0| + |x1| > 0.
                if w[2 * r] * x[0] + w[2 * r + 1] * x[1] <= 0 { (w[2 * r], w[2 * r + 1]) = (x[0] > 0 ? 1 : -1, x[1] > 0 ? 1 : -1) }
            }
            let v = [pick([-1, 1, 2]), pick([-2, -1, 1])]
            let t = pick([0, 1, 2])
            return Exercise(kind: kind, number: number, lines: [
                "x = [\(n(x[0])), \(n(x[1]))]", "t = \(n(t))",
                "param W = [[\(n(w[0])), \(n(w[1]))], [\(n(w[2])), \(n(w[3]))]]", "param v = [\(n(v[0])), \(n(v[1]))]",
                "h = relu(W @ x)", "s = v · h", "L = (s - t)^2",
            ], questions: ["L", "dL/ds", "dL/dh", "dL/dv", "dL/dW"])
        }
    }
}

extension Session {
    package func exerciseCommand(_ args: CommandArguments) throws(Diagnostic) {
        let words = args.words
        var kind = Exercise.Kind.neuron
        var number: Int?
        for (word, range) in words {
            if let k = Exercise.Kind(rawValue: word) {
                kind = k
            } else if let v = Int(word), v >= 0 {
                number = v
            } else {
                let kinds = Exercise.Kind.allCases.map(\.rawValue)
                var message = "unknown exercise '\(word)' (there are: \(kinds.joined(separator: ", ")))"
                if let near = Suggest.nearest(word, among: kinds) { message = "unknown exercise '\(word)' (did you mean '\(near)'?)" }
                throw Diagnostic(.error, message, at: range)
            }
        }
        let n = number ?? Int(random.next() % 1000)
        let exercise = Exercise.make(kind, number: n)
        // The exercise lives in a session of its own: the student's definitions stay as they are.
        let sheet = Session(output: output, seed: UInt64(n))
        sheet.quiet = true
        sheet.colors = colors
        guard sheet.defineAll(exercise.lines) else {
            throw Diagnostic(.error, "internal: exercise \(kind.rawValue) \(n) did not build", at: args.nameRange)
        }
        sheet.quiet = quiet
        var lines = [style.heading("exercise: \(kind.rawValue) #\(n)") + "   (:exercise \(kind.rawValue) \(n) gives the same one again)"]
        lines += exercise.lines.map { "  " + $0 }
        let asks = exercise.questions.enumerated().map { "\($0 + 1)) \(Session.questionTitle($1))" }
        lines.append("compute by hand: " + asks.joined(separator: "   ") + ".")
        lines.append("type each answer (a number, [a, b] or [[a, b], [c, d]]); Enter skips, q leaves")
        say(lines.joined(separator: "\n"))
        var index = 0
        func prompt() -> String { "\(Session.questionTitle(exercise.questions[index])) = " }
        pending = PendingInteraction(prompt: prompt()) { [unowned self] line in
            let answer = line.trimmingCharacters(in: .whitespaces)
            if answer == "q" {
                self.say("left the exercise; the solution:")
                self.say(self.solution(exercise, in: sheet).joined(separator: "\n"))
                return false
            }
            let question = exercise.questions[index]
            if answer.isEmpty {
                self.say("skipped")
            } else {
                let (lines, counted) = sheet.judgeAnswer(question, answer)
                self.say(lines.joined(separator: "\n"))
                // A typo or a shape error is not an answer: the same question again.
                if !counted { return true }
            }
            index += 1
            if index < exercise.questions.count {
                self.pending?.prompt = prompt()
                return true
            }
            self.say("the solution:")
            self.say(self.solution(exercise, in: sheet).joined(separator: "\n"))
            return false
        }
    }

    /// `∂L/∂w1` for `dL/dw1`; a value's name as it is.
    static func questionTitle(_ q: String) -> String {
        guard q.hasPrefix("d"), let slash = q.firstIndex(of: "/") else { return q }
        return "∂" + q[q.index(after: q.startIndex)..<slash] + "/∂" + q[q.index(slash, offsetBy: 2)...]
    }

    /// Judges one typed answer as `:verify` does; a typo is an error, not a wrong answer
    /// (`counted` false: the question is asked again).
    func judgeAnswer(_ question: String, _ answer: String) -> (lines: [String], counted: Bool) {
        do {
            let subject = try verifySubject(question, column: 1)
            let expr = try Parser.parseExpression(answer)
            let typed = try evaluate(expr)
            return (try verify(subject, typed: typed, typedExpr: expr), true)
        } catch {
            let text = error.rendered(in: SourceText(file: nil, text: answer, firstLine: 1))
            return ([text + "\n(not counted: type it again, Enter to skip, q to leave)"], false)
        }
    }

    /// Every answer, the gradients derived by the chain rule.
    func solution(_ exercise: Exercise, in sheet: Session) -> [String] {
        var lines: [String] = []
        for q in exercise.questions {
            if q.hasPrefix("d"), case let .gradient(root, rootLabel, node, nodeLabel)? = try? sheet.verifySubject(q, column: 1) {
                lines += sheet.explanation(of: root, rootLabel, wrt: node, nodeLabel).map { "  " + $0 }
            } else if let d = sheet.definitions[q] {
                let v = sheet.graph.value(d.slot)
                lines.append("  \(q) = \(d.expr.text) = \(Printer.value(v))" + sheet.inputsText(of: d))
            }
        }
        return lines
    }
}
