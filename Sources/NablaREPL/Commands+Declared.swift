import ArgumentParser
import Foundation

// nabla's command line, declared once with swift-argument-parser: `--help` for each command,
// `--opt=value`, validation, did-you-mean and shell completion
// (`nabla --generate-completion-script bash|zsh|fish`) all come from these declarations.
// Each command's `status()` (in CommandLineTool.swift) does the work and gives the exit status.

/// `nabla`: the root; with no command it runs `nabla run`.
public struct NablaCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "nabla",
        abstract: "∇ a live computational graph for neural-network courses: forward values, gradients, Jacobians, training.",
        discussion: """
            nabla                      the REPL (a script piped in runs without prompts)
            nabla FILE.nabla           run a script (the same as nabla run FILE.nabla)
            nabla -e 'x = 2' -e 'x^2'  evaluate lines
            options of these: --seed N, --no-color (nabla run --help)
            Inside nabla, :help lists every command and function.
            Shell completion: nabla --generate-completion-script bash|zsh|fish
            """,
        version: CommandLineTool.version,
        subcommands: [Run.self, Check.self, Replay.self, MNISTCommand.self, SelfCheckCommand.self],
        defaultSubcommand: Run.self)
    public init() {}
}

/// What every session takes: its seed and whether it may colour.
public struct SessionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The seed of the session's random draws (randn, he, :data, :mlp).", valueName: "n"))
    public var seed: UInt64?

    @Flag(name: .customLong("no-color"), help: "No colour (NO_COLOR=1 or TERM=dumb do the same).")
    public var noColor = false

    public init() {}
}

/// `nabla [FILE]`, `nabla -e LINE`: the REPL, a script, or lines.
public struct Run: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start the REPL, run a script, or evaluate lines (what `nabla` alone does).",
        discussion: "nabla FILE.nabla prints what the REPL would print and stops at the first error with exit status 1.")

    @Argument(help: ArgumentHelp("A script to run; none or -: the REPL (or standard input when it is piped).", valueName: "file"),
              completion: .file(extensions: ["nabla"]))
    public var file: String?

    @Option(name: .customShort("e"), help: ArgumentHelp("A line to evaluate; repeat for more: -e 'x = 2' -e 'x^2'.", valueName: "line"))
    public var lines: [String] = []

    @OptionGroup public var session: SessionOptions

    public init() {}

    public func validate() throws {
        if file != nil && !lines.isEmpty { throw ValidationError("give either -e lines or a file, not both") }
        if let file, !file.contains("."), !file.contains("/"), !FileManager.default.fileExists(atPath: file),
           let near = CommandLineTool.nearCommand(file) {
            throw ValidationError("'\(file)' is not a command or a file name; did you mean 'nabla \(near)'?")
        }
    }
}

/// `nabla check FILE...`
public struct Check: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Run scripts and verify every :expect; the last line is 'N passed, N failed'.",
        discussion: "Exit status 0 when every :expect passed, 1 otherwise. --format tap or junit writes a report for autograders instead of the lines (the exit status is the same).")

    @Argument(help: ArgumentHelp("The scripts, each in a fresh session.", valueName: "file"), completion: .file(extensions: ["nabla"]))
    public var files: [String]

    @Option(help: "How to report: text (a line per script), tap (Test Anything Protocol 13) or junit (JUnit XML).")
    public var format: ReportFormat = .text

    @OptionGroup public var session: SessionOptions

    public init() {}
}

/// How `nabla check` reports.
public enum ReportFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, tap, junit
}

/// `nabla replay FILE`
public struct Replay: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Step through a lesson: Enter continues, b goes back, q quits, and a line of your own runs in the lesson's session.")

    @Argument(help: ArgumentHelp("The lesson, e.g. Lessons/01-neuron.nabla.", valueName: "lesson"), completion: .file(extensions: ["nabla"]))
    public var lesson: String

    @OptionGroup public var session: SessionOptions

    public init() {}
}

