import Foundation
import NablaNN
import NablaSession
import NablaTensor

/// What the fuzzers feed nabla (`tools/fuzz.sh`), and what the tests replay from the corpus.
///
/// - `line`: the bytes as lines a person could type, through the whole line path (lexer,
///   parser, evaluation, commands) of one session. A time budget stands in for Ctrl-C, so a
///   legitimately long command (`:train L epochs=1000000`) stops instead of counting as a
///   hang; the element limit is lowered so that no input can ask for gigabytes. Lines that
///   write files or reach the network (`:save`, `:dot`, `checkpoint=`, `download`) or read
///   the real MNIST are skipped.
/// - `data`: the bytes as a file, through the IDX reader (as images, as labels, gzip or not)
///   and the weights loader (.npz, .npy, and `:load` into a session with params).
/// - `npz`: the bytes as the `.npy` member of a zip whose CRC-32 and sizes are right (stored
///   and deflated), so inputs get past the CRC check into the header and inflation checks.
/// - `stdin`: the bytes as standard input, read a statement at a time under the script limit.
/// The `line` and `stdin` sessions run under a total-memory limit of 1,000,000 numbers.
public enum FuzzTargets {
    /// Lines with these words are not run: they write files, fetch, read the real MNIST, or
    /// change the session's limits (raising them would let one input pass libFuzzer's 2 GB).
    static let skipped = [":save", ":dot", "checkpoint", "download", "mnist", "fashion", ":load", ":replay", ":limits"]

    /// Lowers the limits for a fuzzing process: tensors of at most 100,000 numbers (800 KB)
    /// and graphs of at most 2,000 nodes, so the values one input can hold stay under 1.6 GB
    /// (libFuzzer's memory limit is 2 GB). Process-wide: not for tests running in parallel.
    /// The targets by name, as `tools/fuzz.sh` and the replayer call them.
    public static let names = ["line", "data", "npz", "stdin"]

    /// Runs a target with the fuzzing limits bound (loaders outside a session read them too).
    public static func run(_ target: String, _ bytes: [UInt8]) {
        TensorLimits.withMaxElements(elements) {
            switch target {
            case "data": data(bytes)
            case "npz": npz(bytes)
            case "stdin": stdin(bytes)
            default: line(bytes)
            }
        }
    }

    public static func lowerLimits() {
        elements = 100_000
        nodes = 2_000
    }
    nonisolated(unsafe) static var nodes = Session.defaultMaxNodes
    nonisolated(unsafe) static var elements = TensorLimits.defaultMaxElements

    public static func line(_ bytes: [UInt8], budget: TimeInterval = 0.25) {
        let text = String(decoding: bytes, as: UTF8.self)
        let session = Session(output: SessionOutput(out: { _ in }, err: { _ in }), seed: 1)
        session.quiet = true
        session.maxNodes = nodes
        session.maxElements = elements
        session.maxHeldNumbers = 1_000_000
        let deadline = Date().addingTimeInterval(budget)
        session.isInterrupted = { Date() > deadline }
        for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).prefix(64).enumerated() {
            let line = String(line)
            if skipped.contains(where: { line.contains($0) }) { continue }
            if Date() > deadline { break }
            if session.pendingPrompt != nil {
                session.answer(line)
                continue
            }
            _ = session.runLine(line, lineNumber: i + 1)
            if session.wantsToQuit { break }
        }
    }

    public static func data(_ bytes: [UInt8]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("input")
        guard (try? Data(bytes).write(to: file)) != nil else { return }
        // The IDX reader, on its own and as an image/label pair.
        if let idx = try? IDXFile.read(file.path) { _ = idx.dims.reduce(1, *) }
        if let mnist = try? MNIST.load(images: file.path, labels: file.path) { _ = mnist.dataset(first: 3, name: "fuzz") }
        // The weights loader.
        _ = try? Numpy.readNPZ(Data(bytes), name: "input.npz")
        _ = try? Numpy.readNPY(Data(bytes), name: "input.npy")
        let npz = dir.appendingPathComponent("w.npz")
        guard (try? Data(bytes).write(to: npz)) != nil else { return }
        let session = Session(output: SessionOutput(out: { _ in }, err: { _ in }), seed: 1)
        session.maxElements = elements
        _ = session.runLine("param W = zeros(2, 3)")
        _ = session.runLine("param b = zeros(3)")
        _ = session.runLine(":load \(npz.path)")
    }

    /// The bytes as the one `.npy` member of a well-formed zip (right CRC-32 and sizes).
    public static func npz(_ bytes: [UInt8]) {
        let crc = referenceCRC32(bytes)
        for method in [0, 8] {
            let payload = method == 0 ? bytes : storedDeflate(bytes)
            let archive = zipArchive("W.npy", method: method, crc: crc, payload: payload, size: bytes.count)
            _ = try? Numpy.readNPZ(archive, name: "fuzz.npz")
        }
    }

    /// The bytes as standard input (through a file descriptor, as `nabla < file` reads it).
    public static func stdin(_ bytes: [UInt8], budget: TimeInterval = 0.25) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-fuzz-stdin-\(getpid())").path
        guard (try? Data(bytes).write(to: URL(fileURLWithPath: path))) != nil else { return }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let session = Session(output: SessionOutput(out: { _ in }, err: { _ in }), seed: 1)
        session.quiet = true
        session.maxNodes = nodes
        session.maxElements = elements
        session.maxHeldNumbers = 1_000_000
        session.maxScriptBytes = 4096
        let deadline = Date().addingTimeInterval(budget)
        session.isInterrupted = { Date() > deadline }
        var input = InputLines(fd: fd, limit: { session.maxScriptBytes })
        var count = 0
        _ = session.runLines(file: nil) {
            count += 1
            guard count <= 64, let line = input.next() else { return nil }
            return skipped.contains(where: { line.contains($0) }) ? "" : line
        }
    }

    /// A zip of one member, every field given (the fuzz target's and the tests' npz maker).
    public static func zipArchive(_ entry: String, method: Int, crc: UInt32, payload: [UInt8], size: Int) -> Data {
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
        func le32(_ v: Int) -> [UInt8] { le16(v & 0xffff) + le16(v >> 16 & 0xffff) }
        let name = Array(entry.utf8)
        let common = le16(20) + le16(0) + le16(method) + le16(0) + le16(0x21) + le32(Int(crc)) + le32(payload.count) + le32(size) + le16(name.count)
        let local = le32(0x0403_4b50) + common + le16(0) + name + payload
        let central = le32(0x0201_4b50) + le16(20) + common + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(0) + name
        let end = le32(0x0605_4b50) + le16(0) + le16(0) + le16(1) + le16(1) + le32(central.count) + le32(local.count) + le16(0)
        return Data(local + central + end)
    }

    /// Raw deflate holding `bytes` in stored blocks (BTYPE 00): valid input for zlib's inflate.
    public static func storedDeflate(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var rest = bytes[...]
        repeat {
            let piece = rest.prefix(65_535)
            rest = rest.dropFirst(piece.count)
            let n = piece.count
            out += [rest.isEmpty ? 1 : 0, UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8(~n >> 8 & 0xff)] + piece
        } while !rest.isEmpty
        return out
    }

    /// CRC-32 (polynomial 0xEDB88320) written out, not zlib's.
    public static func referenceCRC32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
