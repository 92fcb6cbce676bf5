import NablaRuntime
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

/// One layer of `:cnn`'s architecture: `conv20x5` (20 maps of 5x5, `s2` stride, `p2` padding),
/// `pool2` (max; also `avgpool2`, `l2pool2`), or a number: a dense layer of that many units.
enum CNNLayer: Equatable {
    case conv(maps: Int, size: Int, stride: Int, pad: Int)
    case pool(PoolKind, size: Int)
    case dense(Int)

    /// `conv20x5s1p2`, `maxpool2`, `128`; nil when the token is none of them.
    static func parse(_ token: Substring) -> CNNLayer? {
        if let n = Int(token), n >= 1, n <= 100_000 { return .dense(n) }
        for (prefix, kind) in [("maxpool", PoolKind.max), ("avgpool", .avg), ("l2pool", .l2), ("pool", .max)] where token.hasPrefix(prefix) {
            guard let size = Int(token.dropFirst(prefix.count)), size >= 1, size <= 64 else { return nil }
            return .pool(kind, size: size)
        }
        guard token.hasPrefix("conv") else { return nil }
        // maps "x" size, then optional s<stride> and p<pad>.
        var rest = token.dropFirst(4)
        func number() -> Int? {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(digits.count)
            return digits.isEmpty || digits.count > 6 ? nil : Int(digits)
        }
        guard let maps = number(), rest.first == "x" else { return nil }
        rest = rest.dropFirst()
        guard let size = number() else { return nil }
        var stride = 1, pad = 0
        while let letter = rest.first {
            rest = rest.dropFirst()
            guard let v = number() else { return nil }
            switch letter {
            case "s": stride = v
            case "p": pad = v
            default: return nil
            }
        }
        guard (1...4096).contains(maps), (1...64).contains(size), (1...64).contains(stride), (0...64).contains(pad) else { return nil }
        return .conv(maps: maps, size: size, stride: stride, pad: pad)
    }
}

extension Session {
    package static let cnnUsage = CommandKeys.usage(":cnn NAME conv20x5-pool2-conv40x5-pool2-100-10", CommandKeys.cnn)

    /// `:cnn NAME ARCH`: a convolutional net in one line, as `:mlp` builds an MLP: params
    /// NAME_K1, NAME_c1 (kernels [F, C, k, k], a bias per map), NAME_W3, NAME_b3 (dense), layers
    /// NAME_h1, ... and NAME, the output's logits.
    package func cnnCommand(_ args: CommandArguments) throws(Diagnostic) {
        let s = settings(args, CommandKeys.cnn, usage: Session.cnnUsage)
        try s.check()
        guard s.positional.count == 2 else { throw args.missing("a name and an architecture such as conv20x5-pool2-100-10", usage: Session.cnnUsage) }
        let (name, nameRange) = s.positional[0]
        let (arch, archRange) = s.positional[1]
        try Session.checkNetName(name, at: nameRange)
        let layers = try Session.cnnArchitecture(arch, at: archRange)
        let input = s.string("input")?.0 ?? "X"
        guard input != name else { throw Diagnostic(.error, "the net cannot be called like its input '\(input)'", at: nameRange) }
        guard let inputDef = definitions[input] else {
            throw Diagnostic(.error, "the input '\(input)' is not defined: load data first (:data mnist hold=64) or name it with input=", at: args.wholeRange)
        }
        let features = graph.value(inputDef.slot).shape.last ?? 1
        let image = try imageShape(s.string("image"), features: features, at: archRange)
        let act = try s.choice("act") ?? "relu"
        // Every layer's shape is checked before any weight is drawn: a refused net leaves the
        // session's random numbers where they were.
        var probe = RandomSource(seed: 0)
        swap(&probe, &random)
        let checked = Result { () throws(Diagnostic) in try cnnPlan(layers, image: image, act: act, name: name, input: input, at: archRange) }
        swap(&probe, &random)
        if case let .failure(error) = checked { throw error }
        var plan = try cnnPlan(layers, image: image, act: act, name: name, input: input, at: archRange)
        let dropout = try s.number("dropout")
        if dropout > 0 {
            // After each hidden dense layer, as the slide's net drops out before its last layers.
            for (i, (target, body)) in plan.layers.enumerated() where body.hasPrefix("dense(") && target != name {
                plan.layers[i].1 = "dropout(\(body), \(Format.number(dropout)))"
                plan.lines[i] = plan.lines[i].replacingOccurrences(of: " = \(body)", with: " = dropout(\(body), \(Format.number(dropout)))")
            }
        }
        let adopted = adoptLeftovers(ofNet: name, input: input)
        try checkCNNNames(name, plan: plan, adopted: adopted, at: nameRange)
        try unhookOldNet(name, sizes: [features, plan.outputs], inputShape: graph.value(inputDef.slot).shape, at: archRange)
        // The old layers stay this net's own until the new one is complete (as :mlp keeps them).
        let oldLayers = layerNames[name] ?? []
        var built: [String] = []
        defer { layerNames[name] = built.count == plan.layers.count ? built : Array(Set(oldLayers + built)) }
        for (param, value, text) in plan.params { try defineValue(param, value, isParam: true, text: text, at: archRange) }
        for (target, body) in plan.layers {
            try runDefinition("\(target) = \(body)", quietly: true, at: args)
            built.append(target)
        }
        say(([
            "\(name): \(arch) on \(image.map(String.init).joined(separator: "x")) images, \(act) after each convolution and hidden dense layer, linear output (logits for cross_entropy)",
        ] + plan.lines + ["  \(plan.total) params; :vars lists them, :train trains them (precision=f32 on the tape)"]).joined(separator: "\n"))
    }

