import Foundation
import NablaSession
import NablaRuntime

/// What `nabla check` found in one script.
struct CheckedScript {
    var path: String
    var outcomes: [CheckOutcome]
    var passed: Int
    var failed: Int
    /// The error that stopped the script, if one did.
    var stopped: String?
    var seconds: Double

    /// `✓ lesson.nabla: 3 passed, 0 failed`, as the text report prints it.
    var line: String {
        var line = "\(stopped == nil && failed == 0 ? "✓" : "✗") \(path): \(passed) passed, \(failed) failed"
        if stopped != nil { line += ", stopped by an error" }
        if stopped == nil && passed + failed == 0 { line += " (no :expect in it)" }
        return line
    }
}

/// Collects the lines a session writes to standard error.
final class ErrorLines {
    var lines: [String] = []
}

/// `nabla check --format tap|junit`: every :expect, :check and require= as a test, and a
/// script stopped by an error as a failed test of its own, for autograders.
enum CheckReport {
    /// Test Anything Protocol, version 13: a plan, then `ok N - ...` or `not ok N - ...`
    /// with the reason as a YAML block.
    static func tap(_ scripts: [CheckedScript]) -> String {
        var tests: [(ok: Bool, name: String, message: String?)] = []
        for s in scripts {
            for o in s.outcomes { tests.append((o.problem == nil, "\(s.path):\(o.line): \(o.name)", o.problem)) }
            if let stopped = s.stopped { tests.append((false, "\(s.path): runs to its end", stopped)) }
            if s.outcomes.isEmpty && s.stopped == nil { tests.append((true, "\(s.path): runs to its end (no :expect in it)", nil)) }
        }
        var out = "TAP version 13\n1..\(tests.count)\n"
        for (i, t) in tests.enumerated() {
            out += "\(t.ok ? "ok" : "not ok") \(i + 1) - \(oneLine(t.name))\n"
            if let message = t.message {
                out += "  ---\n  message: \"\(oneLine(message).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"\n  ...\n"
            }
        }
        return out
    }

    /// JUnit XML: a `<testsuite>` per script, a `<testcase>` per check, `<failure>` with the reason.
    static func junit(_ scripts: [CheckedScript]) -> String {
        let tests = scripts.reduce(0) { $0 + max($1.outcomes.count, 1) + ($1.stopped != nil && !$1.outcomes.isEmpty ? 1 : 0) }
        let failures = scripts.reduce(0) { $0 + $1.outcomes.filter { $0.problem != nil }.count + ($1.stopped == nil ? 0 : 1) }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"nabla check\" tests=\"\(tests)\" failures=\"\(failures)\">\n"
        for s in scripts {
            var cases: [(name: String, line: Int?, problem: String?)] = s.outcomes.map { ($0.name, $0.line, $0.problem) }
            if let stopped = s.stopped { cases.append(("runs to its end", nil, stopped)) }
            if cases.isEmpty { cases.append(("runs to its end (no :expect in it)", nil, nil)) }
            let failed = cases.filter { $0.problem != nil }.count
            out += "  <testsuite name=\"\(xml(s.path))\" tests=\"\(cases.count)\" failures=\"\(failed)\" time=\"\(String(format: "%.3f", s.seconds))\">\n"
            for c in cases {
                let name = xml(c.line.map { "line \($0): " } ?? "") + xml(c.name)
                if let problem = c.problem {
                    out += "    <testcase classname=\"\(xml(s.path))\" name=\"\(name)\">\n      <failure message=\"\(xml(oneLine(problem)))\"/>\n    </testcase>\n"
                } else {
                    out += "    <testcase classname=\"\(xml(s.path))\" name=\"\(name)\"/>\n"
                }
            }
            out += "  </testsuite>\n"
        }
        return out + "</testsuites>\n"
    }

    /// XML text with its five special characters escaped and control characters dropped.
    static func xml(_ text: String) -> String { XMLText.escaped(text, keepNewlines: false) }

    /// Newlines and escape sequences out: a report line stays one line.
    static func oneLine(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 ? " " : Character($0) })
            .trimmingCharacters(in: .whitespaces)
    }
}
