import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import NablaTestSupport
import Testing

/// Runs the built `nabla` binary with arguments and optional standard input.
func nabla(_ args: [String], stdin: String? = nil, in directory: URL? = nil) throws -> (out: String, err: String, status: Int32) {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("nabla")
    let process = Process()
    process.executableURL = binary
    process.arguments = args
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    // Standard input from a file: a big input never blocks on a pipe, and nabla may stop
    // reading early (a refused line) without a SIGPIPE reaching the tests.
    let inputPath = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-stdin-\(UUID().uuidString)").path
    defer { unlink(inputPath) }
    try Data((stdin ?? "").utf8).write(to: URL(fileURLWithPath: inputPath))
    process.standardInput = FileHandle(forReadingAtPath: inputPath)
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self), process.terminationStatus)
}

/// A fresh folder with the given files.
func folder(_ files: [String: String]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    return dir
}

let neuron = """
    # the course's neuron with logistic loss
    x1 = 2
    x2 = 1
    y = 1
    param w1 = -1
    param w2 = 1
    z = w1*x1 + w2*x2
    p = σ(y*z)
    L = -log(p)
    :backward L
    :expect ∂L/∂w1 == -1.46212 tol 1e-5
    :expect ∂L/∂w2 == -0.731059 tol 1e-5

    """

