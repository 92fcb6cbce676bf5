import NablaRuntime
import NablaSelfCheck
import NablaTeaching
import NablaGraph
import NablaTensor

/// What `Session.selfCheck` compared, and what did not hold.
public struct SelfCheckReport: Sendable {
    /// One thing that did not hold: its kind (`line`, `gradient`, `jacobian`, `local`,
    /// `paths`, `shapes`) and a sentence saying what differs.
    public struct Failure: Sendable {
        public var kind: String
        public var message: String
    }

    public var programs = 0
    /// Programs whose values were not all finite (nothing is compared on them).
    public var nonFinite = 0
    /// Entries of ∂L/∂param compared with central differences.
    public var gradientEntries = 0
    /// Entries of whole-graph Jacobians (rows of VJPs) compared with central differences.
    public var jacobianEntries = 0
    /// Entries of each op's local Jacobian (from its VJP) compared with central differences of its forward.
    public var localEntries = 0
    /// Gradients compared with `:explain`'s sum over paths.
    public var pathSums = 0
    /// `:shapes` chains whose printed shapes were compared with the actual local Jacobians.
    public var shapeChains = 0
    /// Entries not compared: the one-sided differences disagree (a kink such as relu's at 0, or
    /// max's tie), one side leaves the function's domain, or the estimates with two step sizes
    /// disagree (rounding drowns the change: see `Session.centralDifference`).
    public var kinks = 0
    /// The ops the checked graphs used.
    public var ops: Set<String> = []
    public var failures: [Failure] = []

    public init() {}

    public mutating func add(_ other: SelfCheckReport) {
        programs += other.programs
        nonFinite += other.nonFinite
        gradientEntries += other.gradientEntries
        jacobianEntries += other.jacobianEntries
        localEntries += other.localEntries
        pathSums += other.pathSums
        shapeChains += other.shapeChains
        kinks += other.kinks
        ops.formUnion(other.ops)
        failures += other.failures
    }
}

extension Session {
    /// Central differences of `f` at `x` along element `j`: the derivative, and whether it can
    /// be trusted there. It cannot at a kink (the one-sided differences disagree: relu at 0, a
    /// tie of max), outside the domain on one side (x^y at x < 0), or where rounding drowns
    /// the change (the estimates with steps h and 4h disagree: log(1 - p) for p = σ(30), whose
    /// 1 - p keeps three digits).
    static func centralDifference(_ x: Tensor, _ j: Int, _ f: (Tensor) -> Tensor?) -> (Tensor, smooth: Bool)? {
        let h = 1e-6 * Swift.max(1, Swift.abs(x.scalars[j]))
        func moved(_ by: Double) -> Tensor? {
            var y = x
            y.scalars[j] += by
            return f(y)
        }
        guard let f0 = f(x), let fp = moved(h), let fm = moved(-h), let fp4 = moved(4 * h), let fm4 = moved(-4 * h),
              [fp, fm, fp4, fm4].allSatisfy({ $0.count == f0.count })
        else { return nil }
        var d = f0
        var smooth = true
        for i in 0..<f0.count {
            d.scalars[i] = (fp.scalars[i] - fm.scalars[i]) / (2 * h)
            let wide = (fp4.scalars[i] - fm4.scalars[i]) / (8 * h)
            let right = (fp.scalars[i] - f0.scalars[i]) / h, left = (f0.scalars[i] - fm.scalars[i]) / h
            if !right.isFinite || !left.isFinite || !wide.isFinite { smooth = false }
            if Swift.abs(right - left) > 1e-4 * Swift.max(1, Swift.abs(right), Swift.abs(left)) { smooth = false }
            if !close(d.scalars[i], wide, scale: 0) { smooth = false }
        }
        return (d, smooth)
    }

    /// Whether a derivative and its finite-difference estimate agree (scale: the size of the values).
    static func close(_ a: Double, _ b: Double, scale: Double) -> Bool {
        Swift.abs(a - b) <= 2e-5 * Swift.max(1, Swift.abs(a), Swift.abs(b)) + 1e-9 * scale
    }

