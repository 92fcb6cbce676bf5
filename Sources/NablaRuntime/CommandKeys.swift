import NablaNN
import NablaSyntax
import NablaTensor

/// One `key=value` argument of a command, declared once: `Settings` parses and checks values
/// by it, and the usage line, `:help NAME` and TAB completion are made from it.
package struct Key: Sendable {
    package enum Kind: Sendable {
        /// A number in a range; the value may be an expression (`lr=1/4`, `lr=eta`).
        case number(ClosedRange<Double>, default: Double?)
        case integer(ClosedRange<Int>, default: Int?)
        case choice([String], default: String?)
        /// Free text (a file, a schedule, an initializer), checked by the command.
        case text(placeholder: String)
    }

    package var name: String
    package var kind: Kind
    package var help: String
    /// How the usage line shows the default when the kind's default is not the whole story
    /// (`every=epochs/10`).
    package var shown: String? = nil

    /// `[lr=0.01]`, `[opt=adam]`, `[checkpoint=FILE]`.
    package var usage: String { "[\(name)=\(shownDefault)]" }

    package var shownDefault: String {
        if let shown { return shown }
        switch kind {
        case let .number(_, d): return d.map { Format.number($0) } ?? "N"
        case let .integer(_, d): return d.map(String.init) ?? "N"
        case let .choice(options, d): return d ?? options.joined(separator: "|")
        case let .text(placeholder): return placeholder
        }
    }

    /// What a value must be, for errors and `:help`.
    package var what: String {
        switch kind {
        case let .number(r, _):
            if r.lowerBound > 0 && r.upperBound >= 1e6 { return "a positive number" }
            return "a number from \(Format.number(r.lowerBound)) to \(Format.number(r.upperBound))"
        case let .integer(r, _):
            // A bound a user may meet is named (nodes up to 50,000,000); one only there to stop
            // overflow is not (epochs up to a million).
            if r.upperBound == 1_000_000 || r.upperBound >= 1 << 40 { return "a whole number ≥ \(r.lowerBound)" }
            return "a whole number from \(r.lowerBound) to \(r.upperBound >= 10_000 ? Format.grouped(Double(r.upperBound)) : String(r.upperBound))"
        case let .choice(options, _): return "one of \(options.joined(separator: ", "))"
        case let .text(placeholder): return placeholder
        }
    }

    /// The values TAB offers after `name=`.
    package var completions: [String] {
        if case let .choice(options, _) = kind { return options }
        return []
    }
}

