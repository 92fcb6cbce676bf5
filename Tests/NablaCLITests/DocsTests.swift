// Docs that cannot drift: every example in README.md and docs/*.md runs against the built
// binary, and what it prints must be what the docs show.
//
// Which blocks run. Every fenced block (``` ... ```) of README.md and docs/*.md that is
//   - a session: it has lines starting with `nabla> `. Each such line is a statement; a line
//     starting with `  ...> ` right after it continues it (as at the prompt); every other line
//     is output, expected in order. The statements are piped to `nabla` (standard input: no
//     prompts, the same output), in a fresh temporary folder;
//   - a command line: its first line starts with `$ `. Each `$ nabla ...` line runs with
//     /bin/sh in the repository's root (so `examples/*.nabla` works) with the built nabla first
//     on PATH; the lines up to the next `$ ` are its expected output. Only nabla commands run.
// Other blocks (a script shown without prompts, a tree) are not run, unless named as a setup.
//
// Output. Standard output and standard error go to one pipe, so an error or a warning lands
// where the docs show it: nabla flushes standard output before it writes to standard error.
// COLUMNS and LINES are removed from the environment (nabla and --help wrap to $COLUMNS).
// Trailing spaces and trailing empty lines do not count. In an expected line:
//   - `…` stands for any characters: a line ending in `…` is "this prefix, then anything"
//     (`acc 73.75%  …` for a timing like `0.0123 s`); inside a line it works too
//     (`trained 60 epochs in … s; training loss 0.005188`);
//   - a line that is only `…` (indent allowed), or `… (a note for the reader)`, stands for any
//     number of lines, none included.
//
// Errors. Piped, nabla stops at the first error, where the prompt carries on. A statement whose
// shown output has an error line (`line N, column M: error: ...` or `error: ...`) therefore
// ends a run, and the block is checked in segments: the statements up to and including the
// first such statement, then from the next statement to the following error, and so on. A
// later segment's run repeats the earlier statements first, with each earlier erroring
// statement replaced by as many `#` lines as it had (it defined nothing, and line numbers in
// messages stay those of the prompt session, which counts lines from the start as a pipe
// does). The first of the lines replacing the error right before the segment is the marker
// `:expect 271828.18284 == 271828.18284` instead of `#`: its `✓` line separates the repeated
// output from the segment's. A failure names the segment by the lines of its statements.
//
// Markers: HTML comments on the lines right above the fence, one directive each:
//   <!-- doc-test: skip (why) -->       not run: only for what needs the MNIST files, a
//                                       terminal, the clock or randomness no `seed` fixes
//   <!-- doc-test: setup NAME -->       this plain block (no prompts) is a script other
//                                       blocks can start from; it must run without an error
//   <!-- doc-test: uses NAME -->        run setup NAME first ("the neuron, typed first");
//                                       its output is not shown (it must print the same
//                                       alone, so a setup stays deterministic)
//   <!-- doc-test: answers REGEX -->    an output line that matches REGEX entirely is a
//                                       sub-prompt with what was typed at it (`p = 0.8808` at
//                                       an :exercise question, `step (...)>` then Enter at
//                                       :step): its last capture group (none: an empty line)
//                                       is piped after the statement, and the line is not
//                                       expected (piped, nabla prints no prompts)
// Random output: start the block with `seed 1` rather than skipping it.
//
// A failing block is reported at its markdown line with the first line that differs, the line
// nabla printed there, and the output around it.

import Foundation
import Testing

/// One fenced block of a markdown file, with the `doc-test:` directives above it.
struct DocBlock: Sendable, CustomTestStringConvertible {
    /// The file relative to the repository's root: `docs/commands.md`.
    let file: String
    /// The line of the opening fence (1-based).
    let line: Int
    /// The lines inside the fences with their line numbers.
    let lines: [DocLine]
    let directives: [String]

    var testDescription: String { "\(file):\(line)" }
    var isSession: Bool { lines.contains { $0.text.hasPrefix(DocSession.prompt) } }
    var isCommandLine: Bool { lines.first?.text.hasPrefix("$ ") == true }
    func values(of directive: String) -> [String] {
        directives.compactMap { $0.hasPrefix(directive + " ") ? String($0.dropFirst(directive.count + 1)) : nil }
    }
    var skipReason: String? { directives.first { $0 == "skip" || $0.hasPrefix("skip ") } }
}

