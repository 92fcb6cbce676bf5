import NablaRuntime
import NablaTensor

extension Session {
    /// How many columns a plot may take: its usual `preferred`, less on a narrow terminal
    /// (a curve's axis labels take 12 columns, a map's frame `margin`), never under 20.
    package func plotWidth(_ preferred: Int, margin: Int = 12) -> Int {
        Swift.max(20, Swift.min(preferred, width - margin))
    }
}

/// Drawings in the terminal: curves over epochs and 2-D decision regions.
package enum Plot {
    /// Curves sharing one y axis, `height` rows by up to `width` columns; each
    /// series is drawn with its own mark, later series over earlier ones.
    /// The x axis counts from `first` (epochs from 1; a schedule's t from 0, as its formula).
    package static func curves(
        _ series: [(label: String, values: [Double], mark: Character)], width: Int = 60, height: Int = 10, title: String,
        axis: String = "epoch", first: Int = 1
    ) -> [String] {
        let finite = series.flatMap { $0.values.filter(\.isFinite) }
        guard let lo0 = finite.min(), let hi0 = finite.max(), let longest = series.map(\.values.count).max(), longest > 0 else {
            return []
        }
        var (lo, hi) = (lo0, hi0)
        if !(hi - lo > Swift.max(Swift.abs(hi), Swift.abs(lo)) * 1e-12) {
            let pad = Swift.max(Swift.abs(lo) * 0.5, 0.5)
            (lo, hi) = (lo - pad, hi + pad)
        }
        guard (hi - lo).isFinite, hi - lo > 0 else { return [] }
        let columns = Swift.min(width, longest)
        var grid = [[Character]](repeating: [Character](repeating: " ", count: columns), count: height)
        for s in series where !s.values.isEmpty {
            for c in 0..<columns {
                let i = longest <= 1 ? 0 : Int((Double(c) / Double(Swift.max(columns - 1, 1)) * Double(longest - 1)).rounded())
                guard i < s.values.count, s.values[i].isFinite else { continue }
                let position = ((hi - s.values[i]) / (hi - lo) * Double(height - 1)).rounded()
                guard position.isFinite else { continue }
                let r = Int(Swift.min(Swift.max(position, 0), Double(height - 1)))
                grid[r][c] = s.mark
            }
        }
        let top = Format.number(hi, digits: 3), bottom = Format.number(lo, digits: 3)
        let pad = Swift.max(top.count, bottom.count)
        var lines = [title + "   " + series.map { "\($0.mark) \($0.label)" }.joined(separator: "   ")]
        for (r, row) in grid.enumerated() {
            let axis = r == 0 ? top : (r == height - 1 ? bottom : "")
            lines.append(String(repeating: " ", count: pad - axis.count) + axis + " │" + String(row))
        }
        lines.append(String(repeating: " ", count: pad) + " └" + String(repeating: "─", count: columns))
        let start = "\(axis) \(first)", last = "\(axis) \(longest - 1 + first)"
        lines.append(String(repeating: " ", count: pad + 2) + start + String(repeating: " ", count: Swift.max(1, columns - start.count - last.count)) + last)
        return lines
    }

    /// Decision regions of a 2-D classifier: `classify` labels a batch of points (one per row);
    /// a `width` x `height` grid over the data, 10% beyond it on each side.
    package static func regionMap(
        points: Tensor, labels: [Int], width: Int, height: Int, classify: (Tensor) -> [Int]?
    ) -> RegionMap? {
        guard points.rank == 2, points.cols == 2, points.rows > 0 else { return nil }
        let xs = stride(from: 0, to: points.count, by: 2).map { points.scalars[$0] }
        let ys = stride(from: 1, to: points.count, by: 2).map { points.scalars[$0] }
        guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else { return nil }
        let mx = Swift.max((x1 - x0) * 0.1, 1e-3), my = Swift.max((y1 - y0) * 0.1, 1e-3)
        let (left, right, bottom, top) = (x0 - mx, x1 + mx, y0 - my, y1 + my)
        guard [left, right, bottom, top, right - left, top - bottom].allSatisfy(\.isFinite) else { return nil }
        var grid: [Double] = []
        for r in 0..<height {
            for c in 0..<width {
                grid.append(left + (Double(c) + 0.5) / Double(width) * (right - left))
                grid.append(top - (Double(r) + 0.5) / Double(height) * (top - bottom))
            }
        }
        guard let cells = classify(Tensor(shape: [width * height, 2], scalars: grid)), cells.count == width * height,
              let predicted = classify(points), predicted.count == labels.count else { return nil }
        let shown = labels.indices.map { (x: xs[$0], y: ys[$0], label: labels[$0], predicted: predicted[$0]) }
        return RegionMap(width: width, height: height, cells: cells, bounds: (left, right, bottom, top), points: shown)
    }

    /// The regions in the terminal: a shade per class, the points over them (a capital letter
    /// where misclassified).
    package static func regions(_ map: RegionMap) -> [String] {
        let (width, height) = (map.width, map.height)
        let shades: [Character] = ["·", "░", "▒", "▓", ":", "="]
        let marks: [Character] = ["o", "x", "+", "*", "#", "@"]
        var canvas = map.cells.map { shades[Swift.abs($0) % shades.count] }
        for p in map.points {
            let cx = (p.x - map.left) / (map.right - map.left) * Double(width), ry = (map.top - p.y) / (map.top - map.bottom) * Double(height)
            guard cx.isFinite, ry.isFinite, cx >= 0, cx < Double(width), ry >= 0, ry < Double(height) else { continue }
            let mark = marks[Swift.abs(p.label) % marks.count]
            canvas[Int(ry) * width + Int(cx)] = p.predicted != p.label ? Character(mark.uppercased()) : mark
        }
        let labels = Set(map.points.map(\.label))
        var lines = ["decision regions (\(shades.prefix(Swift.max(2, Set(map.cells).count)).enumerated().map { "\($1) class \($0)" }.joined(separator: ", "))); "
            + "points \(marks.prefix(Swift.max(2, labels.count)).enumerated().map { "\($1) class \($0)" }.joined(separator: ", ")), capitals misclassified (\(map.misclassified))"]
        for r in 0..<height { lines.append("│" + String(canvas[r * width..<(r + 1) * width]) + "│") }
        lines.append("x from \(Format.number(map.left, digits: 3)) to \(Format.number(map.right, digits: 3)), y from \(Format.number(map.bottom, digits: 3)) to \(Format.number(map.top, digits: 3))")
        return lines
    }

}
