import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// True when tmux is installed (scripts/test installs it; the terminal tests need it).
let tmuxAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux")

/// A nabla REPL running in a real terminal inside tmux: type with `send`, read with `screen`.
final class Terminal {
    let name = "nabla-test-\(UUID().uuidString.prefix(8))"
    let state: URL
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("nabla").path

    let arguments: String
    let environment: String

    init(state: URL? = nil, arguments: String = "", environment: String = "") throws {
        self.state = state ?? FileManager.default.temporaryDirectory.appendingPathComponent("nabla-state-\(UUID().uuidString)")
        self.arguments = arguments
        self.environment = environment
        try start()
    }

    /// Starts nabla in a shell that reports how it ended and whether the terminal still echoes.
    func start() throws {
        // The test runner may set NO_COLOR; each terminal gets exactly the environment a test asks for.
        let script = "env -u NO_COLOR \(environment) XDG_STATE_HOME='\(state.path)' '\(binary)' \(arguments); echo \"EXITED $?\"; stty -a | tr ' ' '\\n' | grep -x -e echo -e -echo; sleep 30"
        try tmux(["new-session", "-d", "-s", name, "-x", "100", "-y", "40", "sh", "-c", script])
        try waitFor("nabla>")  // capture-pane drops trailing spaces
    }

    /// Runs tmux on this terminal's own server (`-L name`), so tests never touch a user's tmux.
    /// Spawned with posix_spawn and reaped with waitpid; output goes through a file, since
    /// the server that `new-session` forks inherits the client's descriptors (a pipe it held
    /// would never reach end-of-file).
    @discardableResult
    func tmux(_ args: [String]) throws -> String {
        let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).out").path
        defer { unlink(outPath) }
        let argv = ["/usr/bin/tmux", "-L", name] + args
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ)
        guard rc == 0 else { throw TerminalError.spawn(rc) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    }

    /// Types keys one by one (tmux key names like Enter, Up, Tab, C-c, C-d, or text).
    func send(_ keys: String...) throws {
        for key in keys {
            try tmux(["send-keys", "-t", name, key])
            Thread.sleep(forTimeInterval: 0.15)
        }
    }

    /// Types a line and presses Enter.
    func line(_ text: String) throws { try send(text, "Enter") }

    var screen: String { (try? tmux(["capture-pane", "-p", "-t", name])) ?? "" }

    /// The screen with its colours, as ANSI escapes.
    var colouredScreen: String { (try? tmux(["capture-pane", "-p", "-e", "-t", name])) ?? "" }

    /// Waits until the screen contains `text` `count` times (up to 10 s).
    @discardableResult
    func waitFor(_ text: String, count: Int = 1) throws -> String {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let s = screen
            if s.components(separatedBy: text).count - 1 >= count { return s }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TerminalError.timeout(text, screen)
    }

    /// Ends the terminal: the pane's whole process group (the shell, nabla, its sleep) is
    /// killed first, so no test leaves a process behind, then the tmux server.
    func close() {
        if let pid = Int32((try? tmux(["display-message", "-p", "-t", name, "#{pane_pid}"]))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""), pid > 1 {
            kill(-pid, SIGKILL)
        }
        _ = try? tmux(["kill-server"])
    }

    deinit { close() }
}

enum TerminalError: Error, CustomStringConvertible {
    case timeout(String, String)
    case spawn(Int32)
    var description: String {
        switch self {
        case let .timeout(text, screen): return "waited for \(text.debugDescription); screen:\n\(screen)"
        case let .spawn(rc): return "could not start tmux (posix_spawn: \(rc))"
        }
    }
}