struct DocLine: Sendable {
    let number: Int
    let text: String
}

enum DocFiles {
    /// The repository's root: Tests/NablaCLITests/DocsTests.swift → ../../
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// README.md and every docs/*.md.
    static var files: [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }

    /// Every fenced block of every file.
    static func blocks() -> [DocBlock] {
        files.flatMap { file -> [DocBlock] in
            guard let text = try? String(contentsOf: root.appendingPathComponent(file), encoding: .utf8) else { return [] }
            return blocks(in: text, file: file)
        }
    }

    static func blocks(in text: String, file: String) -> [DocBlock] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var result: [DocBlock] = []
        var i = 0
        while i < lines.count {
            guard lines[i].hasPrefix("```") else { i += 1; continue }
            let open = i
            var close = open + 1
            while close < lines.count && !lines[close].hasPrefix("```") { close += 1 }
            var directives: [String] = []
            var k = open - 1
            while k >= 0, let directive = directive(lines[k]) {
                directives.insert(directive, at: 0)
                k -= 1
            }
            let body = (open + 1..<min(close, lines.count)).map { DocLine(number: $0 + 1, text: lines[$0]) }
            result.append(DocBlock(file: file, line: open + 1, lines: body, directives: directives))
            i = close + 1
        }
        return result
    }

    /// `<!-- doc-test: X -->` → `X`.
    static func directive(_ line: String) -> String? {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard t.hasPrefix("<!-- doc-test: "), t.hasSuffix(" -->") else { return nil }
        return String(t.dropFirst("<!-- doc-test: ".count).dropLast(" -->".count)).trimmingCharacters(in: .whitespaces)
    }

    /// The blocks that run (sessions and command lines, not skipped).
    static var runnable: [DocBlock] {
        blocks().filter { ($0.isSession || $0.isCommandLine) && $0.skipReason == nil }
    }

    /// The setups by name: the lines of each block marked `setup NAME`.
    static func setups(_ blocks: [DocBlock]) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for block in blocks {
            for name in block.values(of: "setup") { result[name] = block.lines.map(\.text) }
        }
        return result
    }
}

/// Runs nabla or a shell command line with standard output and standard error in one pipe.
enum DocRunner {
    /// The nabla beside the test bundle (as CommandLineTests finds it), else .build/debug's.
    static var binary: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("nabla")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return DocFiles.root.appendingPathComponent(".build/debug/nabla")
    }

    static func run(_ executable: URL, _ args: [String], stdin: String, in directory: URL) throws -> [String] {
        let process = Process()
        process.executableURL = executable
        process.arguments = args
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["COLUMNS"] = nil
        environment["LINES"] = nil
        environment["PATH"] = binary.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        // Standard input from a file, as in CommandLineTests: nabla may stop reading early.
        let inputPath = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-docs-\(UUID().uuidString)").path
        defer { unlink(inputPath) }
        try Data(stdin.utf8).write(to: URL(fileURLWithPath: inputPath))
        process.standardInput = FileHandle(forReadingAtPath: inputPath)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return lines(String(decoding: data, as: UTF8.self))
    }

    /// The lines of an output, without trailing spaces and trailing empty lines.
    static func lines(_ text: String) -> [String] {
        var result = text.split(separator: "\n", omittingEmptySubsequences: false).map { trimmedRight(String($0)) }
        while result.last == "" { result.removeLast() }
        return result
    }

    static func trimmedRight(_ s: String) -> String {
        var s = Substring(s)
        while let last = s.last, last == " " || last == "\t" || last == "\r" { s.removeLast() }
        return String(s)
    }

    static func nabla(_ input: [String], in directory: URL) throws -> [String] {
        try run(binary, [], stdin: input.map { $0 + "\n" }.joined(), in: directory)
    }

    static func shell(_ command: String) throws -> [String] {
        try run(URL(fileURLWithPath: "/bin/sh"), ["-c", command], stdin: "", in: DocFiles.root)
    }
}

