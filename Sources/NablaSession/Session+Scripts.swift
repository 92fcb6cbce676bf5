import NablaRuntime
import NablaTeaching
import NablaTraining
import NablaSelfCheck
import Foundation
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

/// Gathers input lines into statements: a line that leaves a bracket open
/// continues on the next one. The REPL and the script runner share it.
public struct StatementReader {
    public enum Result {
        /// A bracket is still open: give the next line.
        case needMore
        case statement(Statement, SourceText)
        case failure(Diagnostic, SourceText)
    }

    var buffer: [String] = []
    var firstLine = 1
    /// Open brackets over the lines buffered so far (comments skipped).
    var depth = 0
    var bytes = 0
    public var file: String?
    /// The longest statement read, in bytes (a literal spread over many lines counts whole).
    public var maxBytes: Int

    public init(file: String? = nil, maxBytes: Int = Int.max) {
        self.file = file
        self.maxBytes = maxBytes
    }

    /// True while a statement is open across lines.
    public var isContinuing: Bool { !buffer.isEmpty }

    /// A command line that ended an unfinished statement: after that statement's error, it
    /// still runs (at a prompt, `y = 1 +` then `:vars` reports the first and runs the second).
    var brokenOff: (String, Int)?

    public mutating func takeBrokenOff() -> (line: String, number: Int)? {
        defer { brokenOff = nil }
        return brokenOff
    }

    /// Adds one line (numbered from 1) and says what it completes.
    public mutating func feed(_ line: String, lineNumber: Int) -> Result {
        // A statement left open by a trailing operator (no bracket open) ends at an empty line
        // or a command: it is reported where it broke off.
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        if !buffer.isEmpty, depth <= 0, trimmed.isEmpty || trimmed.first == ":", let (error, source) = finish() {
            // The command is not lost: the caller feeds it again after reporting the error.
            if trimmed.first == ":" { brokenOff = (line, lineNumber) }
            return .failure(error, source)
        }
        if buffer.isEmpty {
            firstLine = lineNumber
            depth = 0
            bytes = 0
        }
        buffer.append(line)
        bytes += line.utf8.count + 1
        depth += StatementReader.bracketBalance(line)
        if bytes > maxBytes {
            let source = SourceText(file: file, text: String(line.prefix(200)), firstLine: lineNumber)
            buffer = []
            let start = SourceLocation(line: lineNumber, column: 1)
            let message = "this statement has more than \(maxBytes) bytes (the script limit; :limits script=N changes it)"
            return .failure(Diagnostic(.error, message, at: SourceRange(start: start, end: start, offsets: 0..<0)), source)
        }
        // A statement already known to be open stays open while a bracket is: while one is, it
        // is parsed again only at its 2nd, 4th, 8th, ... line, so a literal over 10,000 lines
        // costs O(n log n), and a mistake inside it is still reported within twice its line.
        if buffer.count > 1 && depth > 0 && buffer.count & (buffer.count - 1) != 0 { return .needMore }
        let source = SourceText(file: file, text: buffer.count == 1 ? buffer[0] : buffer.joined(separator: "\n"), firstLine: firstLine)
        // A big literal of plain numbers still open: wait without the general parser's re-read.
        if depth > 0 && NumericLiteral.isOpenPrefix(source.text) { return .needMore }
        do {
            let statement = try Parser.parseStatement(source.text, line: firstLine)
            buffer.removeAll(keepingCapacity: true)  // the next statement's line goes here
            return .statement(statement, source)
        } catch {
            if error.isIncomplete { return .needMore }
            buffer.removeAll(keepingCapacity: true)
            return .failure(error, source)
        }
    }

