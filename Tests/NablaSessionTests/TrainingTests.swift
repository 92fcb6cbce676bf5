import Foundation
@testable import NablaRuntime
@testable import NablaSelfCheck
@testable import NablaSession
@testable import NablaTeaching
@testable import NablaTraining
import NablaGraph
import NablaTensor
import NablaTestSupport
import Testing

/// The last number after `key` in a line, e.g. `accuracy 100%`.
func figure(after key: String, in text: String) -> Double? {
    guard let r = text.range(of: key, options: .backwards) else { return nil }
    let rest = text[r.upperBound...].drop { $0 == " " }
    return Double(String(rest.prefix { $0.isNumber || $0 == "." || $0 == "-" || $0 == "e" }))
}

@Suite("Training small nets in the language")
struct TrainingTests {
    // J(w) = w² at w = 1: g = 2. Momentum (β 0.9, lr 0.1): m = -0.2, w = 0.8; then g = 1.6,
    // m = 0.9·(-0.2) - 0.16 = -0.34, w = 0.46.
    @Test(":update with momentum takes the course's steps and :opt shows the velocity")
    func momentumByUpdate() {
        let t = Transcript()
        t.run("param w = 1\nJ = w^2\n:backward J\n:update opt=momentum lr=0.1\n:backward J\n:update\n:opt")
        #expect(t.err.isEmpty, "\(t.stderr)")
        #expect(t.out == [
            "J = 1",
            "w = 0.8   (one momentum step; J is now 0.64)",
            "w = 0.46   (one momentum step; J is now 0.2116)",
            "momentum, η = 0.1\n  m ← β m − η g;  θ ← θ + m   (β = 0.9)\n  w: t = 2   m = -0.34",
        ])
    }

    // Nesterov at w = 1, lr 0.1, β 0.9: step 1 as momentum (w = 0.8, m = -0.2); step 2 takes
    // the gradient at 0.8 + 0.9·(-0.2) = 0.62: g = 1.24, m = -0.304, w = 0.496.
    @Test(":update with Nesterov takes the gradient at the look-ahead point")
    func nesterovByUpdate() {
        let t = Transcript()
        t.run("param w = 1\nJ = w^2\n:backward J\n:update opt=nesterov lr=0.1\n:backward J\n:update")
        #expect(t.out.count == 3 && t.out[2].hasPrefix("w = 0.496 "), "\(t.out)")
    }

    // Adam at w = 1, lr 0.1, the slide's first moment m = (1-β1) g: m̂ = 2, ŝ = 4,
    // w = 1 - 0.1·2/(2 + 1e-7) = 0.9 (the ε moves it by 5e-9).
    @Test(":opt shows Adam's bias-corrected moments after one step")
    func adamState() {
        let t = Transcript()
        t.run("param w = 1\nJ = w^2\n:backward J\n:update opt=adam lr=0.1\n:opt")
        #expect(t.out.count == 3, "\(t.out)")
        #expect(t.out.dropFirst().first == "w = 0.9   (one adam step; J is now 0.81)")
        #expect(t.out.last?.contains("w: t = 1   m = 0.2   s = 0.004   m̂ = 2   ŝ = 4") == true, "\(t.out)")
    }

    @Test("XOR is learned to 100% by a 2-4-1 tanh MLP in 300 full-batch Adam epochs (seed 1)")
    func xor() {
        let t = Transcript()
        t.run("seed 1\n:data xor\n:mlp net 2-4-1 act=tanh\nL = bce(net, Y)\n:train L epochs=300 batch=all opt=adam lr=0.05\n:predict net [[0,0],[0,1],[1,0],[1,1]]")
        #expect(t.err.isEmpty, "\(t.stderr)")
        let summary = t.out.first { $0.hasPrefix("trained 300 epochs") } ?? ""
        #expect(figure(after: "accuracy", in: summary) == 100, "\(summary)")
        #expect(t.out.last?.hasSuffix("(classes 0, 1, 1, 0)") == true, "\(t.out.last ?? "")")
    }

    @Test("the perceptron converges on AND and on separable blobs, and fails on XOR")
    func perceptron() {
        let and = Transcript()
        and.run(":data and\n:perceptron epochs=20\n:expect perceptron == reshape(Y, 4)")
        #expect(and.stdout.contains("converged after"), "\(and.stdout)")
        #expect(and.session.passed == 1)
        let blobs = Transcript()
        blobs.run("seed 4\n:data blobs 100 noise=0.5\n:perceptron epochs=50")
        #expect(blobs.stdout.contains("converged after"), "\(blobs.stdout)")
        let xor = Transcript()
        xor.run(":data xor\n:perceptron epochs=30")
        #expect(xor.stdout.contains("did not converge in 30 epochs"))
        #expect(xor.stdout.contains("XOR is not linearly separable"))
    }

    @Test("moons: a 2-16-16-1 MLP reaches more than 95% test accuracy (seed 3)")
    func moons() throws {
        let t = Transcript()
        t.run("seed 3\n:data moons 400 noise=0.1\n:mlp net 2-16-16-1 act=tanh\nL = bce(net, Y)\n:train L epochs=60 batch=32 opt=adam lr=0.01")
        #expect(t.err.isEmpty, "\(t.stderr)")
        let summary = try #require(t.out.first { $0.hasPrefix("trained ") })
        let test = try #require(figure(after: "test loss", in: summary).flatMap { _ in figure(after: "accuracy", in: summary) })
        #expect(test > 95, "\(summary)")
        #expect(t.stdout.contains("decision regions"))
    }

    @Test("spirals with 3 classes and softmax cross-entropy learn beyond chance")
    func spirals() throws {
        let t = Transcript()
        t.run("seed 2\n:data spirals 300 classes=3 noise=0.1 val=0 test=0\n:mlp net 2-32-3 act=relu\nL = cross_entropy(net, Y)\n:train L epochs=200 batch=all opt=adam lr=0.02 every=100")
        #expect(t.err.isEmpty, "\(t.stderr)")
        let summary = try #require(t.out.first { $0.hasPrefix("trained ") })
        #expect((figure(after: "accuracy", in: summary) ?? 0) > 80, "\(summary)")
    }

    @Test("early stopping restores the best validation epoch")
    func earlyStopping() {
        let t = Transcript()
        t.run("seed 5\n:data moons 100 noise=0.3\n:mlp net 2-32-1\nL = bce(net, Y)\n:train L epochs=500 opt=adam lr=0.05 patience=5")
        #expect(t.stdout.contains("early stopping: no better validation loss for 5 epochs"), "\(t.stdout)")
    }

    @Test("a schedule changes the learning rate epoch by epoch")
    func schedule() {
        let t = Transcript()
        t.run("seed 1\n:data xor\n:mlp net 2-4-1\nL = bce(net, Y)\n:train L epochs=10 batch=all opt=sgd lr=0.5 schedule=exponential:5")
        #expect(t.stdout.contains("schedule exponential (s = 5.0): η0 · 0.1^(t/s)"), "\(t.stdout)")
    }

    @Test("dropout keeps the expected value (inverted scaling) and is off in evaluation")
    func dropout() throws {
        let t = Transcript()
        t.run("H = ones(200, 50)\nD = dropout(H, 0.3)\n:mode train")
        let d = try t.session.value("D")
        // 10,000 elements, each 0 or 1/0.7: the mean is 1 with standard error √(0.3/0.7/10⁴) ≈ 0.0065.
        let mean = d.scalars.reduce(0, +) / Double(d.count)
        #expect(abs(mean - 1) < 0.03, "mean \(mean)")
        let kept = Double(d.scalars.filter { $0 > 0 }.count) / Double(d.count)
        #expect(abs(kept - 0.7) < 0.02, "kept \(kept)")
        #expect(d.scalars.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-12 })
        t.run(":mode eval")
        #expect(try t.session.value("D") == Tensor.filled([200, 50], 1))
    }

    @Test(":stats shows per-layer activation and gradient statistics")
    func stats() {
        let t = Transcript()
        t.run("seed 1\nX = randn(100, 50)\n:mlp deep 50-50-50-50-1 act=tanh init=normal:0.01 out=linear\nL = mean(deep^2)\n:stats L")
        #expect(t.err.isEmpty, "\(t.stderr)")
        let table = t.out.last ?? ""
        #expect(table.contains("deep_h1") && table.contains("deep_h3"))
        // With N(0, 0.01²) weights the activations shrink layer by layer.
        let stds = table.split(separator: "\n").dropFirst().compactMap { line in
            line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).first.flatMap { Double($0) }
        }
        #expect(stds.count >= 3)
        if stds.count >= 3 { #expect(stds[0] > stds[1] && stds[1] > stds[2], "\(stds)") }
    }

    @Test("bad input in training: a clear error with the place, and the session goes on", arguments: [
        (":data moons 100\n:mlp net 2-x-1", "line 2, column 10: error: '2-x-1' is not an architecture: layer sizes from 1 to 100,000 joined by '-', like 2-4-1 or 784-256-10"),
        (":data moons 100\n:mlp net 3-4-1", "line 2, column 10: error: the architecture starts with 3 inputs but X has shape [60, 2] (2 features)"),
        (":data moons 100\n:mlp net 2-4-1\nL = bce(net, [1, 0, 1])", "line 3, column 5: error: bce: the prediction has shape [60, 1] but the target has shape [3]: they must match (or one be a single number)"),
        (":data moons 100\n:mlp net 2-4-1\nL = bce(net, reshape(Y, 60))", "line 3, column 5: error: bce: the prediction has shape [60, 1] but the target has shape [60]; reshape one (e.g. reshape(t, 60, 1))"),
        (":data moon", "line 1, column 7: error: unknown data set 'moon' (did you mean 'moons'?) (there are: moons, circles, blobs, spirals, xor, and, or, nand, regression, csv, mnist, fashion)"),
        (":train L", "line 1, column 1: error: no data to train on: load some first, e.g. :data moons 200 (it defines X and Y)"),
        (":data xor\nparam w = [1, 1]\nL = sum(X @ w)\n:train L opt=adamw", "line 4, column 10: error: opt must be one of sgd, momentum, nesterov, adagrad, rmsprop, adam, not 'adamw' (did you mean 'adam'?)"),
        (":data xor\nparam w = [1, 1]\nL = sum(X @ w)\n:train L epoch=3", "line 4, column 10: error: unknown setting 'epoch' (did you mean 'epochs'?) (usage: \(Session.trainUsage))"),
        (":data xor\nparam w = [1, 1]\nL = sum(X @ w)\n:train L schedule=warp", "line 4, column 10: error: unknown schedule 'warp' (power:s, power:s:c, exponential:s, piecewise:e1:lr1,e2:lr2, 1cycle, 1cycle:max)"),
        (":data xor\n:mlp n 2-2-1 init=zeros", "line 2, column 14: error: unknown initializer 'zeros' (lecun, glorot, he, each also _uniform; normal:0.01; constant:0.5)"),
    ] as [(String, String)])
    func badInput(script: String, message: String) {
        let t = Transcript()
        #expect(!t.run(script))
        #expect(t.err.first?.split(separator: "\n").first.map(String.init) == message, "\(t.stderr)")
        #expect(t.run("k = 1 + 1"))
    }

    @Test("a learning rate that makes the loss explode stops training, naming the epoch")
    func explosion() throws {
        let t = Transcript()
        t.run("seed 1\n:data regression 50\nparam w = 1\nL = mse(X*w, Y)\n:train L epochs=500 opt=sgd lr=100")
        let stop = try #require(t.out.first { $0.hasPrefix("stopped in epoch") }, "\(t.stdout)")
        #expect(stop.contains("went NaN or infinite") || stop.contains("loss became"), "\(stop)")
        #expect(stop.contains("param w") || stop.contains("largest param is w"), "\(stop)")
        // The weights kept are finite: those of the last finite step.
        #expect(try t.session.value("w").isFinite)
    }

    @Test("CSV data: the file's errors name the file, line and column")
    func csvErrors() throws {
        let dir = FileManagerHelper.temporaryDirectory()
        let bad = dir + "/bad.csv"
        try "x,y,label\n1,2,0\n3,x,1\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let t = Transcript()
        #expect(!t.run(":data csv \(bad)"))
        #expect(t.err.first?.contains("bad.csv: line 3, column 3: 'x' is not a number") == true, "\(t.stderr)")
        let good = dir + "/good.csv"
        try "x,y,label\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n".write(toFile: good, atomically: true, encoding: .utf8)
        let u = Transcript()
        #expect(u.run(":data csv \(good)"))
        #expect(u.out.first?.hasPrefix("csv: 4 samples, 2 features, 2 classes") == true, "\(u.out)")
    }
}

