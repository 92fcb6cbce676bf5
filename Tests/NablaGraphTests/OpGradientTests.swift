import NablaGraph
import NablaTensor
import NablaTestSupport
import Testing

/// One row of the VJP table: an op, the shapes of its inputs, where to draw them,
/// and inputs given as fixed values (class indices, which are not differentiable).
struct OpCase: CustomTestStringConvertible, Sendable {
    var op: Op
    var shapes: [[Int]]
    var domains: [ClosedRange<Double>]
    var fixed: [Int: Tensor] = [:]

    init(_ op: Op, _ shapes: [[Int]], _ domains: [ClosedRange<Double>] = [], fixed: [Int: Tensor] = [:]) {
        self.op = op
        self.shapes = shapes
        self.domains = domains.isEmpty ? shapes.map { _ in -2...2 } : domains
        self.fixed = fixed
    }

    var testDescription: String { "\(op) \(shapes.map(Shape.describe).joined(separator: ", "))" }

    func inputs(seed: UInt64) -> [Tensor] {
        var sampler = TensorSampler(seed: seed)
        return shapes.indices.map { i in fixed[i] ?? sampler.tensor(shapes[i], in: domains[i], awayFrom: [0, 1, -1]) }
    }
}

let unaryOps: [(Op, ClosedRange<Double>)] = [
    (.neg, -2...2), (.exp, -2...2), (.log, 0.2...3), (.sqrt, 0.2...3), (.abs, -2...2), (.sigmoid, -3...3),
    (.tanh, -2...2), (.relu, -2...2), (.softplus, -3...3), (.step, -2...2), (.sin, -3...3), (.cos, -3...3),
    (.scaledTanh, -2...2), (.log10, 0.2...3), (.log2, 0.2...3), (.sign, -2...2),
]
/// Well-conditioned square matrices for inv and solve (random ones may be nearly singular).
let wellConditioned = Tensor(rows: [[2, 0.5, 0.1], [0.3, 1.5, -0.4], [0.2, -0.1, 1.8]])
let binaryOps: [(Op, ClosedRange<Double>, ClosedRange<Double>)] = [
    (.add, -2...2, -2...2), (.sub, -2...2, -2...2), (.mul, -2...2, -2...2), (.div, -2...2, 0.5...2),
    (.pow, 0.5...2, -2...2), (.maximum, -2...2, -2...2), (.minimum, -2...2, -2...2),
]
let broadcastPairs: [([Int], [Int])] = [
    ([3], [3]), ([2, 3], [3]), ([2, 3], []), ([], [2, 2]), ([2, 3], [2, 1]), ([], []),
    // Rank 3 and 4, numpy's rules: a per-feature-map bias [F, 1, 1] on [B, F, H, W].
    ([2, 3, 2, 2], [3, 1, 1]), ([2, 1, 3], [4, 1]),
]

