import NablaGraph
import NablaTensor
import NablaTestSupport
import Testing

@Suite("The graph: backward, Jacobians, live updates")
struct GraphTests {
    /// The course's neuron: z = w1*x1 + w2*x2, p = σ(y*z), L = -log(p) with x=(2,1), y=1, w=(-1,1).
    @Test("the neuron with logistic loss gives ∂L/∂w1 = -1.46212, ∂L/∂w2 = -0.731059")
    func neuron() throws {
        var g = Graph()
        let x1 = g.addLeaf(.constant, value: Tensor(2), label: "x1")
        let x2 = g.addLeaf(.constant, value: Tensor(1), label: "x2")
        let y = g.addLeaf(.constant, value: Tensor(1), label: "y")
        let w1 = g.addLeaf(.param, value: Tensor(-1), label: "w1")
        let w2 = g.addLeaf(.param, value: Tensor(1), label: "w2")
        let z = try g.add(.add, [g.add(.mul, [w1, x1], label: "w1*x1"), g.add(.mul, [w2, x2], label: "w2*x2")], label: "z")
        let p = try g.add(.sigmoid, [g.add(.mul, [y, z], label: "y*z")], label: "p")
        let L = try g.add(.neg, [g.add(.log, [p], label: "log(p)")], label: "L")
        // By hand: p = σ(-1) = 0.2689414, ∂L/∂p = -1/p = -3.718282, σ' = p(1-p) = 0.1966119,
        // ∂L/∂w1 = -3.718282 · 0.1966119 · 1 · 2 = -1.462117, ∂L/∂w2 = half of that.
        let grads = try g.backward(from: L)
        #expect(isClose(g.value(L).scalar, 1.3132616875182228, tol: 1e-12))
        #expect(isClose(try #require(grads[w1]).scalar, -1.4621171572600098, tol: 1e-12))
        #expect(isClose(try #require(grads[w2]).scalar, -0.7310585786300049, tol: 1e-12))
        // Rounded to the course's six digits.
        #expect(Format.number(try #require(grads[w1]).scalar) == "-1.46212")
        #expect(Format.number(try #require(grads[w2]).scalar) == "-0.731059")
    }

    /// y = w2*relu(w1*x+b1)+b2, L = (y-t)^2 with x=1, t=1, (w1,b1,w2,b2) = (3,1,2,-5).
    @Test("the 1-hidden ReLU regression gives (8, 8, 16, 4), and SGD with lr 1/4 gives (1, -1, -2, -6)")
    func reluRegression() throws {
        var g = Graph()
        let x = g.addLeaf(.constant, value: Tensor(1), label: "x")
        let t = g.addLeaf(.constant, value: Tensor(1), label: "t")
        let params = [3.0, 1, 2, -5].enumerated().map { g.addLeaf(.param, value: Tensor($1), label: "p\($0)") }
        let (w1, b1, w2, b2) = (params[0], params[1], params[2], params[3])
        let h = try g.add(.relu, [g.add(.add, [g.add(.mul, [w1, x], label: "w1*x"), b1], label: "w1*x+b1")], label: "h")
        let yhat = try g.add(.add, [g.add(.mul, [w2, h], label: "w2*h"), b2], label: "y")
        let two = g.addLeaf(.constant, value: Tensor(2), label: "2")
        let L = try g.add(.pow, [g.add(.sub, [yhat, t], label: "y-t"), two], label: "L")
        // By hand: h = relu(4) = 4, y = 8 - 5 = 3, L = (3-1)^2 = 4, ∂L/∂y = 2(y-t) = 4;
        // ∂L/∂b2 = 4, ∂L/∂w2 = 4·h = 16, ∂L/∂h = 4·w2 = 8, ∂L/∂b1 = 8, ∂L/∂w1 = 8·x = 8.
        let grads = try g.backward(from: L)
        #expect(params.map { grads[$0]?.scalar } == [8, 8, 16, 4])
        let updates = params.map { ($0, Tensor(g.value($0).scalar - 0.25 * (grads[$0]?.scalar ?? .nan))) }
        try g.setValues(updates)
        #expect(params.map { g.value($0).scalar } == [1, -1, -2, -6])
        // Downstream followed the update: h = relu(0) = 0, y = -6, L = 49.
        #expect(g.value(L).scalar == 49)
    }

    @Test("softmax followed by cross-entropy has gradient p - onehot")
    func softmaxCrossEntropy() throws {
        var g = Graph()
        let z = g.addLeaf(.param, value: Tensor(vector: [1, 2, 3]), label: "z")
        let c = g.addLeaf(.constant, value: Tensor(0), label: "0")
        let L = try g.add(.crossEntropy, [z, c], label: "L")
        let grads = try g.backward(from: L)
        // p = softmax([1,2,3]) = [0.0900306, 0.2447285, 0.6652410]; minus onehot(0).
        #expect(isClose(try #require(grads[z]), Tensor(vector: [0.09003057317038046 - 1, 0.24472847105479767, 0.6652409557748219]), tol: 1e-12))
        // The same through an explicit -log(softmax(z)[0]).
        let p = try g.add(.softmax, [z], label: "softmax(z)")
        let L2 = try g.add(.neg, [g.add(.log, [g.add(.index([0]), [p], label: "p[0]")], label: "log")], label: "L2")
        #expect(isClose(try #require(try g.backward(from: L2)[z]), try #require(grads[z]), tol: 1e-12))
    }

