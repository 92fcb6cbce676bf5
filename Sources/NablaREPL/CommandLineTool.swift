#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import CNablaEdit
import Foundation
import NablaSession

/// Runs nabla as the command line asks; returns the process's exit status.
public enum CommandLineTool {
    public static let version = "0.1.0"

    public static func main(_ args: [String]) -> Int32 {
        let status = dispatch(args)
        // Output that did not reach its file (a full disk, /dev/full, a closed pipe) is a failure.
        let failure = nabla_finish_output()
        if failure != 0 {
            Terminal.writeError("nabla: cannot write the output: \(String(cString: strerror(failure)))\n")
            return status == 0 ? 1 : status
        }
        return status
    }

    /// Parses with the declarations (Commands+Declared.swift) and runs the command. `--help`,
    /// `--version` and completion scripts print and exit 0; a mistake prints the error, its
    /// did-you-mean and the command's usage, and exits 2.
    static func dispatch(_ args: [String]) -> Int32 {
        let command: ParsableCommand
        do {
            command = try NablaCommand.parseAsRoot(args)
        } catch {
            return refuse(error, args: args)
        }
        switch command {
        case let c as Run: return run(c)
        case let c as Check: return check(c.files, seed: c.session.seed, format: c.format)
        case let c as Replay: return replay(c)
        case let c as MNISTCommand: return mnist(c)
        case let c as SelfCheckCommand: return selfcheck(programs: c.programs, first: c.seed, size: c.size)
        default:
            // `nabla help mnist`, `nabla mnist --help`: the parser's own help command prints it.
            do {
                var help = command
                try help.run()
                return 0
            } catch {
                return refuse(error, args: args)
            }
        }
    }

    /// Help, version and completion scripts go to standard output (status 0); a mistake
    /// goes to standard error with a did-you-mean and the usage (status 2).
    static func refuse(_ error: Error, args: [String]) -> Int32 {
        let message = NablaCommand.fullMessage(for: error)
        if NablaCommand.exitCode(for: error) == .success {
            print(message)
            return 0
        }
        var hint = ""
        // An unknown flag before any command is checked against `nabla run`'s flags only:
        // suggest the root's too (`--versoin`).
        if message.contains("Unknown option"), !message.contains("Did you mean"),
           let flag = args.first(where: { $0.hasPrefix("--") && !knownRootFlags.contains($0) }),
           let near = Suggest.nearest(flag, among: knownRootFlags) {
            hint = ". Did you mean '\(near)'?"
        }
        let lines = message.split(separator: "\n", omittingEmptySubsequences: false)
        Terminal.writeError("nabla: " + (lines.first.map(String.init) ?? "") + hint + "\n" + lines.dropFirst().joined(separator: "\n") + "\n")
        return 2
    }

    /// The flags `nabla` takes before (or without) a command.
    static let knownRootFlags = ["--help", "--version", "--seed", "--no-color", "--generate-completion-script"]

    /// Colour only at a terminal that has it: not with --no-color, NO_COLOR or TERM=dumb.
    static func colors(_ noColor: Bool) -> Bool {
        let env = ProcessInfo.processInfo.environment
        return !noColor && (env["NO_COLOR"] ?? "").isEmpty && env["TERM"] != "dumb"
    }

    /// The command nearest a mistyped word (`chekc` → `check`), for did-you-mean.
    static func nearCommand(_ word: String) -> String? {
        let names = ["check", "replay", "mnist", "selfcheck", "run"]
        return Suggest.nearest(word, among: names)
    }

    /// `nabla`, `nabla FILE`, `nabla -e LINE`.
    static func run(_ c: Run) -> Int32 {
        let session = Session(seed: c.session.seed)
        (session.width, session.rows) = Terminal.size
        if !c.lines.isEmpty {
            for (i, line) in c.lines.enumerated() where !session.runLine(line, lineNumber: i + 1) {
                return 1
            }
            return session.failed == 0 ? 0 : 1
        }
        if let path = c.file, path != "-" {
            let ok = session.runFile(path)
            return ok && session.failed == 0 ? 0 : 1
        }
        if Terminal.isInteractive {
            session.interactive = true
            session.colors = colors(c.session.noColor)
            REPL(session: session).run()
            return 0
        }
        // A statement at a time: a 60 MB literal piped in is refused at the script limit
        // instead of being read whole.
        var input = InputLines(fd: 0, limit: { session.maxScriptBytes })
        let ok = session.runLines(file: nil) { input.next() }
        if let problem = input.problem {
            Terminal.writeError("nabla: \(problem)\n")
            return 1
        }
        return ok && session.failed == 0 ? 0 : 1
    }

    /// `nabla mnist`: the run as a script (`MNISTCommand.script`); the test accuracy last.
    static func mnist(_ c: MNISTCommand) -> Int32 {
        // A long run's log (`nabla mnist ... > log`) shows each epoch as it ends.
        nabla_output_by_lines()
        let session = Session(seed: c.seed)
        session.speaksCommandLine = true
        (session.width, session.rows) = Terminal.size
        if isatty(1) == 1 { session.status = { Terminal.status(String($0.prefix(Terminal.size.columns - 1))) } }
        guard session.runScript(c.script, file: "nabla mnist") else { return 1 }
        // Measured on all 10,000 test images at the end of :train, a window at a time.
        guard let accuracy = session.lastTestAccuracy else { return 1 }
        print("test accuracy: \(String(format: "%.2f", accuracy * 100))%\(c.committee > 1 ? " (the committee of \(c.committee) nets)" : "")")
        return 0
    }