/// Every op, on several shapes.
let opCases: [OpCase] = {
    var cases: [OpCase] = []
    for (op, domain) in unaryOps {
        for shape in [[], [3], [2, 3]] as [[Int]] { cases.append(OpCase(op, [shape], [domain])) }
    }
    for (op, da, db) in binaryOps {
        for (a, b) in broadcastPairs { cases.append(OpCase(op, [a, b], [da, db])) }
    }
    cases += [
        OpCase(.leakyRelu, [[4], []], [-2...2, 0.01...0.3]), OpCase(.leakyRelu, [[2, 3], []], [-2...2, 0.01...0.3]),
        OpCase(.matmul, [[2, 3], [3, 4]]), OpCase(.matmul, [[2, 3], [3]]), OpCase(.matmul, [[3], [3, 2]]),
        OpCase(.matmul, [[3], [3]]), OpCase(.matmul, [[1, 3], [3, 1]]),
        OpCase(.dropout(rate: 0.5, inverted: true), [[2, 3], []], fixed: [1: Tensor(7)]), OpCase(.dropout(rate: 0.3, inverted: true), [[4], []], fixed: [1: Tensor(-1)]),
        OpCase(.dropout(rate: 0.5, inverted: false), [[2, 3], []], fixed: [1: Tensor(7)]), OpCase(.dropout(rate: 0.3, inverted: false), [[4], []], fixed: [1: Tensor(-1)]),
        OpCase(.dot, [[3], [3]]), OpCase(.dot, [[], []]), OpCase(.dot, [[2, 2], [2, 2]]),
        OpCase(.transpose, [[2, 3]]), OpCase(.transpose, [[3]]),
        OpCase(.sum(axis: nil), [[2, 3]]), OpCase(.sum(axis: 0), [[2, 3]]), OpCase(.sum(axis: 1), [[2, 3]]),
        OpCase(.sum(axis: nil), [[]]), OpCase(.mean(axis: nil), [[4]]), OpCase(.mean(axis: 0), [[2, 3]]),
        OpCase(.mean(axis: 1), [[2, 3]]), OpCase(.max, [[4]]), OpCase(.max, [[2, 3]]), OpCase(.min, [[5]]),
        OpCase(.vec, [[2, 3]]), OpCase(.reshape([3, 2]), [[2, 3]]), OpCase(.reshape([]), [[1]]),
        OpCase(.index([1]), [[3]]), OpCase(.index([1]), [[2, 3]]), OpCase(.index([1, 2]), [[2, 3]]),
        OpCase(.stack, [[2], [2], [2]]), OpCase(.stack, [[], []]), OpCase(.stack, [[2, 2], [2, 2]]),
        // Any rank: reshape, index, transpose (axes reversed), reductions, softmax on the last axis.
        OpCase(.reshape([4, 6]), [[2, 3, 4]]), OpCase(.reshape([2, 1, 3, 2]), [[3, 4]]), OpCase(.index([1, 2]), [[2, 3, 2]]),
        OpCase(.transpose, [[2, 3, 4]]), OpCase(.sum(axis: 1), [[2, 3, 2]]), OpCase(.mean(axis: 2), [[2, 2, 3]]),
        OpCase(.softmax, [[2, 2, 3]]), OpCase(.logSoftmax, [[2, 1, 2, 3]]), OpCase(.max, [[2, 2, 2]]),
        OpCase(.softmax, [[4]]), OpCase(.softmax, [[2, 3]]), OpCase(.logSoftmax, [[4]]), OpCase(.logSoftmax, [[2, 3]]),
        OpCase(.mse, [[3], [3]]), OpCase(.mse, [[2, 3], [2, 3]]), OpCase(.mse, [[2, 3], []]), OpCase(.mse, [[], []]),
        OpCase(.bce, [[3], [3]], [0.1...0.9, 0...1]), OpCase(.bce, [[], []], [0.1...0.9, 0...1]),
        OpCase(.crossEntropy, [[4], []], fixed: [1: Tensor(2)]),
        OpCase(.crossEntropy, [[3, 4], [3]], fixed: [1: Tensor(vector: [0, 3, 1])]),
        OpCase(.crossEntropy, [[2, 3], [2, 3]], fixed: [1: Tensor(rows: [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])]),
        OpCase(.logisticLoss, [[], []]), OpCase(.logisticLoss, [[3], [3]]), OpCase(.logisticLoss, [[3], []]),
        OpCase(.hinge, [[], []], [-0.4...0.4, -1.5...1.5]), OpCase(.hinge, [[4], [4]], [-3...3, -1.5...1.5]),
        // Convolutional networks: strides, padding, batches, overlapping and fitting windows.
        OpCase(.conv2d(stride: 1, pad: 0), [[1, 3, 3], [2, 1, 2, 2]]), OpCase(.conv2d(stride: 2, pad: 1), [[2, 2, 4, 4], [3, 2, 3, 3]]),
        OpCase(.conv2d(stride: 1, pad: 1), [[2, 3, 3], [1, 2, 2, 2]]), OpCase(.conv2d(stride: 3, pad: 0), [[1, 1, 5, 4], [2, 1, 2, 2]]),
        OpCase(.pool(.max, size: 2, stride: 2), [[1, 4, 4]]), OpCase(.pool(.max, size: 2, stride: 1), [[2, 3, 3]]),
        OpCase(.pool(.avg, size: 2, stride: 2), [[2, 1, 4, 5]]), OpCase(.pool(.avg, size: 3, stride: 1), [[3, 4]]),
        OpCase(.pool(.l2, size: 2, stride: 1), [[3, 3]]), OpCase(.pool(.l2, size: 2, stride: 2), [[2, 2, 4, 4]]),
        OpCase(.flatten, [[2, 3, 2, 2]]), OpCase(.flatten, [[3, 2, 2]]), OpCase(.flatten, [[2, 3]]),
        // The closed forms: inverse and linear solves (vector and matrix right-hand sides).
        OpCase(.inv, [[3, 3]], fixed: [0: wellConditioned]), OpCase(.inv, [[1, 1]], [0.5...2]),
        OpCase(.solve, [[3, 3], [3]], fixed: [0: wellConditioned]), OpCase(.solve, [[3, 3], [3, 2]], fixed: [0: wellConditioned]),
    ]
    return cases
}()