    @Test("the vector neuron's Jacobian chain is 1x1, 1x3, 3x3, 3x12 and ∂L/∂W has W's shape")
    func vectorChain() throws {
        // x ∈ R^4, W 3x4, V 1x3, L = logistic_loss(V σ(W x), 1)
        var sampler = TensorSampler(seed: 1)
        var g = Graph()
        let x = g.addLeaf(.constant, value: sampler.tensor([4]), label: "x")
        let W = g.addLeaf(.param, value: sampler.tensor([3, 4]), label: "W")
        let V = g.addLeaf(.param, value: sampler.tensor([1, 3]), label: "V")
        let y = g.addLeaf(.constant, value: Tensor(1), label: "y")
        let Wx = try g.add(.matmul, [W, x], label: "W@x")
        let h = try g.add(.sigmoid, [Wx], label: "σ(W@x)")
        let s = try g.add(.matmul, [V, h], label: "V@h")
        let L = try g.add(.logisticLoss, [s, y], label: "L")
        let chain = [(L, s, 0), (s, h, 1), (h, Wx, 0), (Wx, W, 0)].map { node, input, i in
            let n = g[node]
            return n.op.jacobianShape(input: i, inputShapes: n.inputs.map { g.value($0).shape }, outputShape: n.value.shape)
        }
        #expect(chain.map(\.description) == ["1x1", "1x3", "3x3", "3x12"])
        #expect(chain[2].kind == .diagonal)
        let grads = try g.backward(from: L)
        #expect(grads[W]?.shape == [3, 4])
        // ∂L/∂W as the product of the chain's Jacobians equals the VJP result.
        var product = try g.jacobian(of: L, withRespectTo: s)
        for (node, input) in [(s, h), (h, Wx), (Wx, W)] {
            product = try Tensor.matmul(product, g.jacobian(of: node, withRespectTo: input))
        }
        #expect(product.shape == [1, 12])
        #expect(isClose(product.reshaped([3, 4]), try #require(grads[W]), tol: 1e-12))
    }

    @Test("a node used twice gets both contributions; backward twice does not double")
    func fanOut() throws {
        var g = Graph()
        let x = g.addLeaf(.param, value: Tensor(3), label: "x")
        let y = try g.add(.mul, [x, x], label: "x*x")          // dy/dx = 2x = 6
        let z = try g.add(.add, [y, x], label: "x*x + x")      // dz/dx = 2x + 1 = 7
        #expect(try g.backward(from: z)[x]?.scalar == 7)
        #expect(try g.backward(from: z)[x]?.scalar == 7)
        #expect(try g.backward(from: y)[x]?.scalar == 6)  // from any scalar node
    }

    @Test("backward and forward of a 100,000-node chain do not recurse")
    func deepChain() throws {
        var g = Graph()
        let x = g.addLeaf(.param, value: Tensor(0.5), label: "x")
        let c = g.addLeaf(.constant, value: Tensor(1), label: "1")
        var node = x
        for i in 0..<100_000 { node = try g.add(.add, [node, c], label: "n\(i)") }
        #expect(g.value(node).scalar == 100_000.5)
        #expect(try g.backward(from: node)[x]?.scalar == 1)
        try g.setValue(x, Tensor(1.5))  // pushes the new value down all 100,000 nodes
        #expect(g.value(node).scalar == 100_001.5)
    }

