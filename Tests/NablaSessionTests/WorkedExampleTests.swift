import NablaSession
import Testing

@Suite("The course's worked examples, typed as a student would")
struct WorkedExampleTests {
    @Test("the neuron session of language.md, line for line")
    func neuronSession() {
        let t = Transcript()
        let ok = t.run(neuronScript + """

            :backward L
            :grad w1
            :grad w2
            :update lr=1
            """)
        #expect(ok)
        #expect(t.err.isEmpty)
        // w1 - 1·(-1.46212) = 0.462117; w2 - 1·(-0.731059) = 1.73106; then z = 2.65529,
        // p = σ(2.65529) = 0.934336, L = -log(0.934336) = 0.0679187.
        #expect(t.out == [
            "z = -1",
            "p = 0.268941",
            "L = 1.31326",
            "∂L/∂w1 = -1.46212   (shape: scalar)",
            "∂L/∂w2 = -0.731059   (shape: scalar)",
            "w1 = 0.462117   w2 = 1.73106   (one SGD step; L is now 0.0679187)",
        ])
    }

    @Test("the 1-hidden ReLU regression: gradient (8, 8, 16, 4), one SGD step with lr 1/4 gives (1, -1, -2, -6)")
    func reluRegression() {
        let t = Transcript()
        let ok = t.run("""
            x = 1
            t = 1
            param w1 = 3
            param b1 = 1
            param w2 = 2
            param b2 = -5
            y = w2*relu(w1*x + b1) + b2
            L = (y - t)^2
            :backward L
            :expect [∂L/∂w1, ∂L/∂b1, ∂L/∂w2, ∂L/∂b2] == [8, 8, 16, 4]
            :update lr=0.25
            :expect [w1, b1, w2, b2] == [1, -1, -2, -6]
            """)
        #expect(ok)
        #expect(t.session.passed == 2 && t.session.failed == 0, "\(t.out)")
        #expect(t.out.last == "✓ [w1, b1, w2, b2] == [1, -1, -2, -6]")
    }

    @Test("softmax with cross-entropy has gradient p - onehot")
    func softmaxCrossEntropy() {
        let t = Transcript()
        t.run("""
            param z = [1, 2, 3]
            L = cross_entropy(z, 2)
            p = softmax(z)
            :backward L
            :expect ∂L/∂z == p - [0, 0, 1] tol 1e-12
            L2 = -log(softmax(z)[2])
            :expect grad(L2, z) == grad(L, z) tol 1e-12
            """)
        #expect(t.session.passed == 2 && t.session.failed == 0, "\(t.out) \(t.err)")
    }

    @Test("x ∈ R^4, W 3x4, V 1x3: ∂L/∂W has W's shape and the Jacobian of σ(Wx) by W is 3x12")
    func vectorNeuron() {
        let t = Transcript()
        t.run("""
            seed 1
            x = randn(4)
            param W = randn(3, 4)
            param V = randn(1, 3)
            h = σ(W @ x)
            s = V @ h
            L = logistic_loss(s, 1)
            :backward L
            :jacobian h W
            :jacobian s h
            :check
            """)
        #expect(t.err.isEmpty, "\(t.err)")
        #expect(t.out.contains { $0.contains("(3x12: 3 outputs by 12 inputs)") })
        #expect(t.out.contains { $0.contains("(1x3: 1 output by 3 inputs)") })
        #expect(t.session.passed == 2 && t.session.failed == 0)
    }

    @Test("redefining an input recomputes what depends on it")
    func liveDefinitions() {
        let t = Transcript()
        t.run("""
            x = 2
            y = x^2 + 1
            x = 3
            :expect y == 10
            x = [1, 2]
            :expect y == [2, 5]
            """)
        #expect(t.session.passed == 2 && t.session.failed == 0, "\(t.out) \(t.err)")
    }

    @Test("gradients follow the graph: after a redefinition :grad shows the new gradient")
    func liveGradients() {
        let t = Transcript()
        t.run("""
            x = 2
            param w = 3
            L = w * x
            :backward L
            :expect ∂L/∂w == 2
            x = 5
            :grad w
            """)
        #expect(t.out.last == "∂L/∂w = 5   (shape: scalar)")
    }

    @Test("grad as a value and ∂L/∂w agree; a node used twice gets both contributions")
    func gradValue() {
        let t = Transcript()
        t.run("""
            param w = 3
            L = w*w + w
            g = grad(L, w)
            :expect g == 7
            :expect ∂L/∂w == 7
            """)
        #expect(t.session.passed == 2 && t.session.failed == 0, "\(t.out) \(t.err)")
    }

    @Test("a failed :expect is reported with its line and counted, and the script goes on")
    func failedExpect() {
        let t = Transcript()
        let ok = t.run("x = 2\n:expect x == 3\n:expect x == 2")
        #expect(ok)
        #expect(t.session.failed == 1 && t.session.passed == 1)
        #expect(t.out == ["✗ line 2: x == 3: got 2, expected 3 (tolerance 1e-06)", "✓ x == 2"])
    }

    @Test("builders are reproducible under a seed and have the stated spread")
    func builders() {
        let a = Transcript(), b = Transcript(seed: 999)
        let script = "seed 7\nparam W = he(200, 100)\nm = mean(W)\nv = mean((W - m)^2)\n"
        a.run(script)
        b.run(script)
        #expect(a.out == b.out)
        // He: fan_in is the first axis (X @ W), variance 2/200 = 0.01; 20,000 samples: standard
        // error of the variance ≈ 0.01·sqrt(2/20000) = 0.0001.
        a.run(":expect v == 0.01 tol 0.0005\n:expect m == 0 tol 0.003")
        #expect(a.session.failed == 0, "\(a.out)")
    }

    @Test("X @ lecun(in, out) keeps unit variance; the course's [out, in] W is its transpose")
    func initializerFanIn() {
        // Issue 12, item 1: `seed 3`, `X = randn(2000, 300)`, `S = X @ lecun(300, 50)`: each S
        // entry sums 300 products of variance 1 · 1/300, so mean(S²) ≈ 1 (it was 6 with fan_in 50).
        let t = Transcript()
        t.run("seed 3\nX = randn(2000, 300)\nS = X @ lecun(300, 50)\nV = mean(S^2)\nW = lecun(300, 50)'\nT = mean((W @ X')^2)")
        t.run(":expect V == 1 tol 0.05\n:expect T == 1 tol 0.05")
        // he(10, 300): fan_in 10, variance 2/10 over 3,000 draws (standard error ≈ 0.2·0.026).
        t.run("H = he(10, 300)\nvh = mean(H^2)\n:expect vh == 0.2 tol 0.02")
        #expect(t.session.failed == 0, "\(t.out)")
    }
}