/// `nabla selfcheck`
public struct SelfCheckCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "selfcheck",
        abstract: "Check random programs' gradients, Jacobians, :explain and :shapes against finite differences.")

    @Option(help: "How many random programs.") public var programs = 1000
    @Option(help: "The first program's seed; the others follow.") public var seed: UInt64 = 1
    @Option(help: "The size of each program (1 to 200).") public var size = 8

    public init() {}

    public func validate() throws {
        guard programs >= 0 else { throw ValidationError("--programs needs a whole number ≥ 0") }
        guard (1...200).contains(size) else { throw ValidationError("--size is from 1 to 200") }
        guard seed < 1 << 62 else { throw ValidationError("--seed needs a smaller number") }
    }
}

/// The optimizers `nabla mnist --opt` takes.
public enum OptimizerName: String, ExpressibleByArgument, CaseIterable, Sendable {
    case sgd, momentum, nesterov, adagrad, rmsprop, adam
}

/// The data sets `nabla mnist --dataset` takes.
public enum DatasetName: String, ExpressibleByArgument, CaseIterable, Sendable {
    case mnist, fashion
}

/// `nabla mnist`: trains an MLP or a convnet on MNIST from the command line.
public struct MNISTCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mnist",
        abstract: "Train an MLP or a convnet on MNIST or Fashion-MNIST; the last line is 'test accuracy: NN.NN%'.",
        discussion: """
            The files are looked for in --data, then $NABLA_DATA, then $XDG_CACHE_HOME/nabla/mnist
            (else ~/.cache/nabla/mnist), where --download puts them.
            --arch conv20x5-pool2-conv40x5-pool2-100-10 builds a convnet, as :cnn does, and trains it in float32.
            """)

    @Option(help: ArgumentHelp("The folder with the four IDX files (.gz or not).", valueName: "dir"), completion: .directory)
    public var data: String?
    @Option(help: "mnist or fashion.") public var dataset: DatasetName = .mnist
    @Option(help: "The layer sizes (784-256-10) or a convnet (conv20x5-pool2-conv40x5-pool2-100-10).") public var arch = "784-256-10"
    @Option(help: "Passes over the training set.") public var epochs = 10
    @Option(help: "Samples per step.") public var batch = 128
    @Option(help: "The optimizer.") public var opt: OptimizerName = .sgd
    @Option(help: "The learning rate.") public var lr = 0.1
    @Option(help: ArgumentHelp("A learning-rate schedule: power:s, exponential:s, piecewise:e1:lr1,e2:lr2, 1cycle[:max].", valueName: "spec"))
    public var schedule: String?
    @Option(help: "A convnet's dropout rate on its hidden fully connected layers (0 to 0.9).") public var dropout = 0.0
    @Option(help: "The seed of the initial weights and the shuffles.") public var seed: UInt64 = 1
    @Option(help: ArgumentHelp("Save the weights after each epoch (numpy reads them).", valueName: "file.npz"), completion: .file(extensions: ["npz"]))
    public var save: String?
    @Option(help: "Train on the first N training images only (at least 4).") public var count: Int?
    @Flag(help: "Download the files (checked by MD5) into ~/.cache/nabla when they are not found.") public var download = false
    @Flag(help: "Add the training images moved by one pixel each way (5x the images), as the course's slide.") public var expand = false
    @Option(help: "Train N nets (seeds seed, seed+1, ...) and let them vote (1 to 20).") public var committee = 1
    @Flag(name: .customLong("no-color"), help: "No colour.") public var noColor = false

    public init() {}

    public func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs needs a whole number ≥ 1") }
        guard batch >= 1 else { throw ValidationError("--batch needs a whole number ≥ 1") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr needs a positive number") }
        guard seed < 1 << 53 else { throw ValidationError("--seed needs a whole number from 0 to 2^53") }
        guard (1...20).contains(committee) else { throw ValidationError("--committee needs a number of nets from 1 to 20") }
        guard count.map({ $0 >= 4 }) ?? true else { throw ValidationError("--count needs a whole number ≥ 4") }
        guard (0...0.9).contains(dropout) else { throw ValidationError("--dropout is a rate from 0 to 0.9") }
        guard dropout == 0 || isConvolutional else { throw ValidationError("--dropout is for a convnet's --arch (conv...)") }
        for (name, path) in [("--data", data), ("--save", save), ("--schedule", schedule)] {
            if let path, path.contains(where: { $0.isWhitespace || $0 == "\"" }) {
                throw ValidationError("\(name): spaces and quotes are not supported here (use a script with :data ... dir=)")
            }
        }
    }
}
