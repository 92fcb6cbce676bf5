import Foundation
import NablaGraph
import NablaNN
import NablaRuntime
import NablaSyntax
import NablaTeaching
import NablaTensor
import NablaTraining

// MARK: - :plot and :export: pictures and pages to keep

extension Session {
    static let plotUsage = ":plot loss|accuracy|regions|graph L|digit N... [net] [test]|wrong net [test]|kernels K file.svg"

    /// `:plot WHAT file.svg` writes a picture as SVG; `:plot graph L file.png` (or `.pdf`)
    /// has Graphviz draw the graph, as `:dot` does.
    func plotCommand(_ args: CommandArguments) throws(Diagnostic) {
        let words = args.words
        guard words.count >= 2, let (what, whatRange) = words.first, let (file, fileRange) = words.last else {
            throw args.missing("what to draw and a file", usage: Session.plotUsage)
        }
        let ext = Session.fileKind(file)
        if what == "graph", ext == "png" || ext == "pdf" {
            var dotArgs = args
            dotArgs.text = words.dropFirst().map(\.0).joined(separator: " ")
            try dotCommand(dotArgs)
            return
        }
        guard ext == "svg" else {
            throw Diagnostic(.error, ":plot writes .svg files (the graph also as .png or .pdf, drawn by Graphviz: :plot graph L file.png)", at: fileRange)
        }
        let (svg, description) = try picture(what, Array(words.dropFirst().dropLast()), at: whatRange, args: args)
        do { try SafeFile.write(svg, to: resolvePath(file)) } catch { throw Diagnostic(.error, error.message, at: fileRange) }
        say("wrote \(file): \(description)")
    }

    /// The SVG of one kind of picture and a few words on what it shows.
    func picture(_ what: String, _ rest: [(String, SourceRange)], at range: SourceRange, args: CommandArguments) throws(Diagnostic) -> (String, String) {
        switch what {
        case "loss", "accuracy":
            guard let h = history, !h.loss.isEmpty else { throw Diagnostic(.error, "nothing trained yet: :train draws the curves", at: range) }
            let scale = what == "loss" ? 1.0 : 100.0
            let (training, validation) = what == "loss" ? (h.loss, h.validationLoss) : (h.accuracy, h.validationAccuracy)
            guard !training.isEmpty else { throw Diagnostic(.error, "this training had no accuracy (a regression?): :plot loss", at: range) }
            var series = [(label: "training", values: training.map { $0 * scale })]
            if !validation.isEmpty { series.append(("validation", validation.map { $0 * scale })) }
            return (SVG.curves(series, title: what == "loss" ? "loss" : "accuracy (%)"), "the \(what) over \(training.count) epochs")
        case "regions":
            guard let map = history?.regions else {
                throw Diagnostic(.error, "no decision regions: :train a net on data with 2 features and classes first", at: range)
            }
            return (SVG.regions(map), "the decision regions of the last :train and its training points")
        case "graph":
            var graphArgs = args
            graphArgs.text = rest.map(\.0).joined(separator: " ")
            let (root, label, owned) = try rootNode(graphArgs, usage: Session.plotUsage, what: "the node whose graph to draw")
            defer { discard(owned) }
            return (SVG.graph(drawnNodes(of: root, label: label), title: "the graph of \(label)"), "the graph below \(label), values and gradients on it")
        case "digit", "digits", "image", "wrong":
            return try imagesPicture(what, rest, at: range)
        case "kernels":
            guard rest.count == 1 else { throw args.missing("the kernels, a param [F, C, k, k] like net_K1", usage: Session.plotUsage) }
            let k = graph.value(try resolve(rest[0].0, at: rest[0].1, within: nil))
            guard k.rank == 4, k.count > 0 else { throw Diagnostic(.error, "\(rest[0].0) has shape \(Shape.describe(k.shape)); kernels are [F, C, k, k]", at: rest[0].1) }
            let (f, c, h, w) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
            let images = (0..<f).map { i in (pixels: Array(k.scalars[i * c * h * w..<(i * c * h * w + h * w)]), width: w, height: h, caption: "\(i)") }
            return (SVG.images(images, signed: true, title: "\(rest[0].0): \(f) kernels of \(h)x\(w)\(c > 1 ? " (channel 0 of \(c))" : ""); red > 0, blue < 0"),
                    "\(f) kernels, red positive, blue negative")
        default:
            let kinds = ["loss", "accuracy", "regions", "graph", "digit", "wrong", "kernels"]
            let near = Suggest.nearest(what, among: kinds).map { " (did you mean '\($0)'?)" } ?? ""
            throw Diagnostic(.error, "nothing called '\(what)' to plot\(near); there are: \(kinds.joined(separator: ", "))", at: range)
        }
    }

    /// Digits by number (`:plot digit 0 1 2 [net] [test]`), or a net's mistakes
    /// (`:plot wrong net [test]`), each captioned with its label and the net's answer.
    func imagesPicture(_ what: String, _ rest: [(String, SourceRange)], at range: SourceRange) throws(Diagnostic) -> (String, String) {
        guard let training = data else { throw Diagnostic(.error, "no data: :data mnist loads the digits", at: range) }
        var words = rest
        let useTest = words.last?.0 == "test"
        if useTest { words.removeLast() }
        guard let set = useTest ? training.test : training.train else { throw Diagnostic(.error, "this data has no test split", at: range) }
        let side = Int(Double(set.features).squareRoot())
        guard side * side == set.features, side >= 2 else { throw Diagnostic(.error, "the samples are not square images (\(set.features) features)", at: range) }
        let numbers = words.prefix { Int($0.0) != nil }
        let netWord = words.dropFirst(numbers.count).first
        let net = try netWord.map { w throws(Diagnostic) in try resolve(w.0, at: w.1, within: nil) }
        let probabilities = try net.map { n throws(Diagnostic) in try classProbabilities(of: n, training: training, set: set, at: range) }
        func best(_ i: Int) -> Int? { probabilities.map { p in p[i].indices.max { p[i][$0] < p[i][$1] } ?? 0 } }
        var indices: [Int]
        if what == "wrong" {
            guard probabilities != nil else { throw Diagnostic(.error, ":plot wrong needs the net whose mistakes to draw", at: range) }
            indices = (0..<set.count).filter { best($0).map(Double.init) != set.y.scalars[$0] }
            indices = Array(indices.prefix(24))
        } else {
            indices = numbers.compactMap { Int($0.0) }
            guard !indices.isEmpty else { throw Diagnostic(.error, "which images: :plot digit 0 1 2 file.svg", at: range) }
            if let bad = numbers.first(where: { Int($0.0).map { $0 < 0 || $0 >= set.count } ?? true }) {
                throw Diagnostic(.error, "an image number from 0 to \(set.count - 1)", at: bad.1)
            }
        }
        let images = indices.map { i in
            var caption = "#\(i) label \(Format.number(set.y.scalars[i]))"
            if let p = probabilities, let b = best(i) { caption += ", net \(b) (\(Format.number(p[i][b] * 100, digits: 3))%)" }
            return (pixels: set.rows([i]).x.scalars, width: side, height: side, caption: caption)
        }
        let title = what == "wrong" ? "the first \(images.count) misclassified \(useTest ? "test" : "training") images" : "\(useTest ? "test" : "training") images"
        return (SVG.images(images, signed: false, title: title), "\(images.count) image\(images.count == 1 ? "" : "s")")
    }
}
