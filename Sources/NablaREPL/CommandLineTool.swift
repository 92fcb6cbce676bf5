#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CNablaEdit
import Foundation
import NablaSession

/// What the command line asked for.
public enum Invocation: Equatable {
    /// `nabla`: the REPL on a terminal, else a script read from standard input.
    case interactive
    /// `nabla FILE`
    case script(String)
    /// `nabla check FILE...`
    case check([String])
    /// `nabla replay FILE`
    case replay(String)
    /// `nabla mnist --data DIR ...`: train an MLP on MNIST or Fashion-MNIST from the command line.
    case mnist(MNISTOptions)
    /// `nabla selfcheck [--programs N] [--seed S] [--size K]`: random programs against finite differences.
    case selfcheck(programs: Int, size: Int)
    /// `nabla -e LINE [-e LINE ...]`
    case evaluate([String])
    case help
    case version

    public static let usage = """
        usage: nabla                    start the REPL (or run a script piped to standard input)
               nabla FILE.nabla         run a script and print what the REPL would print
               nabla check FILE...      run scripts, verify every :expect; last line: N passed, N failed
               nabla replay FILE        step through a lesson: Enter continues, b goes back, q quits
               nabla mnist [--data DIR] [--dataset mnist|fashion] [--arch 784-256-10] [--epochs 10]
                           [--batch 128] [--opt sgd] [--lr 0.1] [--seed 1] [--save FILE.npz] [--download]
                           [--expand] [--committee 5]
                           (--arch conv20x5-pool2-conv40x5-pool2-100-10: a convnet, as :cnn builds it)
               nabla selfcheck [--programs 1000] [--seed 1] [--size 8]
                                        check random programs' gradients, Jacobians, :explain and
                                        :shapes against finite differences (docs/reliability.md)
               nabla -e 'LINE' [-e ...] evaluate lines, e.g. nabla -e 'x = 2' -e 'x^2'
               nabla --help | --version
        options: --no-color, --seed N
        """

    /// Parses the arguments (without the program name).
    public static func parse(_ args: [String]) -> Result<(Invocation, seed: UInt64?), ArgumentError> {
        if args.first == "mnist" {
            return MNISTOptions.parse(Array(args.dropFirst())).map { (.mnist($0), $0.seed) }
        }
        if args.first == "selfcheck" {
            var programs = 1000, size = 8
            var seed: UInt64 = 1
            var i = 1
            while i < args.count {
                guard i + 1 < args.count, let n = Int(args[i + 1]), n >= 0 else {
                    return .failure(.init("selfcheck takes --programs N, --seed S and --size K, each a whole number"))
                }
                switch args[i] {
                case "--programs": programs = Swift.min(n, 100_000_000)
                case "--seed": seed = UInt64(n)
                case "--size": size = Swift.min(Swift.max(n, 1), 200)
                default: return .failure(.init("unknown option '\(args[i])' (selfcheck takes --programs, --seed, --size)"))
                }
                i += 2
            }
            return .success((.selfcheck(programs: programs, size: size), seed))
        }
        var rest: [String] = []
        var lines: [String] = []
        var seed: UInt64?
        let args = args.filter { $0 != "--no-color" }
        var i = 0
        while i < args.count {
            let a = args[i]
            switch a {
            case "-h", "--help": return .success((.help, seed))
            case "--version": return .success((.version, seed))
            case "-e":
                guard i + 1 < args.count else { return .failure(.init("-e needs a line to evaluate, as in: nabla -e 'x = 2'")) }
                lines.append(args[i + 1])
                i += 1
            case "--seed":
                guard i + 1 < args.count, let n = UInt64(args[i + 1]) else { return .failure(.init("--seed needs a whole number ≥ 0")) }
                seed = n
                i += 1
            default:
                if a.hasPrefix("-") && a != "-" { return .failure(.init("unknown option '\(a)'")) }
                rest.append(a)
            }
            i += 1
        }
        if !lines.isEmpty {
            guard rest.isEmpty else { return .failure(.init("give either -e lines or a file, not both")) }
            return .success((.evaluate(lines), seed))
        }
        if rest.first == "replay" {
            guard rest.count == 2 else { return .failure(.init("replay needs one lesson, as in: nabla replay Lessons/01-neuron.nabla")) }
            return .success((.replay(rest[1]), seed))
        }
        if rest.first == "check" {
            guard rest.count > 1 else { return .failure(.init("check needs at least one script, as in: nabla check lesson.nabla")) }
            return .success((.check(Array(rest.dropFirst())), seed))
        }
        switch rest.count {
        case 0: return .success((.interactive, seed))
        case 1: return .success((rest[0] == "-" ? .interactive : .script(rest[0]), seed))
        default: return .failure(.init("too many arguments: \(rest.joined(separator: " ")) (to check several scripts: nabla check FILE...)"))
        }
    }
}

/// The options of `nabla mnist`.
public struct MNISTOptions: Equatable, Sendable {
    public var data: String?
    public var dataset = "mnist"
    public var arch = "784-256-10"
    public var epochs = 10
    public var batch = 128
    public var opt = "sgd"
    public var lr = 0.1
    public var seed: UInt64 = 1
    public var save: String?
    public var count: Int?
    public var download = false
    /// `--expand`: the training images also moved by one pixel each way (5x), as the slide.
    public var expand = false
    /// `--committee N`: N nets (seeds seed, seed+1, ...) trained alike, then `:vote`.
    public var committee = 1

