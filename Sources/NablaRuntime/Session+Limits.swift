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

    package static let limitsUsage = CommandKeys.usage(":limits", CommandKeys.limits)

    /// A limit's current value in this session.
    func value(of limit: LimitName) -> Int {
        switch limit {
        case .elements: return maxElements
        case .total: return graph.maxHeldElements
        case .nodes: return maxNodes
        case .nesting: return maxNesting
        case .height: return maxHeight
        case .script: return maxScriptBytes
        }
    }

    func set(_ limit: LimitName, to v: Int) {
        switch limit {
        case .elements: maxElements = v
        case .total: graph.maxHeldElements = v
        case .nodes: maxNodes = v
        case .nesting: maxNesting = v
        case .height: maxHeight = v
        case .script: maxScriptBytes = v
        }
    }

    /// `:limits` shows every limit; `:limits nodes=2000000 nesting=100` changes some (all or none).
    /// The keys, their ranges and defaults are declared in `CommandKeys.limits`.
    package func limitsCommand(_ args: CommandArguments) throws(Diagnostic) {
        let s = settings(args, CommandKeys.limits, usage: Session.limitsUsage)
        try s.check()
        if let (word, range) = s.positional.first {
            throw Diagnostic(.error, "'\(word)' is not a setting: write name=N, like :limits nodes=2000000", at: range)
        }
        var changes: [(LimitName, Int)] = []
        for limit in LimitName.allCases where s.values[limit.rawValue] != nil {
            changes.append((limit, try s.integer(limit.rawValue)))
        }
        for (limit, v) in changes { set(limit, to: v) }
        let rows = [["limit", "value", "default", "at most", "bounds"]] + LimitName.allCases.map { limit in
            let (defaultValue, ceiling) = limit.defaultAndCeiling
            return [limit.rawValue, Format.grouped(Double(value(of: limit))), Format.grouped(Double(defaultValue)), Format.grouped(Double(ceiling)), limit.what]
        }
        say((changes.isEmpty ? "" : "changed: " + changes.map { "\($0.0.rawValue)=\($0.1)" }.joined(separator: ", ") + "\n") + Session.table(rows)
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

extension LimitName {
    /// The default and the most it may be set to.
    package var defaultAndCeiling: (Int, Int) {
        switch self {
        case .elements: return (TensorLimits.defaultMaxElements, TensorLimits.elementsCeiling)
        case .total: return (Graph.defaultMaxHeldElements, Graph.heldElementsCeiling)
        case .nodes: return (Session.defaultMaxNodes, Session.nodesCeiling)
        case .nesting: return (Parser.defaultMaxNesting, Parser.nestingCeiling)
        case .height: return (Parser.defaultMaxHeight, Parser.heightCeiling)
        case .script: return (Session.defaultMaxScriptBytes, Session.scriptCeiling)
        }
    }
}
