import Foundation
@testable import NablaRuntime
@testable import NablaSelfCheck
@testable import NablaSession
@testable import NablaTeaching
@testable import NablaTraining
import NablaFuzz
import NablaGraph
import NablaTensor
import NablaTestSupport
import Testing

/// Interrupts on the `k`-th time the session asks (a Ctrl-C at that moment of a command).
final class InterruptAt {
    let k: Int
    var asked = 0
    init(_ k: Int) { self.k = k }
    func ask() -> Bool {
        asked += 1
        return asked >= k
    }
}

@Suite("Faults: Ctrl-C at any moment, divergence, full and read-only disks, the fuzz regressions")
struct FaultTests {
    /// The session is consistent: every definition's value is what its graph computes from the
    /// leaves now, L is finite, and backprop and a gradient check run.
    func expectConsistent(_ t: Transcript, _ context: String) throws {
        let s = t.session
        var fresh = s.graph
        let leaves = (0..<fresh.capacity).map(NodeID.init).filter { fresh.contains($0) && fresh[$0].op.isLeaf }
        try fresh.setValues(leaves.map { ($0, fresh.value($0)) })
        for (name, def) in s.definitions {
            #expect(fresh.value(def.slot) == s.graph.value(def.slot), "\(context): \(name) is stale")
        }
        #expect(t.run(":backward L\n:check L"), "\(context): \(t.stderr)")
        #expect(t.stdout.contains("✓") && !t.stdout.contains("✗"), "\(context): \(t.stdout)")
    }

