import Foundation
import NablaNN
import NablaTestSupport
import Testing

@Suite("The IDX reader")
struct IDXTests {
    @Test("a generated pair reads back, plain and gzipped")
    func roundTrip() throws {
        for gz in [false, true] {
            let dir = try syntheticMNIST(train: 30, test: 10, gzip: gz)
            let suffix = gz ? ".gz" : ""
            let m = try MNIST.load(images: dir + "/train-images-idx3-ubyte" + suffix, labels: dir + "/train-labels-idx1-ubyte" + suffix)
            #expect(m.count == 30 && m.rows == 4 && m.cols == 4)
            #expect(m.labels.prefix(12) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
            let d = m.dataset(name: "synthetic")
            #expect(d.x.shape == [30, 16] && d.y.shape == [30])
            #expect(d.x.scalars[3 * 16 + 3] == 1)
        }
    }

    @Test("bad files: each error names the file and what is wrong", arguments: [
        ("magic", idx([2], [1, 2], magic: [1, 0, 8, 1]), "not an IDX file (its magic number starts 01 00, not 00 00)"),
        ("type", idx([2], [1, 2], magic: [0, 0, 0x0d, 1]), "element type 0d is not unsigned bytes (08), the type MNIST uses"),
        ("truncated", idx([3, 4, 4], [UInt8](repeating: 1, count: 40)), "truncated: the header promises 48 bytes of data (3 x 4 x 4), the file has 40"),
        ("extra", idx([2], [1, 2, 3]), "has bytes after the 2 its header promises (a wrong header, or two files joined?)"),
        ("short", Data([0, 0]), "too short to be an IDX file (2 bytes)"),
        ("huge", idx([60000, 60000, 60000], []), "its header promises 60000 x 60000 x 60000 elements, more than nabla reads (1073741824)"),
        ("dims", Data([0, 0, 8, 3, 0, 0]), "truncated in its header (the dimensions)"),
    ] as [(String, Data, String)])
    func badFiles(name: String, data: Data, message: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-bad-\(name)-\(UUID().uuidString)").path
        try data.write(to: URL(fileURLWithPath: path))
        do {
            _ = try IDXFile.read(path)
            Issue.record("\(name) was read")
        } catch {
            #expect(error.description == "\(path): \(message)")
        }
    }

    @Test("images and labels must pair up")
    func mismatched() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-pair-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try idx([3, 2, 2], [UInt8](repeating: 0, count: 12)).write(to: URL(fileURLWithPath: dir + "/i"))
        try idx([2], [1, 2]).write(to: URL(fileURLWithPath: dir + "/l"))
        try idx([3], [1, 2, 12]).write(to: URL(fileURLWithPath: dir + "/l12"))
        #expect(throws: DataError("\(dir)/i has 3 images but \(dir)/l has 2 labels: they must come in pairs")) {
            try MNIST.load(images: dir + "/i", labels: dir + "/l")
        }
        #expect(throws: DataError("\(dir)/l12: label 12 at position 2 is not a digit class 0...9")) {
            try MNIST.load(images: dir + "/i", labels: dir + "/l12")
        }
        #expect(throws: DataError("\(dir)/l: 1 dimensions; an image file has 3 (count, rows, columns)")) {
            try MNIST.load(images: dir + "/l", labels: dir + "/l")
        }
        #expect(throws: DataError("\(dir)/missing: cannot open (no such file, or not readable)")) {
            try IDXFile.read(dir + "/missing")
        }
    }

    @Test("a corrupt .gz file is an error, not garbage")
    func corruptGzip() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-corrupt-\(UUID().uuidString).gz").path
        // A gzip header followed by bytes that are not deflate data.
        try Data([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).write(to: URL(fileURLWithPath: path))
        #expect(throws: DataError.self) { try IDXFile.read(path) }
    }
}

@Suite("Images as bytes")
struct ImageBytesTests {
    @Test("k / 255 in float32 is the float64 k / 255 rounded, for every byte (the float32 feed relies on it)")
    func division() {
        for k in 0...255 { #expect(Float(UInt8(k)) / 255 == Float(Double(k) / 255), "\(k)") }
    }

    @Test("a data set's bytes follow its rows through a selection")
    func rows() throws {
        let dir = try syntheticMNIST(train: 30, test: 10)
        let set = try MNIST.load(images: dir + "/train-images-idx3-ubyte", labels: dir + "/train-labels-idx1-ubyte").dataset(name: "mnist")
        let picked = set.rows([7, 2, 29])
        let bytes = try #require(picked.bytes)
        #expect(bytes.count == picked.x.count)
        #expect(zip(bytes, picked.x.scalars).allSatisfy { Double($0) / 255 == $1 })
    }
}
