#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NablaTensor

/// A data set: one sample per row of `x`, its target in the same row of `y`.
///
/// Two classes: `y` is a column [N, 1] of 0/1 (or −1/+1 with `pm1`), so that
/// `bce(P, Y)` with `P` of shape [N, 1] compares row by row. More classes:
/// `y` is a vector [N] of class indices, as `cross_entropy(logits, Y)` takes.
/// Regression: `y` is a column [N, 1] of numbers.
public struct Dataset: Sendable {
    /// The inputs as numbers (nil for images kept as bytes: `x` makes them when asked).
    private var dense: Tensor?
    /// The shape of the inputs, [N, features].
    public private(set) var xShape: [Int]
    public var y: Tensor
    /// How many classes (nil for regression).
    public var classes: Int?
    public var name: String
    /// The inputs as bytes when they are images (`x` = bytes / 255 exactly): they are kept
    /// this way only, an eighth of the memory of float64, and the float32 tape feeds its
    /// batches straight from them.
    public private(set) var bytes: [UInt8]?
    /// The file's own class values when they were not 0, 1, ..., k-1 (class i is `classValues[i]`).
    public var classValues: [Double]?
    /// The classes' names when the file labels them with text (class i is `classNames[i]`).
    public var classNames: [String]?

    public init(x: Tensor, y: Tensor, classes: Int?, name: String) {
        self.dense = x
        self.xShape = x.shape
        self.y = y
        self.classes = classes
        self.name = name
    }

    /// Images kept as bytes: row i is `bytes[i*features ..< (i+1)*features]`, each / 255.
    public init(bytes: [UInt8], features: Int, y: Tensor, classes: Int?, name: String) {
        self.bytes = bytes
        self.xShape = [bytes.count / Swift.max(features, 1), features]
        self.y = y
        self.classes = classes
        self.name = name
    }

    /// The inputs, one sample per row (made from the bytes, for images: ask for a few rows at a time).
    public var x: Tensor {
        dense ?? Tensor(shape: xShape, scalars: (bytes ?? []).map { Double($0) / 255 })
    }

    public var count: Int { xShape.first ?? 0 }
    public var features: Int { xShape.count > 1 ? xShape[1] : 1 }

    /// The rows `indices`, in that order.
    public func rows(_ indices: some Collection<Int>) -> Dataset {
        var selected = self
        selected.y = y.selectRows(indices)
        if let bytes {
            let w = features
            var out: [UInt8] = []
            out.reserveCapacity(indices.count * w)
            for i in indices { out.append(contentsOf: bytes[i * w..<(i + 1) * w]) }
            selected.bytes = out
            selected.xShape = [indices.count, w]
        } else if let dense {
            selected.dense = dense.selectRows(indices)
            selected.xShape = selected.dense?.shape ?? []
        }
        return selected
    }

    /// Labels −1/+1 instead of 0/1 (for the perceptron's sign, hinge and logistic losses).
    public func plusMinusOne() -> Dataset {
        var d = self
        if classes == 2 { d.y = y.map { $0 > 0.5 ? 1 : -1 } }
        return d
    }

    /// Shuffled with `random`, then cut into train / validation / test by the given fractions.
    public func split(validation: Double, test: Double, random: inout RandomSource) -> (train: Dataset, validation: Dataset, test: Dataset) {
        var order = Array(0..<count)
        random.shuffle(&order)
        let nTest = Int((Double(count) * test).rounded())
        let nVal = Int((Double(count) * validation).rounded())
        let nTrain = Swift.max(count - nTest - nVal, 0)
        return (rows(order[0..<nTrain]), rows(order[nTrain..<nTrain + nVal]), rows(order[(nTrain + nVal)...]))
    }

    // MARK: - The course's toy sets