@Suite("MNIST in the language (on generated IDX files)")
struct MNISTSessionTests {
    @Test(":data mnist reads the four files, a 16-10 softmax net reaches 100% on the test split, :show draws a sample")
    func syntheticDigits() throws {
        let dir = try syntheticMNIST(train: 200, test: 50, gzip: true)
        let t = Transcript()
        t.run("seed 1\n:data mnist dir=\(dir)\n:mlp net 16-10\nL = cross_entropy(net, Y)\n:train L epochs=30 batch=20 opt=adam lr=0.05\n:use test\n:expect accuracy(net, Y) == 1\n:show 3 net test")
        #expect(t.err.isEmpty, "\(t.stderr)")
        #expect(t.out.first == "mnist: 200 training images, 50 test; X [200, 16] in [0, 1], Y class indices 0...9; X_test, Y_test", "\(t.out.first ?? "")")
        #expect(t.session.passed == 1, "\(t.stdout)")
        #expect(t.stdout.contains("confusion matrix (test set):"))
        #expect(t.out.last?.hasSuffix("#3 of the test set: label 3, predicted 3 ✓") == true, "\(t.out.last ?? "")")
    }

    @Test("a split bigger than the graph holds: X is a window, and :train's figures still cover every sample")
    func windows() throws {
        let dir = try syntheticMNIST(train: 200, test: 50)
        let script = "seed 1\n:data mnist dir=\(dir)\n:mlp net 16-10\nL = cross_entropy(net, Y)\n:train L epochs=3 batch=20 opt=sgd lr=0.5\n:show wrong net"
        let whole = Transcript()
        whole.run(script)
        let windowed = Transcript()
        windowed.session.heldNumbers = 800  // 50 rows of 16 pixels
        windowed.run(script)
        #expect(windowed.err.isEmpty, "\(windowed.stderr)")
        #expect(windowed.out.first?.contains("X [50, 16]") == true, "\(windowed.out.first ?? "")")
        #expect(windowed.stdout.contains("X and Y hold the first 50 training images"))
        #expect(try windowed.session.value("X").shape == [50, 16])
        // The same training (batches come from all 200 images either way), and the figures
        // over the whole training and test splits, window by window, equal those in one go.
        func figures(_ t: Transcript) -> [String] {
            t.out.filter { $0.hasPrefix("trained") || $0.hasPrefix("  ") || $0.contains("misclassified") }
                .map { $0.replacingOccurrences(of: #"in [0-9.]+ s"#, with: "", options: .regularExpression) }
        }
        #expect(figures(windowed) == figures(whole), "\(windowed.stdout)\n---\n\(whole.stdout)")
        #expect(figures(whole).contains { $0.contains("200 training samples misclassified") || $0.contains("of 200 training samples") })
        // :use test puts the (small) test split in whole; :use train the window again.
        #expect(windowed.run(":use test"))
        #expect(try windowed.session.value("X").shape == [50, 16])
        #expect(windowed.run(":use train"))
        #expect(windowed.out.last?.contains("the first 50 of 200 samples") == true, "\(windowed.out.last ?? "")")
    }

    @Test("mnist() and fashion_mnist(n) on a line of their own load the data; inside an expression they are refused with a caret")
    func dataFunctions() throws {
        let dir = try syntheticMNIST(train: 40, test: 10)
        let t = Transcript()
        t.session.environment = ["NABLA_DATA": dir]
        #expect(t.run("mnist(20)"), "\(t.stderr)")
        #expect(t.out.last?.hasPrefix("mnist: 20 training images, 10 test; X [20, 16]") == true, "\(t.stdout)")
        #expect(try t.session.value("X_test").shape == [10, 16])
        #expect(t.run("fashion_mnist()"), "\(t.stderr)")
        #expect(try t.session.value("X").shape == [40, 16])
        #expect(!t.run("Z = 2 * mnist()"))
        #expect(t.err.last?.contains("mnist() loads a data set") == true, "\(t.stderr)")
        #expect(t.err.last?.contains("\n  Z = 2 * mnist()\n          ^") == true, "\(t.stderr)")
        #expect(!t.run("mnist(2.5)"))
        #expect(t.err.last?.contains("a whole number from 4 to 60000") == true, "\(t.stderr)")
        let u = Transcript()
        u.session.environment = ["NABLA_DATA": dir + "/none", "HOME": dir + "/none"]
        #expect(!u.run("mnist()"))
        #expect(u.err.last?.contains("MNIST is not here") == true, "\(u.stderr)")
        #expect(u.err.last?.contains("\n  mnist()\n  ^~~~~~~") == true, "\(u.stderr)")
    }

    @Test("missing files: the error says where nabla looked and where to put them")
    func missing() {
        let t = Transcript()
        #expect(!t.run(":data mnist dir=/nonexistent/folder"))
        let message = t.err.first ?? ""
        #expect(message.contains("MNIST is not here: looked in /nonexistent/folder"), "\(message)")
        #expect(message.contains("train-images-idx3-ubyte"))
        #expect(message.contains("https://ossci-datasets.s3.amazonaws.com/mnist/"))
        #expect(message.contains(":data mnist download does it"))
    }

    @Test("a truncated file: the error names it")
    func truncated() throws {
        let dir = try syntheticMNIST(train: 20, test: 10)
        let path = dir + "/train-images-idx3-ubyte"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 5).write(to: URL(fileURLWithPath: path))
        let t = Transcript()
        #expect(!t.run(":data mnist dir=\(dir)"))
        #expect(t.err.first?.contains("\(path): truncated: the header promises 320 bytes of data (20 x 4 x 4), the file has 315") == true, "\(t.stderr)")
    }
}

@Suite("Training on awkward input (found by review)")
struct TrainingEdgeTests {
    @Test("never a crash", arguments: [
        ":data moons 9 val=0.5 test=0.4",
        ":data xor\n:mlp net 2-4-1 init=:",
        "param a = 1\nparam b = 1\nJ = a^2 + b^2\n:descend J lr=357251959098.7417",
        ":schedule piecewise:0:1e17 epochs=3",
        ":data xor\nparam b = 0\nJ = b + 1e17 + sum(X) * 0\n:train J epochs=2",
    ])
    func noCrash(script: String) {
        let t = Transcript()
        t.run(script)
        #expect(t.run("k = 1 + 1"))
    }