    /// Refuses a net whose names would replace definitions an earlier `:cnn NAME` did not make.
    func checkCNNNames(_ name: String, plan: CNNPlan, adopted: Bool = false, at range: SourceRange) throws(Diagnostic) {
        let old = layerNames[name], left = leftovers(ofNet: name)
        for n in plan.params.map(\.0) + plan.layers.map(\.0) where definitions[n] != nil {
            // After :del NAME only what the first net left is its own.
            let own = adopted ? left.contains(n) : (old.map { $0.contains(n) || n.hasPrefix(name + "_") } ?? false)
            guard own else {
                let what = data.map { n == $0.xName || n == $0.yName } == true ? " (it holds the data of :data)" : ""
                throw Diagnostic(.error, "'\(n)' is already defined\(what); :cnn \(name) would replace it. Choose another name for the net", at: range)
            }
        }
    }

    /// The tokens of `conv20x5-pool2-100-10`: convolutions and pools first, then dense layers,
    /// the last one the outputs.
    static func cnnArchitecture(_ arch: String, at range: SourceRange) throws(Diagnostic) -> [CNNLayer] {
        var layers: [CNNLayer] = []
        for token in arch.split(separator: "-", omittingEmptySubsequences: false) {
            guard let layer = CNNLayer.parse(token) else {
                throw Diagnostic(.error, "'\(token)' is not a layer: convFxK (F maps of KxK, optional s<stride> p<pad>, like conv20x5), pool2 (also avgpool2, l2pool2) or a number of units", at: range)
            }
            if case .dense = layers.last, !{ if case .dense = layer { return true }; return false }() {
                throw Diagnostic(.error, "'\(token)' comes after a dense layer: convolutions and pools come first, dense layers last", at: range)
            }
            layers.append(layer)
        }
        guard case .dense? = layers.last else { throw Diagnostic(.error, "\(arch) must end with the number of outputs, like -10", at: range) }
        return layers
    }

    /// `image=1x28x28`, or a square single-channel image from the number of features.
    func imageShape(_ given: (String, SourceRange)?, features: Int, at range: SourceRange) throws(Diagnostic) -> [Int] {
        if let (text, place) = given {
            let dims = text.split(separator: "x").compactMap { Int($0) }
            guard dims.count == 3, dims.allSatisfy({ $0 >= 1 }), dims.reduce(1, *) == features else {
                throw Diagnostic(.error, "image=\(text) must be CxHxW with C·H·W = \(features), the input's features", at: place)
            }
            return dims
        }
        let side = Int(Double(features).squareRoot().rounded())
        guard side * side == features else {
            throw Diagnostic(.error, "\(features) features are not a square image: give its shape, like image=3x32x32", at: range)
        }
        return [1, side, side]
    }

