import NablaGraph
import NablaSyntax
import NablaTensor

// MARK: - From syntax to graph nodes

/// The nodes one compilation has made so far, removed again if it fails.
final class CreatedNodes {
    var ids: [NodeID] = []

    init() { ids.reserveCapacity(16) }
}

extension Session {
    /// Compiles an expression into graph nodes, one per sub-expression (each
    /// labelled with its source text). Returns the root and the nodes created;
    /// on an error every created node is removed again.
    package func compile(_ expr: Expr) throws(Diagnostic) -> (NodeID, [NodeID]) {
        let created = CreatedNodes()
        do {
            let root = try node(for: expr, created: created)
            return (root, created.ids)
        } catch {
            discard(created.ids)
            throw error
        }
    }

    private func node(for e: Expr, created: CreatedNodes) throws(Diagnostic) -> NodeID {
        func add(_ op: Op, _ inputs: [NodeID]) throws(Diagnostic) -> NodeID {
            // Ctrl-C between nodes: the statement is dropped, an old definition stays.
            if isInterrupted() {
                throw Diagnostic(.error, "interrupted: the statement was not finished; nothing was defined or changed", at: e.range)
            }
            do {
                let id = try graph.add(op, inputs, label: e.text)
                created.ids.append(id)
                origins[id] = NodeOrigin(range: e.range, source: currentSource)
                return id
            } catch {
                throw Diagnostic(.error, error.reason.message, at: e.range)
            }
        }
        func constant(_ value: Tensor) -> NodeID {
            let id = graph.addLeaf(.constant, value: value, label: e.text)
            created.ids.append(id)
            origins[id] = NodeOrigin(range: e.range, source: currentSource)
            return id
        }

        switch e.kind {
        case let .number(v):
            return constant(Tensor(v))
        case .numbers:
            return constant(try literal(e))
        case let .name(name):
            return try lookup(name, at: e.range)
        case let .array(items):
            if e.isLiteral { return constant(try literal(e)) }
            guard !items.isEmpty else { return constant(Tensor(vector: [])) }
            var inputs: [NodeID] = []
            for item in items { inputs.append(try node(for: item, created: created)) }
            return try add(.stack, inputs)
        case let .negate(x):
            return try add(.neg, [node(for: x, created: created)])
        case let .transpose(x):
            return try add(.transpose, [node(for: x, created: created)])
        case let .binary(op, a, b):
            let inputs = [try node(for: a, created: created), try node(for: b, created: created)]
            return try add(Session.binaryOps[op] ?? .add, inputs)
        case let .index(x, indices):
            var values: [Int] = []
            for i in indices { values.append(try constantInteger(i, what: "an index")) }
            return try add(.index(values), [node(for: x, created: created)])
        case let .partial(of, wrt):
            let inner = try node(for: of, created: created)
            try refuseNestedGradient(inner, at: e.range)
            return try add(.gradient, [inner, gradientTarget(wrt)])
        case let .call(name, args, nameRange):
            return try call(name, args, nameRange: nameRange, e: e, created: created, add: add, constant: constant)
        }
    }

    static let binaryOps: [BinaryOperator: Op] = [
        .add: .add, .sub: .sub, .mul: .mul, .div: .div, .matmul: .matmul, .dot: .dot, .pow: .pow,
    ]