    @Test("an empty training split is refused at :data")
    func emptySplit() {
        let t = Transcript()
        #expect(!t.run(":data moons 9 val=0.5 test=0.4"))
        #expect(t.err.first?.contains("leave no sample of 9 for training") == true, "\(t.stderr)")
    }

    @Test("CSV and scripts with Windows line ends, comments before the header, huge labels")
    func files() throws {
        let dir = FileManagerHelper.temporaryDirectory()
        try "# a comment\r\nx1,x2,label\r\n0,0,0\r\n0,1,1\r\n1,0,1\r\n1,1,0\r\n".write(toFile: dir + "/xor.csv", atomically: true, encoding: .utf8)
        try "1,2,1e300\n3,4,5\n".write(toFile: dir + "/huge.csv", atomically: true, encoding: .utf8)
        try "x = 2\r\ny = x * 3\r\n:expect y == 6\r\n".write(toFile: dir + "/crlf.nabla", atomically: true, encoding: .utf8)
        let t = Transcript()
        #expect(t.run(":data csv \(dir)/xor.csv"))
        #expect(t.out.first?.hasPrefix("csv: 4 samples, 2 features, 2 classes") == true, "\(t.out)")
        let u = Transcript()
        #expect(u.run(":data csv \(dir)/huge.csv"))
        #expect(u.out.first?.contains("regression") == true, "\(u.out)")
        let v = Transcript()
        #expect(v.runFile(dir + "/crlf.nabla"))
        #expect(v.session.passed == 1)
    }

