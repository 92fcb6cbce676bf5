import NablaGraph
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
    /// Defined names its text reads (`:mlp net 2-8-1 input=Z` reads Z).
    package var reads: Set<String>
}

extension Session {
    /// Runs a command that makes definitions and remembers it for `:save`. A name it makes
    /// is taken from an earlier maker; a maker left with no names is forgotten.
    package func making(_ text: String, _ body: () throws(Diagnostic) -> Void) throws(Diagnostic) {
        let before = definitions.mapValues { Fingerprint($0) }
        let snapshot = random.snapshot, sequence = nextSequence
        makingDepth += 1
        defer { makingDepth -= 1 }
        try body()
        guard makingDepth == 1 else { return }
        let made = Set(definitions.compactMap { name, d in before[name] == Fingerprint(d) ? nil : name })
        guard !made.isEmpty else { return }
        for i in makers.indices { makers[i].names.subtract(made) }
        makers.removeAll { $0.names.isEmpty }
        let words = Set(text.split(whereSeparator: { !Lexer.isIdentifierPart($0) }).map(String.init))
        let reads = words.intersection(Set(definitions.keys)).subtracting(made)
        makers.append(Maker(text: text, random: snapshot, sequence: sequence, names: made, reads: reads))
    }

    /// A name redefined by the user (or deleted) no longer holds what its maker made.
    package func forgetMade(_ name: String) {
        guard makingDepth == 0, makers.contains(where: { $0.names.contains(name) }) else { return }
        for i in makers.indices { makers[i].names.remove(name) }
        makers.removeAll { $0.names.isEmpty }
    }
}

/// What a definition is, to tell whether a command changed it.
struct Fingerprint: Equatable {
    var slot: NodeID
    var nodes: [NodeID]
    var text: String
    init(_ d: Definition) {
        slot = d.slot
        nodes = d.nodes
        text = d.expr.text
    }
}