@Suite("Every op's VJP and Jacobian")
struct OpGradientTests {
    @Test("the catalog holds every op once, in order; every differentiable op has a gradient row here")
    func everyOpHasARow() {
        #expect(Op.catalog.enumerated().allSatisfy { $0.offset == $0.element.catalogIndex })
        // Leaves and names hold values; grad, jacobian and accuracy are values the graph
        // computes, not differentiated (the graph tests cover them).
        let notDifferentiated: Set<Int> = [Op.constant, .param, .name("x"), .accuracy, .gradient, .jacobian].map(\.catalogIndex).reduce(into: []) { $0.insert($1) }
        let covered = Set(opCases.map(\.op.catalogIndex))
        for op in Op.catalog where !notDifferentiated.contains(op.catalogIndex) {
            #expect(covered.contains(op.catalogIndex), "\(op) has no gradient row in opCases")
        }
    }

    /// Tolerance for central differences with h = 1e-6: truncation ~h², rounding ~1e-16/h, so 1e-6 relative is generous.
    static let tolerance = 1e-6

    @Test("VJP matches central finite differences of ⟨g, f(x)⟩", arguments: opCases)
    func vjpMatchesFiniteDifferences(c: OpCase) throws {
        let x = c.inputs(seed: 11)
        let y = try c.op.forward(x)
        var sampler = TensorSampler(seed: 99)
        let g = sampler.tensor(y.shape)
        let vjp = c.op.vjp(x, y, g)
        #expect(vjp.count == x.count, "one gradient per input")
        for i in x.indices {
            guard let analytic = vjp[i] else {
                #expect(c.fixed[i] != nil, "only fixed (index) inputs may be non-differentiable")
                continue
            }
            let numeric = try numericalGradient(at: x[i]) { xi in
                var inputs = x
                inputs[i] = xi
                return inner(g, try c.op.forward(inputs))
            }
            #expect(analytic.shape == x[i].shape, "gradient keeps the input's shape")
            #expect(isClose(analytic, numeric, tol: Self.tolerance), "input \(i): \(analytic.scalars) vs \(numeric.scalars)")
        }
    }