    @Test("accuracy of mse on -1/+1 targets uses the sign")
    func msePlusMinus() throws {
        let t = Transcript()
        t.run("seed 2\n:data moons 100 pm1\n:mlp net 2-8-1 out=tanh\nL = mse(net, Y)\n:train L epochs=20 lr=0.05")
        let summary = try #require(t.out.first { $0.hasPrefix("trained ") })
        let reported = try #require(figure(after: "training loss", in: summary).flatMap { _ in
            summary.range(of: "accuracy ").map { Double(summary[$0.upperBound...].prefix { $0.isNumber || $0 == "." }) } ?? nil
        })
        let direct = try t.session.value("accuracy(net, Y)").scalar * 100
        // The summary prints 4 significant digits.
        #expect(abs(reported - direct) < 0.01, "\(summary) vs \(direct)")
    }

    @Test("a failed :data, :use or :mlp changes nothing")
    func atomic() throws {
        let t = Transcript()
        t.run("seed 1\n:data moons 100\n:mlp net 2-4-1\nL = bce(net, Y)")
        let x = try t.session.value("X")
        #expect(!t.run(":data spirals 100 seed=5"))
        #expect(try t.session.value("X") == x)
        let u = Transcript()
        u.run("seed 1\n:data moons 50 val=0.3 test=0.2\n:mlp net 2-4-1\n:use test\nZ = X @ [1, 1] + ones(10)")
        #expect(!u.run(":use val"))
        #expect(try u.session.value("X").shape == [10, 2])
        let v = Transcript()
        v.run(":data xor")
        #expect(!v.run(":mlp sigmoid 2-1"))
        #expect(!v.run(":mlp X 2-1"))
        #expect(!v.run(":mlp big 2-100000-100000-1"))
        #expect(v.session.definedNames == ["X", "Y"], "\(v.session.definedNames)")
    }

    @Test(":predict keeps the dropout mode; definitions that read X do not stop :train")
    func stateKept() throws {
        let t = Transcript()
        t.run("seed 1\n:data xor\n:mlp net 2-8-1 dropout=0.5\nL = bce(net, Y)\n:mode train")
        let before = try t.session.value("net")
        t.run(":predict net [1, 0]")
        #expect(try t.session.value("net") == before)
        let u = Transcript()
        u.run("seed 1\n:data moons 40\n:mlp net 2-4-1\nL = bce(net, Y)\nZ = X @ [1, 1] + ones(24)\n:train L epochs=3 batch=8")
        #expect(u.err.isEmpty, "\(u.stderr)")
        #expect(u.stdout.contains("trained 3 epochs"))
        #expect(try u.session.value("Z").shape == [24])
    }

    @Test(":save w.npz and :load w.npz round-trip the params; a checkpoint is written per epoch")
    func weights() throws {
        let dir = FileManagerHelper.temporaryDirectory()
        let t = Transcript()
        t.run("seed 1\n:data xor\n:mlp net 2-4-1\nL = bce(net, Y)\n:train L epochs=3 checkpoint=\(dir)/ck.npz\n:save \(dir)/w.npz")
        #expect(t.err.isEmpty, "\(t.stderr)")
        let trained = try t.session.value("net_W1")
        #expect(FileManager.default.fileExists(atPath: dir + "/ck.npz"))
        // A checkpoint holds the params its run trains, not every net's (a committee's).
        let two = Transcript()
        #expect(two.run(":data xor\n:mlp a 2-3-1\n:mlp b 2-4-1\nLb = bce(b, Y)\n:train Lb epochs=2 checkpoint=\(dir)/b.npz"), "\(two.stderr)")
        let only = Transcript()
        #expect(only.run(":data xor\n:mlp a 2-3-1\n:mlp b 2-4-1\n:load \(dir)/b.npz"), "\(only.stderr)")
        let said = (only.out + only.err).joined(separator: "\n")
        // a's params are named as not in the file; b's are set.
        #expect(said.contains("loaded b_W1, b_b1, b_W2, b_b2") && said.contains("not in the file, so unchanged: a_W1, a_b1, a_W2, a_b2"), "\(said)")
        #expect(try only.session.value("b_W1") == two.session.value("b_W1"))
        let u = Transcript()
        u.run("seed 2\n:data xor\n:mlp net 2-4-1\n:load \(dir)/w.npz")
        #expect(u.err.isEmpty, "\(u.stderr)")
        #expect(try u.session.value("net_W1") == trained)
        // A param of another shape is refused, and nothing changes.
        let v = Transcript()
        v.run(":data xor\n:mlp net 2-3-1")
        let before = try v.session.value("net_W1")
        #expect(!v.run(":load \(dir)/w.npz"))
        #expect(v.err.first?.contains("net_W1 has shape [2, 4] but the param net_W1 is [2, 3]") == true, "\(v.stderr)")
        #expect(try v.session.value("net_W1") == before)
    }

    @Test(":save into a folder that cannot be written keeps the old file and says why")
    func readOnly() throws {
        let t = Transcript()
        t.run("param w = [1, 2]")
        #expect(!t.run(":save /nonexistent-folder/w.npz"))
        #expect(t.err.first?.contains("cannot write '/nonexistent-folder/w.npz'") == true, "\(t.stderr)")
    }
}

