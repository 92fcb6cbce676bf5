import NablaSession

/// A session whose output is captured, to compare with expected transcripts.
final class Transcript {
    var out: [String] = []
    var err: [String] = []
    let session: Session

    init(seed: UInt64 = 42) {
        let box = Box()
        session = Session(output: SessionOutput(out: { box.out.append($0) }, err: { box.err.append($0) }), seed: seed)
        self.box = box
    }

    private let box: Box
    private final class Box {
        var out: [String] = []
        var err: [String] = []
    }

    /// Runs a script; returns true when no error stopped it.
    @discardableResult
    func run(_ script: String, file: String? = nil) -> Bool {
        box.out = []
        box.err = []
        let ok = session.runScript(script, file: file)
        out = box.out
        err = box.err
        return ok
    }

    /// Runs `body` (lines typed at a prompt, answers to a waiting command) and keeps what it printed.
    func capture(_ body: (Session) -> Void) {
        box.out = []
        box.err = []
        body(session)
        out = box.out
        err = box.err
    }

    /// Runs a script file as `nabla FILE` does.
    @discardableResult
    func runFile(_ path: String) -> Bool {
        box.out = []
        box.err = []
        let ok = session.runFile(path)
        out = box.out
        err = box.err
        return ok
    }

    var stdout: String { out.joined(separator: "\n") }
    var stderr: String { err.joined(separator: "\n") }
}

import Foundation

enum FileManagerHelper {
    /// A fresh directory for a test's files.
    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-test-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