@Suite("The nabla command line")
struct CommandLineTests {
    @Test("nabla check: a line per script and 'N passed, N failed' last; non-zero on any failure")
    func check() throws {
        let dir = try folder([
            "good.nabla": neuron,
            "wrong.nabla": "x = 2\n:expect x^2 == 5\n:expect x == 2\n",
            "broken.nabla": "x = 2\ny = x +\n:expect 1 == 1\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let ok = try nabla(["check", "good.nabla"], in: dir)
        #expect(ok.status == 0)
        #expect(ok.out == "✓ good.nabla: 2 passed, 0 failed\n2 passed, 0 failed\n")
        let all = try nabla(["check", "good.nabla", "wrong.nabla", "broken.nabla"], in: dir)
        #expect(all.status == 1)
        let lines = all.out.split(separator: "\n").map(String.init)
        #expect(lines.last == "3 passed, 2 failed")
        #expect(lines.contains("✗ wrong.nabla, line 2: x^2 == 5: got 4, expected 5 (tolerance 1e-06)"))
        #expect(lines.contains("✗ broken.nabla: 0 passed, 0 failed, stopped by an error"))
        #expect(all.err.contains("broken.nabla, line 2, column 8: error: expected a value"))
    }

    @Test("nabla FILE prints what the REPL would and stops at the first error with status 1")
    func script() throws {
        let dir = try folder(["n.nabla": neuron + ":grad w1\n", "e.nabla": "a = 1\nb = c\nd = 2\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try nabla(["n.nabla"], in: dir)
        #expect(r.status == 0)
        #expect(r.out.hasPrefix("z = -1\np = 0.268941\nL = 1.31326\n"))
        #expect(r.out.hasSuffix("∂L/∂w1 = -1.46212   (shape: scalar)\n"))
        let e = try nabla(["e.nabla"], in: dir)
        #expect(e.status == 1)
        #expect(e.err == "e.nabla, line 2, column 5: error: unknown name 'c'\n  b = c\n      ^\n")
        let missing = try nabla(["nope.nabla"], in: dir)
        #expect(missing.status == 1 && missing.err == "error: cannot open 'nope.nabla': no such file\n")
    }

    @Test("nabla -e evaluates lines; a script on stdin runs without prompts")
    func evaluateAndStdin() throws {
        let e = try nabla(["-e", "x = 3", "-e", "x^2 + 1"])
        #expect(e.status == 0 && e.out == "10\n")
        let s = try nabla([], stdin: "W = [[1, 2],\n     [3, 4]]\nW @ [1, 1]\n")
        #expect(s.status == 0 && s.out == "[3, 7]\n" && s.err.isEmpty)
        let bad = try nabla(["-e", "x = [1, 2"])
        #expect(bad.status == 1 && bad.err.hasPrefix("line 1, column 10: error: expected ']' to close '[' at column 5"))
    }

    @Test("bad arguments get the usage and status 2", arguments: [["--frobnicate"], ["-e"], ["check"], ["a", "b"], ["mnist", "--epochs", "0"]])
    func badArguments(args: [String]) throws {
        let r = try nabla(args)
        #expect(r.status == 2)
        #expect(r.err.hasPrefix("nabla: Error: ") && r.err.contains("Usage: nabla"), "\(r.err)")
    }

    @Test("each command has --help on standard output with status 0; --opt=value works", arguments: ["check", "replay", "mnist", "selfcheck", "run"])
    func help(command: String) throws {
        let r = try nabla([command, "--help"])
        #expect(r.status == 0 && r.err.isEmpty)
        #expect(r.out.contains("USAGE: nabla \(command)"), "\(r.out)")
        let same = try nabla(["help", command])
        #expect(same.out == r.out)
    }

    @Test("did-you-mean for commands and flags, swapped letters included")
    func didYouMean() throws {
        #expect(try nabla(["--versoin"]).err.contains("Did you mean '--version'?"))
        #expect(try nabla(["mnist", "--epoch", "3"]).err.contains("Did you mean '--epochs'?"))
        #expect(try nabla(["chekc", "lesson.nabla"]).err.contains("did you mean 'nabla check'?"))
        // A file whose name is near a command runs.
        let dir = try folder(["mnist2": "x = 41 + 1\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let near = try nabla(["mnist2"], in: dir)
        #expect(near.status == 0 && near.out == "x = 42\n", "\(near.err)")
        let eq = try nabla(["selfcheck", "--programs=3", "--seed=2"])
        #expect(eq.status == 0 && eq.out.hasPrefix("3 programs"), "\(eq.err)")
    }

    @Test("shell completion scripts come from the declarations")
    func completion() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try nabla(["--generate-completion-script", shell])
            #expect(r.status == 0)
            #expect(r.out.contains("selfcheck") && r.out.contains("committee") && r.out.contains("fashion"), "\(shell)")
        }
    }

    @Test("nabla check --format tap and junit: a test per :expect, a stopped script fails, the exit status is the text report's")
    func reports() throws {
        let dir = try folder([
            "good.nabla": neuron,
            "wrong.nabla": "x = 2\n:expect x^2 == 5\n:expect x == 2\n",
            "broken.nabla": "x = 2\n:expect x == 2\ny = x +\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let tap = try nabla(["check", "--format", "tap", "good.nabla", "wrong.nabla", "broken.nabla"], in: dir)
        #expect(tap.status == 1)
        let lines = tap.out.split(separator: "\n").map(String.init)
        #expect(lines.prefix(2) == ["TAP version 13", "1..6"], "\(tap.out)")
        #expect(lines.contains("ok 1 - good.nabla:11: ∂L/∂w1 == -1.46212"))
        #expect(lines.contains("not ok 3 - wrong.nabla:2: x^2 == 5"))
        #expect(lines.contains("ok 4 - wrong.nabla:3: x == 2"))
        #expect(lines.contains("not ok 6 - broken.nabla: runs to its end"))
        #expect(lines.filter { $0.hasPrefix("  message: ") }.count == 2)
        let good = try nabla(["check", "--format=tap", "good.nabla"], in: dir)
        #expect(good.status == 0 && good.out.hasPrefix("TAP version 13\n1..2\nok 1"))

        let junit = try nabla(["check", "--format", "junit", "good.nabla", "wrong.nabla", "broken.nabla"], in: dir)
        #expect(junit.status == 1)
        let xml = try XMLDocument(data: Data(junit.out.utf8))
        let suites = try xml.nodes(forXPath: "/testsuites/testsuite")
        #expect(suites.count == 3)
        let root = try #require(xml.rootElement())
        #expect(root.attribute(forName: "tests")?.stringValue == "6" && root.attribute(forName: "failures")?.stringValue == "2")
        let failures = try xml.nodes(forXPath: "//testcase[failure]/@name").compactMap(\.stringValue)
        #expect(failures == ["line 2: x^2 == 5", "runs to its end"])
    }

    @Test("nabla replay shows narration and each step, pauses, goes back with b, quits with q")
    func replay() throws {
        let dir = try folder(["lesson.nabla": "# First, an input.\nx = 2\n# Then its square.\ny = x^2\n:expect y == 4\nz = y + 1\n"])
        let r = try nabla(["replay", "lesson.nabla"], stdin: "\nb\n\n\n", in: dir)
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.prefix(4) == ["── step 1 of 4 ── lesson.nabla:2", "  First, an input.", "nabla> x = 2", "[Enter: next · b: back · q: quit · or type a line of your own]"])
        // b after step 2 shows step 2 again (its narration too), with y recomputed.
        #expect(lines.filter { $0 == "── step 2 of 4 ── lesson.nabla:4" }.count == 2, "\(r.out)")
        #expect(lines.filter { $0 == "y = 4" }.count == 2)
        #expect(lines.last == "── the end of lesson.nabla: 1 checks passed, 0 failed")
        let quit = try nabla(["replay", "lesson.nabla"], stdin: "q\n", in: dir)
        #expect(quit.out.contains("left the lesson at step 1 of 4"))
    }

    @Test("at a pause the student's own lines run in the lesson's session; a mistake in one does not stop the lesson")
    func replayOwnLines() throws {
        let dir = try folder(["lesson.nabla": "x = 2\ny = x^2\n:expect y == 4\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try nabla(["replay", "lesson.nabla"], stdin: "w = x*10\n:expect w == 3\nbogus(\n\n\n", in: dir)
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.contains("you> w = x*10") && lines.contains("w = 20"), "\(r.out)")
        #expect(r.err.contains("error:"), "\(r.err)")
        #expect(lines.last == "── the end of lesson.nabla: 1 checks passed, 0 failed", "\(r.out)")
    }

    @Test("a lesson with an error: the replay stops there with file:line:column")
    func replayError() throws {
        let dir = try folder(["bad.nabla": "x = 2\n# oops\ny = x +* 3\nz = 1\n"])
        let r = try nabla(["replay", "bad.nabla"], stdin: "\n\n\n", in: dir)
        #expect(r.status == 1)
        #expect(r.err.hasPrefix("bad.nabla, line 3, column 8: error:"), "\(r.err)")
        #expect(r.out.contains("the replay stops here: fix bad.nabla at line 3"))
        #expect(!r.out.contains("nabla> z = 1"))
    }

    @Test("every lesson passes nabla check")
    func lessons() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("Lessons")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".nabla") }.sorted()
        #expect(files.count >= 14)
        let quick = files.filter { !$0.contains("initialization") && !$0.contains("mnist") }
        let r = try nabla(["check"] + quick.map { "Lessons/" + $0 }, in: root)
        #expect(r.status == 0, "\(r.out)\(r.err)")
        #expect(r.out.split(separator: "\n").last?.hasSuffix(" 0 failed") == true)
    }

    @Test("nabla mnist trains on IDX files and ends with the test accuracy")
    func mnist() throws {
        let dir = try syntheticMNIST(train: 200, test: 50)
        let r = try nabla(["mnist", "--data", dir, "--arch", "16-10", "--epochs", "20", "--batch", "20", "--opt", "adam", "--lr", "0.05"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.split(separator: "\n").last == "test accuracy: 100.00%", "\(r.out)")
        let bad = try nabla(["mnist", "--dataset", "digits"])
        #expect(bad.status == 2)
    }

    @Test("nabla mnist --arch with convolutions builds the net with :cnn and trains it in float32")
    func mnistConvnet() throws {
        // The synthetic 4x4 digits light pixel k for class k: 8 maps of 1x1 kernels keep where it is.
        let dir = try syntheticMNIST(train: 200, test: 50)
        let r = try nabla(["mnist", "--data", dir, "--arch", "conv8x1-10", "--epochs", "20", "--batch", "20", "--opt", "adam", "--lr", "0.05"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("net: conv8x1-10 on 1x4x4 images") && r.out.contains("float32 backend"), "\(r.out)")
        #expect(r.out.split(separator: "\n").last == "test accuracy: 100.00%", "\(r.out)")
    }
}

@Suite("kill -9 during training")
struct KillTests {
    @Test("a kill -9 at several moments of training leaves the last checkpoint whole and loadable")
    func killNine() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("nabla")
        for delay in [0.3, 0.9, 1.7] {
            let dir = try folder([
                "train.nabla": "seed 1\n:data moons 400\n:mlp net 2-32-1\nL = bce(net, Y)\n:train L epochs=1000000 batch=4 checkpoint=ck.npz",
                "check.nabla": "seed 2\n:data moons 400\n:mlp net 2-32-1\n:load ck.npz\n:expect sum(net_W1 * 0) == 0\nL = bce(net, Y)\n:expect min(L, 10) == L",
            ])
            let process = Process()
            process.executableURL = binary
            process.arguments = [dir.appendingPathComponent("train.nabla").path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Wait for the first checkpoint, then kill at some moment of a later epoch.
            let ck = dir.appendingPathComponent("ck.npz").path
            let deadline = Date().addingTimeInterval(20)
            while !FileManager.default.fileExists(atPath: ck) && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            let (out, err, status) = try nabla(["check", "check.nabla"], in: dir)
            #expect(status == 0, "killed after \(delay) s: \(out) \(err)")
            #expect(out.contains("2 passed, 0 failed"), "\(out)")
        }
    }
}

@Suite("nabla selfcheck")
struct SelfCheckCLITests {
    @Test("runs random programs and prints the figures; bad options are refused")
    func run() throws {
        let (out, _, status) = try nabla(["selfcheck", "--programs", "20", "--seed", "5"])
        #expect(status == 0, "\(out)")
        #expect(out.hasPrefix("20 programs"), "\(out)")
        #expect(out.contains("; 0 failures;"), "\(out)")
        let (_, err, bad) = try nabla(["selfcheck", "--programs", "lots"])
        #expect(bad == 2)
        #expect(err.contains("The value 'lots' is invalid for '--programs <programs>'"), "\(err)")
    }
}

@Suite("Limits at their ceilings")
struct CeilingTests {
    @Test("expressions at the highest nesting and height :limits allows run through every view, save and load, without a crash")
    func ceilings() throws {
        let n = 256, m = 999
        let q = "q"
        let lines = [
            ":limits nesting=256 height=1000",
            "param q = 0.3",
            "x = " + String(repeating: "(", count: n) + q + String(repeating: ")", count: n),
            "y = " + String(repeating: "sin(", count: n) + q + String(repeating: ")", count: n),
            "z = " + String(repeating: "-", count: n) + q,
            "s = " + String(repeating: "[", count: n) + q + String(repeating: "]", count: n),
            "t = " + String(repeating: "sum(", count: n) + q + String(repeating: ")", count: n),
            "w = " + Array(repeating: q, count: m).joined(separator: " + "),
            "v = " + Array(repeating: "sin(q)", count: m).joined(separator: " * "),
            "u = " + Array(repeating: q, count: m).joined(separator: " - "),
            "L = x + y + z + t + w + v + u + sum(s)",
            ":backward L", ":grad q", ":explain L q", ":shapes L q", ":graph L", ":check L", ":forward L",
            ":save saved.nabla", ":reset", ":load saved.nabla", ":expect L == 1.9016 tol 1e-4",
            // One level more is refused, not a crash.
            "deeper = " + String(repeating: "(", count: n + 1) + q + String(repeating: ")", count: n + 1),
        ]
        let dir = try folder(["deep.nabla": lines.joined(separator: "\n")])
        let (out, err, status) = try nabla(["deep.nabla"], in: dir)
        #expect(status == 1, "\(out)\n\(err)")
        #expect(out.contains("✓ L == 1.9016"), "\(out)")
        #expect(err.contains("line 23, column") && err.contains("nested too deeply (more than 256 levels"), "\(err)")
        #expect(!err.contains("crashed"), "\(err)")
        // The ceilings themselves.
        let (_, refused, _) = try nabla(["-e", ":limits nesting=257"])
        #expect(refused.contains("a whole number from 1 to 256"), "\(refused)")
    }
}

@Suite("Failed writes are failures (issue 14, item 8)")
struct FailedWriteTests {
    @Test("output to /dev/full exits non-zero and says why")
    func devFull() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("nabla")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["-e", "1 + 1"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
        let err = Pipe()
        process.standardError = err
        try process.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(e.contains("cannot write the output: No space left on device"), "\(e)")
    }

    @Test("a checkpoint that cannot be written stops :train before it starts, with exit status 1")
    func checkpointToNowhere() throws {
        let r = try nabla(["-e", "seed 1", "-e", ":data moons 40", "-e", ":mlp net 2-3-1", "-e", "L = bce(net, Y)",
                           "-e", ":train L epochs=3 checkpoint=/nonexistent/x.npz"])
        #expect(r.status == 1)
        #expect(r.err.contains("checkpoint: cannot write '/nonexistent/x.npz': no such folder"), "\(r.err)")
        #expect(!r.out.contains("epoch"), "\(r.out)")
    }
}

@Suite("Standard input and the terminal (issue 14, items 10, 18, 19)")
struct StandardInputTests {
    @Test("a 12 MB literal piped in is refused at the script limit, quoting at most a window of the line")
    func hugeLiteral() throws {
        let literal = "x = [" + String(repeating: "1,", count: 6_000_000) + "1]\n"
        let r = try nabla([], stdin: literal)
        #expect(r.status == 1)
        #expect(r.err.contains("has more than 10000000 bytes"), "\(r.err.prefix(300))")
        #expect(r.err.count < 600, "the error quotes a window, not the line: \(r.err.count) characters")
    }

    @Test("a 1 MB unknown name: the error quotes at most 300 characters of it")
    func hugeName() throws {
        let r = try nabla([], stdin: String(repeating: "q", count: 1_000_000) + "\n")
        #expect(r.status == 1)
        #expect(r.err.contains("unknown name 'qqqq"))
        #expect(r.err.contains("more characters)"))
        #expect(r.err.count < 800, "\(r.err.count) characters")
    }

    @Test("a script line holding escape sequences is shown escaped (it cannot rename the terminal)")
    func escapes() throws {
        let dir = try folder(["t.nabla": "x = 1 \u{1B}]2;PWNED\u{07}\n"])
        let r = try nabla([dir.appendingPathComponent("t.nabla").path])
        #expect(r.status == 1)
        #expect(!r.err.contains("\u{1B}") && !r.err.contains("\u{07}"), "\(r.err.debugDescription)")
        #expect(r.err.contains("x = 1 \\e]2;PWNED\\a"), "\(r.err)")
        #expect(r.err.contains("\n        ^"), "the caret is under the escape: \(r.err)")
    }

    @Test("a UTF-8 byte order mark on standard input is skipped, as in files")
    func byteOrderMark() throws {
        let r = try nabla([], stdin: "\u{FEFF}x = 20\nx + 22\n")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("42"))
    }

    @Test("standard input runs a statement at a time: a literal over many lines, then more lines")
    func streaming() throws {
        let lines = (0..<2000).map { "  \($0)," }.joined(separator: "\n")
        let r = try nabla([], stdin: "v = [\n\(lines)\n  2000]\nsum(v)\n")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.hasSuffix("2.001e+06\n") || r.out.hasSuffix("2001000\n"), "\(r.out.suffix(40))")
    }
}

/// Runs a Python script; nil when python3 or one of `modules` is missing (then the test says so).
func python(_ script: String, modules: [String], in directory: URL) throws -> (out: String, err: String, status: Int32)? {
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = ["python3", "-c", "import " + modules.joined(separator: ", ")]
    probe.standardOutput = FileHandle.nullDevice
    probe.standardError = FileHandle.nullDevice
    guard (try? probe.run()) != nil else { return nil }
    probe.waitUntilExit()
    guard probe.terminationStatus == 0 else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script]
    p.currentDirectoryURL = directory
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self), p.terminationStatus)
}

@Suite("Weights shared with PyTorch and numpy (issue 13)")
struct TorchInteropTests {
    /// The lines docs/commands.md shows ("Weights and PyTorch"), run as they are written there.
    static let intoTorch = """
        import numpy as np, torch
        w = np.load("net.npz")
        model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1), torch.nn.Sigmoid()).double()
        with torch.no_grad():
            for layer, k in [(model[0], 1), (model[2], 2)]:
                layer.weight.copy_(torch.from_numpy(w[f"net_W{k}"].T))  # nabla's W is [in, out], torch's [out, in]
                layer.bias.copy_(torch.from_numpy(w[f"net_b{k}"]))
        print(model(torch.tensor([[0.5, -0.2], [1.0, 0.3]], dtype=torch.float64)).flatten().tolist())
        # and back: .T makes a Fortran-ordered array, the bias an int64 one; nabla reads both
        np.savez("back.npz", net_W1=model[0].weight.detach().numpy().T * 2, net_b2=np.array([3]))
        """

