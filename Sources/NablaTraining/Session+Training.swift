import NablaRuntime
import NablaTeaching
import Foundation
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor


/// How a loss's prediction is read as a class.
enum PredictionKind {
    /// `bce(P, Y)`, or `mse` on 0/1 targets: P > 0.5.
    case probability
    /// `cross_entropy(logits, Y)`: the largest logit.
    case argmax
    /// `logistic_loss(z, Y)`, `hinge(z, Y)` with Y in {-1, +1}: the sign of z.
    case sign
}

extension Session {
    /// How many rows of `set` the graph holds at once (all of them when it is small): up to
    /// `heldNumbers` numbers for the training split and for evaluation windows.
    func heldRows(_ set: Dataset, numbers: Int? = nil) -> Int {
        let limit = numbers ?? heldNumbers
        guard set.count * set.features > limit else { return set.count }
        let rows = Swift.max(1, limit / Swift.max(set.features, 1))
        return rows >= 1000 ? rows / 1000 * 1000 : rows
    }

    /// A validation or test split in X_val, X_test (or in X after `:use test`) is held up to four
    /// times as many numbers as training's window: MNIST's 10,000 test images fit whole, so
    /// `:use test` then `accuracy(net, Y)` is the test accuracy.
    var heldSplitNumbers: Int { heldNumbers * 4 }

    /// What X and Y hold for `set`: the whole split, or its first `heldRows` rows.
    func held(_ set: Dataset, numbers: Int? = nil) -> Dataset {
        let rows = heldRows(set, numbers: numbers)
        return rows == set.count ? set : set.rows(0..<rows)
    }

    /// `set` cut into windows the graph can hold (one when it is small), made one at a time.
    func chunks(_ set: Dataset) -> LazyMapSequence<StrideTo<Int>, Dataset> {
        let rows = heldRows(set)
        return stride(from: 0, to: set.count, by: rows).lazy.map { start in
            rows >= set.count ? set : set.rows(start..<Swift.min(start + rows, set.count))
        }
    }
}


extension Session {
    // MARK: - Values defined by commands

    /// Defines (or redefines) `name` as a stored value: an input, or a param when `isParam`.
    /// `text` is how `:vars` describes it; `:save` writes the value itself.
    package func defineValue(_ name: String, _ value: Tensor, isParam: Bool, text: String, at range: SourceRange) throws(Diagnostic) {
        if Builtins.byName[name] != nil || Builtins.isKeyword(name) {
            throw Diagnostic(.error, "'\(name)' is a built-in name; choose another", at: range)
        }
        let leaf = graph.addLeaf(isParam ? .param : .constant, value: value, label: isParam ? name : text)
        if let refusal = heldRefusal(at: range) {
            graph.remove([leaf])
            throw refusal
        }
        origins[leaf] = NodeOrigin(range: range, source: currentSource)
        let expr = Expr(.name(text), range: range, text: text, height: 1)
        try install(name, root: leaf, created: [leaf], expr: expr, isParam: isParam, reads: [], nameRange: range, storesValue: true)
        version += 1
    }

    /// The leaf holding a name's value, when the name is an input or a param defined by a value.
    func valueLeaf(_ name: String) -> NodeID? {
        guard let d = definitions[name], let root = graph[d.slot].inputs.first, graph[root].op.isLeaf else { return nil }
        return root
    }

    // MARK: - :data

    /// The data sets `:data` loads (TAB completes them).
    package static let dataKinds = ["moons", "circles", "blobs", "spirals", "xor", "and", "or", "nand", "regression", "csv", "mnist", "fashion"]

    package static let dataUsage = CommandKeys.usage(":data moons|circles|blobs|spirals|xor|and|or|regression|csv FILE|mnist|fashion [n] [pm1] [expand] [standardize]", CommandKeys.data)