    /// Runs `program` in a fresh session and checks its graph (`RandomProgram`'s purpose):
    /// - every param's gradient ∂L/∂p against central differences of L;
    /// - the Jacobian of each small definition (rows of VJPs) against central differences;
    /// - each node's local Jacobian (from its op's VJP) against central differences of its forward;
    /// - `:explain`'s sum over paths against the gradient;
    /// - `:shapes`: each printed factor's shape against the product of its edges' actual local Jacobians.
    public static func selfCheck(_ program: RandomProgram) -> SelfCheckReport {
        var report = SelfCheckReport()
        report.programs = 1
        var errors: [String] = []
        let s = Session(output: SessionOutput(out: { _ in }, err: { errors.append($0) }))
        s.quiet = true
        for (i, line) in program.lines.enumerated() where !s.runLine(line, lineNumber: i + 1) {
            report.failures.append(.init(kind: "line", message: "line \(i + 1) failed: \(errors.last ?? "?")"))
            return report
        }
        guard let root = s.definitions["L"]?.slot else {
            report.failures.append(.init(kind: "line", message: "no L"))
            return report
        }
        s.check(root: root, into: &report)
        return report
    }

    /// Checks the graph below `root` (the program's L) every way the views read it: each
    /// param's gradient, the Jacobians that read it, the sum over paths and the shape chain,
    /// then each op's local Jacobian.
    func check(root: NodeID, into report: inout SelfCheckReport) {
        let order = graph.topologicalOrder(from: root)
        guard order.allSatisfy({ graph.value($0).isFinite }) else {
            report.nonFinite += 1
            return
        }
        let grads: Gradients
        do { grads = try graph.backward(from: root) } catch {
            report.failures.append(.init(kind: "gradient", message: "backward failed: \(error.message)"))
            return
        }
        let probe = Probe(graph: graph, scale: order.map { graph.value($0).scalars.map(Swift.abs).max() ?? 0 }.max() ?? 1)
        for name in paramNames {
            guard let leaf = paramLeaf(name), let slot = definitions[name]?.slot else { continue }
            checkGradient(name, leaf: leaf, root: root, grads[leaf], probe, into: &report)
            checkJacobians(name, leaf: leaf, probe, into: &report)
            checkPaths(name, slot: slot, root: root, grads[slot], into: &report)
        }
        checkLocalJacobians(order, scale: probe.scale, into: &report)
    }

    /// The graph as it was, to compute values with one leaf changed; `scale` for comparisons.
    struct Probe {
        let graph: Graph
        let scale: Double

        /// A node's value with one leaf changed (nil when it cannot be computed there).
        func value(of node: NodeID, with leaf: NodeID, at x: Tensor) -> Tensor? {
            var g = graph
            guard (try? g.setValues([(leaf, x)])) != nil else { return nil }
            return g.value(node)
        }
    }

    /// 1. ∂L/∂p against central differences.
    func checkGradient(_ name: String, leaf: NodeID, root: NodeID, _ computed: Tensor?, _ probe: Probe, into report: inout SelfCheckReport) {
        let x = graph.value(leaf)
        let gradient = computed ?? Tensor.zeros(x.shape)
        for j in 0..<x.count {
            guard let (d, smooth) = Session.centralDifference(x, j, { probe.value(of: root, with: leaf, at: $0) }) else { continue }
            guard smooth else { report.kinks += 1; continue }
            report.gradientEntries += 1
            if !Session.close(gradient.scalars[j], d.scalar, scale: probe.scale) {
                report.failures.append(.init(kind: "gradient", message: "∂L/∂\(name)[\(j)]: backprop \(gradient.scalars[j]), central differences \(d.scalar)"))
            }
        }
    }

    /// 2. Jacobians of the definitions that read p, row by row from VJPs.
    func checkJacobians(_ name: String, leaf: NodeID, _ probe: Probe, into report: inout SelfCheckReport) {
        let x = graph.value(leaf)
        for (vName, def) in definitions where !def.isParam && vName != "L" {
            let v = def.slot
            let m = graph.value(v).count
            guard m <= 16, x.count <= 16, graph.depends(v, on: leaf) else { continue }
            guard let jacobian = try? graph.jacobian(of: v, withRespectTo: leaf) else {
                report.failures.append(.init(kind: "jacobian", message: "∂\(vName)/∂\(name) could not be built"))
                continue
            }
            for j in 0..<x.count {
                guard let (d, smooth) = Session.centralDifference(x, j, { probe.value(of: v, with: leaf, at: $0) }) else { continue }
                guard smooth else { report.kinks += 1; continue }
                for i in 0..<m {
                    report.jacobianEntries += 1
                    let exact = jacobian.scalars[i * x.count + j]
                    if !Session.close(exact, d.scalars[i], scale: probe.scale) {
                        report.failures.append(.init(kind: "jacobian", message: "∂\(vName)/∂\(name)[\(i), \(j)]: VJPs \(exact), central differences \(d.scalars[i])"))
                    }
                }
            }
        }
    }