@Suite("The float32 backend against the float64 graph")
struct Tape32Tests {
    /// Builds `script` (which defines X, Y, params and L), compiles L to a float32 tape, feeds it
    /// X and Y, and compares its loss and every param's gradient with the float64 graph's.
    func compare(_ script: String, tolerance: Float = 2e-4) throws {
        let t = Transcript()
        #expect(t.run(script), "\(t.stderr)")
        let s = t.session
        let root = try #require(s.definitions["L"]).slot
        let params = s.paramNames.compactMap(s.paramLeaf)
        let x = try #require(s.valueLeaf("X")), y = try #require(s.valueLeaf("Y"))
        let tape = try #require(Tape32(graph: s.graph, root: root, params: params, feeds: [x, y]))
        tape.set(x, s.graph.value(x).scalars.map { Float($0) }, shape: s.graph.value(x).shape)
        tape.set(y, s.graph.value(y).scalars.map { Float($0) }, shape: s.graph.value(y).shape)
        for seed in s.dropoutSeeds(under: root) { tape.set(seed, [Float(s.graph.value(seed).scalar)], shape: []) }
        let loss = tape.forward()
        let exact = s.graph.value(root).scalar
        #expect(abs(Double(loss) - exact) <= Double(tolerance) * max(1, abs(exact)), "loss \(loss) vs \(exact)")
        tape.backward()
        let grads = try s.graph.backward(from: root)
        for leaf in params {
            let g = try #require(tape.gradient(leaf))
            let e = try #require(grads[leaf]).scalars
            let scale = e.map { abs($0) }.max() ?? 1
            for i in e.indices {
                #expect(abs(Double(g[i]) - e[i]) <= Double(tolerance) * max(scale, 1e-3), "\(s.graph[leaf].label)[\(i)]: \(g[i]) vs \(e[i])")
            }
        }
    }

