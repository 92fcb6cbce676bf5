@testable import NablaRuntime
@testable import NablaSelfCheck
@testable import NablaSession
@testable import NablaTeaching
@testable import NablaTraining
import NablaTensor
import Testing

/// The neuron of the course: x = (2, 1), y = 1, w = (-1, 1), logistic loss.
let neuronScript = """
    x1 = 2
    x2 = 1
    y = 1
    param w1 = -1
    param w2 = 1
    z = w1*x1 + w2*x2
    p = sigmoid(y*z)
    L = -log(p)
    """

/// The vector neuron: x ∈ R^4, W 3x4, V 1x3, L = logistic loss of V σ(W x).
let vectorNeuronScript = """
    seed 42
    x = randn(4)
    param W = randn(3, 4)
    param V = randn(1, 3)
    a = W @ x
    h = σ(a)
    s = V @ h
    L = logistic_loss(s, 1)
    """

/// Runs `setup` quietly, then `lines`; returns what `lines` printed.
func transcript(_ setup: String, _ lines: String) -> Transcript {
    let t = Transcript()
    t.session.quiet = true
    #expect(t.run(setup), "\(t.stderr)")
    t.session.quiet = false
    t.run(lines)
    return t
}

@Suite("The views that teach: golden transcripts on the course's examples")
struct TeachingViewTests {
    // By hand: z = -1, p = σ(-1) = 0.268941, ∂L/∂p = -1/p = -3.71828,
    // σ'(-1) = p(1-p) = 0.196612, ∂L/∂w1 = -3.71828 · 0.196612 · 1 · 1 · 2 = -1.46212.
    @Test(":explain writes language.md's derivation, symbols, formulas, numbers, result")
    func explainNeuron() {
        let t = transcript(neuronScript, ":explain L w1")
        #expect(t.err.isEmpty, "\(t.stderr)")
        #expect(t.stdout == """
            ∂L/∂w1 = ∂L/∂p · ∂p/∂(y*z) · ∂(y*z)/∂z · ∂z/∂(w1*x1) · ∂(w1*x1)/∂w1
                   = (-1/p) · σ(y*z)(1-σ(y*z)) · y · 1 · x1
                   = (-3.71828) · (0.196612) · (1) · (1) · (2)
                   = -1.46212
            """)
    }

    @Test(":explain sums over paths: b = a*a + 2*a at a = 3 is 3 + 3 + 2 = 8")
    func explainPaths() {
        let t = transcript("a = 3\nb = a*a + 2*a", ":explain b a")
        #expect(t.stdout == """
            ∂b/∂a = ∂b/∂(a*a) · ∂(a*a)/∂a  +  ∂b/∂(a*a) · ∂(a*a)/∂a  +  ∂b/∂(2*a) · ∂(2*a)/∂a
                  = 1 · a  +  1 · a  +  1 · 2
                  = (1) · (3)  +  (1) · (3)  +  (1) · (2)
                  = 3 + 3 + 2
                  = 8
            """)
    }

    @Test("the sum over paths equals backprop's gradient, for every param of several graphs", arguments: [
        neuronScript,
        vectorNeuronScript,
        "seed 3\nparam W = randn(2, 3)\nx = randn(3)\nh = tanh(W @ x)\nL = sum(h * h) + mean(W @ x)^2",
        "param a = 0.7\nb = a * a\nc = sin(b) * a + exp(-a)\nL = c * b / (1 + a^2)",
        "seed 5\nparam W = randn(3, 3)\nlogits = W @ [1, -2, 0.5]\nL = cross_entropy(logits, 2) + 0.1 * sum(W * W)",
    ])
    func pathsSumToGradient(script: String) throws {
        let t = Transcript()
        #expect(t.run(script), "\(t.stderr)")
        let s = t.session
        let root = try #require(s.definitions["L"]).slot
        let grads = try s.graph.backward(from: root)
        for name in s.paramNames {
            let slot = try #require(s.definitions[name]).slot
            let (paths, total) = s.chainPaths(from: root, to: slot, limit: 10_000)
            #expect(paths.count == total)
            var sum = Tensor.zeros(s.graph.value(slot).shape)
            for p in paths {
                let term = s.graph.carry(Tensor(1), along: p.edges)
                for i in 0..<sum.count { sum.scalars[i] += term.scalars[i] }
                // The factors cover the path's edges exactly, in order.
                #expect(p.factors.flatMap(\.edges) == p.edges)
            }
            let g = try #require(grads[slot])
            for i in 0..<g.count { #expect(abs(sum.scalars[i] - g.scalars[i]) <= 1e-12 * max(1, abs(g.scalars[i])), "\(name)[\(i)]") }
        }
    }

    @Test(":shapes gives the course's chain (1x1)(1x3)(3x3)(3x12) = 1x12, marks the diagonal one, and the VJP shapes")
    func shapesVectorNeuron() {
        let t = transcript(vectorNeuronScript, ":shapes L W")
        #expect(t.err.isEmpty, "\(t.stderr)")
        #expect(t.out.first?.split(separator: "\n").first == "∂L/∂W = (1x1)(1x3)(3x3)(3x12) = 1x12")
        #expect(t.stdout.contains("∂h/∂a  3x3   diagonal (σ is elementwise): the VJP multiplies by its 3 diagonal entries"))
        #expect(t.stdout.contains("∂a/∂W  3x12  block diagonal (I⊗x'): output i reads only row i of the matrix"))
        #expect(t.stdout.contains("scalar → [1] → [3] → [3] → [3, 4]"))
    }

    @Test(":shapes agrees with the Jacobians :jacobian builds")
    func shapesMatchJacobians() throws {
        let t = Transcript()
        #expect(t.run(vectorNeuronScript))
        let s = t.session
        let root = try #require(s.definitions["L"]).slot
        let w = try #require(s.definitions["W"]).slot
        let path = try #require(s.chainPaths(from: root, to: w).paths.first)
        for f in path.factors {
            let j = try s.graph.jacobian(of: f.top, withRespectTo: f.bottom)
            let (m, n) = s.jacobianSize(of: f)
            #expect(j.shape == [m, n])
        }
    }

    @Test(":verify judges correct, close (rounding explains the slides' -1.48) and wrong", arguments: [
        ("dL/dw1 = -1.46212", "✓ correct: ∂L/∂w1 = -1.46212"),
        ("∂L/∂w1 = -1.462", "✓ correct: ∂L/∂w1 = -1.46212"),
        ("dL/dw1 = -1.48", "≈ close: exact -1.46212, yours -1.48 (1.2% off; rounding of intermediate values to 2 significant digits explains it)"),
        ("dL/dw1 = -1.5", "≈ close: exact -1.46212, yours -1.5 (right to the 2 significant digits you gave; give 3 for a ✓)"),
        // Rounding the factors -3.71828 and 0.196612 to 2 digits moves the product by at most 3.9%.
        ("dL/dw1 = -1.41", "≈ close: exact -1.46212, yours -1.41 (3.6% off; rounding of intermediate values to 2 significant digits explains it)"),
        // -1.4 is -1.46212 truncated to 2 digits: truncation is rounding too.
        ("dL/dw1 = -1.4", "≈ close: exact -1.46212, yours -1.4 (right to the 2 significant digits you gave; give 3 for a ✓)"),
        // 4.5% off, within 5%, and no rounding to 2 digits explains it.
        ("dL/dw1 = -1.397", "≈ close: exact -1.46212, yours -1.397 (4.5% off (≈ is within 5%); :explain shows each step)"),
        ("dL/dw1 = -1.46", "✓ correct: ∂L/∂w1 = -1.46212"),
        ("dL/dw2 = -0.73", "≈ close: exact -0.731059, yours -0.73 (right to the 2 significant digits you gave; give 3 for a ✓)"),
        ("dL/dw1 = 1.46212", "✗ wrong: exact -1.46212, yours 1.46212 (opposite sign)"),
        ("dL/dw1 = -0.731", "✗ wrong: exact -1.46212, yours -0.731 (50% off, more than the 5% a ≈ allows)"),
        ("p = 0.269", "✓ correct: p = 0.268941"),
        ("dL/d(y*z) = -0.731059", "✓ correct: ∂L/∂(y*z) = -0.731059"),
    ] as [(String, String)])
    func verifyVerdicts(line: String, verdict: String) {
        let t = transcript(neuronScript, ":verify " + line)
        #expect(t.err.isEmpty, "\(t.stderr)")
        #expect(t.out.first?.split(separator: "\n").first.map(String.init) == verdict)
    }

    @Test(":verify on a wrong answer shows the exact value and the :explain derivation")
    func verifyWrongShowsDerivation() {
        let t = transcript(neuronScript, ":verify dL/dw1 = 2")
        #expect(t.stdout == """
            ✗ wrong: exact -1.46212, yours 2 (237% off, more than the 5% a ≈ allows)
            to find the wrong step, verify the gradients in between, from L down: :verify dL/dp = ...
            how it is computed:
              ∂L/∂w1 = ∂L/∂p · ∂p/∂(y*z) · ∂(y*z)/∂z · ∂z/∂(w1*x1) · ∂(w1*x1)/∂w1
                     = (-1/p) · σ(y*z)(1-σ(y*z)) · y · 1 · x1
                     = (-3.71828) · (0.196612) · (1) · (1) · (2)
                     = -1.46212
            """)
    }

    @Test("several :verify lines point at the first wrong link")
    func verifyFirstWrongLink() throws {
        // ∂L/∂p = -3.71828 is right; ∂L/∂z = -0.5 is wrong (exact -0.731059):
        // the wrong link lies between p and z.
        let t = transcript(neuronScript, ":verify dL/dp = -3.718\n:verify dL/dz = -0.5")
        try #require(t.out.count == 2, "\(t.out)")
        #expect(t.out[0] == "✓ correct: ∂L/∂p = -3.71828")
        #expect(t.out[1].hasPrefix("✗ wrong: exact -0.731059, yours -0.5 (32% off, more than the 5% a ≈ allows)\nthe first wrong link lies between p and z: ∂L/∂p was right, ∂L/∂z was wrong\n  check ∂p/∂z = ∂p/∂(y*z) · ∂(y*z)/∂z:\n  ∂p/∂(y*z) = σ(y*z)(1-σ(y*z)) = 0.196612\n  ∂(y*z)/∂z = y = 1"), "\(t.out[1])")
        // Wrong first, then a right one above it: the link is below the right one.
        let u = transcript(neuronScript, ":verify dL/dw1 = -0.73\n:verify dL/dz = -0.731")
        try #require(u.out.count == 2, "\(u.out)")
        #expect(u.out[1].hasPrefix("✓ correct: ∂L/∂z = -0.731059\nthe first wrong link lies between z and w1: ∂L/∂z was right, ∂L/∂w1 was wrong"), "\(u.out[1])")
    }

    @Test(":verify with vectors and matrices judges every entry")
    func verifyTensors() throws {
        // By hand at x = 1, t = 1, (w1, b1, w2, b2) = (3, 1, 2, -5): the gradient is (8, 8, 16, 4).
        let setup = "x = 1\nt = 1\nparam w1 = 3\nparam b1 = 1\nparam w2 = 2\nparam b2 = -5\ny = w2*relu(w1*x + b1) + b2\nL = (y - t)^2\nparam W = [[1, 2], [3, 4]]\nM = sum(W * W)"
        let t = transcript(setup, ":verify dM/dW = [[2, 4], [6, 8]]\n:verify dM/dW = [[2, 4], [6, 9]]\n:verify [∂L/∂w1, ∂L/∂b1, ∂L/∂w2, ∂L/∂b2] = [8, 8, 16, 4]")
        try #require(t.out.count == 3, "\(t.out)")
        #expect(t.out[0] == "✓ correct: ∂M/∂W = [[2, 4],\n                    [6, 8]]")
        #expect(t.out[1].hasPrefix("✗ wrong: 1 of 4 entries are off; the first at [1, 1]: exact 8, yours 9\n  exact ∂M/∂W = [[2, 4],"), "\(t.out[1])")
        // A list of gradients is judged gradient by gradient.
        #expect(t.out[2] == "✓ correct: ∂L/∂w1 = 8\n✓ correct: ∂L/∂b1 = 8\n✓ correct: ∂L/∂w2 = 16\n✓ correct: ∂L/∂b2 = 4")
    }

    @Test(":step shows upstream, local derivative, VJP and accumulation, node by node")
    func stepNeuron() {
        let t = transcript(neuronScript, ":step L\n:grad w1")
        #expect(t.err.isEmpty, "\(t.stderr)")
        let text = t.stdout
        #expect(t.out.first == "backprop from L, one node at a time (7 nodes with inputs); the seed is ∂L/∂L = 1")
        #expect(text.contains("""
            step 3 of 7: p = sigmoid(y*z)   [σ, scalar]
              upstream   ∂L/∂p = -3.71828   shape scalar
              local      ∂p/∂(y*z) = σ(y*z)(1-σ(y*z)) = 0.196612   1x1
              VJP        (-3.71828) · 0.196612 = -0.731059   shape scalar
              y*z accumulates: ∂L/∂(y*z) = -0.731059
            """))
        #expect(text.contains("""
            step 7 of 7: w1*x1   [*, scalar]
              upstream   ∂L/∂(w1*x1) = -0.731059   shape scalar
              local      ∂(w1*x1)/∂w1 = x1 = 2   1x1
              VJP        (-0.731059) · 2 = -1.46212   shape scalar
              w1 accumulates: ∂L/∂w1 = -1.46212
            """))
        #expect(t.out.last == "∂L/∂w1 = -1.46212   (shape: scalar)")
    }

    @Test(":step makes fan-out visible: a used three times gets three contributions, summed")
    func stepFanOut() {
        let t = transcript("a = 3\nb = a*a + 2*a", ":step all b")
        #expect(t.stdout.contains("a accumulates: ∂b/∂a = 2   (contribution 1 of 3: the sum over paths)"))
        #expect(t.stdout.contains("a accumulates: ∂b/∂a += 3 → 5   (contribution 2 of 3: the sum over paths)"))
        #expect(t.stdout.contains("a accumulates: ∂b/∂a += 3 → 8   (contribution 3 of 3: the sum over paths)"))
    }

    @Test(":step waits for Enter at a prompt; q leaves and keeps the gradients so far")
    func stepInteractive() {
        let t = Transcript()
        t.session.interactive = true
        t.session.quiet = true
        t.run(neuronScript)
        t.session.quiet = false
        t.capture { $0.runLine(":step L") }
        #expect(t.out.last?.hasPrefix("step 1 of 7: L = -log(p)") == true)
        #expect(t.session.pendingPrompt == "step (Enter: next, a: all, q: leave)> ")
        t.capture { s in
            for _ in 0..<3 { s.answer("") }
        }
        #expect(t.out.count == 3)
        #expect(t.out.last?.hasPrefix("step 4 of 7: y*z") == true)
        t.capture { $0.answer("q") }
        #expect(t.out == ["left after 4 of 7 steps; the gradients computed so far are kept (:grad shows them)"])
        #expect(t.session.pendingPrompt == nil)
        // After 4 of 7 steps ∂L/∂z is complete; w1 is not reached yet.
        t.capture { $0.runLine(":grad z w1") }
        #expect(t.out == [
            "∂L/∂z = -0.731059   (shape: scalar)",
            // Issue 12, item 5: L depends on w1; the walk was left before it, which is not a zero.
            "∂L/∂w1 = not computed yet: the backward of L was left unfinished before it reached w1 (:backward L completes it)",
            "(partial: :step stopped after 4 of 7 nodes; :backward L completes it)",
        ])
    }

    @Test(":forward lists every node after its inputs with shape and value")
    func forwardNeuron() {
        let t = transcript(neuronScript, ":forward L")
        #expect(t.stdout == """
            the forward pass of L: 12 nodes, each computed after its inputs
              #  node               op       shape   value
              1  y = 1              input    scalar  1
              2  w1 (param)         param    scalar  -1
              3  x1 = 2             input    scalar  2
              4  w1*x1              *        scalar  -2
              5  w2 (param)         param    scalar  1
              6  x2 = 1             input    scalar  1
              7  w2*x2              *        scalar  1
              8  z = w1*x1 + w2*x2  +        scalar  -1
              9  y*z                *        scalar  -1
             10  p = sigmoid(y*z)   sigmoid  scalar  0.268941
             11  log(p)             log      scalar  -1.31326
             12  L = -log(p)        -        scalar  1.31326
            """)
    }

    @Test(":graph draws the tree with values and, after :backward, gradients")
    func graphNeuron() {
        let t = transcript(neuronScript, ":backward L\n:graph L")
        #expect(t.stdout == """
            node                           value     ∂L/∂·
            L = -log(p)                    1.31326   1
            └─ log(p)                      -1.31326  -1
               └─ p = sigmoid(y*z)         0.268941  -3.71828
                  └─ y*z                   -1        -0.731059
                     ├─ y = 1              1         0.731059
                     └─ z = w1*x1 + w2*x2  -1        -0.731059
                        ├─ w1*x1           -2        -0.731059
                        │  ├─ w1 (param)   -1        -1.46212
                        │  └─ x1 = 2       2         0.731059
                        └─ w2*x2           1         -0.731059
                           ├─ w2 (param)   1         -0.731059
                           └─ x2 = 1       1         -0.731059
            """)
    }

    @Test(":graph summarises a big graph instead of flooding the screen")
    func graphBig() {
        var script = "param x = 0.5\nh0 = x"
        for i in 1...100 { script += "\nh\(i) = tanh(h\(i - 1)) + x" }
        let t = transcript(script, ":graph h100")
        #expect(t.out.count == 1)
        let lines = t.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("h100: 201 nodes (100 +, 100 tanh, 1 param); the top 3 levels:") == true, "\(lines.first ?? "")")
        #expect(lines.count < 20)
    }

    @Test(":dot writes Graphviz with values, gradients, params highlighted")
    func dotNeuron() {
        let t = transcript(neuronScript, ":backward L\n:dot L")
        let text = t.stdout
        #expect(text.hasPrefix("digraph nabla {"))
        #expect(text.contains("label=\"w1 (param)\\nvalue -1\\n∂L/∂· = -1.46212\", fillcolor=\"#fde68a\", penwidth=2"))
        #expect(text.components(separatedBy: " -> ").count - 1 == 11)
        #expect(text.hasSuffix("}"))
    }

    @Test(":exercise prints a seeded exercise, judges each answer like :verify and shows the solution")
    func exercise() {
        // Exercise neuron #7: z = 0.5·2 + 2·(-1) - 1 = -2, y z = 2, p = σ(2) = 0.880797;
        // ∂L/∂w1 = -(1 - p)·y·x1 = 0.238406, ∂L/∂b = -(1 - p)·y = 0.119203.
        let t = Transcript()
        // ∂L/∂p = -1/p = -1.13534; ∂L/∂z = -(1 - p)·y = 0.119203.
        t.run(":exercise neuron 7\n0.8808\n-1.135\n0.1192\n0.2384\n0.12")
        #expect(t.err.isEmpty, "\(t.stderr)")
        #expect(t.out[0].contains("""
              x1 = 2
              x2 = -1
              y = -1
              param w1 = 0.5
              param w2 = 2
              param b = -1
              z = w1*x1 + w2*x2 + b
              p = sigmoid(y*z)
              L = -log(p)
            """))
        #expect(t.out[1] == "✓ correct: p = 0.880797")
        #expect(t.out[2] == "✓ correct: ∂L/∂p = -1.13534")
        #expect(t.out[3] == "✓ correct: ∂L/∂z = 0.119203")
        #expect(t.out[4] == "✓ correct: ∂L/∂w1 = 0.238406")
        #expect(t.out[5] == "≈ close: exact 0.119203, yours 0.12 (right to the 2 significant digits you gave; give 3 for a ✓)")
        #expect(t.out[6] == "the solution:")
        // The student's own definitions are untouched.
        #expect(t.session.definedNames.isEmpty)
    }

    @Test("every exercise kind builds and its solution equals backprop", arguments: ["neuron", "chain", "vector"])
    func exerciseKinds(kind: String) {
        for n in 0..<20 {
            let t = Transcript()
            t.run(":exercise \(kind) \(n)\nq")
            #expect(t.err.isEmpty, "\(kind) \(n): \(t.stderr)")
            #expect(t.out.contains("left the exercise; the solution:"))
        }
    }

    @Test("colour only when asked: ✓ and ✗ in green and red")
    func colour() {
        let t = Transcript()
        t.session.colors = true
        t.run(neuronScript + "\n:verify dL/dw1 = -1.46212")
        #expect(t.out.last == "\u{1B}[32m✓ correct\u{1B}[0m: ∂L/∂w1 = -1.46212")
        let plain = transcript(neuronScript, ":verify dL/dw1 = -1.46212")
        #expect(!plain.stdout.contains("\u{1B}"))
    }

    @Test("bad input in the views: a clear error with the place, and the session goes on", arguments: [
        (":step L", "line 1, column 7: error: unknown name 'L' (nothing is defined yet: define it first, as in L = 2)"),
        (":step", "line 1, column 1: error: :step needs the loss to backprop from (define one first, like L = ...) (usage: :step L)"),
        (":explain L", "line 1, column 10: error: :explain needs two names, the output and the input (usage: :explain L w)"),
        ("v = [1, 2]\n:shapes v v", "line 2, column 9: error: v has shape [2], not a scalar: :shapes starts from one number, such as a loss (use :jacobian for a vector output, or reduce it: sum(v))"),
        ("x = 2\nL = x*x\n:verify dL/dx 4", "line 3, column 9: error: :verify needs '=' between what you computed and your value (usage: :verify dL/dw = value)"),
        ("x = 2\nL = x*x\n:verify dL/dx = [1, 2]", "line 3, column 17: error: your value has shape [2], but ∂L/∂x has shape scalar"),
        ("x = 2\nL = x*x\n:verify dL/dq = 1", "line 3, column 13: error: unknown name 'q'"),
        (":dot", "line 1, column 1: error: :dot needs the node to draw (usage: :dot L [file])"),
        (":exercise nueron", "line 1, column 11: error: unknown exercise 'nueron' (did you mean 'neuron'?)"),
        (":graph", "line 1, column 1: error: :graph needs a name (nothing is defined yet) (usage: :graph [L])"),
        ("x = 2\n:forward y", "line 2, column 10: error: unknown name 'y'"),
    ] as [(String, String)])
    func badInput(script: String, message: String) {
        let t = Transcript()
        #expect(!t.run(script))
        #expect(t.err.first?.split(separator: "\n").first.map(String.init) == message, "\(t.stderr)")
        #expect(t.err.first?.contains("^") == true)
        // The session goes on.
        #expect(t.run("k = 1 + 1"))
        #expect(t.out == ["k = 2"])
    }
}

@Suite("Judging hand-computed answers")
struct JudgementTests {
    @Test("the precision of typed numbers", arguments: [
        ("-1.48", 0.005, 3), ("0.27", 0.005, 2), ("8", 0.5, 1), ("16", 0.5, 2), ("1e-3", 0.0005, 1), ("2.50e1", 0.05, 3),
    ] as [(String, Double, Int)])
    func literals(text: String, halfUlp: Double, digits: Int) throws {
        let l = try #require(Judgement.literals(in: text).first)
        #expect(abs(l.0 - halfUlp) < 1e-15)
        #expect(l.1 == digits)
    }

    @Test("the rounding error of a number rounded to d digits")
    func rounding() {
        #expect(abs(Judgement.roundingError(-3.71828, digits: 2) - 0.05 / 3.71828) < 1e-12)
        #expect(Judgement.roundingError(2, digits: 2) == 0)
        #expect(Judgement.roundingError(0.25, digits: 2) == 0)
    }
}

@Suite("The views on awkward input (found by review)")
struct TeachingViewEdgeTests {
    @Test("huge or extreme answers are judged, never crash", arguments: [
        "a = 0\n:verify a = 100000",
        "a = 0.5\n:verify a = 1e-9223372036854775808",
        "a = 0.5\n:verify a = 0e999999999999999999",
        "a = 0.5\n:verify a = 1.55e-9223372036854775807",
    ])
    func extremes(script: String) {
        let t = Transcript()
        t.run(script)
        // Judged, or (a number below float64's range, which would be 0) refused with the reason.
        #expect(t.out.count == 1 || (t.out.isEmpty && t.stderr.contains("smaller than the smallest float64")), "\(t.out) \(t.stderr)")
    }

    @Test("a typed 0 is judged as exactly 0, not as a rounding of 0.27")
    func zero() {
        let t = transcript(neuronScript, ":verify p = 0")
        #expect(t.out.first?.hasPrefix("✗ wrong: exact 0.268941, yours 0") == true, "\(t.out)")
    }

    @Test("a node with respect to itself, and a target reached only through a class index")
    func degenerate() {
        let t = transcript(neuronScript, ":explain L L\n:shapes L L")
        #expect(t.out == ["∂L/∂L = 1 (a node's derivative with respect to itself)", "∂L/∂L = 1: the identity"])
        let u = transcript("param a = 2\nk = a - 1\nL = cross_entropy([1, 2, 3], k) + a*a", ":explain L k\n:step all L")
        #expect(u.out.first?.hasPrefix("∂L/∂k = 0: no gradient flows from L to k") == true, "\(u.out)")
        // k is reached only through the class index: it receives no contribution, and a gets 2 (a*a).
        #expect(u.stdout.contains("a accumulates: ∂L/∂a += 2 → 4   (contribution 2 of 2: the sum over paths)"), "\(u.stdout)")
        #expect(u.stdout.contains("step 3 of 3: cross_entropy([1, 2, 3], k)"))
        #expect(!u.stdout.contains("of 3: the sum over paths"))
    }

    @Test(":update refuses the partial gradients of a :step left early")
    func partialUpdate() {
        let t = Transcript()
        t.session.interactive = true
        t.run("param a = 3\nL = a*a + a")
        t.capture { $0.runLine(":step L") }
        t.capture { $0.answer("q") }
        t.capture { $0.runLine(":update lr=1") }
        #expect(t.err.first?.contains("the gradients are partial (:step was left early): run :backward L first") == true, "\(t.err)")
        t.capture { $0.runLine(":backward L") }
        t.capture { $0.runLine(":update lr=1") }
        // ∂L/∂a = 2·3 + 1 = 7: a = 3 - 7 = -4.
        #expect(t.out.first?.hasPrefix("a = -4") == true, "\(t.out)")
    }

    @Test("interactive :step ends by itself after the last node")
    func stepEnds() {
        let t = Transcript()
        t.session.interactive = true
        t.run("param a = 3\nL = a*a")
        t.capture { $0.runLine(":step L") }
        #expect(t.session.pendingPrompt == nil)
        #expect(t.out.last == "backprop done: every gradient of L is known (:grad w shows one)")
    }

    @Test("every vector exercise keeps its ReLUs active (no kink at 0)")
    func vectorExercises() {
        for n in 0..<200 {
            let e = Exercise.make(.vector, number: n)
            let t = Transcript()
            t.session.quiet = true
            t.run(e.lines.joined(separator: "\n"))
            let h = t.session.definitions["h"].map { t.session.graph.value($0.slot) }
            #expect(h?.scalars.allSatisfy { $0 > 0 } == true, "exercise \(n): h = \(String(describing: h))")
        }
    }

    @Test("explaining a graph with very many paths stays short")
    func manyPaths() {
        var script = "param x0 = 1"
        for i in 1...80 { script += "\nx\(i) = x\(i - 1)*0.5 + x\(i - 1)*0.5" }
        let t = transcript(script, ":explain x80 x0")
        #expect(t.stdout.count < 20_000, "\(t.stdout.count) characters")
        #expect(t.stdout.contains("more than 10^18 more paths are not shown"), "\(t.stdout.suffix(300))")
    }
}