    @Test("backward from a non-scalar is refused, naming the shape")
    func nonScalar() throws {
        var g = Graph()
        let v = g.addLeaf(.constant, value: Tensor(vector: [1, 2]), label: "v")
        #expect(throws: TensorError.badShape(op: "backward", [2], expected: "a scalar (backprop starts from a single number, like a loss)")) {
            try g.backward(from: v)
        }
    }

    @Test("rebinding a name recomputes its users; a failing rebind changes nothing")
    func rebind() throws {
        var g = Graph()
        let two = g.addLeaf(.constant, value: Tensor(2), label: "2")
        let x = try g.add(.name("x"), [two], label: "x")
        let y = try g.add(.mul, [x, x], label: "x*x")
        let five = g.addLeaf(.constant, value: Tensor(5), label: "5")
        try g.rebind(x, to: five)
        #expect(g.value(y).scalar == 25)
    }

    @Test("a rebind that breaks a user is rolled back")
    func rebindRollback() throws {
        var g = Graph()
        let v = g.addLeaf(.constant, value: Tensor(vector: [1, 1]), label: "[1, 1]")
        let x = try g.add(.name("x"), [v], label: "x")
        let W = g.addLeaf(.constant, value: Tensor(rows: [[1, 2], [3, 4]]), label: "W")
        let h = try g.add(.matmul, [W, x], label: "W@x")
        let bad = g.addLeaf(.constant, value: Tensor(vector: [1, 2, 3]), label: "[1, 2, 3]")
        #expect(throws: GraphError.self) { try g.rebind(x, to: bad) }
        #expect(g[x].inputs == [v])
        #expect(g.value(h) == Tensor(vector: [3, 7]))
    }

    @Test("grad and jacobian as values: computed by backprop, constant for backprop")
    func valueFunctions() throws {
        var g = Graph()
        let w = g.addLeaf(.param, value: Tensor(vector: [1, 2]), label: "w")
        let sq = try g.add(.mul, [w, w], label: "w*w")
        let L = try g.add(.sum(axis: nil), [sq], label: "L")
        let dLdw = try g.add(.gradient, [L, w], label: "grad(L, w)")
        #expect(g.value(dLdw) == Tensor(vector: [2, 4]))
        let J = try g.add(.jacobian, [sq, w], label: "jacobian(w*w, w)")
        #expect(g.value(J) == Tensor(rows: [[2, 0], [0, 4]]))
        let uses = try g.add(.sum(axis: nil), [dLdw], label: "sum(grad)")
        #expect(try g.backward(from: uses)[w] == nil)  // not differentiated through
        try g.setValue(w, Tensor(vector: [3, 0]))
        #expect(g.value(dLdw) == Tensor(vector: [6, 0]))  // live
    }

    @Test("the gradient check agrees with backprop and restores the params")
    func gradientCheck() throws {
        var g = Graph()
        var sampler = TensorSampler(seed: 2)
        let W = g.addLeaf(.param, value: sampler.tensor([3, 4]), label: "W")
        let x = g.addLeaf(.constant, value: sampler.tensor([4]), label: "x")
        let L = try g.add(.sum(axis: nil), [g.add(.tanh, [g.add(.matmul, [W, x], label: "W@x")], label: "t")], label: "L")
        let before = g.value(W)
        let results = try g.checkGradients(of: L, leaves: [W])
        #expect(results[0].checked == 12)
        #expect(results[0].maxRelativeError < 1e-7)
        #expect(g.value(W) == before)
    }

    @Test("a chain on 3-vectors: values and gradients by hand, all held inline, a written exponent gets none")
    func tinyVectorChain() throws {
        var g = Graph()
        let x = g.addLeaf(.param, value: Tensor(vector: [0.5, -0.25, 1]), label: "x")
        let w = g.addLeaf(.param, value: Tensor(vector: [2, 2, -1]), label: "w")
        let b = g.addLeaf(.constant, value: Tensor(vector: [0.1, 0.1, 0.1]), label: "b")
        let t = g.addLeaf(.constant, value: Tensor(vector: [1, 1, 0]), label: "t")
        let two = g.addLeaf(.constant, value: Tensor(2), label: "2")
        let z = try g.add(.add, [try g.add(.mul, [w, x], label: "w*x"), b], label: "w*x+b")  // [1.1, -0.4, -0.9]
        let h = try g.add(.relu, [z], label: "relu")  // [1.1, 0, 0]
        let d = try g.add(.sub, [h, t], label: "h-t")  // [0.1, -1, 0]
        let loss = try g.add(.sum(axis: nil), [try g.add(.pow, [d, two], label: "(h-t)^2")], label: "L")
        #expect(abs(g[loss].value.scalar - 1.01) < 1e-12)
        #expect([z, h, d].allSatisfy { g[$0].value.isInline })
        let grads = try g.backward(from: loss)
        // ∂L/∂h = 2(h - t) = [0.2, -2, 0]; relu passes where z > 0: [0.2, 0, 0].
        let gx = try #require(grads[x]), gw = try #require(grads[w])
        #expect(zip(gx.scalars, [0.4, 0, 0]).allSatisfy { abs($0 - $1) < 1e-12 })  // · w
        #expect(zip(gw.scalars, [0.1, 0, 0]).allSatisfy { abs($0 - $1) < 1e-12 })  // · x
        #expect(gx.isInline && gw.isInline && grads[two] == nil)
        // Only toward w: x's gradient is not computed, w's is the same.
        let toward = try g.backward(from: loss, toward: [w])
        #expect(toward[x] == nil && toward[w] == gw)
        // Stepping node by node (the recorded path) gives the same gradients.
        var walk = BackwardWalk(order: g.topologicalOrder(from: loss), seed: Tensor(1), capacity: g.capacity)
        while walk.step(in: g) != nil {}
        #expect(walk.gradients[x] == gx && walk.gradients[w] == gw && walk.gradients[two] == nil)
    }
}
