import Foundation
import NablaNN
import NablaTensor
import Testing

/// True when python3 with numpy is here, to check that numpy reads what nabla writes.
let numpyAvailable: Bool = {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import numpy"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}()

@Suite("Weights as .npy / .npz")
struct NumpyTests {
    @Test(".npy headers are padded to a multiple of 64 bytes and hold the shape")
    func npyHeader() throws {
        let d = Numpy.npy(Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        // 10 bytes of magic, version and length, then a 60-character dict: padded to 128.
        #expect(d.count == 128 + 48)
        let header = String(decoding: d[10..<128], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(header.hasSuffix("\n"))
        #expect(try Numpy.readNPY(d, name: "a").scalars == [1, 2, 3, 4, 5, 6])
        #expect(try Numpy.readNPY(Numpy.npy(Tensor(2.5)), name: "s") == Tensor(2.5))
        #expect(try Numpy.readNPY(Numpy.npy(Tensor(vector: [1, -2])), name: "v").shape == [2])
    }

    @Test(".npz round-trips exactly, in order")
    func npzRoundTrip() throws {
        let arrays: [(String, Tensor)] = [("W1", Tensor(shape: [2, 2], scalars: [0.1, -0.2, 1e-300, .pi])), ("b1", Tensor(vector: [0, 1]))]
        let back = try Numpy.readNPZ(Numpy.npz(arrays), name: "w.npz")
        #expect(back.map(\.0) == ["W1", "b1"])
        #expect(back.map(\.1) == arrays.map(\.1))
    }

    @Test("corrupt files are errors naming the file", arguments: [
        (Data("hello".utf8), "w.npz: too short to be a .npz (zip) file"),
        (Data(repeating: 7, count: 40), "w.npz: not a .npz file (no zip directory at its end)"),
    ] as [(Data, String)])
    func corrupt(data: Data, message: String) {
        #expect(throws: DataError(message)) { try Numpy.readNPZ(data, name: "w.npz") }
    }

    @Test("a truncated array is refused")
    func truncatedArray() {
        let d = Numpy.npy(Tensor(vector: [1, 2, 3]))
        #expect(throws: DataError("a: the header promises 3 numbers (24 bytes), the array holds 16 bytes")) {
            try Numpy.readNPY(d.prefix(d.count - 8), name: "a")
        }
    }

    @Test("numpy reads nabla's .npz, and nabla reads numpy's compressed float32 .npz", .enabled(if: numpyAvailable))
    func numpyInterop() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-np-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Numpy.npz([("W", Tensor(shape: [2, 2], scalars: [1, 2, 3, 4.5]))]).write(to: URL(fileURLWithPath: dir + "/n.npz"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import numpy as np
            d = np.load('\(dir)/n.npz'); assert d['W'].tolist() == [[1, 2], [3, 4.5]], d['W']
            np.savez_compressed('\(dir)/c.npz', v=np.array([0.5, -1.25], dtype=np.float32))
            """]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let back = try Numpy.readNPZ(Data(contentsOf: URL(fileURLWithPath: dir + "/c.npz")), name: "c.npz")
        #expect(back.first?.0 == "v" && back.first?.1.scalars == [0.5, -1.25])
    }
}