@Suite("The REPL in a real terminal (tmux)", .serialized, .enabled(if: tmuxAvailable))
struct TerminalTests {
    @Test("a definition is typed, recalled with Up and run again")
    func historyRecall() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("a = 20 + 1")
        try t.waitFor("a = 21")
        try t.send("Up", "Enter")
        try t.waitFor("a = 21", count: 2)
    }

    @Test("Ctrl-R searches the history backwards")
    func reverseSearch() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("alpha = 11 + 1")
        try t.waitFor("alpha = 12")
        try t.line("beta = 2 + 1")
        try t.waitFor("beta = 3")
        try t.send("C-r", "alp", "Enter")
        try t.waitFor("alpha = 12", count: 2)
    }

    @Test("TAB completes a partial name and a function")
    func tabCompletion() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("weight = 3 + 0")
        try t.waitFor("weight = 3")
        try t.send("wei", "Tab", " * 2", "Enter")
        try t.waitFor("\n6\n")
        try t.send("sigm", "Tab", "0)", "Enter")
        try t.waitFor("sigmoid(0)")
        try t.waitFor("0.5")
    }

    @Test("Ctrl-C cancels a half-typed line and the next line works")
    func ctrlCCancels() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.send("b = this is not finished", "C-c")
        try t.waitFor("^C")
        try t.line("b = 2 * 4")
        try t.waitFor("b = 8")
        #expect(!t.screen.contains("unknown name 'this'"))
    }

    @Test("an unclosed bracket continues on the next line")
    func continuation() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("v = [1,")
        try t.waitFor("...>")
        try t.line("2] * 3")
        try t.waitFor("v = [3, 6]")
    }

    @Test("a command typed after a line that broke off runs after that line's error")
    func commandAfterBrokenLine() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("x = 5")
        try t.line("y = 1 +")
        try t.waitFor("...>")
        try t.line(":vars")
        try t.waitFor("error: expected a value")
        let screen = try t.waitFor("x     input")
        #expect(screen.contains("name"), "\(screen)")
    }

    @Test("UTF-8 names are typed, computed and kept in the history file")
    func unicode() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("σσ = 2 + 1")
        try t.waitFor("σσ = 3")
        try t.line("λ = σσ · 2")
        try t.waitFor("λ = 6")
        try t.line(":backward λ")
        try t.line("∂λ/∂σσ + 40")
        try t.waitFor("\n42\n")
        let history = try String(contentsOf: t.state.appendingPathComponent("nabla/history"), encoding: .utf8)
        #expect(history.contains("σσ"))
    }

    @Test("history survives a restart; Ctrl-D quits and leaves the terminal echoing")
    func historyPersists() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("kept = 41 + 1")
        try t.waitFor("kept = 42")
        try t.send("C-d")
        let screen = try t.waitFor("EXITED 0")
        try t.waitFor("\necho")  // stty reports echo on, not -echo
        #expect(!screen.contains("-echo"))
        t.close()
        let again = try Terminal(state: t.state)
        defer { again.close() }
        try again.send("Up", "Enter")
        try again.waitFor("kept = 42")
        let mode = try FileManager.default.attributesOfItem(atPath: t.state.appendingPathComponent("nabla/history").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("Ctrl-D at a sub-prompt (:step, an :exercise answer, a continuation line) leaves it, not nabla")
    func ctrlDAtSubPrompts() throws {
        let t = try Terminal()
        defer { t.close() }
        for line in ["param w = 3", "L = 2 * w^2"] { try t.line(line) }
        try t.waitFor("L = 18")
        try t.line(":step L")
        try t.waitFor("step (Enter: next, a: all, q: leave)>")
        try t.send("C-d")
        try t.waitFor("(left)")
        try t.line(":exercise neuron 1")
        try t.waitFor("Enter skips, q leaves")
        try t.send("C-d")
        try t.waitFor("(left)", count: 2)
        try t.line("v = [1,")
        try t.waitFor("...>")
        try t.send("C-d")
        try t.waitFor("the unfinished statement was dropped")
        try t.line("w + 39")
        try t.waitFor("\n42\n")
        #expect(!t.screen.contains("EXITED"))
    }

    @Test("two sessions at once keep both their lines in the history file (appended under a lock)")
    func historyTwoSessions() throws {
        let first = try Terminal()
        defer { first.close() }
        let second = try Terminal(state: first.state)
        defer { second.close() }
        try first.line("one = 1")
        try first.waitFor("one = 1")
        try second.line("two = 2")
        try second.waitFor("two = 2")
        try first.line("three = 3")
        try first.waitFor("three = 3")
        let history = try String(contentsOf: first.state.appendingPathComponent("nabla/history"), encoding: .utf8)
        let lines = history.split(separator: "\n")
        #expect(lines == ["_HiStOrY_V2_", "one\\040=\\0401", "two\\040=\\0402", "three\\040=\\0403"])
        first.close()
        let third = try Terminal(state: first.state)
        defer { third.close() }
        try third.send("Up", "Up", "Enter")
        try third.waitFor("two = 2")
    }

    @Test("Ctrl-C interrupts a long :check and returns to the prompt with the state intact")
    func ctrlCInterrupts() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("seed 1")
        try t.line("param W = randn(120, 120)")
        try t.line("X = randn(120, 400)")
        try t.line("L = sum(tanh(W @ X))")
        try t.waitFor("L = ")
        try t.line(":check L")
        Thread.sleep(forTimeInterval: 1.0)
        try t.send("C-c")
        try t.waitFor("interrupted")
        try t.line(":expect W[0, 0] == W[0, 0] + 0")
        try t.line("1 + 1")
        try t.waitFor("\n2\n")
    }

    @Test(":step at a prompt: Enter shows the next node, q leaves with the gradients so far")
    func stepInteractive() throws {
        let t = try Terminal()
        defer { t.close() }
        for line in ["x1 = 2", "x2 = 1", "y = 1", "param w1 = -1", "param w2 = 1", "z = w1*x1 + w2*x2", "p = sigmoid(y*z)", "L = -log(p)"] {
            try t.line(line)
        }
        try t.waitFor("L = 1.31326")
        try t.line(":step L")
        try t.waitFor("step 1 of 7")
        try t.waitFor("step (Enter: next, a: all, q: leave)>")
        try t.send("Enter")
        try t.waitFor("step 2 of 7: log(p)")
        try t.send("Enter")
        try t.waitFor("step 3 of 7: p = sigmoid(y*z)")
        try t.line("q")
        try t.waitFor("left after 3 of 7 steps")
        try t.line(":grad p")
        try t.waitFor("∂L/∂p = -3.71828")
        try t.line(":backward L")
        try t.line(":grad w1")
        try t.waitFor("∂L/∂w1 = -1.46212")
    }

    @Test("colour on a terminal; --no-color, NO_COLOR and TERM=dumb turn it off")
    func colour() throws {
        let on = try Terminal()
        defer { on.close() }
        try on.line(":expect 1 + 1 == 2")
        try on.waitFor("✓ 1 + 1 == 2")
        #expect(on.colouredScreen.contains("\u{1B}[32m✓"))
        on.close()
        for (arguments, environment) in [("--no-color", ""), ("", "NO_COLOR=1"), ("", "TERM=dumb")] {
            let off = try Terminal(arguments: arguments, environment: environment)
            defer { off.close() }
            try off.line(":expect 1 + 1 == 2")
            try off.waitFor("✓ 1 + 1 == 2")
            #expect(!off.colouredScreen.contains("\u{1B}[32m"), "\(arguments) \(environment)")
            off.close()
        }
    }

    @Test("Ctrl-C during :train returns to the prompt with the weights of the last finished step")
    func ctrlCTraining() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("seed 1")
        try t.line(":data moons 2000 noise=0.1")
        try t.line(":mlp net 2-64-64-1 act=tanh")
        try t.line("L = bce(net, Y)")
        try t.waitFor("L = ")
        try t.line(":train L epochs=100000 batch=8 every=1")
        try t.waitFor("/100000 [")
        try t.send("C-c")
        try t.waitFor("interrupted in epoch")
        try t.waitFor("trained ")
        try t.line(":expect sum(net_W1 * 0) == 0")
        try t.waitFor("✓ sum(net_W1 * 0) == 0")
        try t.line("isfinite = sum(net_W1) * 0 + 1")
        try t.waitFor("isfinite = 1")
    }

    @Test("a hangup (the terminal closed) ends nabla instead of leaving it behind")
    func hangup() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("x = 1 + 1")
        try t.waitFor("x = 2")
        let shell = try #require(Int32(t.tmux(["display-message", "-p", "-t", t.name, "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)))
        let children = try String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)
        let nabla = try #require(children.split(separator: " ").compactMap { Int32($0) }.first)
        kill(nabla, SIGHUP)
        // It ends (a zombie until the shell reaps it, then gone) within a few seconds.
        let deadline = Date().addingTimeInterval(5)
        var ended = false
        while Date() < deadline && !ended {
            let status = (try? String(contentsOfFile: "/proc/\(nabla)/status", encoding: .utf8)) ?? "State:\tgone"
            ended = status.contains("State:\tZ") || status.contains("gone")
            if !ended { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(ended)
    }

    @Test("Ctrl-C at several moments of training: each time the prompt comes back and training goes on")
    func ctrlCTrainingAtSeveralMoments() throws {
        let t = try Terminal()
        defer { t.close() }
        try t.line("seed 1")
        try t.line(":data moons 2000 noise=0.1")
        try t.line(":mlp net 2-32-32-1 act=tanh")
        try t.line("L = bce(net, Y)")
        try t.waitFor("L = ")
        for (i, delay) in [0.05, 0.4, 1.5].enumerated() {
            // A clean screen, so nothing of the previous pass is read as this one's.
            try t.tmux(["clear-history", "-t", t.name])
            try t.send("C-l")
            try t.line(":train L epochs=100000 batch=8 every=1")
            Thread.sleep(forTimeInterval: delay)
            try t.send("C-c")
            // The curves and regions scroll the epoch lines away: a marker typed after them
            // shows the prompt came back, and the REPL's note is just above it.
            try t.line(":expect \(101 + i) == \(101 + i)")
            let screen = try t.waitFor("✓ \(101 + i) == \(101 + i)")
            #expect(screen.contains("interrupted: back at the prompt"), "\(screen)")
        }
        try t.tmux(["clear-history", "-t", t.name])
        try t.send("C-l")
        try t.line(":train L epochs=2 batch=64")
        try t.line(":expect 7 == 7")
        let screen = try t.waitFor("✓ 7 == 7")
        #expect(!screen.contains("interrupted: back"), "\(screen)")
        try t.line(":expect sum(net_W2 * 0) == 0")
        try t.waitFor("✓ sum(net_W2 * 0) == 0")
    }

    @Test("Ctrl-C during :step all on a big graph keeps the gradients shown so far")
    func ctrlCStepAll() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-step-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var lines = ["param a = 0.5", "d0 = a"]
        for i in 1...3000 { lines.append("d\(i) = sin(d\(i - 1)) * 0.9 + d\(i - 1) * 0.1 + a * 0.01") }
        lines.append("L = d3000 * d3000")
        try lines.joined(separator: "\n").write(to: dir.appendingPathComponent("big.nabla"), atomically: true, encoding: .utf8)
        let t = try Terminal()
        defer { t.close() }
        try t.line(":load \(dir.path)/big.nabla")
        try t.line("1 + 1")
        try t.waitFor("\n2\n")
        try t.line(":step all L")
        try t.waitFor("upstream")  // the steps are printing
        try t.send("C-c")
        try t.waitFor("interrupted: left after")
        try t.line(":grad a")
        try t.waitFor("partial")
        try t.line(":backward L")
        try t.line("2 + 2")
        try t.waitFor("\n4\n")
    }

    @Test("Ctrl-C while loading MNIST leaves the data as it was")
    func ctrlCLoading() throws {
        // 400,000 images of 28x28 pixels (314 MB): reading them takes a while even though
        // images are kept as bytes.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-big-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func idx(_ dims: [Int], _ count: Int) -> Data {
            var d = Data([0, 0, 8, UInt8(dims.count)])
            for n in dims { d.append(contentsOf: [UInt8(n >> 24 & 255), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)]) }
            d.append(Data(count: count))  // black images of class 0
            return d
        }
        try idx([400_000, 28, 28], 400_000 * 784).write(to: dir.appendingPathComponent("train-images-idx3-ubyte"))
        try idx([400_000], 400_000).write(to: dir.appendingPathComponent("train-labels-idx1-ubyte"))
        try idx([10000, 28, 28], 10000 * 784).write(to: dir.appendingPathComponent("t10k-images-idx3-ubyte"))
        try idx([10000], 10000).write(to: dir.appendingPathComponent("t10k-labels-idx1-ubyte"))
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try Terminal()
        defer { t.close() }
        try t.line(":data moons 100")
        try t.waitFor("moons: 100 samples")
        try t.line(":data mnist dir=\(dir.path)")
        Thread.sleep(forTimeInterval: 0.05)
        try t.send("C-c")
        try t.waitFor("interrupted while")
        try t.waitFor("nothing was loaded")
        // X still holds the moons (two features).
        try t.line(":expect X[0] @ [1, 1] == X[0, 0] + X[0, 1]")
        try t.waitFor("✓ X[0] @ [1, 1]")
    }

    @Test("a corrupt or unreadable history file does not stop the REPL")
    func badHistory() throws {
        for kind in ["garbage", "folder"] {
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-state-\(UUID().uuidString)")
            let history = state.appendingPathComponent("nabla/history")
            try FileManager.default.createDirectory(at: history.deletingLastPathComponent(), withIntermediateDirectories: true)
            if kind == "folder" {
                try FileManager.default.createDirectory(at: history, withIntermediateDirectories: true)
            } else {
                var junk = Data([0, 0xFF, 0xFE, 10, 0xC3, 0x28, 10, 0x5C, 0x5C, 0x30, 0x34, 0x30, 0, 10])
                junk.append(Data(repeating: 0x41, count: 200_000))
                junk.append(Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }))
                try junk.write(to: history)
            }
            let t = try Terminal(state: state)
            defer { t.close() }
            try t.line("x = 20 + 22")
            try t.waitFor("x = 42")
            try t.send("C-d")
            try t.waitFor("EXITED 0")
        }
    }
}