    @Test("an MLP with ReLU and softmax cross-entropy on a batch of 64")
    func mlp() throws {
        try compare("seed 1\nX = randn(64, 20)\nY = [\((0..<64).map { String($0 % 5) }.joined(separator: ", "))]\n:mlp net 20-16-5 act=relu out=linear\nL = cross_entropy(net, Y)")
    }

    @Test("sigmoid and tanh layers with binary cross-entropy, and mse")
    func smooth() throws {
        try compare("seed 2\nX = randn(32, 6)\nY = [\((0..<32).map { "[\($0 % 2)]" }.joined(separator: ", "))]\n:mlp net 6-8-8-1 act=tanh out=sigmoid\nL = bce(net, Y)")
        try compare("seed 3\nX = randn(16, 3)\nY = randn(16, 2)\nparam W = randn(3, 2)\nparam b = [0.5, -1]\nL = mse(sigmoid(X @ W + b) * 2 - 1, Y)")
    }

    @Test("broadcasting: a row, a single number, a row minus a matrix, a product of two matrices")
    func broadcasting() throws {
        let rows = (0..<12).map { "[\($0 % 3 == 0 ? 1 : 0)]" }.joined(separator: ", ")
        try compare("seed 5\nX = randn(12, 4)\nY = [\(rows)]\nparam W = randn(4, 3)\nparam V = randn(4, 3)\nparam r = [0.5, -2, 1.5]\nparam c = 0.7\nparam u = randn(3, 1)\n"
            + "L = mse(sigmoid(((r - X @ W) * r + c) * (X @ V) @ u - c), Y)")
        try compare("seed 6\nX = randn(12, 4)\nY = randn(12, 3)\nparam W = randn(4, 3)\nparam c = -0.3\nL = mse(c * tanh(X @ W) - c, Y)")
    }

    @Test("dropout's gradient in training mode: the same mask forward and backward")
    func dropoutGradient() throws {
        try compare("seed 4\nX = randn(10, 4)\nY = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]\n:mlp net 4-6-3 act=relu out=linear dropout=0.5\nL = cross_entropy(net, Y)\n:mode train")
    }

    @Test("dropout draws the same mask as the float64 op")
    func dropout() throws {
        let t = Transcript()
        t.run("seed 4\nX = randn(10, 4)\nY = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]\n:mlp net 4-6-3 act=relu out=linear dropout=0.5\nL = cross_entropy(net, Y)\n:mode train")
        let s = t.session
        let root = try #require(s.definitions["L"]).slot
        let seeds = s.dropoutSeeds(under: root)
        let params = s.paramNames.compactMap(s.paramLeaf)
        let x = try #require(s.valueLeaf("X")), y = try #require(s.valueLeaf("Y"))
        let tape = try #require(Tape32(graph: s.graph, root: root, params: params, feeds: [x, y]))
        tape.set(x, s.graph.value(x).scalars.map { Float($0) }, shape: [10, 4])
        tape.set(y, s.graph.value(y).scalars.map { Float($0) }, shape: [10])
        for seed in seeds { tape.set(seed, [Float(s.graph.value(seed).scalar)], shape: []) }
        #expect(abs(Double(tape.forward()) - s.graph.value(root).scalar) < 1e-4)
    }

    @Test(":train takes the float32 backend for big data and learns the same task")
    func trainF32() throws {
        let t = Transcript()
        t.run("seed 1\n:data spirals 300 classes=3 noise=0.1 val=0 test=0\n:mlp net 2-32-3 act=relu\nL = cross_entropy(net, Y)\n:train L epochs=200 batch=all opt=adam lr=0.02 every=100 precision=f32")
        #expect(t.err.isEmpty, "\(t.stderr)")
        #expect(t.stdout.contains("float32 backend"))
        let summary = try #require(t.out.first { $0.hasPrefix("trained ") })
        #expect((figure(after: "accuracy", in: summary) ?? 0) > 80, "\(summary)")
    }
}