    private func call(
        _ name: String, _ args: [Expr], nameRange: SourceRange, e: Expr, created: CreatedNodes,
        add: (Op, [NodeID]) throws(Diagnostic) -> NodeID, constant: (Tensor) -> NodeID
    ) throws(Diagnostic) -> NodeID {
        let builtin = try function(name, arguments: args.count, nameRange: nameRange, call: e)
        func input(_ i: Int) throws(Diagnostic) -> NodeID { try node(for: args[i], created: created) }

        switch builtin.kind {
        case .op(.gradient), .op(.jacobian):
            guard case let .op(op) = builtin.kind else { break }
            let inner = try input(0)
            try refuseNestedGradient(inner, at: e.range)
            return try add(op, [inner, gradientTarget(args[1])])
        case let .op(op):
            var inputs: [NodeID] = []
            for i in args.indices { inputs.append(try input(i)) }
            return try add(op, inputs)
        case let .reduction(isSum):
            let axis = args.count == 2 ? try constantInteger(args[1], what: "an axis") : nil
            return try add(isSum ? .sum(axis: axis) : .mean(axis: axis), [input(0)])
        case let .extremum(isMax):
            if args.count == 1 { return try add(isMax ? .max : .min, [input(0)]) }
            return try add(isMax ? .maximum : .minimum, [input(0), input(1)])
        case .sigmoid:
            guard args.count == 2 else { return try add(.sigmoid, [input(0)]) }
            let scaled = try labelled(.mul, [input(1), input(0)], "\(args[1].text)*\(Op.grouped(args[0].text))", e, created)
            return try add(.sigmoid, [scaled])
        case let .dropout(inverted):
            let rate = try constantNumber(args[1], what: "a dropout rate")
            guard rate >= 0 && rate < 1 else {
                throw Diagnostic(.error, "a dropout rate is a probability in [0, 1), like 0.5", at: args[1].range)
            }
            return try add(.dropout(rate: rate, inverted: inverted), [input(0), dropoutSeed(created)])
        case .neuron:
            let x = try input(0), w = try input(1), b = try input(2)
            let text = "\(Op.grouped(args[0].text)) @ \(Op.grouped(args[1].text)) + \(Op.grouped(args[2].text))"
            let product = try labelled(.matmul, [x, w], "\(Op.grouped(args[0].text)) @ \(Op.grouped(args[1].text))", e, created)
            let sum = try labelled(.add, [product, b], text, e, created)
            guard args.count == 4 else { return sum }
            guard case let .name(act) = args[3].kind, let f = Builtins.byName[act], f.isActivation else {
                throw Diagnostic(
                    .error, "the activation must be a function's name: sigmoid, tanh, relu, leaky_relu, softplus, step, scaled_tanh, softmax or linear",
                    at: args[3].range)
            }
            if case let .op(op) = f.kind { return try add(op, [sum]) }
            if case .sigmoid = f.kind { return try add(.sigmoid, [sum]) }
            if case .leakyRelu = f.kind { return try add(.leakyRelu, [sum, constant(Tensor(0.01))]) }
            return sum
        case .identity:
            return try input(0)
        case .leakyRelu:
            let slope = args.count == 2 ? try input(1) : constant(Tensor(0.01))
            return try add(.leakyRelu, [input(0), slope])
        case .conv2d:
            let stride = args.count > 2 ? try constantInteger(args[2], what: "a stride") : 1
            let pad = args.count > 3 ? try constantInteger(args[3], what: "a padding") : 0
            guard stride >= 1 else { throw Diagnostic(.error, "a stride is at least 1", at: args[2].range) }
            guard pad >= 0 else { throw Diagnostic(.error, "a padding is at least 0", at: args[3].range) }
            return try add(.conv2d(stride: stride, pad: pad), [input(0), input(1)])
        case let .pool(kind):
            let size = try constantInteger(args[1], what: "a window size")
            let stride = args.count > 2 ? try constantInteger(args[2], what: "a stride") : size
            guard size >= 1 else { throw Diagnostic(.error, "a pooling window is at least 1", at: args[1].range) }
            guard stride >= 1 else { throw Diagnostic(.error, "a stride is at least 1", at: args[2].range) }
            return try add(.pool(kind, size: size, stride: stride), [input(0)])
        case .reshape:
            return try add(.reshape(reshapeDimensions(args.dropFirst())), [input(0)])
        case let .builder(builder):
            var dims: [Int] = []
            for d in args { dims.append(try constantInteger(d, what: "a dimension")) }
            do {
                return constant(try build(builder, dims))
            } catch {
                throw Diagnostic(.error, "\(SafeText.clipped(Substring(e.text))): \(error.message)", at: e.range)
            }
        }
        throw Diagnostic(.error, "internal: no rule for \(name)", at: e.range)
    }