/// Expected lines against printed ones, with the `…` conventions.
enum DocMatch {
    /// A line that stands for any number of lines: `…`, indented or not, or `… (a note)`.
    static func isEllipsis(_ line: String) -> Bool {
        let t = line.trimmingCharacters(in: .whitespaces)
        return t == "…" || (t.hasPrefix("… (") && t.hasSuffix(")"))
    }

    /// One line: `…` matches any characters.
    static func line(_ expected: String, matches actual: String) -> Bool {
        let parts = expected.components(separatedBy: "…")
        guard parts.count > 1 else { return expected == actual }
        guard actual.hasPrefix(parts[0]) else { return false }
        var rest = Substring(actual.dropFirst(parts[0].count))
        for (k, part) in parts.enumerated().dropFirst() {
            if k == parts.count - 1 { return rest.count >= part.count && rest.hasSuffix(part) }
            guard let found = rest.range(of: part) else { return false }
            rest = rest[found.upperBound...]
        }
        return true
    }

    /// nil when the lines match; else where they part: the first expected line not matched
    /// (nil: the block's end) and the printed line there (nil: the output's end).
    static func difference(_ expected: [DocLine], _ actual: [String]) -> (expected: DocLine?, actualIndex: Int)? {
        let exp = expected.map { DocLine(number: $0.number, text: DocRunner.trimmedRight($0.text)) }
        var memo: [Int: Bool] = [:]
        var furthest = (i: 0, j: 0)
        func matches(_ i: Int, _ j: Int) -> Bool {
            let key = i * (actual.count + 1) + j
            if let known = memo[key] { return known }
            if (i, j) > furthest { furthest = (i, j) }
            let result: Bool
            if i == exp.count {
                result = j == actual.count
            } else if isEllipsis(exp[i].text) {
                result = (j...actual.count).contains { matches(i + 1, $0) }
            } else {
                result = j < actual.count && line(exp[i].text, matches: actual[j]) && matches(i + 1, j + 1)
            }
            memo[key] = result
            return result
        }
        if matches(0, 0) { return nil }
        return (furthest.i < exp.count ? exp[furthest.i] : nil, furthest.j)
    }

    /// A readable report of a difference, or nil.
    static func report(_ expected: [DocLine], _ actual: [String], file: String, blockLine: Int) -> String? {
        guard let (want, j) = difference(expected, actual) else { return nil }
        let wanted = want.map { "\(file):\($0.number) shows   \($0.text)" } ?? "the block ends (\(file):\(blockLine))"
        let got = j < actual.count ? "nabla printed   \(actual[j])   (its output line \(j + 1))" : "nabla's output ended"
        let context = actual[max(0, j - 3)..<min(actual.count, j + 4)].enumerated().map { offset, text in
            (max(0, j - 3) + offset == j ? "  > " : "  | ") + text
        }
        return ([wanted, got, "output around it:"] + context).joined(separator: "\n")
    }
}

/// A `nabla>` block: its statements, what each typed, what each shows.
struct DocSession {
    static let prompt = "nabla> "
    static let continuation = "  ...> "
    static let marker = ":expect 271828.18284 == 271828.18284"
    static let markerOutput = "✓ 271828.18284 == 271828.18284"

    struct Statement {
        let line: Int
        /// The statement's lines (the first and its continuations).
        var lines: [String]
        /// What was typed at sub-prompts after it (`answers`).
        var answers: [String] = []
        var expected: [DocLine] = []
        var input: [String] { lines + answers }
        /// Piped, an error ends the run.
        var stops: Bool {
            expected.contains { $0.text.hasPrefix("error: ") || DocSession.isErrorLine($0.text) }
        }
    }

