import NablaRuntime
import NablaTeaching
import NablaTraining
import NablaSelfCheck
import Foundation
import NablaSyntax

/// What TAB does: text to insert at the cursor, or candidates to list.
public struct Completion: Equatable, Sendable {
    public var insert: String
    public var candidates: [String]

    public init(insert: String, candidates: [String]) {
        self.insert = insert
        self.candidates = candidates
    }
}

extension Session {
    /// Completes the word before the cursor: command names after `:`, file
    /// paths after `:load ` and `:save `, otherwise defined names and functions.
    public func complete(_ beforeCursor: String) -> Completion {
        let trimmed = beforeCursor.drop { $0 == " " || $0 == "\t" }
        if trimmed.hasPrefix(":") {
            let afterColon = trimmed.dropFirst()
            if !afterColon.contains(" ") {
                return Session.extend(String(afterColon), with: Session.commands.map(\.name), suffix: " ")
            }
            let name = afterColon.prefix { $0 != " " }
            if name == "load" || name == "save" {
                let path = afterColon.dropFirst(name.count).drop { $0 == " " }
                return completePath(String(path))
            }
            if let completion = completeArgument(String(name), words: afterColon.split(separator: " ", omittingEmptySubsequences: false).map(String.init)) {
                return completion
            }
            if let keys = Session.commandsByName[String(name)]?.keys, !keys.isEmpty,
               let completion = completeSetting(String(beforeCursor.reversed().prefix { $0 != " " }.reversed()), keys) {
                return completion
            }
        }
        let word = String(beforeCursor.reversed().prefix { Lexer.isIdentifierPart($0) }.reversed())
        guard !word.isEmpty, let first = word.first, !first.isNumber else { return Completion(insert: "", candidates: []) }
        let functions = Builtins.all.map(\.name).filter { $0.hasPrefix(word) }
        let names = definitions.keys.filter { $0.hasPrefix(word) }
        let all = Array(Set(functions + names)).sorted()
        let result = Session.extend(word, with: all, suffix: "")
        // A unique function completes with its opening parenthesis.
        if all.count == 1, functions.contains(all[0]), definitions[all[0]] == nil {
            return Completion(insert: result.insert + "(", candidates: [])
        }
        return result
    }

    /// A command's words by position: `:data` kinds and its CSV file, `:dot`'s file, `:help`
    /// topics, `:show`'s views, and a path after `dir=` or `checkpoint=`. Nil: not one of these.
    func completeArgument(_ command: String, words: [String]) -> Completion? {
        let current = words.last ?? "", position = words.count - 1
        for key in ["dir=", "checkpoint="] where current.hasPrefix(key) {
            return completePath(String(current.dropFirst(key.count)))
        }
        switch (command, position) {
        case ("data", 1): return Session.extend(current, with: Session.dataKinds, suffix: " ")
        case ("data", 2) where words[1] == "csv": return completePath(current)
        case ("dot", 2): return completePath(current)
        case ("help", 1):
            let topics = Session.commands.map(\.name) + Builtins.all.map(\.name) + ["syntax", "optimizers"]
            return Session.extend(current, with: Array(Set(topics)), suffix: "")
        case ("show", 1) where current.first.map({ !$0.isNumber }) == true:
            return Session.extend(current, with: ["wrong", "kernels", "maps", "digit"], suffix: " ")
        default: return nil
        }
    }

    /// A command's setting: `ep` → `epochs=`, `opt=ad` → `adam`, from the declared keys.
    /// Nil when the word is not a key's start (then names complete as usual).
    func completeSetting(_ word: String, _ keys: [Key]) -> Completion? {
        if let eq = word.firstIndex(of: "=") {
            let name = String(word[..<eq]), value = String(word[word.index(after: eq)...])
            guard let key = keys.first(where: { $0.name == name }), !key.completions.isEmpty else { return nil }
            return Session.extend(value, with: key.completions, suffix: " ")
        }
        guard !word.isEmpty else { return nil }
        let matching = keys.map(\.name).filter { $0.hasPrefix(word) }
        guard !matching.isEmpty, definitions.keys.allSatisfy({ !$0.hasPrefix(word) }) else { return nil }
        return Session.extend(word, with: matching.map { $0 + "=" }, suffix: "")
    }

    /// The shared remainder of the candidates that start with `word`, or the list when there is none.
    static func extend(_ word: String, with options: [String], suffix: String) -> Completion {
        let matches = options.filter { $0.hasPrefix(word) }.sorted()
        guard let first = matches.first else { return Completion(insert: "", candidates: []) }
        if matches.count == 1 { return Completion(insert: String(first.dropFirst(word.count)) + suffix, candidates: []) }
        var common = first
        for m in matches.dropFirst() {
            while !m.hasPrefix(common) { common.removeLast() }
        }
        let insert = String(common.dropFirst(word.count))
        return Completion(insert: insert, candidates: insert.isEmpty ? matches : [])
    }

    func completePath(_ typed: String) -> Completion {
        let slash = typed.lastIndex(of: "/")
        let dirPart = slash.map { String(typed[...$0]) } ?? ""
        let prefix = slash.map { String(typed[typed.index(after: $0)...]) } ?? typed
        let directory = resolvePath(dirPart.isEmpty ? "." : dirPart)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            return Completion(insert: "", candidates: [])
        }
        let visible = entries.filter { !$0.hasPrefix(".") || prefix.hasPrefix(".") }.map { entry -> String in
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: directory + "/" + entry, isDirectory: &isDirectory)  // false leaves it a file
            return isDirectory.boolValue ? entry + "/" : entry
        }
        let result = Session.extend(prefix, with: visible, suffix: "")
        return result
    }

    /// Every defined name, in definition order.
    public var definedNames: [String] {
        definitions.values.sorted { $0.sequence < $1.sequence }.map(\.name)
    }
}