    @Test("nabla's .npz loads into torch.nn.Linear with W.T, gives the same outputs, and torch's weights load back")
    func roundTrip() throws {
        let dir = try folder(["train.nabla": """
            seed 1
            :data moons 100
            :mlp net 2-4-1
            L = bce(net, Y)
            :train L epochs=3 lr=0.1
            :save net.npz
            Q = dense(dense([[0.5, -0.2], [1, 0.3]], net_W1, net_b1, tanh), net_W2, net_b2, sigmoid)
            :expect Q == Q
            """])
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = try nabla(["-e", ":load train.nabla", "-e", "[Q[0, 0], Q[1, 0]]"], in: dir)
        #expect(session.status == 0, "\(session.err)")
        guard let torch = try python(Self.intoTorch, modules: ["numpy", "torch"], in: dir) else {
            print("TorchInteropTests: python3 with numpy and torch is not installed here; not checked")
            return
        }
        #expect(torch.status == 0, "\(torch.err)")
        let fromTorch = torch.out.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst().dropLast().split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        // nabla prints [a, b] with 6 significant digits.
        let line = session.out.split(separator: "\n").first { $0.hasPrefix("[") && !$0.hasPrefix("[[") } ?? ""
        let fromNabla = line.dropFirst().dropLast().split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        #expect(fromTorch.count == 2 && fromNabla.count == 2, "\(torch.out) \(session.out)")
        for (a, b) in zip(fromTorch, fromNabla) { #expect(Swift.abs(a - b) <= 5e-6 * Swift.max(1, Swift.abs(a)), "\(a) vs \(b)") }
        // Back: W1 doubled (Fortran order) and b2 = 3 (int64); W2 and b1 are named as not set.
        let back = try nabla(["-e", ":load train.nabla", "-e", "param W1 = net_W1", "-e", ":load back.npz", "-e", ":expect net_W1 == 2 * W1", "-e", ":expect net_b2 == 3"], in: dir)
        #expect(back.status == 0, "\(back.out) \(back.err)")
        #expect(back.out.contains("loaded net_W1, net_b2 from back.npz; not in the file, so unchanged: net_b1, net_W2, W1"), "\(back.out)")
    }
}

