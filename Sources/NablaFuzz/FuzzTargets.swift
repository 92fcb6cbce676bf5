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
public enum FuzzTargets {
    /// Lines with these words are not run: they write files, fetch, read the real MNIST, or
    /// change the process-wide limits (which would carry over to the next inputs).
    static let skipped = [":save", ":dot", "checkpoint", "download", "mnist", "fashion", ":load", ":replay", ":limits"]

    /// Lowers the limits for a fuzzing process: tensors of at most 100,000 numbers (800 KB)
    /// and graphs of at most 2,000 nodes, so the values one input can hold stay under 1.6 GB
    /// (libFuzzer's memory limit is 2 GB). Process-wide: not for tests running in parallel.
    public static func lowerLimits() {
        Tensor.maxElements = 100_000
        nodes = 2_000
    }
    nonisolated(unsafe) static var nodes = Session.defaultMaxNodes

    public static func line(_ bytes: [UInt8], budget: TimeInterval = 1) {
        let text = String(decoding: bytes, as: UTF8.self)
        let session = Session(output: SessionOutput(out: { _ in }, err: { _ in }), seed: 1)
        session.quiet = true
        session.maxNodes = nodes
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
        _ = session.runLine("param W = zeros(2, 3)")
        _ = session.runLine("param b = zeros(3)")
        _ = session.runLine(":load \(npz.path)")
    }
}