    @Test("Ctrl-C at each moment a long command asks: :train (float64 and float32), :check, :step all, :descend, :data mnist")
    func interruptEverywhere() throws {
        let dir = try syntheticMNIST(train: 60, test: 20)
        let setups: [(String, String)] = [
            ("seed 1\n:data moons 64\n:mlp net 2-6-1\nL = bce(net, Y)", ":train L epochs=4 batch=16 every=1"),
            ("seed 1\n:data moons 64\n:mlp net 2-6-1\nL = bce(net, Y)", ":train L epochs=4 batch=16 precision=f32 every=1"),
            ("seed 2\nparam W = randn(6, 6)\nx = randn(6)\nL = sum(tanh(W @ x))", ":check L"),
            ("seed 2\nparam W = randn(3, 3)\nx = randn(3)\nh = tanh(W @ x)\nL = sum(h * h)", ":step all L"),
            ("param a = 2\nparam b = -1\nL = a^2 + 3 * b^2", ":descend L steps=30 lr=0.1"),
            ("seed 1\n:data mnist dir=\(dir)\n:mlp net 16-10\nL = cross_entropy(net, Y)", ":data mnist dir=\(dir) 40"),
        ]
        for (setup, command) in setups {
            // How often the command asks when nobody presses Ctrl-C.
            let probe = Transcript()
            #expect(probe.run(setup), "\(probe.stderr)")
            let counter = InterruptAt(Int.max)
            probe.session.isInterrupted = counter.ask
            // runLine, as the REPL runs a typed line (a script would stop before the line).
            probe.capture { #expect($0.runLine(command), "\(command)") }
            #expect(counter.asked >= 1, "\(command) never checks for Ctrl-C")
            for k in 1...min(counter.asked, 25) {
                let t = Transcript()
                #expect(t.run(setup))
                let stop = InterruptAt(k)
                t.session.isInterrupted = stop.ask
                t.capture { _ = $0.runLine(command) }
                t.session.isInterrupted = { false }
                let said = (t.out + t.err).joined(separator: "\n")
                #expect(said.contains("interrupted"), "\(command) at \(k): \(said)")
                try expectConsistent(t, "\(command) interrupted at \(k)")
            }
        }
    }

    @Test("a diverging run stops with the epoch, the first non-finite node and the param", arguments: ["f64", "f32"])
    func divergence(precision: String) {
        let t = Transcript()
        t.run("seed 1\n:data moons 100\n:mlp net 2-8-1 act=relu out=linear\nL = mse(net, Y)\n:train L opt=sgd lr=1e12 epochs=20 batch=8 precision=\(precision)")
        let line = t.out.first { $0.hasPrefix("stopped in epoch") } ?? t.stdout
        #expect(line.range(of: #"^stopped in epoch [0-9]+: the loss became (infinite|NaN)"#, options: .regularExpression) != nil, "\(line)")
        #expect(line.contains("the first node to go non-finite is "), "\(line)")
        #expect(line.contains("largest param is net_") || line.contains("param net_"), "\(line)")
        // A node that went non-finite is warned about once, not once per recompute (it was 9
        // times for this run, whose evaluations and drawing recompute the graph).
        let u = Transcript()
        // (mse: bce of a sigmoid is computed from the logit and stays finite at any weights.)
        u.run(":data moons 100\n:mlp net 2-4-1 out=linear\nL = mse(net, Y)\n:train L epochs=3 lr=1e12 opt=sgd batch=8 precision=\(precision)")
        #expect(u.stdout.contains("stopped in epoch"), "\(u.stdout)")
        #expect(u.err.filter { $0.contains("warning:") }.count <= 1, "\(u.stderr)")
        // The weights kept are finite, and the session goes on.
        #expect(t.run(":expect sum(net_W1 * 0) == 0"), "\(t.stderr)")
    }

    @Test(":backward of a vector that is not a name says why, and the session goes on (found by the line fuzzer)")
    func backwardLiteral() {
        let t = Transcript()
        #expect(!t.run(":backward [-4, 1.5]"))
        #expect(t.err.first?.contains("[-4, 1.5] has shape [2], not a scalar") == true, "\(t.stderr)")
        #expect(!t.run("x = 2\n:backward [x, 1] * x"))
        #expect(t.err.first?.contains("has shape [2], not a scalar") == true, "\(t.stderr)")
        #expect(t.run("L = x^2\n:backward L\n:expect ∂L/∂x == 4"), "\(t.stderr)")
    }

    /// Runs `command` as root; false when it cannot (not root, no tmpfs).
    static func sh(_ command: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// Whether this machine lets the tests mount a tmpfs (root with the capability; CI runs so).
    static let canMount: Bool = {
        guard getuid() == 0 else { return false }
        let dir = FileManagerHelper.temporaryDirectory() + "/probe"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard sh("mount -t tmpfs -o size=64k tmpfs '\(dir)'") else { return false }
        return sh("umount '\(dir)'")
    }()

    @Test("a full disk and a read-only folder: :save says why and keeps the old file",
          .enabled(if: FaultTests.canMount, "mounting a small tmpfs needs root and the capability to mount"))
    func fullDisk() throws {
        let dir = FileManagerHelper.temporaryDirectory() + "/disk"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try #require(FaultTests.sh("mount -t tmpfs -o size=512k tmpfs '\(dir)'"), "could not mount a tmpfs")
        defer { _ = FaultTests.sh("umount -l '\(dir)'") }
        let t = Transcript()
        #expect(t.run("param W = [[1, 2], [3, 4]]\n:save \(dir)/w.npz\n:save \(dir)/s.nabla"), "\(t.stderr)")
        let oldWeights = try Data(contentsOf: URL(fileURLWithPath: dir + "/w.npz"))
        let oldScript = try String(contentsOfFile: dir + "/s.nabla", encoding: .utf8)
        // Fill the disk, then save something bigger.
        _ = FaultTests.sh("dd if=/dev/zero of='\(dir)/filler' bs=4k count=1000")
        #expect(t.run("param W = randn(100, 100)"))
        for file in ["w.npz", "s.nabla"] {
            #expect(!t.run(":save \(dir)/\(file)"), "\(file)")
            #expect(t.err.first?.contains("No space left") == true || t.err.first?.contains("space") == true, "\(t.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/w.npz")) == oldWeights)
        #expect(try String(contentsOfFile: dir + "/s.nabla", encoding: .utf8) == oldScript)
        // Read-only.
        _ = FaultTests.sh("rm -f '\(dir)/filler'")
        try #require(FaultTests.sh("mount -o remount,ro '\(dir)'"))
        #expect(!t.run(":save \(dir)/w.npz"))
        #expect(t.err.first?.contains("read-only") == true || t.err.first?.contains("Read-only") == true, "\(t.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/w.npz")) == oldWeights)
    }

    @Test("the fuzzers' seeds and the inputs that found bugs run through the targets without a crash", arguments: ["line", "data", "npz", "stdin"])
    func fuzzRegressions(target: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var ran = 0
        let seeds = ["stdin": "line", "npz": "data"][target] ?? target
        for folder in ["fuzz/seeds/\(seeds)", "fuzz/regressions/\(target)"] {
            let dir = root.appendingPathComponent(folder)
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() {
                let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
                switch target {
                case "line": FuzzTargets.line(bytes, budget: 0.2)
                case "stdin": FuzzTargets.stdin(bytes, budget: 0.2)
                default: FuzzTargets.run(target, bytes)
                }
                ran += 1
            }
        }
        #expect(ran > (seeds == "line" ? 300 : 5))
    }
}
