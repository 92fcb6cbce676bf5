import NablaRuntime
import NablaTeaching
import NablaTraining
import NablaSelfCheck
import Foundation
import NablaSyntax

/// A lesson cut into steps: each statement with the narration comments just above it.
public struct Lesson {
    public struct Step {
        /// The comment lines before the statement, without their `#`.
        public var narration: [String]
        /// The statement's text (several lines when a bracket stays open).
        public var text: String
        /// Where the statement starts in the file.
        public var line: Int
    }

    public var file: String
    public var steps: [Step]

    /// Cuts a script into steps. A comment block belongs to the statement after it;
    /// a blank line after a block keeps it.
    public init(text: String, file: String) {
        self.file = file
        var steps: [Step] = []
        var narration: [String] = []
        var pending: [String] = []
        var start = 0
        var depth = 0
        for (i, raw) in Session.lines(text).enumerated() {
            let line = String(raw)
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if pending.isEmpty {
                if trimmed.hasPrefix("#") {
                    narration.append(String(trimmed.dropFirst().drop { $0 == " " }))
                    continue
                }
                if trimmed.isEmpty { continue }
                start = i + 1
            }
            pending.append(line)
            depth += StatementReader.bracketBalance(String(line))
            if depth <= 0 {
                steps.append(Step(narration: narration, text: pending.joined(separator: "\n"), line: start))
                narration = []
                pending = []
                depth = 0
            }
        }
        if !pending.isEmpty { steps.append(Step(narration: narration, text: pending.joined(separator: "\n"), line: start)) }
        self.steps = steps
    }
}

/// `nabla replay FILE`: shows each step's narration, runs the step, and waits:
/// Enter continues, `b` goes back a step, `q` quits. An error stops the replay
/// at its file:line:column.
public struct Replay {
    public let lesson: Lesson
    /// Makes a fresh session (going back replays the steps before quietly).
    public let makeSession: () -> Session
    /// Reads the user's answer after a step; nil at the end of input (continue to the end).
    public let readKey: () -> String?
    public let write: (String) -> Void

    public init(lesson: Lesson, makeSession: @escaping () -> Session, readKey: @escaping () -> String?, write: @escaping (String) -> Void) {
        self.lesson = lesson
        self.makeSession = makeSession
        self.readKey = readKey
        self.write = write
    }

    /// Runs the lesson; true when it reached its end without an error.
    public func run() -> Bool {
        var session = makeSession()
        var index = 0
        var keysLeft = true
        let total = lesson.steps.count
        while index < total {
            let step = lesson.steps[index]
            write("── step \(index + 1) of \(total) ── \(lesson.file):\(step.line)")
            for line in step.narration { write("  " + line) }
            write("nabla> " + step.text.replacingOccurrences(of: "\n", with: "\n  ...> "))
            guard session.runStep(step, file: lesson.file) else {
                write("the replay stops here: fix \(lesson.file) at line \(step.line) and replay it")
                return false
            }
            index += 1
            guard index < total, keysLeft else { continue }
            switch pause(session) {
            case .next: break
            case .endOfInput: keysLeft = false
            case .quit:
                write("left the lesson at step \(index) of \(total)")
                return true
            case .back:
                // Back one step: replay everything before the previous step quietly, then show it again.
                let target = Swift.max(index - 2, 0)
                session = makeSession()
                session.quiet = true
                for earlier in lesson.steps[0..<target] where !session.runStep(earlier, file: lesson.file) { break }
                session.quiet = false
                index = target
            }
        }
        write("── the end of \(lesson.file): \(session.passed) checks passed, \(session.failed) failed")
        return session.failed == 0
    }
}

extension Replay {
    /// What the student chose at a pause.
    enum Choice { case next, back, quit, endOfInput }

    /// Waits after a step. Enter, `b` and `q` choose; any other line is the student's own,
    /// run in the lesson's session (an error in it is shown and the lesson goes on), and
    /// the pause asks again.
    func pause(_ session: Session) -> Choice {
        var typed = 0
        while true {
            write(typed == 0 ? "[Enter: next · b: back · q: quit · or type a line of your own]" : "[Enter: next · b: back · q: quit]")
            guard let key = readKey() else { return .endOfInput }
            switch key.trimmingCharacters(in: .whitespaces) {
            case "": return .next
            case "q", "quit": return .quit
            case "b", "back": return .back
            case let line:
                typed += 1
                write("you> " + line)
                // The student's own :expect lines do not count in the lesson's checks.
                let (passed, failed) = (session.passed, session.failed)
                _ = session.runLine(line, lineNumber: typed)
                (session.passed, session.failed) = (passed, failed)
            }
        }
    }
}

extension Session {
    /// Runs one step of a lesson, numbered as in its file.
    func runStep(_ step: Lesson.Step, file: String) -> Bool {
        let padded = String(repeating: "\n", count: Swift.max(step.line - 1, 0)) + step.text
        return runScript(padded, file: file)
    }
}