    package func dataCommand(_ args: CommandArguments) throws(Diagnostic) {
        let s = settings(args, CommandKeys.data, usage: Session.dataUsage)
        try s.check()
        guard let (kind, kindRange) = s.positional.first else { throw args.missing("a data set", usage: Session.dataUsage) }
        var rest = Array(s.positional.dropFirst())
        let pm1 = rest.contains { $0.0 == "pm1" }
        rest.removeAll { $0.0 == "pm1" }
        let standardize = rest.contains { $0.0 == "standardize" || $0.0 == "standardise" }
        rest.removeAll { $0.0 == "standardize" || $0.0 == "standardise" }
        for key in ["target", "delimiter", "missing"] where kind != "csv" {
            if let (_, range) = s.string(key) { throw Diagnostic(.error, "\(key)= is for :data csv", at: range) }
        }
        if let (_, range) = rest.first(where: { $0.0 == "expand" }), kind != "mnist" && kind != "fashion" {
            throw Diagnostic(.error, "expand moves images by one pixel: it is for :data mnist and :data fashion", at: range)
        }
        // seed= is checked like any declared key (a whole number from 0 to 2^53, or an expression).
        let ownSeed = s.values["seed"] == nil ? nil : UInt64(try s.integer("seed"))
        var local = ownSeed.map { RandomSource(seed: $0) } ?? random
        let noise = try s.number("noise", default: kind == "blobs" ? 0.5 : 0.1)
        var n = kind == "mnist" || kind == "fashion" ? 60_000 : 200
        if let (text, range) = rest.first(where: { $0.0 != "download" && $0.0 != "expand" }), kind != "csv" {
            guard let v = Int(text), v >= 4, v <= 1_000_000 else {
                throw Diagnostic(.error, "the number of samples must be a whole number from 4 to 1,000,000", at: range)
            }
            n = v
        }
        var dataset: Dataset
        switch kind {
        case "and", "or", "xor", "nand":
            dataset = Dataset.truthTable(kind) ?? Dataset(x: Tensor.zeros([0, 2]), y: Tensor.zeros([0, 1]), classes: 2, name: kind)
        case "moons": dataset = Dataset.moons(n, noise: noise, random: &local)
        case "circles": dataset = Dataset.circles(n, noise: noise, random: &local)
        case "blobs": dataset = Dataset.blobs(n, noise: noise, random: &local)
        case "spirals":
            let k = try s.integer("classes")
            dataset = Dataset.spirals(n, classes: k, noise: noise, random: &local)
        case "regression": dataset = Dataset.regression(n, noise: noise, random: &local)
        case "mnist", "fashion":
            try dataMNIST(kind, n: n, settings: s, rest: rest, kindRange: kindRange, args: args, random: &local)
            return
        case "csv":
            dataset = try dataCSV(rest, settings: s, args: args)
        default:
            let kinds = Session.dataKinds
            var message = "unknown data set '\(kind)'"
            if let near = Suggest.nearest(kind, among: kinds) { message += " (did you mean '\(near)'?)" }
            throw Diagnostic(.error, message + " (there are: \(kinds.joined(separator: ", ")))", at: kindRange)
        }
        if pm1 { dataset = dataset.plusMinusOne() }
        try splitAndInstall(dataset, kind: kind, pm1: pm1, standardize: standardize, settings: s, args: args, random: &local)
    }