    /// What `:cnn` defines, worked out (and checked) before anything is defined.
    struct CNNPlan {
        var params: [(String, Tensor, String)] = []
        var layers: [(String, String)] = []
        var lines: [String] = []
        var total = 0
        var outputs = 0
    }

    /// Each layer's params (He for ReLU, else Glorot; fan-in C·k·k for a kernel) and formula,
    /// with the shape of one sample after it.
    func cnnPlan(_ layers: [CNNLayer], image: [Int], act: String, name: String, input: String, at range: SourceRange) throws(Diagnostic) -> CNNPlan {
        var plan = CNNPlan()
        var shape = image
        var previous = "reshape(\(input), -1, \(image[0]), \(image[1]), \(image[2]))"
        let he = act == "relu" || act == "leaky_relu"
        func std(_ fanIn: Int, _ fanOut: Int) -> Double { he ? (2 / Double(fanIn)).squareRoot() : (2 / Double(fanIn + fanOut)).squareRoot() }
        for (i, layer) in layers.enumerated() {
            let k = i + 1, last = i == layers.count - 1
            let target = last ? name : "\(name)_h\(k)"
            let body: String, sizes: String
            switch layer {
            case let .conv(maps, size, stride, pad):
                let (c, h, w) = (shape[0], shape[1], shape[2])
                guard size <= h + 2 * pad, size <= w + 2 * pad else {
                    throw Diagnostic(.error, "layer \(k): a \(size)x\(size) kernel does not fit the \(h)x\(w) maps\(pad > 0 ? " padded by \(pad)" : "")", at: range)
                }
                let (kName, cName) = ("\(name)_K\(k)", "\(name)_c\(k)")
                let kernel: Tensor
                do { kernel = try random.normal([maps, c, size, size], std: std(c * size * size, maps * size * size)) } catch { throw Diagnostic(.error, error.message, at: range) }
                plan.params += [(kName, kernel, "\(he ? "He" : "Glorot") normal [\(maps), \(c), \(size), \(size)]"), (cName, Tensor.zeros([maps, 1, 1]), "zeros(\(maps), 1, 1)")]
                let extra = stride == 1 && pad == 0 ? "" : ", \(stride)" + (pad == 0 ? "" : ", \(pad)")
                body = "\(act)(conv2d(\(previous), \(kName)\(extra)) + \(cName))"
                plan.total += maps * c * size * size + maps
                shape = [maps, (h + 2 * pad - size) / stride + 1, (w + 2 * pad - size) / stride + 1]
                sizes = "K [\(maps), \(c), \(size), \(size)], c [\(maps), 1, 1]"
            case let .pool(kind, size):
                guard shape.count == 3, size <= shape[1], size <= shape[2] else {
                    throw Diagnostic(.error, "layer \(k): a \(size)x\(size) pool does not fit the \(shape.dropFirst().map(String.init).joined(separator: "x")) maps", at: range)
                }
                body = "\(kind.rawValue)pool(\(previous), \(size))"
                shape = [shape[0], (shape[1] - size) / size + 1, (shape[2] - size) / size + 1]
                sizes = "no params"
            case let .dense(units):
                let fanIn = shape.reduce(1, *)
                let (wName, bName) = ("\(name)_W\(k)", "\(name)_b\(k)")
                let weights: Tensor
                do { weights = try random.normal([fanIn, units], std: std(fanIn, units)) } catch { throw Diagnostic(.error, error.message, at: range) }
                plan.params += [(wName, weights, "\(he ? "He" : "Glorot") normal [\(fanIn), \(units)]"), (bName, Tensor.zeros([units]), "zeros(\(units))")]
                body = "dense(\(shape.count == 3 ? "flatten(\(previous))" : previous), \(wName), \(bName), \(last ? "linear" : act))"
                plan.total += fanIn * units + units
                shape = [units]
                sizes = "W [\(fanIn), \(units)], b [\(units)]"
            }
            plan.layers.append((target, body))
            plan.lines.append("  layer \(k): \(target) = \(body)   \(sizes) → \(shape.map(String.init).joined(separator: "x")) a sample")
            previous = target
        }
        plan.outputs = shape.last ?? 1
        return plan
    }
}