    static func isErrorLine(_ text: String) -> Bool {
        guard text.hasPrefix("line "), let r = text.range(of: ": error: ") else { return false }
        let head = text[..<r.lowerBound].dropFirst("line ".count)
        let parts = head.components(separatedBy: ", column ")
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    let statements: [Statement]

    init(_ block: DocBlock) throws {
        let answers = try block.values(of: "answers").map { try NSRegularExpression(pattern: "^(?:" + $0 + ")$") }
        var statements: [Statement] = []
        for line in block.lines {
            if line.text.hasPrefix(Self.prompt) {
                statements.append(Statement(line: line.number, lines: [String(line.text.dropFirst(Self.prompt.count))]))
            } else if line.text.hasPrefix(Self.continuation), let last = statements.last, last.expected.isEmpty, last.answers.isEmpty {
                statements[statements.count - 1].lines.append(String(line.text.dropFirst(Self.continuation.count)))
            } else if statements.isEmpty {
                throw DocError("\(block.file):\(line.number): output before the first `nabla>` line")
            } else if let typed = Self.answer(line.text, answers) {
                statements[statements.count - 1].answers.append(typed)
            } else {
                statements[statements.count - 1].expected.append(line)
            }
        }
        self.statements = statements
    }

    /// What was typed at a sub-prompt, when the line is one.
    static func answer(_ text: String, _ patterns: [NSRegularExpression]) -> String? {
        let range = NSRange(text.startIndex..., in: text)
        for pattern in patterns {
            guard let match = pattern.firstMatch(in: text, range: range) else { continue }
            guard match.numberOfRanges > 1, let r = Range(match.range(at: match.numberOfRanges - 1), in: text) else { return "" }
            return String(text[r])
        }
        return nil
    }

    /// Runs the block in segments (see the header) and returns a report per difference.
    func check(_ block: DocBlock, setup: [String]) throws -> [String] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-docs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let base = try setup.isEmpty ? [] : DocRunner.nabla(setup, in: folder)
        var failures: [String] = []
        var start = 0
        while start < statements.count {
            let end = statements[start...].firstIndex { $0.stops } ?? statements.count - 1
            var input = setup
            for (k, s) in statements[..<start].enumerated() {
                if s.stops {
                    input += [k == start - 1 ? Self.marker : "#"] + Array(repeating: "#", count: s.input.count - 1)
                } else {
                    input += s.input
                }
            }
            for s in statements[start...end] { input += s.input }
            var actual = try DocRunner.nabla(input, in: folder)
            let segment = "\(block.file):\(statements[start].line)"
            if start > 0 {
                guard let m = actual.firstIndex(of: Self.markerOutput) else {
                    failures.append("\(segment): the marker's line `\(Self.markerOutput)` is missing; nabla printed:\n" + actual.joined(separator: "\n"))
                    break
                }
                actual.removeFirst(m + 1)
            } else if !setup.isEmpty {
                guard actual.starts(with: base) else {
                    failures.append("\(segment): the setup printed something else before the block than alone")
                    break
                }
                actual.removeFirst(base.count)
            }
            let expected = statements[start...end].flatMap(\.expected)
            if let report = DocMatch.report(expected, actual, file: block.file, blockLine: block.line) {
                let which = start == 0 && end == statements.count - 1 ? "" : " (the statements from line \(statements[start].line) to \(statements[end].line))"
                failures.append("\(block.file):\(block.line)\(which):\n" + report)
            }
            start = end + 1
        }
        return failures
    }
}

struct DocError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A `$ nabla ...` block: each command and the lines it shows.
func checkCommandLines(_ block: DocBlock) throws -> [String] {
    var commands: [(line: Int, command: String, expected: [DocLine])] = []
    for line in block.lines {
        if line.text.hasPrefix("$ ") {
            commands.append((line.number, String(line.text.dropFirst(2)), []))
        } else if !commands.isEmpty {
            commands[commands.count - 1].expected.append(line)
        }
    }
    var failures: [String] = []
    for (line, command, expected) in commands {
        guard command == "nabla" || command.hasPrefix("nabla ") else {
            failures.append("\(block.file):\(line): only nabla commands run here, not `\(command)`")
            continue
        }
        let actual = try DocRunner.shell(command)
        if let report = DocMatch.report(expected, actual, file: block.file, blockLine: block.line) {
            failures.append("\(block.file):\(line): `\(command)`:\n" + report)
        }
    }
    return failures
}

@Suite("The examples in README.md and docs/ print what they show")
struct DocsTests {
    @Test("each nabla> block and $ nabla block prints what the docs show", arguments: DocFiles.runnable)
    func block(_ block: DocBlock) throws {
        let setups = DocFiles.setups(DocFiles.blocks())
        let failures: [String]
        if block.isSession {
            let setup = block.values(of: "uses").flatMap { setups[$0] ?? [] }
            failures = try DocSession(block).check(block, setup: setup)
        } else {
            failures = try checkCommandLines(block)
        }
        for failure in failures {
            Issue.record(Comment(rawValue: failure),
                         sourceLocation: SourceLocation(fileID: "nabla/" + block.file, filePath: DocFiles.root.appendingPathComponent(block.file).path, line: block.line, column: 1))
        }
    }

