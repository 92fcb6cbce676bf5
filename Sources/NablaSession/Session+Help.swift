import NablaRuntime
import NablaTeaching
import NablaTraining
import NablaSelfCheck
import NablaSyntax

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

    func help(_ args: CommandArguments) throws(Diagnostic) {
        let topic = args.text.hasPrefix(":") ? String(args.text.dropFirst()) : args.text
        if topic.isEmpty {
            var lines = ["commands (an example of each; :help NAME gives the usage and the details):"]
            lines.append(Session.table(Session.commands.map { ["  " + $0.example, $0.summary] }))
            lines.append("functions:")
            lines.append(Session.table(Builtins.all.filter { $0.name != "σ" }.map { ["  " + $0.signature, "e.g. " + $0.example] }))
            lines.append(Session.syntaxHelp)
            lines.append(":help NAME explains one command or function, e.g. :help cross_entropy")
            say(lines.joined(separator: "\n"))
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
                    })
            }
            say(entry)
            return
        }
        if let f = Builtins.byName[topic] {
            say("\(f.signature)\n  \(f.summary)\n  example: \(f.example)")
            return
        }
        if topic == "syntax" {
            say(Session.syntaxHelp)
            return
        }
        var message = "no help for '\(topic)'"
        let names = Session.commands.map(\.name) + Builtins.all.map(\.name) + ["syntax"]
        if let near = Suggest.nearest(topic, among: names) { message += " (did you mean '\(near)'?)" }
        throw Diagnostic(.error, message, at: args.wholeRange)
    }
}
