import Foundation
@testable import NablaRuntime
@testable import NablaSelfCheck
@testable import NablaSession
@testable import NablaTeaching
@testable import NablaTraining
import NablaGraph
import NablaTensor
import Testing

@Suite("Random programs against finite differences")
struct SelfCheckTests {
    /// The ops with a derivative; every one must appear in the fixed-seed run.
    static let differentiable: Set<String> = [
        "neg", "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu", "softplus", "step", "sin", "cos", "scaledTanh",
        "add", "sub", "mul", "div", "pow", "maximum", "minimum", "leakyRelu", "dropout", "matmul", "dot", "transpose",
        "sum", "mean", "max", "min", "vec", "reshape", "index", "stack", "softmax", "logSoftmax", "mse", "bce",
        "crossEntropy", "logisticLoss", "hinge",
    ]

    @Test("2,000 programs (4 x 500 seeds): every gradient, Jacobian, local Jacobian, sum over paths and :shapes chain holds",
          arguments: [1, 501, 1001, 1501] as [UInt64])
    func fixedSeeds(first: UInt64) {
        let (report, shrunk) = Session.selfCheck(seeds: first..<first + 500)
        #expect(report.programs == 500)
        for (program, failure) in shrunk {
            Issue.record("\(failure.kind): \(failure.message)\n\(program.text)")
        }
        #expect(report.failures.isEmpty)
        // The run compares a lot, on almost every program: not a check that passes by skipping.
        #expect(report.nonFinite < 25, "\(report.nonFinite)")
        #expect(report.gradientEntries > 2_000 && report.jacobianEntries > 20_000 && report.localEntries > 100_000)
        #expect(report.pathSums > 500 && report.shapeChains > 1_000)
        #expect(report.kinks * 50 < report.localEntries, "\(report.kinks) kinks")
        #expect(report.ops.isSuperset(of: SelfCheckTests.differentiable), "missing: \(SelfCheckTests.differentiable.subtracting(report.ops).sorted())")
    }