    /// AND, OR, XOR: the four rows of a truth table.
    public static func truthTable(_ name: String) -> Dataset? {
        let inputs: [[Double]] = [[0, 0], [0, 1], [1, 0], [1, 1]]
        let outputs: [Double]
        switch name {
        case "and": outputs = [0, 0, 0, 1]
        case "or": outputs = [0, 1, 1, 1]
        case "xor": outputs = [0, 1, 1, 0]
        case "nand": outputs = [1, 1, 1, 0]
        default: return nil
        }
        return Dataset(x: Tensor(rows: inputs), y: Tensor(shape: [4, 1], scalars: outputs), classes: 2, name: name)
    }

    /// Two Gaussian blobs, centred at (−1.5, −1.5) and (1.5, 1.5), σ = `noise` (linearly separable for small noise).
    public static func blobs(_ n: Int, noise: Double, random: inout RandomSource) -> Dataset {
        twoClass(n, name: "blobs", random: &random) { label, r in
            let c = label == 1 ? 1.5 : -1.5
            return [c + noise * r.normal(), c + noise * r.normal()]
        }
    }

    /// Two concentric circles (radius 1 for class 0, 0.5 for class 1) with noise.
    public static func circles(_ n: Int, noise: Double, random: inout RandomSource) -> Dataset {
        twoClass(n, name: "circles", random: &random) { label, r in
            let angle = 2 * Double.pi * r.uniform()
            let radius = label == 1 ? 0.5 : 1.0
            return [radius * cos(angle) + noise * r.normal(), radius * sin(angle) + noise * r.normal()]
        }
    }

    /// Two interleaving half circles (scikit-learn's make_moons) with noise.
    public static func moons(_ n: Int, noise: Double, random: inout RandomSource) -> Dataset {
        twoClass(n, name: "moons", random: &random) { label, r in
            let t = Double.pi * r.uniform()
            let p = label == 0 ? [cos(t), sin(t)] : [1 - cos(t), 0.5 - sin(t)]
            return [p[0] + noise * r.normal(), p[1] + noise * r.normal()]
        }
    }

    /// `k` interleaved spiral arms (CS231n's spiral data), n points in all; y holds class indices.
    public static func spirals(_ n: Int, classes k: Int, noise: Double, random: inout RandomSource) -> Dataset {
        var xs: [Double] = []
        var ys: [Double] = []
        for i in 0..<n {
            let c = i % k
            let t = Double(i / k) / Double(Swift.max(n / k, 1))
            let radius = t
            let angle = Double(c) * 4 + t * 4 + noise * r(&random)
            xs += [radius * sin(angle), radius * cos(angle)]
            ys.append(Double(c))
        }
        let x = Tensor(shape: [n, 2], scalars: xs)
        if k == 2 { return Dataset(x: x, y: Tensor(shape: [n, 1], scalars: ys), classes: 2, name: "spirals") }
        return Dataset(x: x, y: Tensor(shape: [n], scalars: ys), classes: k, name: "spirals")
    }

    private static func r(_ random: inout RandomSource) -> Double { random.normal() }

    /// y = sin(x) + noise for x uniform on [−3, 3]: a 1-D regression set.
    public static func regression(_ n: Int, noise: Double, random: inout RandomSource) -> Dataset {
        var xs: [Double] = [], ys: [Double] = []
        for _ in 0..<n {
            let x = -3 + 6 * random.uniform()
            xs.append(x)
            ys.append(sin(x) + noise * random.normal())
        }
        return Dataset(x: Tensor(shape: [n, 1], scalars: xs), y: Tensor(shape: [n, 1], scalars: ys), classes: nil, name: "regression")
    }

    /// n points, half of each class (alternating), drawn by `point(label, random)`.
    static func twoClass(_ n: Int, name: String, random: inout RandomSource, point: (Int, inout RandomSource) -> [Double]) -> Dataset {
        var xs: [Double] = [], ys: [Double] = []
        for i in 0..<n {
            let label = i % 2
            xs += point(label, &random)
            ys.append(Double(label))
        }
        return Dataset(x: Tensor(shape: [n, 2], scalars: xs), y: Tensor(shape: [n, 1], scalars: ys), classes: 2, name: name)
    }
}