    /// `nabla replay`: Enter continues, b goes back, q quits; another line runs in the session.
    static func replay(_ c: Replay) -> Int32 {
        guard let text = try? String(contentsOfFile: c.lesson, encoding: .utf8) else {
            Terminal.writeError("nabla: cannot read '\(c.lesson)'\n")
            return 1
        }
        let seed = c.session.seed
        let replay = NablaSession.Replay(
            lesson: Lesson(text: text, file: c.lesson),
            makeSession: { Session(seed: seed ?? 42) },
            readKey: { readLine() },
            write: { print($0) })
        return replay.run() ? 0 : 1
    }

    /// `nabla selfcheck`: random programs checked against finite differences; a line of figures
    /// every 10,000 programs and at the end; each failure shrunk to a small program.
    static func selfcheck(programs: Int, first: UInt64, size: Int) -> Int32 {
        let start = Date()
        func figures(_ r: SelfCheckReport) -> String {
            "\(r.programs) programs (\(r.nonFinite) with non-finite values skipped), \(r.ops.count) ops: "
                + "\(r.gradientEntries) gradient entries, \(r.jacobianEntries) Jacobian entries, \(r.localEntries) local Jacobian entries "
                + "against central differences (\(r.kinks) at kinks not compared); \(r.pathSums) sums over paths, \(r.shapeChains) :shapes chains; "
                + "\(r.failures.count) failures; \(String(format: "%.1f", Date().timeIntervalSince(start))) s"
        }
        let (report, shrunk) = Session.selfCheck(seeds: first..<first + UInt64(programs), size: size) { seed, r in
            if (seed - first + 1) % 10_000 == 0 { print(figures(r)) }
        }
        print(figures(report))
        print("ops: " + report.ops.sorted().joined(separator: " "))
        for (program, failure) in shrunk {
            print("FAILED (\(failure.kind)): \(failure.message)\n  the program, shrunk:\n" + program.lines.map { "    " + $0 }.joined(separator: "\n"))
        }
        return report.failures.isEmpty ? 0 : 1
    }

    /// `nabla check`: each script in a fresh session; a line per script and the totals last,
    /// or a TAP or JUnit report of every :expect, :check and require= (the same exit status).
    static func check(_ paths: [String], seed: UInt64?, format: ReportFormat) -> Int32 {
        var scripts: [CheckedScript] = []
        for path in paths {
            let session = Session(seed: seed)
            session.quiet = true
            let errors = ErrorLines()
            session.output = SessionOutput(out: { if format == .text { print($0) } }, err: { line in
                errors.lines.append(line)
                SessionOutput.standard.err(line)
            })
            let start = Date()
            let ok = session.runFile(path)
            let script = CheckedScript(path: path, outcomes: session.outcomes, passed: session.passed, failed: session.failed,
                                       stopped: ok ? nil : errors.lines.last ?? "stopped by an error", seconds: Date().timeIntervalSince(start))
            scripts.append(script)
            if format == .text { print(script.line) }
        }
        let passed = scripts.reduce(0) { $0 + $1.passed }
        let failed = scripts.reduce(0) { $0 + $1.failed + ($1.stopped == nil ? 0 : 1) }
        switch format {
        case .text: print("\(passed) passed, \(failed) failed")
        case .tap: print(CheckReport.tap(scripts), terminator: "")
        case .junit: print(CheckReport.junit(scripts), terminator: "")
        }
        return failed == 0 ? 0 : 1
    }
}

extension MNISTCommand {
    /// A convolutional architecture (`conv20x5-pool2-...`) rather than an MLP's sizes.
    public var isConvolutional: Bool { arch.contains("conv") || arch.contains("pool") }

    /// The same run as a script: what `nabla mnist` types for you (`:cnn` for an architecture
    /// with convolutions, which holds few images in X and trains in float32).
    /// With `--committee N`, N nets net1 ... netN from seeds seed ... seed+N-1, then `:vote`.
    public var script: String {
        var lines = [
            "seed \(seed)",
            ":data \(dataset)\(count.map { " \($0)" } ?? "")\(data.map { " dir=\($0)" } ?? "")\(download ? " download" : "")"
                + "\(expand ? " expand" : "")\(isConvolutional ? " hold=64" : "")",
        ]
        let names = committee == 1 ? [""] : (1...committee).map(String.init)
        for (k, suffix) in names.enumerated() {
            if k > 0 { lines.append("seed \(seed + UInt64(k))") }
            lines += [
                isConvolutional ? ":cnn net\(suffix) \(arch) act=relu\(dropout > 0 ? " dropout=\(dropout)" : "")"
                    : ":mlp net\(suffix) \(arch) act=relu init=he out=linear",
                "L\(suffix) = cross_entropy(net\(suffix), Y)",
                ":train L\(suffix) epochs=\(epochs) batch=\(batch) opt=\(opt) lr=\(lr) every=1\(isConvolutional ? " precision=f32" : "")"
                    + (schedule.map { " schedule=\($0)" } ?? "")
                    + (save.map { " checkpoint=\(committee == 1 ? $0 : $0.replacingOccurrences(of: ".npz", with: "\(suffix).npz"))" } ?? ""),
            ]
        }
        if committee > 1 { lines.append(":vote " + names.map { "net\($0)" }.joined(separator: " ")) }
        return lines.joined(separator: "\n")
    }
}