    /// Opening minus closing brackets of a line, up to a comment.
    static func bracketBalance(_ line: String) -> Int {
        var line = line
        return line.withUTF8 { bytes in  // a buffer, not the view's iterator: a line is read often
            var balance = 0
            for c in bytes {
                switch c {
                case UInt8(ascii: "#"): return balance
                case UInt8(ascii: "("), UInt8(ascii: "["): balance += 1
                case UInt8(ascii: ")"), UInt8(ascii: "]"): balance -= 1
                default: break
                }
            }
            return balance
        }
    }

    /// At the end of the input: the error for a statement left open, if any.
    public mutating func finish() -> (Diagnostic, SourceText)? {
        guard !buffer.isEmpty else { return nil }
        let source = SourceText(file: file, text: buffer.joined(separator: "\n"), firstLine: firstLine)
        buffer = []
        do {
            _ = try Parser.parseStatement(source.text, line: firstLine)
            return nil
        } catch {
            return (error, source)
        }
    }

    /// Drops a half-typed statement (Ctrl-C on a continuation line).
    public mutating func cancel() { buffer = [] }
}

extension Session {
    /// The deepest chain of `:load`s (a file that loads itself stops here).
    static let maxLoadDepth = 16

    /// Runs a script: every statement in order, stopping at the first error.
    /// Returns false when an error stopped it (failed `:expect`s do not stop it).
    @discardableResult
    public func runScript(_ text: String, file: String? = nil) -> Bool {
        var lines = Session.lines(text).makeIterator()
        return runLines(file: file) { lines.next().map(String.init) }
    }

    /// A script's lines: any newline ends one ("\r\n", a Windows file's, is one newline). An
    /// ASCII script is split on its bytes, without walking it a Character at a time.
    static func lines(_ text: String) -> [Substring] {
        let utf8 = text.utf8
        // One pass over the bytes of an ASCII text; nil (then Characters) at the first other byte.
        let ascii: [Substring]?? = utf8.withContiguousStorageIfAvailable { bytes in
            func piece(_ a: Int, _ b: Int) -> Substring {
                text[utf8.index(utf8.startIndex, offsetBy: a)..<utf8.index(utf8.startIndex, offsetBy: b)]
            }
            var lines: [Substring] = []
            lines.reserveCapacity(32)
            var start = 0, i = 0
            while i < bytes.count {
                let byte = bytes[i]
                guard byte < 0x80 else { return nil }
                i += 1
                guard (10...13).contains(byte) else { continue }
                lines.append(piece(start, i - 1))
                if byte == 13, i < bytes.count, bytes[i] == 10 { i += 1 }
                start = i
            }
            lines.append(piece(start, bytes.count))
            return lines
        }
        if let ascii = ascii ?? nil { return ascii }
        return text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    }

    /// Runs the statements of lines as they come (standard input is read this way, a
    /// statement at a time, never whole); a UTF-8 byte order mark before the first is skipped.
    @discardableResult
    public func runLines(file: String?, next: () -> String?) -> Bool {
        var reader = StatementReader(file: file, maxBytes: maxScriptBytes)
        var lineNumber = 0
        while var line = next() {
            lineNumber += 1
            reader.maxBytes = maxScriptBytes  // a :limits script=N line holds from the next statement
            if lineNumber == 1, line.unicodeScalars.first == "\u{FEFF}" { line.unicodeScalars.removeFirst() }
            if isInterrupted() { return false }
            if pending != nil {
                answer(line)
                continue
            }
            // Each line is parsed under the limits of the moment (a :limits line changes them).
            switch withLimits({ reader.feed(line.hasSuffix("\r") ? String(line.dropLast()) : line, lineNumber: lineNumber) }) {
            case .needMore:
                continue
            case let .statement(statement, source):
                if !run(statement, source: source) { return false }
                if wantsToQuit { return true }
            case let .failure(diagnostic, source):
                report(diagnostic, in: source)
                return false
            }
        }
        pending = nil
        if let (diagnostic, source) = withLimits({ reader.finish() }) {
            report(diagnostic, in: source)
            return false
        }
        return true
    }

