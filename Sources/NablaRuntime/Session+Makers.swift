import Foundation
import NablaSyntax
import NablaTensor

/// A command that made definitions (`:data`, `:mlp`, `:cnn`, `:perceptron`), remembered so
/// that `:save` writes the command, not its output: a saved MNIST session is a few lines,
/// and `:load` gives back the data and the nets, so the session trains again.
package struct Maker: Sendable {
    /// The command as typed (`:data moons 400 noise=0.2`).
    package var text: String
    /// The session's random generator just before it ran (`:seed N spare=X` restores it).
    package var random: (state: UInt64, spareNormal: Double?)
    /// When it ran, among the definitions (their `sequence`).
    package var sequence: Int
    /// The names it defined that still hold what it made.
    package var names: Set<String>
    /// Defined names it read (`:mlp net 2-8-1 input=Z` reads Z; a net reads X and Y).
    package var reads: Set<String>
    /// Every name it made, those since deleted too (`:save` deletes them again after it).
    package var made: Set<String>
}

extension Session {
    /// Runs a command that makes definitions and remembers it for `:save`. A name it makes
    /// is taken from an earlier maker; a maker left with no names is forgotten.
    package func making(_ text: String, _ body: () throws(Diagnostic) -> Void) throws(Diagnostic) {
        guard makingDepth == 0 else { return try body() }
        let snapshot = random.snapshot, sequence = nextSequence
        makingDepth = 1
        madeNow = []
        defer { (makingDepth, madeNow) = (0, []) }
        do { try body() } catch {
            // A command that failed half-way may have set some names: they are no longer what
            // an earlier command made, and this one is not remembered.
            for name in madeNow { forgetMade(name, always: true) }
            throw error
        }
        let made = madeNow.intersection(Set(definitions.keys))
        guard !made.isEmpty else { return }
        for i in makers.indices { makers[i].names.subtract(made) }
        makers.removeAll { $0.names.isEmpty }
        // What it read: the names in its text and those its definitions read; a net or the
        // perceptron also reads the data (X, Y) without naming it.
        let words = Set(text.split(whereSeparator: { !Lexer.isIdentifierPart($0) }).map(String.init))
        var reads = words.union(made.flatMap { definitions[$0]?.dependencies ?? [] })
        if !text.hasPrefix(":data") { reads.formUnion(["X", "Y"]) }
        reads = reads.intersection(Set(definitions.keys)).subtracting(made)
        makers.append(Maker(text: withAbsolutePaths(text), random: snapshot, sequence: sequence, names: made, reads: reads, made: made))
    }

    /// `:data csv FILE` and `dir=DIR` with their paths made absolute, as they were resolved
    /// when the command ran: a script saved in another folder still finds the files.
    func withAbsolutePaths(_ text: String) -> String {
        guard text.hasPrefix(":data ") else { return text }
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ path: String) -> String {
            guard !path.isEmpty, !path.hasPrefix("\""), !path.contains("\\") else { return path }
            let resolved = resolvePath(path)
            return resolved.hasPrefix("/") ? resolved : cwd + "/" + resolved
        }
        var words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        for i in words.indices {
            if words[i].hasPrefix("dir=") { words[i] = "dir=" + absolute(String(words[i].dropFirst(4))) }
            if i == 2, words[1] == "csv" { words[i] = absolute(words[i]) }
        }
        return words.joined(separator: " ")
    }

    /// Names the running command set (a definition, or X and Y refilled in place).
    package func noteMade(_ names: [String]) {
        if makingDepth > 0 { madeNow.formUnion(names) }
    }

    /// A name redefined by the user (or deleted) no longer holds what its maker made.
    package func forgetMade(_ name: String, always: Bool = false) {
        guard makingDepth == 0 || always, makers.contains(where: { $0.names.contains(name) }) else { return }
        for i in makers.indices { makers[i].names.remove(name) }
        makers.removeAll { $0.names.isEmpty }
    }
}