    @Test("programs are well-typed and varied: shared nodes, deep chains, every shape")
    func programs() {
        var deep = 0, reused = 0
        for seed in 1...200 as ClosedRange<UInt64> {
            let p = RandomProgram.generate(seed: seed)
            #expect(p.lines.first == "seed \(seed)")
            #expect(p.lines.last?.hasPrefix("L = ") == true)
            if p.lines.contains(where: { $0.filter { $0 == "(" }.count >= 8 }) { deep += 1 }
            // A name read by two later lines: a node with two users.
            let names = p.lines.compactMap { $0.split(separator: " ").first.map(String.init) }.filter { $0 != "seed" && $0 != "param" }
            if names.contains(where: { n in p.lines.filter { $0.contains(n) && !$0.hasPrefix(n + " =") }.count >= 2 }) { reused += 1 }
        }
        #expect(deep > 20 && reused > 100, "deep \(deep), reused \(reused)")
        // Every function of the language with a derivative, and the builders, appear.
        let texts = (1...500 as ClosedRange<UInt64>).map { RandomProgram.generate(seed: $0).text }
        let functions = [
            "neuron(", "dense(", "glorot(", "he(", "lecun(", "ones(", "randn(", "σ(", "sigmoid(", "leaky_relu(", "scaled_tanh(",
            "softplus(", "dropout(", "log_softmax(", "softmax(", "vec(", "reshape(", "transpose(", "'", "·", "dot(", "@",
            "max(", "min(", "mean(", "sum(", "mse(", "bce(", "cross_entropy(", "logistic_loss(", "hinge(", "step(", "abs(",
            "exp(", "log(", "sqrt(", "sin(", "cos(", "tanh(", "relu(", "linear(", "^", "/", "]",
        ]
        for f in functions { #expect(texts.contains { $0.contains(f) }, "\(f) never appears") }
        #expect(RandomProgram.generate(seed: 7).text == RandomProgram.generate(seed: 7).text)
    }

    @Test("central differences: the derivative of x^3 at 2 is 12; relu at 0 is a kink")
    func differences() throws {
        let (d, smooth) = try #require(Session.centralDifference(Tensor(2), 0) { Tensor($0.scalar * $0.scalar * $0.scalar) })
        #expect(smooth && abs(d.scalar - 12) < 1e-6)
        let (_, kink) = try #require(Session.centralDifference(Tensor(0), 0) { Tensor(max($0.scalar, 0)) })
        #expect(!kink)
        #expect(!Session.close(12, 12.01, scale: 1) && Session.close(12, 12.0001, scale: 1))
    }

    @Test("the shrinker keeps only what the failure needs")
    func shrink() {
        let program = RandomProgram(lines: ["seed 1", "param a = 2", "b = a * 3", "c = tanh(b)", "d = sin(a)", "e = d + 1", "L = sum(c) + e + a"])
        // A stand-in failure: "the program uses tanh and still runs".
        let small = Session.shrink(program) { p in
            var ok = true
            let s = Session(output: SessionOutput(out: { _ in }, err: { _ in ok = false }))
            for line in p.lines where !s.runLine(line) { ok = false }
            return ok && p.text.contains("tanh")
        }
        // b stays (c reads it); L shrinks to a single term.
        #expect(small.lines == ["seed 1", "param a = 2", "b = a * 3", "c = tanh(b)", "L = a"], "\(small.lines)")
    }
}

@Suite("Limits: each refusal names its limit and how to change it")
struct LimitTests {
    @Test(":limits shows every limit; nodes= is refused past, and raised")
    func nodes() {
        let t = Transcript()
        #expect(t.run(":limits"))
        for name in ["elements", "nodes", "nesting", "height", "script"] { #expect(t.stdout.contains("\n" + name), "\(name)") }
        #expect(t.run(":limits nodes=12"))
        #expect(t.run("a = 1\nb = a + 1"))
        #expect(!t.run("c = sin(a) * cos(b) + tanh(a * b) - exp(b) / (1 + a^2)"))
        #expect(t.err.last?.contains("the limit is nodes=12 (:limits nodes=N changes it; :reset forgets every definition)") == true, "\(t.stderr)")
        #expect(t.session.definitions["c"] == nil)
        #expect(t.run(":limits nodes=100\nc = sin(a) * cos(b) + tanh(a * b) - exp(b) / (1 + a^2)"), "\(t.stderr)")
        #expect(!t.run(":limits nodes=0"))
        #expect(!t.run(":limits nodes=1 frogs=2"))
        #expect(!t.run(":limits 12"))
    }

    @Test("a script over the size limit is refused before it is read")
    func script() throws {
        let path = FileManagerHelper.temporaryDirectory() + "/big.nabla"
        try String(repeating: "x = 1\n", count: 100).write(toFile: path, atomically: true, encoding: .utf8)
        let t = Transcript()
        #expect(t.run(":limits script=100"))
        #expect(!t.run(":load \(path)"))
        #expect(t.err.last?.contains("has more than 100 bytes; the limit is script=100 (:limits script=N changes it)") == true, "\(t.stderr)")
        #expect(t.run(":limits script=1000\n:load \(path)"), "\(t.stderr)")
        // A file whose size the file system does not know is refused too, without reading it all.
        #expect(!t.run(":load /dev/zero"))
        #expect(t.err.last?.contains("the limit is script=1,000") == true, "\(t.stderr)")
    }

    @Test("nesting and element refusals say how to change the limit")
    func messages() {
        let t = Transcript()
        #expect(!t.run("x = " + String(repeating: "(", count: 70) + "1" + String(repeating: ")", count: 70)))
        #expect(t.err.last?.contains(":limits nesting=N changes the limit") == true, "\(t.stderr)")
        #expect(!t.run("W = zeros(100000, 100000)"))
        #expect(t.err.last?.contains(":limits elements=N changes it") == true, "\(t.stderr)")
    }
}
