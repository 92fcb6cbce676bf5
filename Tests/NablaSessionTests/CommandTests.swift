import Foundation
@testable import NablaSyntax
@testable import NablaRuntime
@testable import NablaSelfCheck
@testable import NablaSession
@testable import NablaTeaching
@testable import NablaTraining
import NablaNN
import NablaTensor
import Testing

@Suite("Commands")
struct CommandTests {
    @Test(":save writes a script that :load reads back into the same values")
    func saveAndLoad() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("net.nabla").path
        let a = Transcript()
        a.run("""
            seed 3
            x = [0.5, -1]
            param W = glorot(2, 2)
            param b = [0.1, 0.2]
            h = tanh(W @ x + b)
            L = sum(h^2)
            :backward L
            :update lr=0.3
            :save \(file)
            """)
        #expect(a.err.isEmpty, "\(a.err)")
        let b = Transcript(seed: 1)
        #expect(b.run(":load \(file)"), "\(b.err)")
        for name in ["W", "b", "x", "L"] {
            #expect(try a.session.value(name) == b.session.value(name), "\(name)")
        }
        #expect(try b.session.value("W") != a.session.value("glorot(2, 2)"))
    }

    @Test(":save writes the commands that made the data and the nets, then the params: :load gives back a session that trains (issue 13)")
    func saveSessionThatTrains() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("moons.nabla").path
        let a = Transcript(seed: 7)
        // A normal draw leaves a spare normal in the generator: :seed N spare=X must restore it.
        #expect(a.run("z = randn(3)\n:data moons 200\n:mlp net 2-8-1\nL = bce(net, Y)\n:train L epochs=3 opt=adam lr=0.05\n:save \(file)"), "\(a.stderr)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("\n:data moons 200\n") && text.contains("\n:mlp net 2-8-1\n") && text.contains(" spare="), "\(text)")
        #expect(!text.contains("X = "), "the data is not written out as numbers")
        let b = Transcript(seed: 1)
        #expect(b.run(":load \(file)"), "\(b.stderr)")
        for name in ["X", "Y", "X_test", "net_W1", "net_b2", "L", "z"] {
            #expect(try a.session.value(name) == b.session.value(name), "\(name)")
        }
        #expect(b.run(":train L epochs=2"), "\(b.stderr)")
        #expect(b.stdout.contains("trained 2 epochs"))
        // A user's own X replaces the data's in the saved script.
        let c = Transcript(seed: 7)
        #expect(c.run(":data xor\nX = [[0, 0], [1, 1], [2, 2], [3, 3]]\nparam w = [1, 2]\ns = X @ w\n:save \(file)"), "\(c.stderr)")
        let d = Transcript()
        #expect(d.run(":load \(file)"), "\(d.stderr)")
        #expect(try d.session.value("s").scalars == [0, 3, 6, 9])
        #expect(try d.session.value("Y") == c.session.value("Y"))
    }

    @Test(":save after review: data refilled in place, a refused redefinition, ans, a big param, a CSV in another folder")
    func saveEdgeCases() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("saved"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("saved/s.nabla").path
        // :data xor refills X and Y in place (no split): it is the data :load must give back.
        let a = Transcript()
        #expect(a.run(":data and\nparam w = [1, 1]\ns = X @ w\n:data xor\n3 + 4\n:save \(file)"), "\(a.stderr)")
        var text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains(":data xor") && !text.contains("ans ="), "\(text)")
        let b = Transcript()
        #expect(b.run(":load \(file)\n1 + 1"), "\(b.stderr)")
        #expect(try b.session.value("Y").scalars == [0, 1, 1, 0])
        #expect(try b.session.value("ans").scalar == 2)
        // A redefinition refused (X from itself) leaves X with its :data.
        let c = Transcript()
        #expect(!c.run(":data moons 50\nX = X / 2"))
        #expect(c.run(":save \(file)"))
        text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!text.contains("\nX = "), "\(text)")
        // A param over 100,000 numbers goes to the .npz beside the script.
        let d = Transcript()
        #expect(d.run("seed 1\nparam W = randn(400, 300)\n:save \(file)"), "\(d.stderr)")
        text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("param W = zeros(400, 300)") && text.contains(":load s.params.npz") && text.utf8.count < 2000, "\(text)")
        let e = Transcript()
        #expect(e.run(":load \(file)"), "\(e.stderr)")
        #expect(try e.session.value("W") == d.session.value("W"))
        // A CSV read relative to the script that loaded it is found from another folder.
        try "1,2,0\n3,4,1\n5,6,0\n7,8,1\n".write(toFile: dir.appendingPathComponent("data/cls.csv").path, atomically: true, encoding: .utf8)
        try ":data csv cls.csv\n".write(toFile: dir.appendingPathComponent("data/make.nabla").path, atomically: true, encoding: .utf8)
        let f = Transcript()
        #expect(f.run(":load \(dir.path)/data/make.nabla\n:save \(file)"), "\(f.stderr)")
        let g = Transcript()
        #expect(g.run(":load \(file)"), "\(g.stderr)")
        #expect(try g.session.value("X").scalars == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test(":save after a second review: data replaced after a net, :del, ans read by a definition, a big param read by a formula, the generator")
    func saveSecondReview() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("s.nabla").path
        let cases: [(script: String, compare: [String])] = [
            ("seed 3\n:data moons 100\n:mlp net 2-4-1\n:data moons 300\nL = bce(net, Y)", ["X", "Y", "net_W1", "L"]),
            (":data and\n:perceptron epochs=5\n:data or", ["Y", "w", "b"]),
            (":data moons 100\n:mlp net 2-4-1\n:del net\n:del net_h1\nnet_h1 = 5", ["net_h1", "net_W1"]),
            ("3 + 4\ny = ans * 2", ["y"]),
            ("seed 1\nparam A = randn(400, 400) + 30*eye(400)\nb = ones(400)\nx = solve(A, b)", ["x"]),
        ]
        for (script, names) in cases {
            let a = Transcript()
            #expect(a.run(script + "\n:save \(file)"), "\(a.stderr)")
            let b = Transcript()
            #expect(b.run(":load \(file)"), "\(script): \(b.stderr)")
            for name in names { #expect(try a.session.value(name) == b.session.value(name), "\(script): \(name)") }
            // The generator goes on where the saved session left it.
            #expect(try a.session.value("randn(2)") == b.session.value("randn(2)"), "\(script)")
        }
        // :use test (and :use val) come back; a session on its training split writes no :use.
        for split in ["test", "val"] {
            let u = Transcript()
            #expect(u.run("seed 2\n:data moons 200 val=0.2 test=0.2\n:use \(split)\n:save \(file)"), "\(u.stderr)")
            let v = Transcript()
            #expect(v.run(":load \(file)"), "\(v.stderr)")
            #expect(try v.session.value("X") == u.session.value("X") && v.session.value("Y") == u.session.value("Y"), "\(split)")
            let train = Transcript()
            #expect(train.run("seed 2\n:data moons 200 val=0.2 test=0.2"))
            #expect(try v.session.value("X") != train.session.value("X"), "the \(split) split, not the training one")
        }
        let plain = Transcript()
        #expect(plain.run(":data moons 100\n:save \(file)"), "\(plain.stderr)")
        #expect(try !String(contentsOfFile: file, encoding: .utf8).contains(":use"))
        let gone = Transcript()
        #expect(gone.run(":data moons 100\n:mlp net 2-4-1\n:del net\n:save \(file)\n:reset\n:load \(file)"), "\(gone.stderr)")
        #expect(gone.session.definitions["net"] == nil && gone.session.definitions["net_h1"] != nil)
    }

    @Test(":export: the answers to a waiting command belong to it, an :export inside :load keeps the :load, ans is not the graph")
    func exportLog() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = Transcript()
        t.session.interactive = true
        t.capture { s in
            _ = s.runLine("param x = 2")
            _ = s.runLine("L = x^2 + 3*x", lineNumber: 2)
            _ = s.runLine(":step L", lineNumber: 3)
            while s.pendingPrompt != nil { s.answer("") }
            _ = s.runLine("L * 3", lineNumber: 4)
        }
        let page = t.session.exportPage()
        // The steps answered with Enter are in the :step's output, not statements of their own.
        #expect(page.components(separatedBy: "class=\"in\"").count - 1 == 4, "\(page)")
        #expect(page.contains("the graph of L") && !page.contains("the graph of ans"))
        try ":export \(dir.path)/inner.html\n".write(toFile: dir.appendingPathComponent("inner.nabla").path, atomically: true, encoding: .utf8)
        let u = Transcript()
        #expect(u.run("a = 1\n:load \(dir.path)/inner.nabla"), "\(u.stderr)")
        let inner = try String(contentsOfFile: dir.appendingPathComponent("inner.html").path, encoding: .utf8)
        #expect(inner.contains("nabla&gt; a = 1") && inner.contains("nabla&gt; :load "), "\(inner)")
    }

    @Test("ans never fails a statement: a definition that reads it, or the memory limit, keep its old value")
    func answerNeverFails() throws {
        let t = Transcript()
        #expect(t.run("[[1, 2, 3]]\ny = _ @ [[1], [2], [3]]\ny"), "\(t.stderr)")
        // 1 + 4 + 9 = 14; ans stays [[1, 2, 3]], since y reads it and [[14]] would break y.
        #expect(t.out.last == "[[14]]")
        #expect(try t.session.value("y").scalar == 14)
        let m = Transcript()
        #expect(m.run(":limits total=700\nx = zeros(20, 20)\nx"), "\(m.stderr)")
    }

    @Test(":save refuses an extension it does not write; safetensors in and out; a partial file names what it did not set (issue 13)")
    func weightFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = Transcript()
        #expect(t.run("param W = [[1, 2], [3, 4]]\nparam b = [0.5, -0.5]"))
        for bad in ["w.json", "w.csv", "w.pt"] {
            #expect(!t.run(":save \(dir.path)/\(bad)"))
            #expect(t.stderr.contains("nabla does not write .\(bad.split(separator: ".")[1]) files"), "\(t.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(dir.path)/\(bad)"))
        }
        #expect(t.run(":save \(dir.path)/w.safetensors"), "\(t.stderr)")
        let decoded = try Safetensors.decode(Data(contentsOf: dir.appendingPathComponent("w.safetensors")), name: "w")
        #expect(decoded.map(\.0) == ["W", "b"] && decoded[0].1.scalars == [1, 2, 3, 4] && decoded[0].1.shape == [2, 2])
        #expect(t.run("param W = [[0, 0], [0, 0]]\n:load \(dir.path)/w.safetensors"))
        #expect(try t.session.value("W").scalars == [1, 2, 3, 4])
        // Only W in the file: b is named as not set.
        try Numpy.npz([("W", Tensor(shape: [2, 2], scalars: [9, 9, 9, 9])), ("extra", Tensor(1))]).write(to: dir.appendingPathComponent("part.npz"))
        #expect(t.run(":load \(dir.path)/part.npz"))
        #expect(t.out.last?.hasSuffix("; not in the file, so unchanged: b; in the file but not params here: extra") == true, "\(t.out)")
        #expect(!t.run(":load \(dir.path)/data.csv"))
        #expect(t.stderr.contains("a CSV file is data: :data csv"))
    }

    @Test(":load runs relative to the loading file and stops at an error inside it, naming the file")
    func loadErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "x = 1\ny = x +\n".write(to: dir.appendingPathComponent("bad.nabla"), atomically: true, encoding: .utf8)
        try ":load bad.nabla\n".write(to: dir.appendingPathComponent("main.nabla"), atomically: true, encoding: .utf8)
        try ":load self.nabla\n".write(to: dir.appendingPathComponent("self.nabla"), atomically: true, encoding: .utf8)
        let t = Transcript()
        #expect(!t.runFile(dir.appendingPathComponent("main.nabla").path))
        #expect(t.err.first?.hasPrefix("bad.nabla, line 2, column 8: error: expected a value") == true)
        let u = Transcript()
        #expect(!u.runFile(dir.appendingPathComponent("self.nabla").path))
        #expect(u.err.contains { $0.contains(":load nested more than 16 deep") })
    }

    @Test(":check passes on smooth graphs and catches a kink where backprop and differences disagree")
    func check() {
        let t = Transcript()
        t.run("param w = [0.3, -0.2]\nx = [1, 2]\nL = sigmoid(w · x)\n:check L")
        #expect(t.session.passed == 1 && t.session.failed == 0, "\(t.out)")
        let k = Transcript()
        k.run("param w = 0\nL = relu(w)\n:check L")
        // relu'(0) is 0 by convention; the central difference sees 1/2.
        #expect(k.session.failed == 1)
        #expect(k.out.first { $0.contains("✗ w") }?.contains("backprop 0, numeric 0.5") == true, "\(k.out)")
    }

    @Test(":grad of an intermediate node by its label, and of a name L does not use")
    func gradLabels() {
        let t = Transcript()
        t.run("x1 = 2\nparam w1 = -1\nparam w2 = 5\nz = w1*x1 + 1\nL = z^2\n:backward L\n:grad w1*x1 w2")
        // ∂L/∂(w1*x1) = 2z = 2(-2 + 1) = -2
        #expect(t.out.suffix(2) == [
            "∂L/∂(w1*x1) = -2   (shape: scalar)",
            "∂L/∂w2 = 0   (shape: scalar)   L does not depend on w2",
        ])
    }

    @Test(":vars lists names, kinds, shapes and values")
    func vars() {
        let t = Transcript()
        t.run("x = 2\nparam W = [[1, 2], [3, 4]]\ny = x * 3\n:vars")
        #expect(t.out.last == """
            name  kind   shape   value
            x     input  scalar  2
            W     param  [2, 2]  (matrix)
            y     def    scalar  6   = x * 3
            """)
    }

    @Test("values print as the course writes them")
    func printing() {
        let t = Transcript()
        t.run("W = [[1, -2.5], [30, 4]]\nV = W * 1\nW'\n[1, 2] * 0.5\nsoftmax([0, 0])")
        #expect(t.out == ["V = [[ 1, -2.5],\n     [30,    4]]", "[[   1, 30],\n [-2.5,  4]]", "[0.5, 1]", "[0.5, 0.5]"])
    }

    @Test(":help lists every command and function; :help topic gives one entry")
    func help() {
        let t = Transcript()
        t.session.width = 200
        t.run(":help")
        // Every command and every function appears, each with an example.
        for command in Session.commands {
            #expect(t.stdout.contains("  \(command.example) "), "\(command.name)")
        }
        for word in ["sigmoid(x), σ(x)", "cross_entropy(logits, class)", "grad(L, w)", "e.g. σ(y*z)"] {
            #expect(t.stdout.contains(word), "\(word)")
        }
        t.run(":help update")
        #expect(t.out.first?.hasPrefix(":update [opt=sgd] [lr=0.1] [beta=0.9] [beta2=0.999] [eps=1e-07] [eps_form=outside] [decay=0] [decay_form=l2]\n  one optimizer step on every param (SGD: w -= lr · ∂L/∂w)\n  example: :update lr=0.25\n  w ← w - lr·∂L/∂w for every param, from the last :backward; everything downstream follows.\n  settings (a number may be an expression, like lr=1/4):\n    opt=sgd           the optimizer (:opt shows its formula and state); one of sgd, momentum, nesterov, adagrad, rmsprop, adam\n    lr=0.1            the learning rate η; a positive number") == true, "\(t.out)")
        #expect(!t.run(":help sigmod"))
        #expect(t.err.first?.contains("did you mean 'sigmoid'?") == true)
    }

    @Test("seed makes the random builders repeat")
    func seed() {
        let t = Transcript()
        t.run("seed 5\na = randn(3)\n:seed 5\nb = randn(3)\n:expect a == b tol 0")
        #expect(t.session.passed == 1)
    }

    @Test("a comment after a command is a comment: :shapes L W  # ..., :grad w1 # c, :update lr=1 # c (issue 13)")
    func trailingComments() throws {
        let t = Transcript()
        #expect(t.run("param w1 = 3\nL = w1^2\n:backward L # go\n:grad w1 # c\n:shapes L w1  # why\n:jacobian L w1 # j\n:check L # c\n:update lr=0.25 # step"), "\(t.stderr)")
        // 3 - 0.25 · 6 = 1.5
        #expect(try #require(try? t.session.value("w1")).scalar == 1.5)
        // A # inside a quoted path, or glued to a word, is not a comment; a transpose is not a quote.
        #expect(Parser.withoutComment(Array("a.npz # x")[...]) == "a.npz ")
        #expect(Parser.withoutComment(Array("\"my # file.npz\" # x")[...]) == "\"my # file.npz\" ")
        #expect(Parser.withoutComment(Array("file#1.npz")[...]) == "file#1.npz")
        #expect(Parser.withoutComment(Array("W' == V' # c")[...]) == "W' == V' ")
    }

    @Test("the habits of IPython and Julia (issue 13): ?name, help, exit, quit, :q; a defined name stays a name")
    func replHabits() {
        let t = Transcript()
        #expect(t.run("?sigmoid"))
        #expect(t.out.first?.hasPrefix("sigmoid(x), σ(x)") == true, "\(t.out)")
        #expect(t.run("help"))
        #expect(t.out.first?.hasPrefix("commands (an example of each") == true)
        for word in ["exit", "quit", ":q", ":exit"] {
            let q = Transcript()
            #expect(q.run(word + "\nnever = 1"))
            #expect(q.session.definitions["never"] == nil, "\(word) did not leave")
        }
        let own = Transcript()
        #expect(own.run("help = 3\nhelp"))
        #expect(own.out.last == "3")
        #expect(!own.run("?nothere"))
        #expect(own.stderr.contains("no help for 'nothere'"))
    }

    @Test("a line ending in a binary operator goes on on the next line (issue 13); at the end of a script it is an error")
    func operatorContinuation() throws {
        let t = Transcript()
        #expect(t.run("x = 1 +\n  2\ny = [1, 2] @\n  [3, 4]"), "\(t.stderr)")
        #expect(try #require(try? t.session.value("x")).scalar == 3)
        #expect(try #require(try? t.session.value("y")).scalar == 11)
        #expect(!t.run("z = 1 +"))
        #expect(t.stderr.contains("expected a value"), "\(t.stderr)")
    }

    @Test("Python's x ** 2 is answered with nabla's x^2")
    func pythonPower() {
        let t = Transcript()
        #expect(!t.run("x = 3\ny = x ** 2"))
        #expect(t.stderr.contains("line 2, column 7: error: '**' is Python's power; nabla writes it x^2"), "\(t.stderr)")
    }

    @Test("MATLAB's range 1:9 is answered with the vector written out, inside a call or alone")
    func matlabRange() {
        let t = Transcript()
        #expect(!t.run("v = reshape(1:9, 3, 3)"))
        #expect(t.stderr.contains("line 1, column 13: error: nabla has no ranges like 1:9 (MATLAB's, Julia's); write the vector out: [1, 2, 3, 4, 5, 6, 7, 8, 9]"), "\(t.stderr)")
        #expect(t.stderr.contains("^~~"), "\(t.stderr)")
        #expect(!t.run("n = 4\nx = 0:n"))
        #expect(t.stderr.contains("nabla has no ranges like 0:n (MATLAB's, Julia's); write the vector out, like [1, 2, 3]"), "\(t.stderr)")
        // A ':' that is not between two operands keeps the usual message.
        #expect(!t.run("y = 2 + :"))
        #expect(!t.stderr.contains("no ranges"), "\(t.stderr)")
    }

    @Test("ans and _ are the last value printed; a definition can read them (issue 13)")
    func lastAnswer() throws {
        let t = Transcript()
        #expect(t.run("x = 3\nx^2\nans + 1\ny = _ * 2"), "\(t.stderr)")
        // 3² = 9, then 9 + 1 = 10 is the new ans, and y = 10 · 2
        #expect(t.out == ["9", "10", "y = 20"])
        #expect(try #require(try? t.session.value("ans")).scalar == 10)
        // A user's own ans (a formula) is not overwritten; a defined _ is itself.
        let own = Transcript()
        #expect(own.run("ans = 7 * 2\n5\n_ = 1\n_ + ans"), "\(own.stderr)")
        #expect(own.out.last == "15")
    }

    @Test(":del forgets a definition nothing reads; a name still read is refused with its readers (issue 13)")
    func deleteDefinition() throws {
        let t = Transcript()
        #expect(t.run("x = 3\nz = x + 1\nw = x * 2"))
        #expect(!t.run(":del x"))
        #expect(t.stderr.contains("w, z read x: :del them first, or redefine x"), "\(t.stderr)")
        #expect(t.session.definitions["x"] != nil)
        #expect(t.run(":del z w x"), "\(t.stderr)")
        #expect(t.session.definitions.isEmpty && t.out == ["forgot z, w, x"])
        #expect(!t.run(":del q"))
        #expect(t.stderr.contains("unknown name 'q'"))
        // The name can be defined afresh, and the graph holds no node of the old ones.
        #expect(t.run("x = 5\nx + 1"))
        #expect(t.out.last == "6")
    }

    @Test(":mlp and :cnn after :del NAME take over the params and layers the first one made; a user's own name is still refused")
    func netAgainAfterDelete() throws {
        let t = Transcript()
        #expect(t.run(":data xor\n:mlp net 2-3-1\nkeep = sum(net_W1 * 0 + 1)\n:del net"), "\(t.stderr)")
        #expect(t.session.definitions["net_W1"] != nil && t.session.definitions["net"] == nil)
        #expect(t.run(":mlp net 2-4-1"), "\(t.stderr)")
        // net_W1 is the new net's [2, 4]: the formula that read the old one follows it.
        #expect(try #require(try? t.session.value("keep")).scalar == 8)
        #expect(t.run("L = bce(net, Y)\n:train L epochs=2"), "\(t.stderr)")
        // Keys before the net's name: the same net.
        let keyed = Transcript()
        #expect(keyed.run(":data xor\n:mlp act=tanh net 2-3-1\n:del net\n:mlp act=relu net 2-4-1"), "\(keyed.stderr)")
        #expect(try keyed.session.value("net_W1").shape == [2, 4])
        let own = Transcript()
        #expect(own.run(":data xor\nnet_W1 = 3"), "\(own.stderr)")
        #expect(!own.run(":mlp net 2-3-1"))
        #expect(own.stderr.contains("'net_W1' is already defined"), "\(own.stderr)")
        // A new head on the old features, or a formula reading an old layer: the layers are not
        // taken over (they would be replaced), so the names are refused as before.
        let head = Transcript()
        #expect(head.run(":data xor\n:mlp net 2-4-4-1\n:del net"), "\(head.stderr)")
        let features = try head.session.value("net_h2")
        #expect(!head.run(":mlp net 4-1 input=net_h2"))
        #expect(head.stderr.contains("is already defined"), "\(head.stderr)")
        #expect(try head.session.value("net_h2") == features)
        let reader = Transcript()
        #expect(reader.run(":data xor\n:mlp net 2-3-1\n:del net\nf = net_h1 * 2"), "\(reader.stderr)")
        let before = try reader.session.value("f")
        #expect(!reader.run(":mlp net 2-4-1"))
        #expect(try reader.session.value("f") == before)
        // A param the user defined after :del is the user's: refused, not overwritten.
        let mine = Transcript()
        #expect(mine.run("seed 4\nXi = randn(5, 16)\n:cnn net conv2x3-pool2-3 input=Xi\n:del net\nparam net_W4 = zeros(10, 10)"), "\(mine.stderr)")
        #expect(!mine.run(":cnn net conv2x3-pool2-10-3 input=Xi"))
        #expect(try mine.session.value("net_W4") == Tensor.zeros([10, 10]))
        let conv = Transcript()
        #expect(conv.run("seed 4\nXi = randn(5, 16)\n:cnn net conv2x3-pool2-3 input=Xi\n:del net\n:cnn net conv3x3-pool2-3 input=Xi"), "\(conv.stderr)")
        #expect(try conv.session.value("net_K1").shape == [3, 1, 3, 3])
    }

    @Test(":help fits the terminal's width and, at a terminal, goes through the pager when taller than the screen (issue 13)")
    func helpFitsTheTerminal() throws {
        for width in [50, 80, 120] {
            let t = Transcript()
            t.session.width = width
            #expect(t.run(":help\n:help train\n:help adam"))
            let lines = t.out.joined(separator: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.allSatisfy { $0.count <= width }, "\(lines.filter { $0.count > width })")
            // Nothing is lost: every command's example is there.
            #expect(t.out.joined().contains(":descend J steps=40 opt=momentum lr=0.05"))
        }
        let paged = Transcript()
        var shown: [String] = []
        paged.session.interactive = true
        paged.session.rows = 40
        paged.session.pager = { shown.append($0); return true }
        #expect(paged.run(":help\n:help grad"))
        #expect(shown.count == 1 && shown[0].hasPrefix("commands (an example of each"))
        #expect(paged.out.count == 1 && paged.out[0].hasPrefix(":grad [w ...]"), "a short entry is printed")
    }

    @Test("plots shrink to a narrow terminal: the decision map and the curves fit 50 columns (issue 13)")
    func plotsFitTheTerminal() throws {
        let t = Transcript()
        t.session.width = 50
        #expect(t.run("seed 1\n:data moons 100\n:mlp net 2-4-1\nL = bce(net, Y)\n:train L epochs=5 opt=adam lr=0.05"), "\(t.stderr)")
        let text = t.out.joined(separator: "\n")
        #expect(text.contains("decision regions"))
        let drawn = text.split(separator: "\n").filter { $0.hasPrefix("│") || $0.contains(" │") || $0.contains("└") }
        #expect(!drawn.isEmpty && drawn.allSatisfy { $0.count <= 50 }, "\(drawn.filter { $0.count > 50 }.joined(separator: "\n"))")
    }

    @Test("within a long epoch, training shows its progress and an ETA: a status line at a terminal, a line in a log (issue 13)")
    func progressWithinEpoch() throws {
        let t = Transcript()
        var shown: [String] = []
        t.session.status = { if !$0.isEmpty { shown.append($0) } }
        t.session.progressEvery = (0, 0)
        #expect(t.run("seed 1\n:data moons 100 val=0 test=0\n:mlp net 2-4-1\nL = bce(net, Y)\n:train L epochs=2 batch=25 lr=0.1"), "\(t.stderr)")
        // 100 rows in batches of 25: after 25, 50 and 75 rows of each epoch.
        #expect(shown.count == 6, "\(shown)")
        #expect(shown.first?.hasPrefix("epoch 1/2 [██░░░░░░░░░░░░░░░░░░] 25% of the epoch: loss ") == true, "\(shown)")
        #expect(shown.allSatisfy { $0.contains(" ETA ") })
        #expect(t.out.allSatisfy { !$0.contains("% of the epoch") }, "the status line is not in the output")
        let log = Transcript()
        log.session.progressEvery = (0, 0)
        #expect(log.run("seed 1\n:data moons 100 val=0 test=0\n:mlp net 2-4-1\nL = bce(net, Y)\n:train L epochs=1 batch=50 lr=0.1"))
        #expect(log.out.contains { $0.hasPrefix("epoch 1/1 [██████████░░░░░░░░░░] 50% of the epoch") }, "\(log.out)")
        #expect(Session.duration(8.4) == "8 s" && Session.duration(200) == "3 min 20 s" && Session.duration(3900) == "1 h 5 min")
        // An epoch line's clock: three digits below 100 s, whole seconds after (not 1.23e+03).
        #expect(Session.seconds(0.36912) == "0.369" && Session.seconds(12.34) == "12.3" && Session.seconds(99.96) == "100")
        #expect(Session.seconds(1234.4) == "1234" && Session.seconds(3012.6) == "3013")
    }
}