    /// MNIST or Fashion-MNIST: the official split (the first n training images and the 10,000
    /// test images), a validation split cut at random when asked, and the offer to download.
    func dataMNIST(
        _ kind: String, n: Int, settings s: Settings, rest: [(String, SourceRange)], kindRange: SourceRange,
        args: CommandArguments, random local: inout RandomSource
    ) throws(Diagnostic) {
        var folder = s.string("dir")
        if rest.contains(where: { $0.0 == "download" }) {
            folder = (try downloadMNIST(fashion: kind == "fashion", at: kindRange), kindRange)
        }
        let train: Dataset, test: Dataset
        do {
            (train, test) = try loadMNIST(fashion: kind == "fashion", count: n, dir: folder, at: kindRange)
        } catch {
            // At a prompt, offer to fetch the files (the error has said where they go).
            if interactive, folder == nil, error.message.contains("is not here") {
                let again = args.text + " download"
                pending = PendingInteraction(prompt: "download the four files now (about 11 MB)? [y/N] ") { [unowned self] answer in
                    if answer.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix("y") {
                        let line = ":data " + again
                        let source = SourceText(file: nil, text: line, firstLine: 1)
                        let args = CommandArguments(
                            name: "data", nameRange: SourceRange(start: .init(line: 1, column: 2), end: .init(line: 1, column: 6), offsets: 1..<5),
                            text: again, start: SourceLocation(line: 1, column: 7))
                        let previous = self.currentSource
                        self.currentSource = source
                        defer { self.currentSource = previous }
                        do throws(Diagnostic) {
                            try self.making(line) { () throws(Diagnostic) in try self.dataCommand(args) }
                        } catch { self.report(error, in: source) }
                        self.reportNonFinite()
                    }
                    return false
                }
            }
            throw error
        }
        let val = try s.number("val", default: 0)
        let nVal = Int((Double(train.count) * val).rounded())
        var parts = TrainingData(train: train, validation: nil, test: test)
        if nVal > 0 {
            // A validation split is cut at random; without one the data is not copied.
            var order = Array(0..<train.count)
            local.shuffle(&order)
            parts = TrainingData(train: train.rows(order[nVal...]), validation: train.rows(order[..<nVal]), test: test)
        }
        if rest.contains(where: { $0.0 == "expand" }) {
            // The slide's expansion: each training image also moved by one pixel up, down, left and right.
            parts.train = parts.train.displacedByOnePixel(side: Int(Double(parts.train.features).squareRoot().rounded()))
        }
        if s.values["seed"] == nil { random = local }
        parts.holdRows = s.values["hold"] == nil ? nil : try s.integer("hold")
        try install(parts, kind: kind, at: args.wholeRange)
        let held = data?.heldTrain.count ?? heldRows(parts.train)
        let expanded = parts.train.count > train.count - nVal ? " (expanded 5x by one-pixel displacements)" : ""
        say("\(kind): \(parts.train.count) training images\(expanded)\(nVal > 0 ? ", \(nVal) validation" : ""), \(test.count) test; "
            + "X [\(held), \(parts.train.features)] in [0, 1], Y class indices 0...9; X_test, Y_test"
            + (held < parts.train.count ? "\n(X and Y hold the first \(held) training images: :train and its figures go through all \(parts.train.count) in batches)" : ""))
    }

    /// `:data csv FILE [target=] [delimiter=] [missing=] [standardize]`: read bounded and
    /// interruptibly, parsed as RFC 4180 CSV; what was decided (a header, text labels as
    /// classes, rows dropped, means filled in, the standardisation) is said.
    func dataCSV(_ rest: [(String, SourceRange)], settings s: Settings, args: CommandArguments) throws(Diagnostic) -> Dataset {
        let usage = ":data csv FILE [target=NAME|N] [delimiter=,|;|tab] [missing=refuse|drop|mean] [standardize]"
        guard let (file, fileRange) = rest.first else { throw args.missing("a CSV file", usage: usage) }
        let path = resolvePath(file)
        let bytes: Data
        do {
            bytes = try SafeFile.read(path, limit: TensorLimits.maxElements * 32, limitName: "elements=\(TensorLimits.maxElements) (:data csv reads up to 32 bytes a number)", isInterrupted: isInterrupted)
        } catch {
            throw Diagnostic(.error, error.message, at: fileRange)
        }
        guard let text = String(data: bytes, encoding: .utf8) else { throw Diagnostic(.error, "'\(file)' is not UTF-8 text", at: fileRange) }
        var options = CSVOptions(target: s.string("target")?.0)
        switch try s.choice("delimiter") {
        case "tab": options.delimiter = "\t"
        case "space": options.delimiter = " "
        case let d?: options.delimiter = d.first
        case nil: break
        }
        switch try s.choice("missing") {
        case "drop": options.missing = .dropRows
        case "mean": options.missing = .mean
        default: options.missing = .refuse
        }
        do {
            let (dataset, notes) = try Dataset.csv(text, name: file, options: options, isInterrupted: isInterrupted)
            for note in notes { say(note) }
            return dataset
        } catch {
            throw Diagnostic(.error, "\(file): \(error.description)", at: fileRange)
        }
    }