    /// Runs one line typed at a prompt or given with `-e` (numbered `lineNumber`).
    @discardableResult
    public func runLine(_ line: String, lineNumber: Int = 1) -> Bool {
        withLimits { runLineWithLimits(line, lineNumber: lineNumber) }
    }

    private func runLineWithLimits(_ line: String, lineNumber: Int) -> Bool {
        var reader = StatementReader()
        switch reader.feed(line, lineNumber: lineNumber) {
        case let .statement(statement, source):
            return run(statement, source: source)
        case let .failure(diagnostic, source):
            report(diagnostic, in: source)
            return false
        case .needMore:
            if let (diagnostic, source) = reader.finish() { report(diagnostic, in: source) }
            return false
        }
    }

    // MARK: - :load and :save


    /// Reads a text file, or says clearly why it cannot.
    static func readText(_ path: String, limit: Int? = nil) throws(TensorError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .invalid("cannot open '\(path)': no such file")
        }
        guard !isDirectory.boolValue else { throw .invalid("'\(path)' is a folder, not a file") }
        // A script is read up to its limit and a byte more, so a huge file (or /dev/zero, a
        // pipe, whose size the file system does not know) is refused without reading it all.
        if let limit {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw .invalid("cannot read '\(path)': permission denied") }
            defer { try? handle.close() }
            let data = (try? handle.read(upToCount: limit + 1)) ?? Data()
            guard data.count <= limit else {
                throw .invalid("'\(path)' has more than \(Format.grouped(Double(limit))) bytes; the limit is script=\(Format.grouped(Double(limit))) (:limits script=N changes it)")
            }
            guard let text = String(data: data, encoding: .utf8) else { throw .invalid("'\(path)' is not UTF-8 text") }
            return text
        }
        guard FileManager.default.isReadableFile(atPath: path), let data = FileManager.default.contents(atPath: path) else {
            throw .invalid("cannot read '\(path)': permission denied")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .invalid("'\(path)' is not UTF-8 text") }
        return text
    }

    func loadCommand(_ args: CommandArguments) throws(Diagnostic) {
        guard !args.path.isEmpty else { throw args.missing("a file", usage: ":load file.nabla") }
        guard directoryStack.count < Session.maxLoadDepth else {
            throw Diagnostic(.error, ":load nested more than \(Session.maxLoadDepth) deep (does a file load itself?)", at: args.wholeRange)
        }
        let path = resolvePath(args.path)
        switch Session.fileKind(args.path) {
        case "npz", "safetensors":
            try loadWeights(from: path, at: args.wholeRange)
            return
        case "nabla", "", "txt":
            break
        case "csv":
            throw Diagnostic(.error, ":load runs scripts and reads params; a CSV file is data: :data csv \(args.path)", at: args.wholeRange)
        case let other:
            throw Diagnostic(.error, "nabla does not read .\(other) files: :load reads \(Session.fileKinds)", at: args.wholeRange)
        }
        let text: String
        do { text = try Session.readText(path, limit: maxScriptBytes) } catch { throw Diagnostic(.error, error.message, at: args.wholeRange) }
        directoryStack.append((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent)
        defer { directoryStack.removeLast() }
        if !runScript(text, file: args.path) {
            throw Diagnostic(.error, "stopped loading '\(args.path)' at the error above", at: args.wholeRange)
        }
    }

    /// Runs a script file given on the command line; its `:load`s are relative to its folder.
    public func runFile(_ path: String) -> Bool {
        let text: String
        do {
            text = try Session.readText(path, limit: maxScriptBytes)
        } catch {
            output.err(SafeText.escaped("error: \(error.message)"))
            return false
        }
        let dir = (path as NSString).deletingLastPathComponent
        directoryStack.append(dir.isEmpty ? "." : dir)
        defer { directoryStack.removeLast() }
        return runScript(text, file: path)
    }

    /// The files `:save` and `:load` know, by extension.
    static let fileKinds = ".nabla (a script: the session), .npz (numpy: the params) or .safetensors (the params)"

    /// `:save file.nabla` writes the session as a script; `.npz` and `.safetensors` the params.
    /// Any other extension is refused: nothing is written under a name that says otherwise.
    func saveCommand(_ args: CommandArguments) throws(Diagnostic) {
        guard !args.path.isEmpty else { throw args.missing("a file", usage: ":save file.nabla") }
        switch Session.fileKind(args.path) {
        case "npz", "safetensors":
            let n = try saveWeights(to: resolvePath(args.path), at: args.wholeRange)
            let reader = args.path.hasSuffix(".npz") ? "numpy: np.load('\(args.path)')" : "safetensors.numpy.load_file('\(args.path)')"
            say("saved \(n) param\(n == 1 ? "" : "s") to \(args.path) (\(reader))")
        case "nabla", "":
            try saveScript(to: args.path, at: args.wholeRange)
        case let other:
            throw Diagnostic(.error, "nabla does not write .\(other) files: :save writes \(Session.fileKinds)", at: args.wholeRange)
        }
    }

    /// The session as a script that `:load` turns back into it: the commands that made data
    /// and nets (`:data`, `:mlp`, ... with the random generator as it was before each), the
    /// definitions, then every param's current value (in a `.npz` beside the script when the
    /// params hold more than 100,000 numbers).
    func saveScript(to file: String, at range: SourceRange) throws(Diagnostic) {
        var lines = ["# saved by nabla: the commands that made the data and the nets, the definitions, then the params' values", ""]
        let made = Set(makers.flatMap(\.names))
        // A param of more than 100,000 numbers is defined as zeros here and filled from the .npz.
        let big = Set(paramNames.filter { name in !made.contains(name) && (paramLeaf(name).map { graph.value($0).count > 100_000 } ?? false) })
        let params = paramNames.filter { made.contains($0) || big.contains($0) }
        let numbers = params.compactMap { paramLeaf($0) }.reduce(0) { $0 + graph.value($1).count }
        let npz = (file.hasSuffix(".nabla") ? String(file.dropLast(6)) : file) + ".params.npz"
        let loadParams = ":load \((npz as NSString).lastPathComponent)"
        // `ans` is the loaded session's own, unless a definition reads it.
        let ansRead = definitions.values.contains { $0.dependencies.contains("ans") }
        for item in savedItems() {
            switch item {
            case let .maker(m):
                lines.append(Session.seedLine(m.random))
                lines.append(m.text)
                // What it made and the user deleted since, deleted again.
                let gone = m.made.filter { definitions[$0] == nil }.sorted()
                if !gone.isEmpty { lines.append(":del " + gone.joined(separator: " ")) }
            case let .definition(d) where d.name == "ans" && d.storesValue && !ansRead:
                continue
            case let .definition(d) where big.contains(d.name):
                // Zeros for its shape, then its values at once, before a formula reads it.
                lines.append("param \(d.name) = zeros(\(graph.value(d.slot).shape.map(String.init).joined(separator: ", ")))")
                lines.append(loadParams)
            case let .definition(d):
                lines.append(try savedLine(d, at: range))
            }
        }
        if numbers > 100_000 {
            _ = try saveWeights(to: resolvePath(npz), at: range, only: params)
            lines += ["", "# the params' values (\(Format.grouped(Double(numbers))) numbers)", loadParams]
        } else if !params.isEmpty {
            lines += ["", "# the params' values"]
            for name in params {
                guard let leaf = paramLeaf(name) else { continue }
                let value = graph.value(leaf)
                guard value.isFinite else { throw Diagnostic(.error, "\(name) holds NaN or infinity; not saved", at: range) }
                lines.append("param \(name) = \(Printer.literal(value))")
            }
        }
        // X and Y as they are now (`:use test` before :save).
        if let split = splitInUse() { lines += ["", "# X and Y held the \(split) split", ":use \(split)"] }
        // The random generator as it is now: draws after :load go on as they would have.
        lines += ["", "# the random generator where the session left it", Session.seedLine(random.snapshot)]
        do { try SafeFile.write(lines.joined(separator: "\n") + "\n", to: resolvePath(file)) } catch {
            throw Diagnostic(.error, error.message, at: range)
        }
        say("saved \(definitions.count) definition\(definitions.count == 1 ? "" : "s") to \(file)"
            + (makers.isEmpty ? "" : " (\(makers.count) command\(makers.count == 1 ? "" : "s") that made data or nets, then their params' values)"))
    }

    /// `:seed STATE [spare=X]`: the generator exactly as it was (its state and kept normal).
    static func seedLine(_ snapshot: (state: UInt64, spareNormal: Double?)) -> String {
        ":seed \(snapshot.state)" + (snapshot.spareNormal.map { " spare=\(Printer.literal(Tensor($0)))" } ?? "")
    }

    /// A definition made by hand, as a line: a param or stored value with its value, a formula
    /// with its text (random draws replaced by the numbers they drew).
    func savedLine(_ d: Definition, at range: SourceRange) throws(Diagnostic) -> String {
        guard d.isParam || d.storesValue else { return "\(d.name) = \(savedText(of: d))" }
        let value = graph.value(d.slot)
        guard value.isFinite else { throw Diagnostic(.error, "\(d.name) holds NaN or infinity; not saved", at: range) }
        return "\(d.isParam ? "param " : "")\(d.name) = \(Printer.literal(value))"
    }

    enum SavedItem {
        case maker(Maker)
        case definition(Definition)
    }

    /// The makers and the definitions they did not make, each after every name it reads
    /// (ties: the one made first first).
    func savedItems() -> [SavedItem] {
        let made = Set(makers.flatMap(\.names))
        var remaining: [(SavedItem, provides: Set<String>, reads: Set<String>, sequence: Int)] =
            makers.map { (.maker($0), $0.names, $0.reads, $0.sequence) }
            + definitions.values.filter { !made.contains($0.name) }.map { (.definition($0), [$0.name], $0.dependencies, $0.sequence) }
        remaining.sort { $0.sequence < $1.sequence }
        var placed: Set<String> = []
        let all = Set(definitions.keys)
        var out: [SavedItem] = []
        while !remaining.isEmpty {
            let i = remaining.firstIndex { $0.reads.intersection(all).isSubset(of: placed) } ?? 0
            let item = remaining.remove(at: i)
            placed.formUnion(item.provides)
            out.append(item.0)
        }
        return out
    }

    /// A definition's text as `:save` writes it: each random draw (`randn(3)`, `he(2, 4)`) is
    /// replaced by the numbers it drew, so `:load` gives back the same values, not new draws.
    func savedText(of d: Definition) -> String {
        let random: Set<String> = ["randn", "glorot", "he", "lecun"]
        let draws = d.expr.calls.filter { call in
            guard case let .call(name, _, _) = call.kind else { return false }
            return random.contains(name)
        }
        guard !draws.isEmpty else { return d.expr.text }
        var text = Array(d.expr.text)
        let base = d.expr.range.offsets.lowerBound
        for call in draws.sorted(by: { $0.range.offsets.lowerBound > $1.range.offsets.lowerBound }) {
            guard let node = d.nodes.first(where: { id in
                guard origins[id]?.range == call.range, case .constant = graph[id].op else { return false }
                return true
            }),
                  call.range.offsets.lowerBound >= base, call.range.offsets.upperBound - base <= text.count
            else { return Printer.literal(graph.value(d.slot)) }
            let literal = Printer.literal(graph.value(node))
            text.replaceSubrange(call.range.offsets.lowerBound - base..<call.range.offsets.upperBound - base, with: Array(literal))
        }
        return String(text)
    }

}