    @Test("the blocks are found, every marker is understood, every setup runs cleanly")
    func markers() throws {
        let blocks = DocFiles.blocks()
        let runnable = blocks.filter { ($0.isSession || $0.isCommandLine) && $0.skipReason == nil }
        #expect(runnable.count >= 15, "only \(runnable.count) blocks found to run")
        #expect(runnable.contains { $0.file == "README.md" && $0.isSession }, "README.md's first session is not found")
        let setups = DocFiles.setups(blocks)
        for block in blocks {
            for directive in block.directives {
                let words = directive.split(separator: " ", maxSplits: 1).map(String.init)
                switch words.first {
                case "skip":
                    #expect(words.count == 2 && words[1].hasPrefix("(") && words[1].hasSuffix(")") && words[1].count > 2,
                            "\(block.testDescription): a skip says why: <!-- doc-test: skip (needs the MNIST files) -->")
                case "setup":
                    #expect(words.count == 2 && !block.isSession && !block.isCommandLine, "\(block.testDescription): setup NAME marks a plain script block")
                case "uses":
                    #expect(words.count == 2 && setups[words[1]] != nil && block.isSession, "\(block.testDescription): no setup named '\(words.dropFirst().joined())'")
                case "answers":
                    #expect(words.count == 2 && (try? NSRegularExpression(pattern: words[1])) != nil, "\(block.testDescription): answers needs a regular expression")
                default:
                    Issue.record("\(block.testDescription): unknown directive '\(directive)' (skip, setup, uses, answers)")
                }
            }
        }
        // A setup runs alone without an error.
        for (name, lines) in setups.sorted(by: { $0.key < $1.key }) {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-docs-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let output = try DocRunner.nabla(lines, in: folder)
            #expect(!output.contains { $0.hasPrefix("error: ") || DocSession.isErrorLine($0) }, "setup \(name): \(output.joined(separator: "\n"))")
        }
    }

    @Test("the conventions: … in a line, … alone, trailing spaces")
    func conventions() throws {
        func match(_ expected: [String], _ actual: [String]) -> Bool {
            DocMatch.difference(expected.enumerated().map { DocLine(number: $0.offset + 1, text: $0.element) }, actual) == nil
        }
        #expect(match(["epoch 1 loss 0.5  …"], ["epoch 1 loss 0.5  0.0123 s"]))
        #expect(match(["trained in … s; loss 0.1"], ["trained in 0.49 s; loss 0.1"]))
        #expect(!match(["trained in … s; loss 0.1"], ["trained in 0.49 s; loss 0.2"]))
        #expect(match(["a", "…", "d"], ["a", "b", "c", "d"]))
        #expect(match(["a", "  …", "b"], ["a", "b"]))
        #expect(match(["a", "… (the curves)"], ["a", "x", "y"]))
        #expect(!match(["a", "…", "d"], ["a", "b", "c"]))
        #expect(match(["x = 1   "], ["x = 1"]))
        #expect(!match(["x = 1"], ["x = 1", "y = 2"]))
        #expect(DocSession.isErrorLine("line 12, column 3: error: unknown name 'q'"))
        #expect(!DocSession.isErrorLine("line 12: x == 3: got 2"))
        let block = DocFiles.blocks(in: "<!-- doc-test: answers (p|q) = (.*) -->\n```\nnabla> :exercise\np = 0.5\nok\nnabla> v = [1,\n  ...>      2]\nv = [1, 2]\n```\n", file: "t.md")
        let only = try #require(block.first)
        #expect(block.count == 1 && only.directives == ["answers (p|q) = (.*)"])
        let session = try DocSession(only)
        #expect(session.statements.map(\.input) == [[":exercise", "0.5"], ["v = [1,", "     2]"]])
        #expect(session.statements.map { $0.expected.map(\.text) } == [["ok"], ["v = [1, 2]"]])
    }
}