    /// Every split's features moved to the training split's mean 0 and standard deviation 1
    /// (the population sd, as numpy's std; a constant feature is only centred): the
    /// validation and test samples are scaled by the training split's figures, not their own.
    func standardized(_ t: TrainingData) -> TrainingData {
        let x = t.train.x, n = x.rows, k = x.cols
        var mean = [Double](repeating: 0, count: k), sd = [Double](repeating: 0, count: k)
        for i in 0..<n { for j in 0..<k { mean[j] += x.scalars[i * k + j] / Double(n) } }
        for i in 0..<n { for j in 0..<k { sd[j] += (x.scalars[i * k + j] - mean[j]) * (x.scalars[i * k + j] - mean[j]) / Double(n) } }
        sd = sd.map { $0.squareRoot() }
        func scaled(_ d: Dataset) -> Dataset {
            let v = d.x.scalars.enumerated().map { i, value in sd[i % k] > 0 ? (value - mean[i % k]) / sd[i % k] : value - mean[i % k] }
            var out = Dataset(x: Tensor(shape: d.xShape, scalars: v), y: d.y, classes: d.classes, name: d.name)
            (out.classValues, out.classNames) = (d.classValues, d.classNames)
            return out
        }
        say("standardised \(k) feature\(k == 1 ? "" : "s") with the training split's mean and sd: mean "
            + mean.map { Format.number($0) }.joined(separator: ", ") + "; sd " + sd.map { Format.number($0) }.joined(separator: ", "))
        var out = TrainingData(train: scaled(t.train), validation: t.validation.map(scaled), test: t.test.map(scaled))
        out.holdRows = t.holdRows
        return out
    }

    /// A generated or read data set split into training, validation and test, defined as
    /// X, Y (and X_val, ...), and described in one line.
    func splitAndInstall(
        _ dataset: Dataset, kind: String, pm1: Bool, standardize: Bool = false, settings s: Settings, args: CommandArguments, random local: inout RandomSource
    ) throws(Diagnostic) {
        let small = dataset.count <= 8
        let val = try s.number("val", default: small ? 0 : 0.2)
        let test = try s.number("test", default: small ? 0 : 0.2)
        guard val + test < 1 else { throw Diagnostic(.error, "val + test must leave some data for training", at: args.wholeRange) }
        let parts = small ? (dataset, nil, nil) : {
            let p = dataset.split(validation: val, test: test, random: &local)
            return (p.train, p.validation.count > 0 ? p.validation : nil, p.test.count > 0 ? p.test : nil)
        }()
        if s.values["seed"] == nil { random = local }
        guard parts.0.count > 0 else {
            throw Diagnostic(.error, "val=\(Format.number(val)) and test=\(Format.number(test)) leave no sample of \(dataset.count) for training", at: args.wholeRange)
        }
        var training = TrainingData(train: parts.0, validation: parts.1, test: parts.2)
        if standardize { training = standardized(training) }
        training.holdRows = s.values["hold"] == nil ? nil : try s.integer("hold")
        try install(training, kind: kind, at: args.wholeRange)
        let held = data?.heldTrain.count ?? heldRows(training.train)
        let what = (dataset.classes.map { $0 == 2 ? "2 classes (Y is [N, 1]: \(pm1 ? "-1/+1" : "0/1"))" : "\($0) classes (Y holds class indices)" } ?? "regression (Y is [N, 1])")
            + (dataset.classValues.map { values in
                ", numbered from the file's targets: " + values.enumerated().map { "\(Format.number($0.element)) → \($0.offset)" }.joined(separator: ", ")
            } ?? "")
        let window = data?.heldTrain ?? training.train
        var sizes = "X \(Shape.describe(window.xShape)), Y \(Shape.describe(window.y.shape))"
        if held < training.train.count { sizes += " (the first \(held) of \(training.train.count) training samples; :train goes through all)" }
        if let v = training.validation { sizes += "; X_val, Y_val: \(v.count) samples" }
        if let t = training.test { sizes += "; X_test, Y_test: \(t.count) samples" }
        say("\(kind): \(dataset.count) samples, \(dataset.features) feature\(dataset.features == 1 ? "" : "s"), \(what); \(sizes)")
    }