    @Test("Jacobian (built from VJPs) matches finite differences, gᵀJ is the VJP, and the shape rule holds", arguments: opCases)
    func jacobianAgreesWithVJP(c: OpCase) throws {
        let x = c.inputs(seed: 5)
        var graph = Graph()
        // Params: inputs that may vary (a written constant exponent gets no gradient by design).
        let leaves = x.enumerated().map { graph.addLeaf(.param, value: $1, label: "x\($0)") }
        let node = try graph.add(c.op, leaves, label: "f")
        let y = graph.value(node)
        var sampler = TensorSampler(seed: 3)
        let g = sampler.tensor(y.shape)
        let vjp = c.op.vjp(x, y, g)
        for i in x.indices where vjp[i] != nil {
            let J = try graph.jacobian(of: node, withRespectTo: leaves[i])
            let rule = c.op.jacobianShape(input: i, inputShapes: x.map(\.shape), outputShape: y.shape)
            #expect(J.shape == [rule.rows, rule.cols], "m x n: m = elements of the output, n of the input")
            let numeric = try numericalJacobian(at: x[i]) { xi in
                var inputs = x
                inputs[i] = xi
                return try c.op.forward(inputs)
            }
            #expect(isClose(J, numeric, tol: Self.tolerance))
            // gᵀ J, reshaped to the input, is the VJP.
            let gJ = try Tensor.matmul(g.reshaped([g.count]), J).reshaped(x[i].shape)
            #expect(isClose(gJ, vjp[i] ?? gJ, tol: 1e-12))
            switch rule.kind {
            case .identity:
                #expect(J == Tensor(rows: (0..<rule.rows).map { r in (0..<rule.cols).map { $0 == r ? 1 : 0 } }))
            case .diagonal:
                for r in 0..<rule.rows { for col in 0..<rule.cols where r != col { #expect(J.scalars[r * rule.cols + col] == 0) } }
            default:
                break
            }
        }
    }

    @Test("every op gives a local derivative text per input")
    func derivativeTexts() throws {
        for c in opCases {
            let x = c.inputs(seed: 1)
            let texts = c.op.derivativeText(x.indices.map { "a\($0)" }, shapes: x.map(\.shape))
            #expect(texts.count == x.count, "\(c.testDescription)")
            #expect(!texts.contains("?"), "\(c.testDescription)")
        }
        #expect(Op.sigmoid.derivativeText(["y*z"], shapes: [[]]) == ["σ(y*z)(1-σ(y*z))"])
        #expect(Op.log.derivativeText(["p"], shapes: [[]]) == ["1/p"])
        #expect(Op.mul.derivativeText(["w1", "x1"], shapes: [[], []]) == ["x1", "w1"])
        #expect(Op.div.derivativeText(["a", "b+c"], shapes: [[], []]) == ["1/(b+c)", "-a/(b+c)²"])
    }

    /// float32 against float64: relative to the float64 value, with float32's ~1e-7 rounding
    /// grown through a few operations (exp, log, sums of a dozen terms).
    static func agree32(_ a: Tensor32, _ b: Tensor) -> Bool {
        a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { abs(Double($0) - $1) <= 2e-5 * max(1, abs($1)) }
    }

    @Test("every op computes in float32 what it computes in float64 (forward and VJP)", arguments: opCases + [
        OpCase(.accuracy, [[3, 4], [3]], fixed: [1: Tensor(vector: [0, 3, 1])]),
        OpCase(.accuracy, [[4], [4]], fixed: [1: Tensor(vector: [0, 1, 1, 0])]),
    ])
    func float32AgreesWithFloat64(c: OpCase) throws {
        let x = c.inputs(seed: 23)
        let x32 = x.map { $0.converted(to: Float.self) }
        let y = try c.op.forward(x), y32 = try c.op.forward(x32)
        #expect(Self.agree32(y32, y), "forward: \(y32.scalars) vs \(y.scalars)")
        var sampler = TensorSampler(seed: 41)
        let g = sampler.tensor(y.shape)
        let vjp = c.op.vjp(x, y, g), vjp32 = c.op.vjp(x32, y32, g.converted(to: Float.self))
        #expect(vjp.count == vjp32.count)
        for (a, b) in zip(vjp32, vjp) {
            #expect((a == nil) == (b == nil))
            if let a, let b { #expect(Self.agree32(a, b), "VJP: \(a.scalars) vs \(b.scalars)") }
        }
    }

    @Test("every op that the graph does not evaluate itself has a float32 row")
    func everyOpHasAFloat32Row() {
        let graphOnly: Set<Int> = [Op.constant, .param, .name("x"), .gradient, .jacobian].map(\.catalogIndex).reduce(into: []) { $0.insert($1) }
        let covered = Set((opCases.map(\.op) + [.accuracy]).map(\.catalogIndex))
        for op in Op.catalog where !graphOnly.contains(op.catalogIndex) {
            #expect(covered.contains(op.catalogIndex), "\(op) has no float32 row")
        }
    }
}