@Suite("The float32 backend on awkward input (found by review)")
struct Tape32EdgeTests {
    @Test("a float32 checkpoint holds the trained weights")
    func checkpoint() throws {
        let dir = FileManagerHelper.temporaryDirectory()
        let t = Transcript()
        t.run("seed 1\n:data spirals 300 classes=3 val=0 test=0\n:mlp net 2-16-3 act=relu\nL = cross_entropy(net, Y)\n:train L epochs=5 precision=f32 checkpoint=\(dir)/ck.npz")
        #expect(t.err.isEmpty, "\(t.stderr)")
        let u = Transcript()
        u.run("seed 9\n:data spirals 300 classes=3 val=0 test=0\n:mlp net 2-16-3 act=relu\n:load \(dir)/ck.npz")
        let trained = try t.session.value("net_W1").scalars, loaded = try u.session.value("net_W1").scalars
        #expect(zip(trained, loaded).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test("float32 and float64 agree when the prediction comes second, is a single number, or saturates")
    func lossesAgree() throws {
        func lastLoss(_ script: String) throws -> Double {
            let t = Transcript()
            t.run(script)
            #expect(t.err.isEmpty, "\(t.stderr)")
            let line = try #require(t.out.last { $0.hasPrefix("epoch") }, "\(t.stdout)")
            return try #require(figure(after: "loss", in: line.components(separatedBy: "│").first ?? line))
        }
        for body in [
            ":data moons 200\nparam W = [[1], [-1]]\nparam b = [0]\nL = mse(Y, sigmoid(X @ W + b))",
            ":data regression 200\nparam w = 0\nL = mse(w, Y)",
            ":data moons 200\nparam W = [[9], [-9]]\nL = bce(sigmoid(X @ W), Y)",
        ] {
            let f32 = try lastLoss("seed 1\n" + body + "\n:train L epochs=5 batch=all opt=sgd lr=0.1 precision=f32")
            let f64 = try lastLoss("seed 1\n" + body + "\n:train L epochs=5 batch=all opt=sgd lr=0.1 precision=f64")
            #expect(abs(f32 - f64) <= 1e-3 * max(1, abs(f64)), "\(body): \(f32) vs \(f64)")
        }
    }

    @Test("several steps with a smaller last batch, a value added to itself, and [k] + [1, k] (found by review)")
    func severalSteps() throws {
        func lastLoss(_ precision: String) throws -> Double {
            let t = Transcript()
            t.run("seed 1\n:data moons 20 val=0 test=0\nparam W = [[1], [-1]]\nparam c = [0.1, 0.2, 0.3]\nparam r = [[0.3, -0.2, 0.1]]\n"
                + "param V = [[1], [0.5], [-1]]\nh = X @ W\nL = mse(h + h + (c + r) @ V, Y)\n:train L epochs=4 batch=7 opt=sgd lr=0.05 every=1 precision=\(precision)")
            #expect(t.err.isEmpty, "\(t.stderr)")
            let line = try #require(t.out.last { $0.hasPrefix("epoch") }, "\(t.stdout)")
            return try #require(figure(after: "loss", in: line))
        }
        let (f32, f64) = (try lastLoss("f32"), try lastLoss("f64"))
        #expect(abs(f32 - f64) <= 1e-4 * max(1, abs(f64)), "\(f32) vs \(f64)")
    }

    @Test("shapes that do not fit a batch stop training with a message, not a crash")
    func batchShapes() {
        let t = Transcript()
        t.run(":data regression 150\nparam P = zeros(90, 1)\nL = mse(P, Y)\n:train L batch=32 precision=f32")
        // The op table's own message: the tape runs the same forward as the float64 graph.
        #expect(t.stdout.contains("stopped in epoch 1: mse: the prediction has shape [90, 1] but the target has shape [32, 1]"), "\(t.stdout)")
    }

    @Test(":show checks that the net gives one row per sample; dir= reads only that folder")
    func showAndDir() throws {
        let dir = try syntheticMNIST(train: 40, test: 10)
        let t = Transcript()
        t.run(":data mnist dir=\(dir)\n:mlp net 16-10")
        #expect(!t.run(":show wrong net_b1"))
        #expect(t.err.first?.contains("a net gives one row per sample") == true, "\(t.stderr)")
        let u = Transcript()
        #expect(!u.run(":data fashion dir=\(dir)/nothing-here"))
        #expect(u.err.first?.contains("looked in \(dir)/nothing-here for") == true, "\(u.stderr)")
    }

    @Test(":show wrong draws the mistakes side by side with the three most likely classes; two classes get precision and recall (issue 13)")
    func wrongGalleryAndBinaryRates() throws {
        let dir = try syntheticMNIST(train: 20, test: 20)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Pixel k lights for class k; W sends each to its class, except class 3's pixel, whose
        // scores are 2 (class 3), 5 (class 4) and 1 (class 8): softmax 4.46%, 89.7%, 1.64%.
        var w = [[Double]](repeating: [Double](repeating: 0, count: 10), count: 16)
        for k in 0..<10 where k != 3 { w[k][k] = 5 }
        (w[3][3], w[3][4], w[3][8]) = (2, 5, 1)
        let literal = "[" + w.map { "[" + $0.map { Format.number($0) }.joined(separator: ", ") + "]" }.joined(separator: ", ") + "]"
        let t = Transcript()
        t.session.width = 70
        #expect(t.run(":data mnist dir=\(dir) val=0\nparam W = \(literal)\nnet = X @ W\n:show wrong net test"), "\(t.stderr)")
        let text = t.out.joined(separator: "\n")
        #expect(text.contains("2 of 20 test samples misclassified"), "\(text)")
        let lines = text.split(separator: "\n").map(String.init)
        // Two 4x4 pictures (6 columns with the frame) per line at 70 columns: both on one row.
        #expect(lines.contains { $0.hasPrefix("#3 label 3") && $0.contains("#13 label 3") }, "\(text)")
        #expect(lines.contains { $0.hasPrefix("1. 4  89.7%") }, "\(text)")
        #expect(lines.contains { $0.hasPrefix("2. 3  4.46%") } && lines.contains { $0.hasPrefix("3. 8  1.64%") }, "\(text)")

        // TP 8, FP 2, FN 4: precision 8/10, recall 8/12, F1 = 2·0.8·0.6667/1.4667 = 0.7273.
        #expect(Session.binaryRates(tp: 8, fp: 2, fn: 4)
            == "class 1 as positive: precision TP/(TP+FP) = 8/10 = 0.8, recall TP/(TP+FN) = 8/12 = 0.6667, F1 = 0.7273")
        let b = Transcript()
        #expect(b.run("seed 1\n:data moons 200\n:mlp net 2-8-1\nL = bce(net, Y)\n:train L epochs=20 opt=adam lr=0.05"))
        #expect(b.stdout.contains("confusion matrix (test set):") && b.stdout.contains("class 1 as positive: precision TP/(TP+FP) = "))
    }