    /// 3. :explain's sum over paths against the gradient; 4. :shapes' chain against the local Jacobians.
    func checkPaths(_ name: String, slot: NodeID, root: NodeID, _ gradient: Tensor?, into report: inout SelfCheckReport) {
        let (paths, total) = chainPaths(from: root, to: slot, limit: 2000)
        if total > 0 && total == paths.count, let g = gradient {
            var sum = Tensor.zeros(graph.value(slot).shape)
            for p in paths {
                let term = graph.carry(Tensor(1), along: p.edges)
                for i in 0..<Swift.min(sum.count, term.count) { sum.scalars[i] += term.scalars[i] }
                if p.factors.flatMap(\.edges) != p.edges {
                    report.failures.append(.init(kind: "paths", message: "∂L/∂\(name): a path's factors do not cover its edges"))
                }
            }
            report.pathSums += 1
            for i in 0..<g.count where Swift.abs(sum.scalars[i] - g.scalars[i]) > 1e-9 * Swift.max(1, Swift.abs(g.scalars[i])) {
                report.failures.append(.init(kind: "paths", message: "∂L/∂\(name)[\(i)]: backprop \(g.scalars[i]), sum over \(total) paths \(sum.scalars[i])"))
            }
            if explanation(of: root, "L", wrt: slot, name).isEmpty {
                report.failures.append(.init(kind: "paths", message: ":explain L \(name) said nothing"))
            }
        }
        if total > 0 {
            checkShapes(root: root, slot: slot, name: name, into: &report)
        }
    }

    /// 5. Each op's local Jacobian (its VJP with unit seeds) against central differences of its forward.
    func checkLocalJacobians(_ order: [NodeID], scale: Double, into report: inout SelfCheckReport) {
        for id in order {
            let node = graph[id]
            guard !node.op.isLeaf else { continue }
            if case .name = node.op { continue }
            report.ops.insert(String(String(describing: node.op).prefix { $0 != "(" }))
            let inputs = node.inputs.map { graph.value($0) }
            for k in inputs.indices {
                let edge = Edge(node: id, input: k)
                guard graph.isDifferentiable(edge), let local = graph.localJacobian(edge, maxElements: 256) else { continue }
                let n = inputs[k].count
                for j in 0..<n {
                    let f = { (x: Tensor) -> Tensor? in
                        var changed = inputs
                        changed[k] = x
                        return try? node.op.forward(changed)
                    }
                    guard let (d, smooth) = Session.centralDifference(inputs[k], j, f) else { continue }
                    guard smooth else { report.kinks += 1; continue }
                    for i in 0..<d.count {
                        report.localEntries += 1
                        if !Session.close(local.scalars[i * n + j], d.scalars[i], scale: scale) {
                            report.failures.append(.init(
                                kind: "local", message: "\(node.op.symbol) (\(node.label)), input \(k): VJP gives ∂y[\(i)]/∂x[\(j)] = \(local.scalars[i * n + j]), central differences \(d.scalars[i])"))
                        }
                    }
                }
            }
        }
    }