    /// Defines X, Y and the splits' X_val, Y_val, X_test, Y_test, and remembers the data.
    func install(_ training: TrainingData, kind: String, at origin: SourceRange) throws(Diagnostic) {
        // X and Y change together (one all-or-nothing update when both hold data already),
        // so a new data set never leaves one of them behind.
        var train = held(training.train)
        if let rows = training.holdRows, rows < train.count { train = train.rows(0..<rows) }
        if let x = valueLeaf("X"), let y = valueLeaf("Y"), graph[x].op == .constant, graph[y].op == .constant {
            do {
                try graph.setValues([(x, train.x), (y, train.y)])
            } catch {
                throw Diagnostic(.error, "the new data does not fit what reads X and Y: \(describe(error))", at: origin)
            }
            noteMade(["X", "Y"])
            version += 1
        } else {
            try defineValue("X", train.x, isParam: false, text: "\(kind) inputs", at: origin)
            try defineValue("Y", train.y, isParam: false, text: "\(kind) targets", at: origin)
        }
        for (suffix, part) in [("val", training.validation), ("test", training.test)] {
            guard let part = part.map({ held($0, numbers: heldSplitNumbers) }) else { continue }
            try defineValue("X_\(suffix)", part.x, isParam: false, text: "\(kind) \(suffix) inputs", at: origin)
            try defineValue("Y_\(suffix)", part.y, isParam: false, text: "\(kind) \(suffix) targets", at: origin)
        }
        data = training
        if train.count < training.train.count { data?.trainWindow = train }
    }

    // MARK: - :mlp

    /// The output a net gets when `out=` is not given: the identity on regression data (the
    /// course's regression output), a sigmoid for one output of two classes, and linear logits
    /// (for softmax and cross_entropy) otherwise.
    func defaultOutput(_ outputs: Int, input: String) -> (String, String) {
        if let data, input == data.xName {
            switch data.train.classes {
            case nil: return ("linear", "the data is regression")
            case 2? where outputs == 1: return ("sigmoid", "one output for 2 classes")
            case _?: return ("linear", "logits for cross_entropy")
            }
        }
        return outputs == 1 ? ("sigmoid", "one output") : ("linear", "logits")
    }

    package static let mlpUsage = CommandKeys.usage(":mlp NAME 2-4-1", CommandKeys.mlp)

