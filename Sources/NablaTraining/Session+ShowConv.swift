import Foundation
import NablaRuntime
import NablaGraph
import NablaSyntax
import NablaTensor

/// `:show kernels K` and `:show maps H N [test]`: a convnet's kernels and feature maps drawn
/// with half blocks, each scaled from its own smallest (blank) to its largest value (full).
extension Session {
    package static let showConvUsage = ":show kernels K  or  :show maps H N [test]"

    func showKernels(_ words: [(String, SourceRange)], args: CommandArguments) throws(Diagnostic) {
        guard words.count == 2 else { throw args.missing("the kernels to draw, a param [F, C, k, k] like net_K1", usage: Session.showConvUsage) }
        let k = graph.value(try resolve(words[1].0, at: words[1].1, within: nil))
        guard k.rank == 4, k.shape[2] == k.shape[3], k.count > 0 else {
            throw Diagnostic(.error, "\(words[1].0) has shape \(Shape.describe(k.shape)); kernels are [F, C, k, k]", at: words[1].1)
        }
        let (f, c, side) = (k.shape[0], k.shape[1], k.shape[2])
        let shown = Swift.min(f, 40)
        let pictures = (0..<shown).map { i in Session.picture(Session.scaled(Array(k.scalars[i * c * side * side..<(i * c + 1) * side * side])), side: side, colour: colors) }
        say((["\(words[1].0): \(f) kernel\(f == 1 ? "" : "s") of \(side)x\(side)\(c > 1 ? " (channel 0 of \(c))" : ""), each from its smallest (blank) to its largest weight (full)\(f > shown ? "; the first \(shown)" : "")"]
            + Session.sideBySide(pictures, widths: pictures.map { _ in side + (colors ? 0 : 2) }, labels: (0..<shown).map(String.init))).joined(separator: "\n"))
    }

    func showMaps(_ words: [(String, SourceRange)], test: Bool, args: CommandArguments) throws(Diagnostic) {
        guard words.count == 3, let index = Int(words[2].0), index >= 0 else {
            throw args.missing("a layer of feature maps and an image number, like :show maps net_h1 7", usage: Session.showConvUsage)
        }
        guard let training = data, let set = test ? training.test : training.train, index < set.count else {
            throw Diagnostic(.error, "no such image: load :data mnist first; numbers go from 0 to the split's size − 1", at: words[2].1)
        }
        let layer = try resolve(words[1].0, at: words[1].1, within: nil)
        let maps: Tensor
        do { maps = try value(of: layer, withInput: set.rows([index]).x) } catch {
            throw Diagnostic(.error, error.reason.message, at: words[1].1)
        }
        guard maps.rank == 4, maps.shape[0] == 1, maps.shape[2] == maps.shape[3], maps.count > 0 else {
            throw Diagnostic(.error, "\(words[1].0) gives \(Shape.describe(maps.shape)) for one image; feature maps are [1, F, h, h]", at: words[1].1)
        }
        let (f, side) = (maps.shape[1], maps.shape[2])
        let shown = Swift.min(f, 40)
        let pictures = (0..<shown).map { i in Session.picture(Session.scaled(Array(maps.scalars[i * side * side..<(i + 1) * side * side])), side: side, colour: colors) }
        // The image beside its maps when it is one square channel (else the maps alone).
        let imageSide = Int(Double(set.features).squareRoot())
        let square = imageSide * imageSide == set.features
        let image = square ? Session.picture(set.rows([index]).x.scalars, side: imageSide, colour: colors) : []
        say((["#\(index) of the \(test ? "test" : "training") set (label \(Format.number(set.y.scalars[index]))) and the \(f) feature maps of \(words[1].0), \(side)x\(side) each, every map from its smallest to its largest value:"]
            + Session.sideBySide((square ? [image] : []) + pictures, widths: (square ? [imageSide + (colors ? 0 : 2)] : []) + pictures.map { _ in side + (colors ? 0 : 2) },
                                 labels: (square ? ["image"] : []) + (0..<shown).map(String.init))).joined(separator: "\n"))
    }

    /// Values to [0, 1]: the smallest finite one to 0, the largest to 1 (all 0.5 when they are
    /// equal); NaN stays NaN (drawn blank), infinities go to their end.
    static func scaled(_ v: [Double]) -> [Double] {
        let finite = v.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max(), hi > lo else { return v.map { $0.isNaN ? .nan : 0.5 } }
        return v.map { $0.isFinite ? ($0 - lo) / (hi - lo) : ($0.isNaN ? .nan : ($0 > 0 ? 1 : 0)) }
    }

    /// Pictures (each `widths[i]` columns wide on screen) in rows that fit 100 columns, each
    /// labelled above.
    static func sideBySide(_ pictures: [[String]], widths: [Int], labels: [String]) -> [String] {
        var lines: [String] = []
        var start = 0
        while start < pictures.count {
            var end = start + 1, used = widths[start]
            while end < pictures.count, used + 1 + widths[end] <= 100 { used += 1 + widths[end]; end += 1 }
            let group = Array(start..<end)
            lines.append(group.map { labels[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: " "))
            let height = group.map { pictures[$0].count }.max() ?? 0
            for r in 0..<height {
                lines.append(group.map { r < pictures[$0].count ? pictures[$0][r] : String(repeating: " ", count: widths[$0]) }.joined(separator: " "))
            }
            start = end
        }
        return lines
    }
}