/// A problem in a data file, with where it is.
public struct DataError: Error, Sendable, Equatable {
    public var message: String
    public var line: Int?
    public var column: Int?

    public init(_ message: String, line: Int? = nil, column: Int? = nil) {
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        var place = ""
        if let line { place = "line \(line)" + (column.map { ", column \($0)" } ?? "") + ": " }
        return place + message
    }
}

extension Dataset {
    /// A CSV file with the default options (`CSVOptions()`): the last column the target,
    /// the delimiter sniffed, a missing value refused, no standardisation; the notes dropped.
    /// See `csv(_:name:options:isInterrupted:)`.
    public static func csv(_ text: String, name: String, isInterrupted: () -> Bool = { false }) throws(DataError) -> Dataset {
        try csv(text, name: name, options: CSVOptions(), isInterrupted: isInterrupted).0
    }

    /// Whole-number targets with at most 20 values are classes: 0...k-1 as they are, other
    /// values ({3, 6, 9, 12}, or {-1, 1}) numbered in increasing order (`classValues` says how).
    static func classify(x: Tensor, targets: [Double], name: String) -> Dataset {
        let n = targets.count
        let distinct = Set(targets).sorted()
        let isClasses = distinct.count >= 2 && distinct.count <= 20 && distinct.allSatisfy { $0 == $0.rounded() && Swift.abs($0) < 1e9 }
        guard isClasses else {
            return Dataset(x: x, y: Tensor(shape: [n, 1], scalars: targets), classes: nil, name: name)
        }
        let k = distinct.count
        var labels = targets
        var values: [Double]?
        if distinct != (0..<k).map(Double.init) {
            let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($0.element, Double($0.offset)) })
            labels = targets.map { index[$0] ?? 0 }
            values = distinct
        }
        var data = k == 2
            ? Dataset(x: x, y: Tensor(shape: [n, 1], scalars: labels), classes: 2, name: name)
            : Dataset(x: x, y: Tensor(shape: [n], scalars: labels), classes: k, name: name)
        data.classValues = values
        return data
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension Tensor {
    /// The rows `indices` of a matrix (or entries of a vector), in that order.
    public func selectRows(_ indices: some Collection<Int>) -> Tensor {
        let width = rank == 2 ? shape[1] : 1
        var out: [Double] = []
        out.reserveCapacity(indices.count * width)
        for i in indices { out.append(contentsOf: scalars[i * width..<(i + 1) * width]) }
        return Tensor(shape: rank == 2 ? [indices.count, width] : [indices.count], scalars: out)
    }
}

extension RandomSource {
    /// Fisher–Yates.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
    }
}

extension Dataset {
    /// The training set expanded as the course's slide does: every image, then the same images
    /// moved by one pixel down, up, right and left (the pixel that leaves is lost, the one that
    /// enters is 0). Five times the images, the labels repeated; images must be side x side bytes.
    public func displacedByOnePixel(side: Int) -> Dataset {
        guard let bytes, features == side * side, side > 1 else { return self }
        let n = count
        var out = bytes
        out.reserveCapacity(bytes.count * 5)
        for (dy, dx) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
            var moved = [UInt8](repeating: 0, count: bytes.count)
            for i in 0..<n {
                let base = i * features
                for y in 0..<side where (0..<side).contains(y - dy) {
                    for x in 0..<side where (0..<side).contains(x - dx) {
                        moved[base + y * side + x] = bytes[base + (y - dy) * side + x - dx]
                    }
                }
            }
            out += moved
        }
        let labels = Tensor(shape: [n * 5] + Array(y.shape.dropFirst()), scalars: Array([[Double]](repeating: y.scalars, count: 5).joined()))
        return Dataset(bytes: out, features: features, y: labels, classes: classes, name: name)
    }
}
