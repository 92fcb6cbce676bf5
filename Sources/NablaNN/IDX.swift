import CZlib
import NablaTensor

/// An IDX file (the MNIST format): a magic number whose third byte is the
/// element type and fourth the number of dimensions, the dimensions as
/// big-endian 32-bit integers, then the elements. Read through zlib, so a
/// `.gz` file and a plain one read the same.
public struct IDXFile: Sendable {
    public var dims: [Int]
    /// The elements (unsigned bytes: the only type MNIST uses).
    public var bytes: [UInt8]

    /// The largest file this reader accepts (a corrupt header cannot make it allocate more).
    public static let maxElements = 1 << 30

    /// Reads and validates a file; every problem names the file and what is wrong.
    /// `shouldStop` is asked after every megabyte (Ctrl-C while loading).
    public static func read(_ path: String, shouldStop: () -> Bool = { false }) throws(DataError) -> IDXFile {
        guard let file = gzopen(path, "rb") else { throw DataError("\(path): cannot open (no such file, or not readable)") }
        defer { gzclose(file) }
        func readExactly(_ count: Int) throws(DataError) -> [UInt8] {
            // Grows as the data arrives: a header that promises more than the file holds
            // costs nothing before it is found out.
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            while out.count < count {
                let want = Swift.min(count - out.count, chunk.count)
                let got = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32(want)) }
                if got < 0 { throw DataError("\(path): corrupt or not gzip data (zlib could not inflate it)") }
                if got == 0 { break }
                out.append(contentsOf: chunk[0..<Int(got)])
                if shouldStop() { throw DataError("interrupted while reading \(path)") }
            }
            return out
        }
        let header = try readExactly(4)
        guard header.count == 4 else { throw DataError("\(path): too short to be an IDX file (\(header.count) bytes)") }
        guard header[0] == 0, header[1] == 0 else {
            throw DataError("\(path): not an IDX file (its magic number starts \(hex(header[0])) \(hex(header[1])), not 00 00)")
        }
        guard header[2] == 0x08 else {
            throw DataError("\(path): element type \(hex(header[2])) is not unsigned bytes (08), the type MNIST uses")
        }
        let rank = Int(header[3])
        guard (1...4).contains(rank) else { throw DataError("\(path): \(rank) dimensions (an IDX file has 1 to 4)") }
        let dimBytes = try readExactly(4 * rank)
        guard dimBytes.count == 4 * rank else { throw DataError("\(path): truncated in its header (the dimensions)") }
        var dims: [Int] = []
        var total = 1
        for i in 0..<rank {
            let d = dimBytes[4 * i..<4 * i + 4].reduce(0) { $0 << 8 | Int($1) }
            dims.append(d)
            total = total.multipliedReportingOverflow(by: d).overflow ? Int.max : total * d
        }
        guard total <= maxElements else {
            throw DataError("\(path): its header promises \(dims.map(String.init).joined(separator: " x ")) elements, more than nabla reads (\(maxElements))")
        }
        let data = try readExactly(total)
        guard data.count == total else {
            throw DataError("\(path): truncated: the header promises \(total) bytes of data (\(dims.map(String.init).joined(separator: " x "))), the file has \(data.count)")
        }
        var probe: UInt8 = 0
        if gzread(file, &probe, 1) == 1 {
            throw DataError("\(path): has bytes after the \(total) its header promises (a wrong header, or two files joined?)")
        }
        return IDXFile(dims: dims, bytes: data)
    }

    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }
}

/// MNIST or Fashion-MNIST: images (one per row, 784 pixels scaled to [0, 1]) and labels.
public struct MNIST: Sendable {
    public var images: [UInt8]
    public var labels: [UInt8]
    public var count: Int
    public var rows: Int
    public var cols: Int

    public static let files = (
        trainImages: "train-images-idx3-ubyte", trainLabels: "train-labels-idx1-ubyte",
        testImages: "t10k-images-idx3-ubyte", testLabels: "t10k-labels-idx1-ubyte")

    /// A pair of image and label files, checked against each other.
    public static func load(images: String, labels: String, shouldStop: () -> Bool = { false }) throws(DataError) -> MNIST {
        let i = try IDXFile.read(images, shouldStop: shouldStop)
        let l = try IDXFile.read(labels, shouldStop: shouldStop)
        guard i.dims.count == 3 else {
            throw DataError("\(images): \(i.dims.count) dimensions; an image file has 3 (count, rows, columns)")
        }
        guard (1...4096).contains(i.dims[1]), (1...4096).contains(i.dims[2]) else {
            throw DataError("\(images): images of \(i.dims[1]) x \(i.dims[2]) pixels (1 to 4096 each are read)")
        }
        guard l.dims.count == 1 else {
            throw DataError("\(labels): \(l.dims.count) dimensions; a label file has 1 (count)")
        }
        guard i.dims[0] == l.dims[0] else {
            throw DataError("\(images) has \(i.dims[0]) images but \(labels) has \(l.dims[0]) labels: they must come in pairs")
        }
        if let bad = l.bytes.firstIndex(where: { $0 > 9 }) {
            throw DataError("\(labels): label \(l.bytes[bad]) at position \(bad) is not a digit class 0...9")
        }
        return MNIST(images: i.bytes, labels: l.bytes, count: i.dims[0], rows: i.dims[1], cols: i.dims[2])
    }

    /// The first `n` samples as a data set: X [n, rows·cols] in [0, 1], Y [n] class indices.
    /// Nil when `shouldStop` (asked every million pixels) says to stop.
    public func dataset(first n: Int? = nil, name: String, shouldStop: () -> Bool) -> Dataset? {
        let k = Swift.min(n ?? count, count)
        let pixels = rows * cols
        if shouldStop() { return nil }
        let y = labels.prefix(k).map { Double($0) }
        return Dataset(bytes: Array(images.prefix(k * pixels)), features: pixels, y: Tensor(shape: [k], scalars: y), classes: 10, name: name)
    }

    public func dataset(first n: Int? = nil, name: String) -> Dataset {
        dataset(first: n, name: name, shouldStop: { false }) ?? Dataset(x: Tensor(shape: [0, rows * cols], scalars: []), y: Tensor(shape: [0], scalars: []), classes: 10, name: name)
    }

    /// The folders searched for the files, in order: `--data DIR`, `$NABLA_DATA`, the user's
    /// cache (`$XDG_CACHE_HOME/nabla/NAME`, else `~/.cache/nabla/NAME`), and for
    /// Fashion-MNIST Debian's /usr/share/datasets/fashion-mnist.
    public static func searchPath(fashion: Bool, explicit: String?, environment: [String: String]) -> [String] {
        let name = fashion ? "fashion-mnist" : "mnist"
        var dirs: [String] = []
        if let explicit { dirs.append(explicit) }
        if let d = environment["NABLA_DATA"], !d.isEmpty { dirs += [d + "/" + name, d] }
        if let c = environment["XDG_CACHE_HOME"], !c.isEmpty { dirs.append(c + "/nabla/" + name) } else if let h = environment["HOME"] {
            dirs.append(h + "/.cache/nabla/" + name)
        }
        if fashion { dirs.append("/usr/share/datasets/fashion-mnist") }
        return dirs
    }

    /// The path of one of the four files in `dir`, plain or `.gz`, if it is there.
    public static func find(_ base: String, in dir: String, exists: (String) -> Bool) -> String? {
        [dir + "/" + base, dir + "/" + base + ".gz"].first(where: exists)
    }
}
