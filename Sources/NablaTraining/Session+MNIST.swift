import NablaRuntime
import NablaTeaching
import Foundation
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

extension Session {
    // MARK: - :data mnist, :data fashion

    /// Loads MNIST or Fashion-MNIST from the first folder that has the four files.
    func loadMNIST(fashion: Bool, count: Int?, dir: (String, SourceRange)?, at range: SourceRange) throws(Diagnostic) -> (Dataset, Dataset) {
        // dir= names the one folder to read; without it, the usual places in order.
        let dirs = dir.map { [resolvePath($0.0)] } ?? MNIST.searchPath(fashion: fashion, explicit: nil, environment: self.environment)
        let exists = { (p: String) in FileManager.default.fileExists(atPath: p) }
        let f = MNIST.files
        for d in dirs {
            guard let ti = MNIST.find(f.trainImages, in: d, exists: exists), let tl = MNIST.find(f.trainLabels, in: d, exists: exists),
                  let vi = MNIST.find(f.testImages, in: d, exists: exists), let vl = MNIST.find(f.testLabels, in: d, exists: exists)
            else { continue }
            let both = [f.trainImages, f.trainLabels, f.testImages, f.testLabels].filter { exists(d + "/" + $0) && exists(d + "/" + $0 + ".gz") }
            if !both.isEmpty {
                say("\(d) holds both a plain and a .gz copy of \(both.joined(separator: ", ")): the plain file\(both.count == 1 ? " is" : "s are") read")
            }
            do throws(DataError) {
                let train = try MNIST.load(images: ti, labels: tl, shouldStop: isInterrupted)
                let test = try MNIST.load(images: vi, labels: vl, shouldStop: isInterrupted)
                let name = fashion ? "fashion" : "mnist"
                guard let trainSet = train.dataset(first: count, name: name, shouldStop: isInterrupted),
                      let testSet = test.dataset(name: name, shouldStop: isInterrupted)
                else { throw DataError("interrupted while converting the images") }
                return (trainSet, testSet)
            } catch {
                let interrupted = error.description.hasPrefix("interrupted")
                throw Diagnostic(.error, error.description + (interrupted ? ": nothing was loaded, X and Y are as they were" : ""), at: dir?.1 ?? range)
            }
        }
        let name = fashion ? "Fashion-MNIST" : "MNIST"
        let mirror = mirror(fashion: fashion).url
        let home = cacheFolder(fashion: fashion)
        throw Diagnostic(
            .error,
            "\(name) is not here: looked in \(dirs.joined(separator: ", ")) for \(f.trainImages), \(f.trainLabels), "
                + "\(f.testImages), \(f.testLabels) (each may end in .gz). Download the four .gz files from \(mirror) "
                + "into \(home) (" + (speaksCommandLine
                    ? "nabla mnist --download does it), or give --data DIR (or set $NABLA_DATA) for the folder that has them"
                    : ":data \(fashion ? "fashion" : "mnist") download does it), or point dir= (or $NABLA_DATA) at the folder that has them")
                + (fashion ? " (Debian: apt-get install dataset-fashion-mnist)" : ""),
            at: dir?.1 ?? range)
    }

    // MARK: - Downloading

    /// Where MNIST or Fashion-MNIST can be downloaded, and the MD5 of each file there (the
    /// published checksums: torchvision's for MNIST's mirror, Fashion-MNIST's README for its
    /// own). `$NABLA_MNIST_MIRROR` points at another mirror with the same files.
    func mirror(fashion: Bool) -> (url: String, md5: [String: String]) {
        let md5 = fashion ? [
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        ] : [
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        ]
        if let own = environment["NABLA_MNIST_MIRROR"], !own.isEmpty { return (own.hasSuffix("/") ? own : own + "/", md5) }
        return (fashion ? "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" : "https://ossci-datasets.s3.amazonaws.com/mnist/", md5)
    }