/// The keys of each command that takes `key=value` arguments.
package enum CommandKeys {
    static package func optimizer(_ kind: OptimizerKind, lr: Double) -> [Key] {
        [
            Key(name: "opt", kind: .choice(OptimizerKind.allCases.map(\.rawValue), default: kind.rawValue), help: "the optimizer (:opt shows its formula and state)"),
            Key(name: "lr", kind: .number(1e-12...1e12, default: lr), help: "the learning rate η"),
            Key(name: "beta", kind: .number(0...0.9999, default: 0.9), help: "β of momentum and Nesterov, Adam's β1, RMSProp's ρ when beta2 is not given"),
            Key(name: "beta2", kind: .number(0...0.999999, default: 0.999), help: "Adam's β2 (RMSProp's ρ, 0.9 by default)"),
            Key(name: "eps", kind: .number(1e-300...1, default: 1e-7), help: "ε of AdaGrad, RMSProp and Adam"),
            Key(name: "eps_form", kind: .choice(EpsilonForm.allCases.map(\.rawValue), default: EpsilonForm.outside.rawValue),
                help: "where ε goes: outside the root, g ⊘ (√s + ε) as PyTorch, Keras and the Adam slide; inside, g ⊘ √(s + δ) as the AdaGrad/RMSProp slide"),
            Key(name: "decay", kind: .number(0...1e3, default: 0), help: "weight decay: λ of the L2 penalty (λθ is added to the gradient), or ζ of decay_form=shrink"),
            Key(name: "decay_form", kind: .choice(DecayForm.allCases.map(\.rawValue), default: DecayForm.l2.rawValue),
                help: "l2: g + λθ (the frameworks' weight_decay); shrink: the slides' θ ← (1 − ζ)(θ + Δθ)"),
        ]
    }

    static package let train: [Key] = [
        Key(name: "epochs", kind: .integer(1...1_000_000, default: 100), help: "passes over the training split"),
        Key(name: "batch", kind: .text(placeholder: "32"), help: "samples per step: a whole number ≥ 1, or all (full batch)"),
    ] + optimizer(.adam, lr: 0.01) + [
        Key(name: "schedule", kind: .text(placeholder: "SPEC"), help: "a learning-rate schedule: power:s, exponential:s, piecewise:e1:lr1,e2:lr2, 1cycle[:max]"),
        Key(name: "patience", kind: .integer(1...100_000, default: nil), help: "early stopping: epochs without a better validation loss (needs val=)", shown: "none"),
        Key(name: "every", kind: .integer(1...1_000_000, default: nil), help: "print a line every N epochs", shown: "epochs/10"),
        Key(name: "checkpoint", kind: .text(placeholder: "FILE.npz"), help: "write the weights after each epoch (atomically)"),
        Key(name: "require", kind: .number(0...1, default: nil), help: "the test accuracy the run must reach, counted as an :expect (a lesson's check fails below it)", shown: "none"),
        Key(name: "precision", kind: .choice(["auto", "f32", "f64"], default: "auto"), help: "f32: the float32 backend; auto picks it for big data"),
    ]

    static package let update: [Key] = optimizer(.sgd, lr: 0.1)

    static package let descend: [Key] = [
        Key(name: "steps", kind: .integer(1...100_000, default: 30), help: "optimizer steps"),
    ] + optimizer(.sgd, lr: 0.1)

    static package let perceptron: [Key] = [
        Key(name: "epochs", kind: .integer(1...100_000, default: 20), help: "passes over the data"),
        Key(name: "lr", kind: .number(1e-9...1e6, default: 1), help: "the learning rate η"),
        Key(name: "out", kind: .choice(["step", "sign"], default: nil),
            help: "step: ŷ ∈ {0, 1} (Rosenblatt); sign: ŷ ∈ {-1, +1} (McCulloch-Pitts); sign when the data is pm1", shown: "step"),
    ]

    static package let schedule: [Key] = [
        Key(name: "lr", kind: .number(1e-12...1e6, default: 0.1), help: "the starting learning rate η0"),
        Key(name: "epochs", kind: .integer(1...1_000_000, default: 100), help: "epochs to show"),
    ]

    static package let data: [Key] = [
        Key(name: "noise", kind: .number(0...100, default: nil), help: "the noise of a generated set (0.1; blobs 0.5)", shown: "0.1"),
        Key(name: "classes", kind: .integer(2...10, default: 3), help: "classes of blobs and spirals"),
        Key(name: "val", kind: .number(0...0.9, default: nil), help: "the share held out for validation (0.2; MNIST and Fashion-MNIST: none unless val= is given)", shown: "0.2"),
        Key(name: "test", kind: .number(0...0.9, default: 0.2), help: "the share held out for testing (MNIST has its own)"),
        Key(name: "seed", kind: .integer(0...(1 << 53), default: nil), help: "draw this set from its own seed", shown: "N"),
        Key(name: "dir", kind: .text(placeholder: "DIR"), help: "the folder of the MNIST files (quote a path with spaces)"),
        Key(name: "hold", kind: .integer(1...10_000_000, default: nil),
            help: "the most training rows X and Y hold (the definitions' window; :train goes through all); hold=64 for a convnet", shown: "2M numbers"),
        Key(name: "target", kind: .text(placeholder: "LAST"), help: "CSV: the target column, by its header name or number (1 is the first, -1 the last)"),
        Key(name: "delimiter", kind: .choice([",", ";", "tab", "|", "space"], default: nil),
            help: "CSV: what separates the cells (default: guessed from the first lines among tab, ; and ,)", shown: "auto"),
        Key(name: "missing", kind: .choice(["refuse", "drop", "mean"], default: "refuse"),
            help: "CSV: a missing feature (empty, NA, NaN, ?): refuse the file, drop the row, or fill in the column's mean"),
    ]

    static package let cnn: [Key] = [
        Key(name: "act", kind: .choice(activations, default: "relu"), help: "the activation after each convolution and hidden dense layer"),
        Key(name: "input", kind: .text(placeholder: "X"), help: "the name the first layer reads (one image per row)"),
        Key(name: "image", kind: .text(placeholder: "1x28x28"), help: "an input row's image as CxHxW (default: a square single-channel image)"),
        Key(name: "dropout", kind: .number(0...0.95, default: 0), help: "dropout after each hidden dense layer (inverted, active in :train)"),
    ]

    static package let reject: [Key] = [
        Key(name: "margin", kind: .number(0...1, default: 0.1), help: "withhold the answer when the two largest class probabilities differ by less"),
        Key(name: "split", kind: .choice(["test", "val", "train"], default: "test"), help: "the images to measure on"),
    ]

    static package let vote: [Key] = [
        Key(name: "split", kind: .choice(["test", "val", "train"], default: "test"), help: "the images to vote on"),
    ]

    static package let mlp: [Key] = [
        Key(name: "act", kind: .choice(activations, default: "tanh"), help: "the hidden layers' activation"),
        Key(name: "out", kind: .choice(activations, default: nil), help: "the output's activation (linear on regression data, sigmoid for one output of two classes, else linear)", shown: "sigmoid"),
        Key(name: "init", kind: .text(placeholder: "glorot"), help: "lecun, glorot, he (each also _uniform), normal:σ, constant:c; he for relu"),
        Key(name: "input", kind: .text(placeholder: "X"), help: "the name the first layer reads"),
        Key(name: "dropout", kind: .number(0...0.95, default: 0), help: "dropout after each hidden layer (inverted, active in :train)"),
    ]

    /// `:limits`: each limit with its default and the most it may be set to.
    static package let limits: [Key] = LimitName.allCases.map { limit in
        let (value, ceiling) = limit.defaultAndCeiling
        return Key(name: limit.rawValue, kind: .integer(1...ceiling, default: value), help: limit.what)
    }

    static package let activations = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "step", "scaled_tanh", "linear", "softmax"]

    /// A usage line: the positional part, then each key with its default.
    static package func usage(_ positional: String, _ keys: [Key]) -> String {
        ([positional] + keys.map(\.usage)).joined(separator: " ")
    }
}

/// The limits `:limits` shows and changes (Session+Limits.swift applies them).
package enum LimitName: String, CaseIterable, Sendable {
    case elements, total, nodes, nesting, height, script

    package var what: String {
        switch self {
        case .elements: return "numbers in one tensor"
        case .total: return "numbers held by all values together"
        case .nodes: return "nodes in the graph"
        case .nesting: return "levels of brackets and operators in an expression"
        case .height: return "operators in a chain (the expression tree's height)"
        case .script: return "bytes of a script file"
        }
    }
}