    /// A net's name (`:mlp`, `:cnn`): letters, digits and _, not a built-in.
    static func checkNetName(_ name: String, at range: SourceRange) throws(Diagnostic) {
        guard name.first.map({ $0.isLetter || $0 == "_" }) == true, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw Diagnostic(.error, "'\(name)' is not a name (letters, digits and _)", at: range)
        }
        if Builtins.byName[name] != nil || Builtins.isKeyword(name) {
            throw Diagnostic(.error, "'\(name)' is a built-in name; choose another", at: range)
        }
    }

    package func mlpCommand(_ args: CommandArguments) throws(Diagnostic) {
        let s = settings(args, CommandKeys.mlp, usage: Session.mlpUsage)
        try s.check()
        guard s.positional.count == 2 else { throw args.missing("a name and an architecture such as 2-4-1", usage: Session.mlpUsage) }
        let (name, nameRange) = s.positional[0]
        let (arch, archRange) = s.positional[1]
        try Session.checkNetName(name, at: nameRange)
        let layers = try Session.architecture(arch, at: archRange)
        let act = try s.choice("act") ?? "tanh"
        let input = s.string("input")?.0 ?? "X"
        let (defaultOut, why) = defaultOutput(layers.last ?? 1, input: input)
        let out = try s.choice("out", default: defaultOut) ?? "linear"
        var initializer: Initializer = act == "relu" || act == "leaky_relu" ? .he(uniform: false) : .glorot(uniform: false)
        if let (v, range) = s.string("init") {
            guard let i = Initializer.parse(v) else {
                throw Diagnostic(.error, "unknown initializer '\(v)' (lecun, glorot, he, each also _uniform; normal:0.01; constant:0.5)", at: range)
            }
            initializer = i
        }
        let dropout = try s.number("dropout")
        guard input != name, !(1..<layers.count).contains(where: { "\(name)_h\($0)" == input }) else {
            throw Diagnostic(.error, "the net cannot be called like its input '\(input)'", at: nameRange)
        }
        guard let inputDef = definitions[input] else {
            throw Diagnostic(
                .error, "the input '\(input)' is not defined: load data first (:data moons) or name it with input=", at: args.wholeRange)
        }
        let inputShape = graph.value(inputDef.slot).shape
        guard inputShape.last == layers[0] else {
            throw Diagnostic(
                .error, "the architecture starts with \(layers[0]) inputs but \(input) has shape \(Shape.describe(inputShape)) "
                    + "(\(inputShape.last ?? 1) features)", at: archRange)
        }
        let adopted = adoptLeftovers(ofNet: name, input: input)
        try checkNetNames(name, layers: layers.count - 1, adopted: adopted, at: nameRange)
        var previous = input
        let outText = s.values["out"] == nil ? "\(out) output (\(why); out= to change)" : "\(out) output"
        var lines = ["\(name): \(arch), \(act) hidden layers, \(outText), weights \(initializer.description)"]
        var total = 0
        // Every weight is drawn (and checked against the limits) before the old net is touched.
        var weights: [Tensor] = []
        for k in 1..<layers.count {
            do { weights.append(try initializer.weights(fanIn: layers[k - 1], fanOut: layers[k], random: &random)) } catch {
                throw Diagnostic(.error, error.message, at: archRange)
            }
        }
        try unhookOldNet(name, sizes: layers, inputShape: inputShape, at: archRange)
        // The old layers stay this net's own until the new one is complete, so a failure
        // part-way (a limit, Ctrl-C) leaves a name that :mlp NAME may rebuild.
        let oldLayers = layerNames[name] ?? []
        var built: [String] = []
        defer { layerNames[name] = built.count == layers.count - 1 ? built : Array(Set(oldLayers + built)) }
        for k in 1..<layers.count {
            let (fanIn, fanOut) = (layers[k - 1], layers[k])
            let w = weights[k - 1]
            let wName = "\(name)_W\(k)", bName = "\(name)_b\(k)"
            try defineValue(wName, w, isParam: true, text: "\(initializer.description) [\(fanIn), \(fanOut)]", at: archRange)
            try defineValue(bName, Tensor.zeros([fanOut]), isParam: true, text: "zeros(\(fanOut))", at: archRange)
            total += fanIn * fanOut + fanOut
            let last = k == layers.count - 1
            let f = last ? out : act
            let target = last ? name : "\(name)_h\(k)"
            var body = "dense(\(previous), \(wName), \(bName), \(f))"
            if !last && dropout > 0 { body = "dropout(\(body), \(Format.number(dropout)))" }
            try runDefinition("\(target) = \(body)", quietly: true, at: args)
            built.append(target)
            lines.append("  layer \(k): \(target) = \(body)   W \(Shape.describe([fanIn, fanOut])), b \(Shape.describe([fanOut]))")
            previous = target
        }
        lines.append("  \(total) params; :vars lists them, :train trains them")
        say(lines.joined(separator: "\n"))
    }

    /// `2-4-1`: layer sizes from 1 to 100,000, at most 50,000,000 weights in all.
    static func architecture(_ arch: String, at archRange: SourceRange) throws(Diagnostic) -> [Int] {
        let sizes = arch.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard sizes.count >= 2, sizes.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 100_000 }) else {
            throw Diagnostic(
                .error, "'\(arch)' is not an architecture: layer sizes from 1 to 100,000 joined by '-', like 2-4-1 or 784-256-10",
                at: archRange)
        }
        let layers = sizes.compactMap { $0 }
        var weightCount = 0
        for k in 1..<layers.count { weightCount += layers[k - 1] * layers[k] + layers[k] }
        guard weightCount <= 50_000_000 else {
            throw Diagnostic(.error, "\(arch) has \(weightCount) weights; the limit is 50,000,000", at: archRange)
        }
        return layers
    }

    /// Refuses a net whose names (NAME, NAME_Wk, NAME_bk, NAME_hk) would replace a definition
    /// that an earlier `:mlp NAME` did not make: `:mlp Y 2-4-1` must not eat the labels.
    func checkNetNames(_ name: String, layers: Int, adopted: Bool = false, at range: SourceRange) throws(Diagnostic) {
        let old = layerNames[name] ?? []
        // After :del NAME only what the first net left is its own (a param the user has
        // redefined since is the user's); otherwise its layers and their W and b.
        var own = adopted ? leftovers(ofNet: name) : Set(old)
        if !adopted { for k in 0..<old.count { own.formUnion(["\(name)_W\(k + 1)", "\(name)_b\(k + 1)"]) } }
        var names = [name]
        for k in 1...layers { names += ["\(name)_W\(k)", "\(name)_b\(k)", "\(name)_h\(k)"] }
        for n in names where definitions[n] != nil && !own.contains(n) {
            let what = data.map { n == $0.xName || n == $0.yName } == true ? " (it holds the data of :data)" : ""
            throw Diagnostic(
                .error, "'\(n)' is already defined\(what); :mlp \(name) would replace it. Choose another name for the net", at: range)
        }
    }

    /// What an earlier `:mlp NAME` or `:cnn NAME` made and still holds after `:del NAME` (its
    /// params and layers): a new net of that name may take them over.
    func leftovers(ofNet name: String) -> Set<String> {
        var names: Set<String> = []
        for maker in makers {
            // The net's name is the first word that is not a key=value (`:mlp act=relu net 2-3-1`).
            let words = maker.text.split(separator: " ")
            guard words.first == ":mlp" || words.first == ":cnn" else { continue }
            if words.dropFirst().first(where: { !$0.contains("=") }).map(String.init) == name { names.formUnion(maker.names) }
        }
        return names
    }

    /// After `:del NAME`, the layers the earlier net left are its layers again, so a new
    /// `:mlp NAME` or `:cnn NAME` rebuilds over them as over a net still there. Only when
    /// nothing else reads those layers and the new net does not start from them: a new head
    /// on the old features (`input=net_h2`) or a formula reading `net_h1` would otherwise see
    /// them replaced (a formula reading a param follows the new one). True when it adopted.
    func adoptLeftovers(ofNet name: String, input: String) -> Bool {
        guard layerNames[name] == nil else { return false }
        let left = leftovers(ofNet: name)
        let layers = left.filter { definitions[$0].map { !$0.isParam } ?? false }
        guard !layers.isEmpty, !left.contains(input),
              !definitions.values.contains(where: { !left.contains($0.name) && !$0.dependencies.isDisjoint(with: layers) })
        else { return false }
        func number(_ s: String) -> Int { Int(s.split(separator: "_").last?.drop { !$0.isNumber } ?? "") ?? 0 }
        layerNames[name] = layers.sorted { (number($0), $0) < (number($1), $1) }
        return true
    }

    /// `:mlp NAME` again with other sizes: each old layer first becomes a constant of its new
    /// shape, the output first, so no old formula meets a weight of the new shape (`:mlp net
    /// 2-4-1` then `:mlp net 2-3-1` broke at net_h1). A layer the new net lacks keeps its value.
    func unhookOldNet(_ name: String, sizes: [Int], inputShape: [Int], at range: SourceRange) throws(Diagnostic) {
        guard let old = layerNames[name], !old.isEmpty else { return }
        let lead = Array(inputShape.dropLast())
        for target in old.reversed() {
            guard let d = definitions[target] else { continue }
            // The output takes the new last size, hidden layer k the new size k; a hidden layer
            // the new net lacks keeps its old shape.
            let k = target == name ? sizes.count - 1 : Int(target.dropFirst(name.count + 2)) ?? sizes.count
            let shape = target == name || k < sizes.count - 1 ? lead + [sizes[k]] : graph.value(d.slot).shape
            try defineValue(target, Tensor.zeros(shape), isParam: false, text: "zeros(\(shape.map(String.init).joined(separator: ", ")))", at: range)
        }
    }

    /// Runs a definition made by a command (reported at the command's place if it fails).
    func runDefinition(_ text: String, quietly: Bool, at args: CommandArguments) throws(Diagnostic) {
        let statement: Statement
        do {
            statement = try Parser.parseStatement(text)
        } catch {
            throw Diagnostic(.error, "internal: \(text): \(error.message)", at: args.wholeRange)
        }
        let wasQuiet = quiet
        quiet = quietly || quiet
        defer { quiet = wasQuiet }
        guard case let .definition(name, nameRange, isParam, expr) = statement else {
            throw Diagnostic(.error, "internal: \(text) is not a definition", at: args.wholeRange)
        }
        do {
            try define(name, nameRange: nameRange, isParam: isParam, expr)
        } catch {
            throw Diagnostic(.error, "\(text): \(error.message)", at: args.wholeRange)
        }
    }
}