    /// The folder downloads go to: `$XDG_CACHE_HOME/nabla/NAME`, else `~/.cache/nabla/NAME`.
    func cacheFolder(fashion: Bool) -> String {
        let env = environment
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((env["HOME"] ?? "/tmp") + "/.cache")
        return base + "/nabla/" + (fashion ? "fashion-mnist" : "mnist")
    }

    /// Downloads the four files into the cache folder, in the process, each checked against
    /// its MD5 and moved into place only once it is whole and right; progress as it goes.
    func downloadMNIST(fashion: Bool, at range: SourceRange) throws(Diagnostic) -> String {
        let (url, md5) = mirror(fashion: fashion)
        let dir = cacheFolder(fashion: fashion)
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw Diagnostic(.error, "cannot make \(dir): \(Session.reason(error))", at: range)
        }
        let f = MNIST.files
        for base in [f.trainImages, f.trainLabels, f.testImages, f.testLabels] {
            let name = base + ".gz"
            let target = dir + "/" + name
            if FileManager.default.fileExists(atPath: target) { continue }
            guard let source = URL(string: url + name), let sum = md5[name] else { continue }
            say("downloading \(url)\(name)")
            var shown = Date()
            do {
                try Download.file(source, to: target, md5: sum, isInterrupted: isInterrupted) { got, total in
                    guard let status, Date().timeIntervalSince(shown) > 0.5 else { return }
                    shown = Date()
                    status("  \(name): \(Format.grouped(Double(got / 1000))) KB" + (total > 0 ? " of \(Format.grouped(Double(total / 1000))) KB" : ""))
                }
            } catch {
                let speak = speaksCommandLine ? "nabla mnist --data DIR" : ":data \(fashion ? "fashion" : "mnist") dir=DIR"
                throw Diagnostic(.error, "\(error.description); offline, put the four files into \(dir), or give their folder: \(speak)", at: range)
            }
        }
        return dir
    }

    // MARK: - mnist() and fashion_mnist()


    /// `mnist()` or `mnist(n)` on a line of its own: `:data mnist [n]` (X, Y, X_test, Y_test).
    package func loadData(_ kind: String, _ args: [Expr], nameRange: SourceRange, whole: SourceRange) throws(Diagnostic) {
        var words = [kind]
        guard args.count <= 1 else {
            throw Diagnostic(.error, "\(kind == "mnist" ? "mnist" : "fashion_mnist")() takes at most one argument, the number of training images", at: whole)
        }
        if let arg = args.first {
            guard case let .number(n) = arg.kind, n == n.rounded(), n >= 4, n <= 60_000 else {
                throw Diagnostic(.error, "the number of training images: a whole number from 4 to 60000, like \(kind == "mnist" ? "mnist" : "fashion_mnist")(1000)", at: arg.range)
            }
            words.append(String(Int(n)))
        }
        do {
            let text = words.joined(separator: " ")
            try making(":data " + text) { () throws(Diagnostic) in
                try dataCommand(CommandArguments(name: "data", nameRange: nameRange, text: text, start: whole.start))
            }
        } catch {
            // The command's own carets point into text that was not typed: point at the call.
            throw Diagnostic(error.severity, error.message, at: whole)
        }
    }

    // MARK: - :show

    /// `:show 17 [net] [test]`: an image in the terminal (two pixels per character, Unicode
    /// half blocks) with its label and, given a net, its prediction. `:show wrong net` lists
    /// misclassified samples.
    package func showCommand(_ args: CommandArguments) throws(Diagnostic) {
        let usage = ":show N [net] [test]  or  :show wrong net [test]  or  :show kernels K  or  :show maps H N [test]"
        if args.words.first?.0 == "kernels" { return try showKernels(args.words, args: args) }
        guard let training = data else { throw Diagnostic(.error, "no data: :data mnist loads the digits", at: args.nameRange) }
        var words = args.words
        if words.first?.0 == "digit" || words.first?.0 == "image" { words.removeFirst() }  // :show digit 17
        let useTest = words.last?.0 == "test"
        if useTest { words.removeLast() }
        if words.first?.0 == "maps" { return try showMaps(words, test: useTest, args: args) }
        guard let (first, firstRange) = words.first else { throw args.missing("a sample number", usage: usage) }
        guard let set = useTest ? training.test : training.train else {
            throw Diagnostic(.error, "this data has no test split", at: args.wholeRange)
        }
        let side = Int(Double(set.features).squareRoot())
        guard side * side == set.features, side >= 2 else {
            throw Diagnostic(.error, "the samples are not square images (\(set.features) features)", at: args.wholeRange)
        }
        var net: NodeID?
        if words.count > 1 { net = try resolve(words[1].0, at: words[1].1, within: nil) }
        func predictions(_ x: Tensor) throws(Diagnostic) -> [Int]? {
            guard let net else { return nil }
            let out: Tensor
            do { out = try value(of: net, withInput: x) } catch { throw Diagnostic(.error, error.reason.message, at: args.wholeRange) }
            guard out.rank == 2, out.rows == x.rows else {
                throw Diagnostic(
                    .error, "\(words[1].0) gives \(Shape.describe(out.shape)) for \(x.rows) samples: a net gives one row per sample (X @ W + b, not a param or a loss)",
                    at: words[1].1)
            }
            return Session.classes(out, out.cols > 1 ? .argmax : .probability)
        }
        if first == "wrong" {
            guard let net else { throw args.missing("the net whose mistakes to list", usage: usage) }
            let probabilities = try classProbabilities(of: net, training: training, set: set, at: args.wholeRange)
            let predicted = probabilities.map { row in row.indices.max { row[$0] < row[$1] } ?? 0 }
            let wrong = predicted.indices.filter { Double(predicted[$0]) != set.y.scalars[$0] }
            say("\(wrong.count) of \(set.count) \(useTest ? "test" : "training") samples misclassified"
                + (wrong.isEmpty ? "" : "; the first \(Swift.min(wrong.count, 8)), with the net's three most likely classes (:show N \(words[1].0)\(useTest ? " test" : "") draws one larger):"))
            if !wrong.isEmpty { say(gallery(set, Array(wrong.prefix(8)), probabilities, side: side)) }
            return
        }
        guard let index = Int(first), index >= 0, index < set.count else {
            throw Diagnostic(.error, "a sample number from 0 to \(set.count - 1)", at: firstRange)
        }
        let pixels = set.rows([index]).x.scalars
        var lines = Session.picture(pixels, side: side, colour: colors)
        var caption = "#\(index) of the \(useTest ? "test" : "training") set: label \(Format.number(set.y.scalars[index]))"
        if let p = try predictions(Tensor(shape: [1, set.features], scalars: pixels))?.first {
            caption += ", predicted \(p)" + (Double(p) == set.y.scalars[index] ? " ✓" : " ✗")
        }
        lines.append(caption)
        say(lines.joined(separator: "\n"))
    }

    /// Each image's class probabilities: the float32 tape in batches for class scores (a
    /// convnet's 10,000 test images in seconds), else the graph in pieces (a softmax of the
    /// scores, or p and 1 − p for one output).
    package func classProbabilities(of net: NodeID, training: TrainingData, set: Dataset, at range: SourceRange) throws(Diagnostic) -> [[Double]] {
        if let classes = training.train.classes, classes > 2, let leaves = try? dataLeaves(training, at: range),
           let tape = Tape32(graph: graph, root: net, params: [], feeds: [leaves.0, leaves.1]),
           let p = try? classProbabilities(tape, net: net, set: set, classes: classes, at: range) {
            return stride(from: 0, to: p.count, by: classes).map { p[$0..<$0 + classes].map(Double.init) }
        }
        var rows: [[Double]] = []
        for part in chunks(set) {
            let out: Tensor
            do { out = try value(of: net, withInput: part.x) } catch { throw Diagnostic(.error, error.reason.message, at: range) }
            guard out.rank == 2, out.rows == part.count else {
                throw Diagnostic(.error, "the net gives \(Shape.describe(out.shape)) for \(part.count) samples: a net gives one row per sample", at: range)
            }
            if out.cols == 1 {
                rows += out.scalars.map { z in let p = (0...1).contains(z) ? z : 1 / (1 + exp(-z)); return [1 - p, p] }
            } else {
                let q = out.softmax.scalars
                rows += stride(from: 0, to: q.count, by: out.cols).map { Array(q[$0..<$0 + out.cols]) }
            }
        }
        return rows
    }

    /// Misclassified images side by side, as many as the terminal's width holds per row, each
    /// with its number, its label and the three most likely classes.
    func gallery(_ set: Dataset, _ indices: [Int], _ probabilities: [[Double]], side: Int) -> String {
        let cell = Swift.max(side + 2, 14) + 2
        let perRow = Swift.max(1, Swift.min(indices.count, (width + 2) / cell))
        var blocks: [String] = []
        for start in stride(from: 0, to: indices.count, by: perRow) {
            let group = indices[start..<Swift.min(start + perRow, indices.count)]
            let pictures = group.map { Session.picture(set.rows([$0]).x.scalars, side: side, colour: false) }
            var lines: [String] = []
            func padded(_ text: String) -> String { text.padding(toLength: cell - 2, withPad: " ", startingAt: 0) }
            for r in 0..<(pictures.first?.count ?? 0) { lines.append(pictures.map { padded($0[r]) }.joined(separator: "  ")) }
            func column(_ text: (Int) -> String) -> String { group.map { padded(text($0)) }.joined(separator: "  ") }
            lines.append(column { "#\($0) label \(Format.number(set.y.scalars[$0]))" })
            for rank in 0..<3 {
                lines.append(column { i in
                    let p = probabilities[i]
                    let order = p.indices.sorted { p[$0] > p[$1] }
                    guard rank < order.count else { return "" }
                    return "\(rank + 1). \(order[rank])  \(Format.number(p[order[rank]] * 100, digits: 3))%"
                })
            }
            blocks.append(lines.map { String($0.reversed().drop { $0 == " " }.reversed()) }.joined(separator: "\n"))
        }
        return blocks.joined(separator: "\n\n")
    }

    /// A grayscale image, two pixel rows per line: ▀ coloured top and bottom on colour
    /// terminals, else a shade per pair.
    static func picture(_ pixels: [Double], side: Int, colour: Bool) -> [String] {
        let shades: [Character] = [" ", "░", "▒", "▓", "█"]
        var lines: [String] = []
        for r in stride(from: 0, to: side, by: 2) {
            var line = ""
            for c in 0..<side {
                // A value that is not a number is drawn blank (an infinity at its end of the scale).
                func level(_ v: Double) -> Double { v.isNaN ? 0 : Swift.min(Swift.max(v, 0), 1) }
                let top = level(pixels[r * side + c]), bottom = r + 1 < side ? level(pixels[(r + 1) * side + c]) : 0
                if colour {
                    let t = 232 + Int((Swift.min(Swift.max(top, 0), 1) * 23).rounded())
                    let b = 232 + Int((Swift.min(Swift.max(bottom, 0), 1) * 23).rounded())
                    line += "\u{1B}[38;5;\(t)m\u{1B}[48;5;\(b)m▀"
                } else {
                    let v = (top + bottom) / 2
                    line.append(shades[Swift.min(Int(v * Double(shades.count)), shades.count - 1)])
                }
            }
            lines.append(colour ? line + "\u{1B}[0m" : "│" + line + "│")
        }
        return lines
    }
}
