import NablaGraph
import NablaSyntax
import NablaTensor

/// The limits that turn runaway input into a refusal instead of a crash or an exhausted
/// machine. Each refusal names its limit and says `:limits NAME=N` changes it.
extension Session {
    public static let defaultMaxNodes = 1_000_000
    public static let nodesCeiling = 50_000_000
    public static let defaultMaxScriptBytes = 10_000_000
    public static let scriptCeiling = 1_000_000_000

    /// The most numbers all values together may hold (`:limits total=N`).
    public var maxHeldNumbers: Int {
        get { graph.maxHeldElements }
        set { graph.maxHeldElements = newValue }
    }

    /// One limit: what it bounds, its value, its default and the most it may be set to.
    struct Limit {
        var name: String
        var what: String
        var value: Int
        var defaultValue: Int
        var ceiling: Int
    }

    var limits: [Limit] {
        [
            Limit(name: "elements", what: "numbers in one tensor", value: maxElements, defaultValue: TensorLimits.defaultMaxElements, ceiling: TensorLimits.elementsCeiling),
            Limit(name: "total", what: "numbers held by all values together", value: graph.maxHeldElements, defaultValue: Graph.defaultMaxHeldElements, ceiling: Graph.heldElementsCeiling),
            Limit(name: "nodes", what: "nodes in the graph", value: maxNodes, defaultValue: Session.defaultMaxNodes, ceiling: Session.nodesCeiling),
            Limit(name: "nesting", what: "levels of brackets and operators in an expression", value: maxNesting, defaultValue: Parser.defaultMaxNesting, ceiling: Parser.nestingCeiling),
            Limit(name: "height", what: "operators in a chain (the expression tree's height)", value: maxHeight, defaultValue: Parser.defaultMaxHeight, ceiling: Parser.heightCeiling),
            Limit(name: "script", what: "bytes of a script file", value: maxScriptBytes, defaultValue: Session.defaultMaxScriptBytes, ceiling: Session.scriptCeiling),
        ]
    }

    /// `:limits` shows every limit; `:limits nodes=2000000 nesting=100` changes some (all or none).
    package func limitsCommand(_ args: CommandArguments) throws(Diagnostic) {
        let s = Settings(args.words)
        let known = limits.map(\.name)
        try s.check(known, usage: ":limits [" + known.map { "\($0)=N" }.joined(separator: "] [") + "]")
        if let (word, range) = s.positional.first {
            throw Diagnostic(.error, "'\(word)' is not a setting: write name=N, like :limits nodes=2000000", at: range)
        }
        var changes: [(String, Int)] = []
        for limit in limits {
            guard s.values[limit.name] != nil else { continue }
            let v = try s.integer(limit.name, default: limit.value, in: 1...limit.ceiling, what: "a whole number from 1 to \(Format.grouped(Double(limit.ceiling)))")
            changes.append((limit.name, v))
        }
        for (name, v) in changes {
            switch name {
            case "elements": maxElements = v
            case "nodes": maxNodes = v
            case "total": graph.maxHeldElements = v
            case "nesting": maxNesting = v
            case "height": maxHeight = v
            default: maxScriptBytes = v
            }
        }
        let rows = [["limit", "value", "default", "at most", "bounds"]] + limits.map {
            [$0.name, Format.grouped(Double($0.value)), Format.grouped(Double($0.defaultValue)), Format.grouped(Double($0.ceiling)), $0.what]
        }
        say((changes.isEmpty ? "" : "changed: " + changes.map { "\($0.0)=\($0.1)" }.joined(separator: ", ") + "\n") + Session.table(rows)
            + "\n(every limit holds for this session only; :reset keeps them)")
    }

    /// The refusal when all values together hold more than `total` allows. The graph checks
    /// each computed node as it is made; leaves (literals, builders, params, data) are checked
    /// here, once the statement that made them is compiled.
    package func heldRefusal(at range: SourceRange) -> Diagnostic? {
        let held = graph.heldElements, limit = graph.maxHeldElements
        guard held > limit else { return nil }
        return Diagnostic(
            .error, "all values together would hold \(Format.grouped(Double(held))) numbers (\(Format.bytes(Double(held) * 8))); "
                + "the limit is total=\(Format.grouped(Double(limit))) (:limits total=N changes it; :reset forgets every definition)", at: range)
    }

    /// The refusal of a definition that would grow the graph to `count` nodes, past `maxNodes`.
    func tooManyNodes(_ count: Int, at range: SourceRange) -> Diagnostic {
        Diagnostic(
            .error, "the graph would hold \(Format.grouped(Double(count))) nodes; the limit is nodes=\(Format.grouped(Double(maxNodes))) (:limits nodes=N changes it; :reset forgets every definition)",
            at: range)
    }
}