    /// `grad(grad(x^3, x), x)` would be silently 0: a gradient's value is computed by backprop,
    /// which the graph does not differentiate again. Refused with the reason and a way out.
    func refuseNestedGradient(_ id: NodeID, at range: SourceRange) throws(Diagnostic) {
        var stack = [id], seen: Set<NodeID> = [id]
        while let n = stack.popLast() {
            switch graph[n].op {
            case .gradient, .jacobian:
                throw Diagnostic(
                    .error, "a gradient of a gradient is not computed: backprop's result is not differentiated again "
                        + "(it would wrongly be 0). Write the first derivative as a formula, e.g. 3*x^2, and take grad of that",
                    at: range)
            default:
                for input in graph[n].inputs where seen.insert(input).inserted { stack.append(input) }
            }
        }
    }

    /// The data sets a line of the language can load: `mnist()`, `fashion_mnist(1000)`.
    package static let dataFunctions = ["mnist": "mnist", "fashion_mnist": "fashion"]

    /// The built-in a call names, with as many arguments as it takes; else the error that says
    /// what is wrong (an unknown name, a value used as a function, a data set, the arity).
    func function(_ name: String, arguments count: Int, nameRange: SourceRange, call e: Expr) throws(Diagnostic) -> Builtin {
        guard let builtin = Builtins.byName[name] else {
            if Session.dataFunctions[name] != nil {
                throw Diagnostic(
                    .error, "\(name)() loads a data set (it defines X, Y, X_test, Y_test): write it on a line of its own, like \(name)() or \(name)(1000)",
                    at: nameRange)
            }
            var message = "unknown function '\(name)'"
            if let near = Suggest.nearest(name, among: Builtins.all.map(\.name)) { message += " (did you mean '\(near)'?)" }
            if definitions[name] != nil { message = "'\(name)' is a value, not a function (multiply with *: \(name)*(...))" }
            throw Diagnostic(.error, message, at: nameRange)
        }
        guard builtin.arity.contains(count) else {
            let expected = builtin.arity.count == 1
                ? "\(builtin.arity.lowerBound) argument\(builtin.arity.lowerBound == 1 ? "" : "s")"
                : "\(builtin.arity.lowerBound) to \(builtin.arity.upperBound) arguments"
            throw Diagnostic(.error, "\(name) takes \(expected), got \(count) (usage: \(builtin.signature))", at: e.range)
        }
        return builtin
    }

    /// A node of a call that is not the call's own (its label says what it computes).
    private func labelled(_ op: Op, _ inputs: [NodeID], _ label: String, _ e: Expr, _ created: CreatedNodes) throws(Diagnostic) -> NodeID {
        do {
            let id = try graph.add(op, inputs, label: label)
            created.ids.append(id)
            origins[id] = NodeOrigin(range: e.range, source: currentSource)
            return id
        } catch {
            throw Diagnostic(.error, error.reason.message, at: e.range)
        }
    }

    /// A dropout's hidden mask seed: -1 (evaluation) until :train or :mode train draws masks;
    /// under :mode train a new dropout draws its mask now.
    private func dropoutSeed(_ created: CreatedNodes) -> NodeID {
        let seed = graph.addLeaf(.constant, value: Tensor(dropoutTraining ? Double(random.next() % 16_777_216) : -1), label: "dropout mask")
        created.ids.append(seed)
        return seed
    }

    /// `reshape(x, d1, ..., dk)`'s dimensions: whole numbers, one of them -1 at most (inferred).
    private func reshapeDimensions(_ args: ArraySlice<Expr>) throws(Diagnostic) -> [Int] {
        var dims: [Int] = []
        for d in args {
            let n = try constantInteger(d, what: "a dimension")
            guard n >= -1 else {
                throw Diagnostic(.error, "a dimension cannot be negative (-1 alone means: whatever fits, as in numpy)", at: d.range)
            }
            guard n != -1 || !dims.contains(-1) else {
                throw Diagnostic(.error, "only one dimension can be -1 (the one that is inferred)", at: d.range)
            }
            dims.append(n)
        }
        return dims
    }