    @Test(":data csv reads quoted cells, ; as delimiter, text labels, a missing-value policy and standardises with the training split (issue 13)")
    func csvLikeSpreadsheets() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-csv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/flowers.csv"
        try "\"x 1\";x2;species\n1;10;\"setosa\"\n3;10;\"versicolor, large\"\nNA;20;setosa\n5;30;\"versicolor, large\"\n".write(toFile: file, atomically: true, encoding: .utf8)
        let t = Transcript()
        #expect(!t.run(":data csv \(file)"))
        #expect(t.stderr.contains("line 4, column 1: 'NA': a missing value (missing=drop or missing=mean)"), "\(t.stderr)")
        #expect(t.run(":data csv \(file) missing=drop"), "\(t.stderr)")
        #expect(t.out.contains("classes: 0 = setosa, 1 = versicolor, large"), "\(t.out)")
        #expect(try t.session.value("X").scalars == [1, 10, 3, 10, 5, 30])
        #expect(try t.session.value("Y").scalars == [0, 1, 1])
        // The mean of the present x1 values, (1 + 3 + 5) / 3 = 3, fills the gap.
        #expect(t.run(":data csv \(file) missing=mean delimiter=;"), "\(t.stderr)")
        #expect(try t.session.value("X").scalars == [1, 10, 3, 10, 3, 20, 5, 30])
        // Standardised (a set of 3 is not split): x1 = (1 - 3)/sqrt(8/3) = -sqrt(1.5); x2 = (10 - 50/3)/sqrt(800/9) = -1/sqrt(2).
        #expect(t.run(":data csv \(file) missing=drop standardize target=species"), "\(t.stderr)")
        let x = try t.session.value("X").scalars
        #expect(Swift.abs(x[0] + 1.5.squareRoot()) < 1e-12 && Swift.abs(x[1] + 0.5.squareRoot()) < 1e-12, "\(x)")
        // Columns aligned with spaces: a run of spaces is one delimiter, none at the ends.
        try "1  2 0\n 3 4   1 \n5 6 0\n7  8 1\n".write(toFile: dir + "/aligned.txt", atomically: true, encoding: .utf8)
        #expect(t.run(":data csv \(dir)/aligned.txt delimiter=space"), "\(t.stderr)")
        #expect(try t.session.value("X").scalars == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(!t.run(":data moons target=y"))
        #expect(t.stderr.contains("target= is for :data csv"))
    }

    @Test(":data mnist download fetches in the process and always checks the MD5: a mirror with other files keeps nothing (issue 13)")
    func downloadChecked() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        try withLoopbackServer(["train-images-idx3-ubyte.gz": Data("not MNIST".utf8)]) { base in
            let t = Transcript()
            t.session.environment = ["NABLA_MNIST_MIRROR": base, "XDG_CACHE_HOME": cache, "HOME": cache]
            #expect(!t.run(":data mnist download"))
            // MD5("not MNIST") = 88fe0549577f971cc6e32e30c3fde81d (md5sum), not the f68b3c2d... of train-images
            #expect(t.stderr.contains("train-images-idx3-ubyte.gz downloaded with MD5 88fe0549577f971cc6e32e30c3fde81d, expected f68b3c2dcbeaaa9fbdd348bbdeb94873: not kept"), "\(t.stderr)")
            #expect(t.stderr.contains("or give their folder: :data mnist dir=DIR"))
            #expect((try? FileManager.default.contentsOfDirectory(atPath: cache + "/nabla/mnist"))?.isEmpty == true)
        }
    }
}

