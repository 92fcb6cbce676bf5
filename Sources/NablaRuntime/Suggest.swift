/// "Did you mean" suggestions: the closest candidate by edit distance, where swapping two
/// neighbouring letters (`:hlep`) is one edit and a change of case alone (`Z` for `z`) is none.
package enum Suggest {
    /// The candidate nearest to `word`, if it is close enough to be a likely typo.
    package static func nearest(_ word: String, among candidates: [String]) -> String? {
        if let sameLetters = candidates.sorted().first(where: { $0 != word && $0.lowercased() == word.lowercased() }) {
            return sameLetters
        }
        let limit = Swift.max(1, word.count / 3)
        var best: (String, Int)?
        for candidate in candidates.sorted() {
            let d = distance(word, candidate)
            if d <= limit, d < word.count, d < (best?.1 ?? .max) { best = (candidate, d) }
        }
        return best?.0
    }

    /// The edits that turn `a` into `b`: insert, delete, replace, or swap two neighbours
    /// (the optimal string alignment distance), over characters.
    package static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var twoBack = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = Swift.min(current[j], twoBack[j - 2] + 1)
                }
            }
            (twoBack, previous, current) = (previous, current, twoBack)
        }
        return previous[b.count]
    }
}