    /// `:shapes L name`: each path's printed factors `(rxc)` against the shapes of the products
    /// of the factors' actual local Jacobians, and the result `1xn`.
    func checkShapes(root: NodeID, slot: NodeID, name: String, into report: inout SelfCheckReport) {
        let lines = shapeChain(of: root, "L", wrt: slot, name)
        if throughNames(root) == throughNames(slot) {
            // L is the param itself.
            if lines != ["∂L/∂\(name) = 1: the identity"] {
                report.failures.append(.init(kind: "shapes", message: ":shapes L \(name) printed \(lines) for L = \(name)"))
            }
            report.shapeChains += 1
            return
        }
        let (paths, _) = chainPaths(from: root, to: slot)
        let n = graph.value(slot).count
        for (i, p) in paths.enumerated() where i < lines.count {
            var actual: [(Int, Int)] = []
            for f in p.factors {
                // The factor's Jacobian: the product of its edges' local Jacobians.
                var product: Tensor?
                for edge in f.edges {
                    guard let local = graph.localJacobian(edge, maxElements: 4096) else { product = nil; break }
                    product = product.map { Session.matrixProduct($0, local) } ?? local
                    if product == nil { break }
                }
                let expected = (graph.value(f.top).count, graph.value(f.bottom).count)
                let printed = jacobianSize(of: f)
                if printed != expected {
                    report.failures.append(.init(kind: "shapes", message: "∂\(graph[f.top].label)/∂\(graph[f.bottom].label): :shapes prints \(printed.0)x\(printed.1), the Jacobian is \(expected.0)x\(expected.1)"))
                }
                if let product, product.shape != [expected.0, expected.1] {
                    report.failures.append(.init(kind: "shapes", message: "∂\(graph[f.top].label)/∂\(graph[f.bottom].label): the local Jacobians multiply to \(Shape.describe(product.shape)), not \(expected.0)x\(expected.1)"))
                }
                actual.append(expected)
            }
            let chain = actual.map { "(\($0.0)x\($0.1))" }
            let line = lines[i]
            let shown = line.split(separator: "=").dropFirst().first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            let want = Session.elided(chain, separator: "")
            if shown != want || !line.hasSuffix("= 1x\(n)") {
                report.failures.append(.init(kind: "shapes", message: ":shapes L \(name) printed '\(line)'; the Jacobians are \(want) = 1x\(n)"))
            }
            report.shapeChains += 1
        }
    }

    /// A · B for matrices (nil when the inner sizes differ).
    static func matrixProduct(_ a: Tensor, _ b: Tensor) -> Tensor? {
        guard a.rank == 2, b.rank == 2, a.shape[1] == b.shape[0] else { return nil }
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for t in 0..<k { let v = a.scalars[i * k + t]; for j in 0..<n { out[i * n + j] += v * b.scalars[t * n + j] } } }
        return Tensor(shape: [m, n], scalars: out)
    }

    /// A failing program made small: lines (and terms of L) removed while the same kind of
    /// failure remains. `fails` says whether a program still fails that way.
    public static func shrink(_ program: RandomProgram, fails: (RandomProgram) -> Bool) -> RandomProgram {
        var current = program
        var changed = true
        while changed {
            changed = false
            // Definitions, from the last before L back to the first after `seed`.
            var i = current.lines.count - 2
            while i >= 1 {
                var candidate = current
                candidate.lines.remove(at: i)
                if fails(candidate) {
                    current = candidate
                    changed = true
                }
                i -= 1
            }
            // Terms of L.
            if let last = current.lines.last, last.hasPrefix("L = ") {
                let terms = last.dropFirst(4).components(separatedBy: " + ")
                if terms.count > 1 {
                    for t in terms.indices {
                        var candidate = current
                        candidate.lines[candidate.lines.count - 1] = "L = " + terms.enumerated().filter { $0.offset != t }.map(\.element).joined(separator: " + ")
                        if fails(candidate) {
                            current = candidate
                            changed = true
                            break
                        }
                    }
                }
            }
        }
        return current
    }

    /// Checks programs `first ..< first + count`; a failure is shrunk and reported with its program.
    public static func selfCheck(seeds: Range<UInt64>, size: Int = 8, progress: ((UInt64, SelfCheckReport) -> Void)? = nil) -> (SelfCheckReport, [(RandomProgram, SelfCheckReport.Failure)]) {
        var total = SelfCheckReport()
        var shrunk: [(RandomProgram, SelfCheckReport.Failure)] = []
        for seed in seeds {
            let program = RandomProgram.generate(seed: seed, size: size)
            let report = selfCheck(program)
            total.add(report)
            if let failure = report.failures.first, shrunk.count < 5 {
                let small = shrink(program) { candidate in
                    let r = selfCheck(candidate)
                    return r.failures.contains { $0.kind == failure.kind && !$0.message.contains("unknown name") && !$0.message.contains("no L") }
                }
                shrunk.append((small, selfCheck(small).failures.first ?? failure))
            }
            progress?(seed, total)
        }
        return (total, shrunk)
    }
}
