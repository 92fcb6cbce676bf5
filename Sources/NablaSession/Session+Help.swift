import NablaRuntime
import NablaTeaching
import NablaTraining
import NablaSelfCheck
import NablaSyntax
import NablaNN

// MARK: - :help

extension Session {
    static let syntaxHelp = """
        syntax:
          x = 2                 a live definition (redefine x: its users follow)
          param w = -1          a trainable value (:update changes it)
          seed 42               make randn, glorot, he, lecun reproducible
          + -   * / @ ·   -x   x^2   W'   x[0]   W[1, 2]   [1, 2]   [[1, 2], [3, 4]]
          ∂L/∂w                 the gradient as a value, like grad(L, w)
          # a comment
        """

    static let mnistHelp = """
        mnist(), mnist(n), fashion_mnist(), fashion_mnist(n)
          on a line of its own: load MNIST (or Fashion-MNIST), the first n training images, as
          :data mnist [n] does: X, Y (the training images, one per row, and their labels) and
          X_test, Y_test (the 10,000 test images); no validation split unless :data ... val= asks
          example: mnist(2000)
          the files: dir=, else $NABLA_DATA, else ~/.cache/nabla/mnist (:data mnist download
          fetches them, checked by MD5); from the shell: nabla mnist --help
        """

    func help(_ args: CommandArguments) throws(Diagnostic) {
        let topic = args.text.hasPrefix(":") ? String(args.text.dropFirst()) : args.text
        if topic.isEmpty {
            var lines = ["commands (an example of each; :help NAME gives the usage and the details):"]
            lines.append(Session.table(Session.commands.map { ["  " + $0.example, $0.summary] }, width: width))
            lines.append("functions:")
            lines.append(Session.table(Builtins.all.filter { $0.name != "σ" }.map { ["  " + $0.signature, "e.g. " + $0.example] }, width: width))
            lines.append(Session.syntaxHelp)
            lines.append(":help NAME explains one command or function, e.g. :help cross_entropy")
            sayLong(lines.joined(separator: "\n"))
            return
        }
        if let command = Session.commandsByName[topic] {
            var entry = "\(command.usage)\n  \(command.summary)\n  example: \(command.example)"
            if !command.details.isEmpty { entry += "\n" + command.details.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") }
            if !command.keys.isEmpty {
                // Values may be expressions: lr=1/4, lr=eta.
                entry += "\n  settings (a number may be an expression, like lr=1/4):\n"
                    + Session.table(command.keys.map { key in
                        if case .text = key.kind { return ["    \(key.name)=\(key.shownDefault)", key.help] }
                        return ["    \(key.name)=\(key.shownDefault)", "\(key.help); \(key.what)"]
                    }, width: width)
            }
            sayLong(entry)
            return
        }
        if let f = Builtins.byName[topic] {
            sayLong("\(f.signature)\n  \(f.summary)\n  example: \(f.example)")
            return
        }
        if topic == "optimizers" || OptimizerKind(rawValue: topic) != nil {
            sayLong(optimizerHelp(OptimizerKind(rawValue: topic).map { [$0] } ?? OptimizerKind.allCases))
            return
        }
        if ["mnist", "mnist()", "fashion_mnist", "fashion_mnist()", "fashion"].contains(topic) {
            sayLong(Session.mnistHelp)
            return
        }
        if topic == "syntax" {
            say(Session.syntaxHelp)
            return
        }
        var message = "no help for '\(topic)'"
        let names = Session.commands.map(\.name) + Builtins.all.map(\.name) + ["syntax", "optimizers", "mnist", "fashion_mnist"] + OptimizerKind.allCases.map(\.rawValue)
        if let near = Suggest.nearest(topic, among: names) { message += " (did you mean '\(near)'?)" }
        throw Diagnostic(.error, message, at: args.wholeRange)
    }

    /// The update rules in use (the current optimizer's settings for its kind, the defaults for
    /// the others), with the other placement of ε where there is one.
    func optimizerHelp(_ kinds: [OptimizerKind]) -> String {
        var lines: [String] = []
        for kind in kinds {
            var settings = OptimizerSettings(kind: kind, lr: 0.01)
            if let current = optimizer, current.kind == kind { settings = current }
            // The rule on one line, its constants on the next: both fit a terminal.
            func split(_ formula: String) -> [String] {
                formula.components(separatedBy: "   (").enumerated().map { $0.offset == 0 ? "    " + $0.element : "    (" + $0.element }
            }
            lines.append("\(kind.rawValue)\(optimizer?.kind == kind ? " (in use)" : ""):")
            lines += split(settings.formula)
            guard [.adagrad, .rmsprop, .adam].contains(kind) else { continue }
            var other = settings
            other.epsilonForm = settings.epsilonForm == .outside ? .inside : .outside
            lines.append("  with eps_form=\(other.epsilonForm.rawValue):")
            lines += split(other.formula)
        }
        lines.append("opt= picks one (:train, :update, :descend); eps_form=outside is PyTorch's, Keras's\nand the Adam slide's; "
            + "decay=λ adds λθ to g, decay_form=shrink is the slides' θ ← (1 − ζ)(θ + Δθ)")
        return lines.joined(separator: "\n")
    }
}