    static func parse(_ args: [String]) -> Result<MNISTOptions, ArgumentError> {
        var o = MNISTOptions()
        var i = 0
        while i < args.count {
            let key = args[i]
            if key == "--download" || key == "--expand" {
                if key == "--download" { o.download = true } else { o.expand = true }
                i += 1
                continue
            }
            guard key.hasPrefix("--"), i + 1 < args.count else {
                return .failure(.init("nabla mnist: '\(key)' needs a value, as in --epochs 10"))
            }
            let value = args[i + 1]
            switch key {
            case "--data", "--save":
                guard !value.contains(where: \.isWhitespace) else {
                    return .failure(.init("\(key): paths with spaces are not supported here (use a script with :data ... dir=)"))
                }
                if key == "--data" { o.data = value } else { o.save = value }
            case "--dataset":
                guard ["mnist", "fashion"].contains(value) else { return .failure(.init("--dataset is mnist or fashion")) }
                o.dataset = value
            case "--arch": o.arch = value
            case "--epochs":
                guard let v = Int(value), v >= 1 else { return .failure(.init("--epochs needs a whole number ≥ 1")) }
                o.epochs = v
            case "--batch":
                guard let v = Int(value), v >= 1 else { return .failure(.init("--batch needs a whole number ≥ 1")) }
                o.batch = v
            case "--opt":
                guard ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"].contains(value) else {
                    return .failure(.init("--opt is one of sgd, momentum, nesterov, adagrad, rmsprop, adam"))
                }
                o.opt = value
            case "--lr":
                guard let v = Double(value), v > 0 else { return .failure(.init("--lr needs a positive number")) }
                o.lr = v
            case "--seed":
                guard let v = UInt64(value), v < 1 << 53 else { return .failure(.init("--seed needs a whole number from 0 to 2^53")) }
                o.seed = v
            case "--committee":
                guard let v = Int(value), (1...20).contains(v) else { return .failure(.init("--committee needs a number of nets from 1 to 20")) }
                o.committee = v
            case "--count":
                guard let v = Int(value), v >= 4 else { return .failure(.init("--count needs a whole number ≥ 4")) }
                o.count = v
            default: return .failure(.init("nabla mnist: unknown option '\(key)'"))
            }
            i += 2
        }
        return .success(o)
    }

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
                isConvolutional ? ":cnn net\(suffix) \(arch) act=relu" : ":mlp net\(suffix) \(arch) act=relu init=he out=linear",
                "L\(suffix) = cross_entropy(net\(suffix), Y)",
                ":train L\(suffix) epochs=\(epochs) batch=\(batch) opt=\(opt) lr=\(lr) every=1\(isConvolutional ? " precision=f32" : "")"
                    + (save.map { " checkpoint=\(committee == 1 ? $0 : $0.replacingOccurrences(of: ".npz", with: "\(suffix).npz"))" } ?? ""),
            ]
        }
        if committee > 1 { lines.append(":vote " + names.map { "net\($0)" }.joined(separator: " ")) }
        return lines.joined(separator: "\n")
    }
}

/// A mistake on the command line.
public struct ArgumentError: Error, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

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

    static func dispatch(_ args: [String]) -> Int32 {
        let invocation: Invocation
        let seed: UInt64?
        switch Invocation.parse(args) {
        case let .success((i, s)): (invocation, seed) = (i, s)
        case let .failure(e):
            Terminal.writeError("nabla: \(e.message)\n\(Invocation.usage)\n")
            return 2
        }
        let session = Session(seed: seed)
        let colors = !args.contains("--no-color") && (getenv("NO_COLOR").map { $0.pointee == 0 } ?? true)
        switch invocation {
        case .help:
            print(Invocation.usage)
            return 0
        case .version:
            print("nabla \(version)")
            return 0
        case let .evaluate(lines):
            for (i, line) in lines.enumerated() where !session.runLine(line, lineNumber: i + 1) {
                return 1
            }
            return session.failed == 0 ? 0 : 1
        case let .script(path):
            let ok = session.runFile(path)
            return ok && session.failed == 0 ? 0 : 1
        case let .check(paths):
            return check(paths, seed: seed)
        case let .mnist(options):
            guard session.runScript(options.script, file: "nabla mnist") else { return 1 }
            // Measured on all 10,000 test images at the end of :train, a window at a time.
            guard let accuracy = session.lastTestAccuracy else { return 1 }
            print("test accuracy: \(String(format: "%.2f", accuracy * 100))%\(options.committee > 1 ? " (the committee of \(options.committee) nets)" : "")")
            return 0
        case let .selfcheck(programs, size):
            return selfcheck(programs: programs, first: seed ?? 1, size: size)
        case let .replay(path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                Terminal.writeError("nabla: cannot read '\(path)'\n")
                return 1
            }
            let replay = Replay(
                lesson: Lesson(text: text, file: path),
                makeSession: { Session(seed: seed ?? 42) },
                readKey: { readLine() },
                write: { print($0) })
            return replay.run() ? 0 : 1
        case .interactive:
            if Terminal.isInteractive {
                session.interactive = true
                session.colors = colors
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

    /// `nabla check`: each script in a fresh session; a line per script; the totals last.
    static func check(_ paths: [String], seed: UInt64?) -> Int32 {
        var passed = 0, failed = 0
        for path in paths {
            let session = Session(seed: seed)
            session.quiet = true
            let ok = session.runFile(path)
            passed += session.passed
            failed += session.failed + (ok ? 0 : 1)
            let mark = ok && session.failed == 0 ? "✓" : "✗"
            var line = "\(mark) \(path): \(session.passed) passed, \(session.failed) failed"
            if !ok { line += ", stopped by an error" }
            if ok && session.passed + session.failed == 0 { line += " (no :expect in it)" }
            print(line)
        }
        print("\(passed) passed, \(failed) failed")
        return failed == 0 ? 0 : 1
    }
}