    /// The node a gradient is taken with respect to: it must be a name.
    private func gradientTarget(_ e: Expr) throws(Diagnostic) -> NodeID {
        guard case let .name(name) = e.kind else {
            throw Diagnostic(.error, "a gradient is taken with respect to a name, as in grad(L, w)", at: e.range)
        }
        return try lookup(name, at: e.range)
    }

    /// A builder's value: made once, when the definition is made.
    func build(_ builder: Builtin.Builder, _ dims: [Int]) throws(TensorError) -> Tensor {
        try Shape.checkSize(dims)
        // A weight matrix is [fan_in, fan_out], the order :mlp stores W in: h = X @ W. (The
        // course's [out, in] W of `W @ x` is `lecun(in, out)'`.) Kernels [F, C, kh, kw] (rank 3
        // and more, as PyTorch counts them): fan_in = C·kh·kw, fan_out = F·kh·kw.
        let receptive = Double(Shape.count(Array(dims.dropFirst(2))))
        let fanIn = dims.count >= 3 ? Double(dims[1]) * receptive : Double(dims.first ?? 1)
        let fanOut = dims.count >= 3 ? Double(dims[0]) * receptive : Double(dims.last ?? 1)
        switch builder {
        case .zeros: return try Tensor.filled(dims, 0)
        case .ones: return try Tensor.filled(dims, 1)
        case .eye:
            let n = dims.first ?? 0
            try Shape.checkSize([n, n])
            var values = [Double](repeating: 0, count: n * n)
            for i in 0..<n { values[i * n + i] = 1 }
            return Tensor(shape: [n, n], scalars: values)
        case .randn: return try random.normal(dims, std: 1)
        case .glorot: return try random.normal(dims, std: (2 / (fanIn + fanOut)).squareRoot())
        case .he: return try random.normal(dims, std: (2 / fanIn).squareRoot())
        case .lecun: return try random.normal(dims, std: (1 / fanIn).squareRoot())
        }
    }

    /// A number written in the source (a rate).
    func constantNumber(_ e: Expr, what: String) throws(Diagnostic) -> Double {
        if case let .number(v) = e.kind { return v }
        if case let .negate(x) = e.kind, case let .number(v) = x.kind { return -v }
        throw Diagnostic(.error, "\(what) must be a number written out, like 0.5", at: e.range)
    }

    /// A whole number written in the source (an index, an axis, a dimension).
    func constantInteger(_ e: Expr, what: String) throws(Diagnostic) -> Int {
        guard case let .number(v) = e.kind, v == v.rounded(), Swift.abs(v) < 1e15 else {
            throw Diagnostic(.error, "\(what) must be a whole number written out, like 0 or 3", at: e.range)
        }
        return Int(v)
    }

    /// The tensor of an array literal like `[[1, 2], [3, 4]]`, checking that rows agree.
    func literal(_ e: Expr) throws(Diagnostic) -> Tensor {
        switch e.kind {
        case let .number(v):
            return Tensor(v)
        case let .numbers(values, shape):
            do { try Shape.checkSize(shape) } catch { throw Diagnostic(.error, error.message, at: e.range) }
            return Tensor(shape: shape, scalars: values)
        case let .negate(x):
            return try literal(x).map { -$0 }
        case let .array(items):
            var parts: [Tensor] = []
            for item in items { parts.append(try literal(item)) }
            guard let first = parts.first else { return Tensor(vector: []) }
            for (i, part) in parts.enumerated() where part.shape != first.shape {
                throw Diagnostic(
                    .error,
                    "entry \(i) has shape \(Shape.describe(part.shape)) but entry 0 has \(Shape.describe(first.shape)) (rows must have equal length)",
                    at: items[i].range)
            }
            do { try Shape.checkSize([parts.count] + first.shape) } catch { throw Diagnostic(.error, error.message, at: e.range) }
            guard first.rank < Shape.maxRank else {
                throw Diagnostic(.error, "literals have at most \(Shape.maxRank) levels of brackets (a tensor of rank \(Shape.maxRank))", at: e.range)
            }
            return Tensor(shape: [parts.count] + first.shape, scalars: parts.flatMap(\.scalars))
        default:
            throw Diagnostic(.error, "internal: not a literal", at: e.range)
        }
    }
}
