import Foundation
import NablaRuntime
import NablaTensor

/// Pictures to keep, as SVG text: curves over epochs, decision regions, images (digits,
/// kernels) and the computational graph. Each is a function that returns the document;
/// `:plot` writes it to a file and `:export` puts it inside a page.
package enum SVG {
    /// The colours of classes: a light one for regions, a strong one for points.
    static let light = ["#dbeafe", "#fee2e2", "#dcfce7", "#fef9c3", "#f3e8ff", "#ffedd5", "#e0f2fe", "#fce7f3", "#ecfccb", "#f1f5f9"]
    static let strong = ["#1d4ed8", "#b91c1c", "#15803d", "#a16207", "#7e22ce", "#c2410c", "#0369a1", "#be185d", "#4d7c0f", "#334155"]

    /// Text escaped for XML.
    package static func escape(_ text: String) -> String { XMLText.escaped(text) }

    static func document(width: Double, height: Double, title: String, _ body: [String]) -> String {
        ([
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\" viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">",
            "<title>\(escape(title))</title>",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
        ] + body + ["</svg>"]).joined(separator: "\n") + "\n"
    }

    /// A coordinate with two decimals.
    static func n(_ x: Double) -> String { Format.printf("%.2f", x) }

    static func text(_ s: String, x: Double, y: Double, anchor: String = "start", size: Int = 12, weight: String = "normal") -> String {
        "<text x=\"\(n(x))\" y=\"\(n(y))\" text-anchor=\"\(anchor)\" font-size=\"\(size)\" font-weight=\"\(weight)\">\(escape(s))</text>"
    }

    // MARK: - Curves

    /// Curves over epochs on one y axis (loss, accuracy, a schedule): axes with ticks, a line
    /// and dots per series, a legend.
    package static func curves(_ series: [(label: String, values: [Double])], title: String, axis: String = "epoch", first: Int = 1) -> String {
        let (w, h, left, right, top, bottom) = (640.0, 360.0, 64.0, 16.0, 36.0, 44.0)
        let finite = series.flatMap { $0.values.filter(\.isFinite) }
        let longest = series.map(\.values.count).max() ?? 0
        guard var lo = finite.min(), var hi = finite.max(), longest > 0 else {
            return document(width: w, height: h, title: title, [text(title + ": nothing to draw", x: w / 2, y: h / 2, anchor: "middle")])
        }
        if hi - lo < 1e-12 * Swift.max(1, Swift.abs(hi)) { (lo, hi) = (lo - 0.5, hi + 0.5) }
        let plotW = w - left - right, plotH = h - top - bottom
        func x(_ i: Int) -> Double { left + (longest == 1 ? plotW / 2 : Double(i) / Double(longest - 1) * plotW) }
        func y(_ v: Double) -> Double { top + (hi - v) / (hi - lo) * plotH }
        var body = [text(title, x: left, y: 22, size: 14, weight: "bold")]
        body.append("<path d=\"M\(n(left)),\(n(top)) V\(n(top + plotH)) H\(n(left + plotW))\" fill=\"none\" stroke=\"#333\"/>")
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4
            body.append("<line x1=\"\(n(left - 4))\" x2=\"\(n(left + plotW))\" y1=\"\(n(y(v)))\" y2=\"\(n(y(v)))\" stroke=\"#e5e7eb\"/>")
            body.append(text(Format.number(v, digits: 4), x: left - 6, y: y(v) + 4, anchor: "end", size: 11))
        }
        let ticks = Swift.min(longest, 6)
        for k in 0..<ticks {
            let i = ticks == 1 ? 0 : Int((Double(k) / Double(ticks - 1) * Double(longest - 1)).rounded())
            body.append(text("\(i + first)", x: x(i), y: top + plotH + 16, anchor: "middle", size: 11))
        }
        body.append(text(axis, x: left + plotW / 2, y: h - 8, anchor: "middle"))
        for (k, s) in series.enumerated() {
            let colour = strong[k % strong.count]
            let points = s.values.enumerated().filter { $0.element.isFinite }.map { "\(n(x($0.offset))),\(n(y($0.element)))" }
            body.append("<polyline points=\"\(points.joined(separator: " "))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>")
            if s.values.count <= 60 {
                for p in points { body.append("<circle cx=\"\(p.split(separator: ",")[0])\" cy=\"\(p.split(separator: ",")[1])\" r=\"2.5\" fill=\"\(colour)\"/>") }
            }
            let lx = left + plotW - 150, ly = top + 6 + Double(k) * 18
            body.append("<line x1=\"\(n(lx))\" x2=\"\(n(lx + 20))\" y1=\"\(n(ly))\" y2=\"\(n(ly))\" stroke=\"\(colour)\" stroke-width=\"2\"/>")
            body.append(text(s.label, x: lx + 26, y: ly + 4))
        }
        return document(width: w, height: h, title: title, body)
    }

    // MARK: - Decision regions

    /// The regions as coloured cells, the points over them (a cross where misclassified), the
    /// axes' ranges.
    package static func regions(_ map: RegionMap, title: String = "decision regions") -> String {
        let cell = 4.0, margin = 40.0
        let w = Double(map.width) * cell + 2 * margin, h = Double(map.height) * cell + 2 * margin
        var body = [text("\(title): \(map.misclassified) of \(map.points.count) training points misclassified (crosses)", x: margin, y: 24, size: 13, weight: "bold")]
        for r in 0..<map.height {
            // Runs of one class in a row are one rectangle.
            var c = 0
            while c < map.width {
                let k = map.cells[r * map.width + c]
                var end = c + 1
                while end < map.width, map.cells[r * map.width + end] == k { end += 1 }
                body.append("<rect x=\"\(n(margin + Double(c) * cell))\" y=\"\(n(margin + Double(r) * cell))\" width=\"\(n(Double(end - c) * cell))\" height=\"\(n(cell))\" fill=\"\(light[Swift.abs(k) % light.count])\"/>")
                c = end
            }
        }
        func px(_ x: Double) -> Double { margin + (x - map.left) / (map.right - map.left) * Double(map.width) * cell }
        func py(_ y: Double) -> Double { margin + (map.top - y) / (map.top - map.bottom) * Double(map.height) * cell }
        for p in map.points {
            let (x, y) = (px(p.x), py(p.y))
            guard x.isFinite, y.isFinite else { continue }
            let colour = strong[Swift.abs(p.label) % strong.count]
            if p.label == p.predicted {
                body.append("<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"3\" fill=\"\(colour)\" stroke=\"white\" stroke-width=\"0.8\"/>")
            } else {
                body.append("<path d=\"M\(n(x - 4)),\(n(y - 4)) L\(n(x + 4)),\(n(y + 4)) M\(n(x - 4)),\(n(y + 4)) L\(n(x + 4)),\(n(y - 4))\" stroke=\"\(colour)\" stroke-width=\"2\"/>")
            }
        }
        body.append(text("x from \(Format.number(map.left, digits: 3)) to \(Format.number(map.right, digits: 3)), y from \(Format.number(map.bottom, digits: 3)) to \(Format.number(map.top, digits: 3))", x: margin, y: h - 14, size: 11))
        return document(width: w, height: h, title: title, body)
    }

    // MARK: - Images

    /// Images side by side, each with its caption: grey levels from 0 (white) to 1 (black)
    /// for digits; for `signed` values (kernels) blue below 0, red above, white at 0, each
    /// image scaled by its largest magnitude.
    package static func images(_ images: [(pixels: [Double], width: Int, height: Int, caption: String)], signed: Bool, title: String) -> String {
        let pixel = images.map { Swift.max($0.width, $0.height) }.max().map { Swift.max(2.0, 112.0 / Double(Swift.max($0, 1))) } ?? 4
        let cellW = images.map { Double($0.width) * pixel }.max() ?? 0
        let perRow = Swift.max(1, Swift.min(images.count, Int(900 / (cellW + 16))))
        let cellH = (images.map { Double($0.height) * pixel }.max() ?? 0) + 22
        let rows = (images.count + perRow - 1) / perRow
        let w = Double(perRow) * (cellW + 16) + 16, h = Double(rows) * (cellH + 8) + 40
        var body = [text(title, x: 16, y: 22, size: 13, weight: "bold")]
        for (k, image) in images.enumerated() {
            let ox = 16 + Double(k % perRow) * (cellW + 16), oy = 36 + Double(k / perRow) * (cellH + 8)
            let scale = signed ? Swift.max(image.pixels.map { Swift.abs($0) }.filter(\.isFinite).max() ?? 1, 1e-12) : 1
            for r in 0..<image.height {
                for c in 0..<image.width where r * image.width + c < image.pixels.count {
                    let v = image.pixels[r * image.width + c]
                    body.append("<rect x=\"\(n(ox + Double(c) * pixel))\" y=\"\(n(oy + Double(r) * pixel))\" width=\"\(n(pixel))\" height=\"\(n(pixel))\" fill=\"\(signed ? diverging(v / scale) : grey(v))\"/>")
                }
            }
            body.append("<rect x=\"\(n(ox))\" y=\"\(n(oy))\" width=\"\(n(Double(image.width) * pixel))\" height=\"\(n(Double(image.height) * pixel))\" fill=\"none\" stroke=\"#999\"/>")
            body.append(text(image.caption, x: ox, y: oy + Double(image.height) * pixel + 15, size: 11))
        }
        return document(width: w, height: h, title: title, body)
    }

    /// 0 white, 1 black (a digit's ink).
    static func grey(_ v: Double) -> String {
        let level = Int(255 - 255 * Swift.min(Swift.max(v.isFinite ? v : 0, 0), 1))
        return "rgb(\(level),\(level),\(level))"
    }

    /// −1 blue, 0 white, +1 red.
    static func diverging(_ v: Double) -> String {
        let t = Swift.min(Swift.max(v.isFinite ? v : 0, -1), 1)
        let fade = Int(255 - 200 * Swift.abs(t))
        return t >= 0 ? "rgb(255,\(fade),\(fade))" : "rgb(\(fade),\(fade),255)"
    }

    // MARK: - The graph

    /// One node of a drawn graph: its lines of text, its kind and the nodes it reads.
    package struct Node {
        package enum Kind { case param, constant, output, other }
        package var id: Int
        package var lines: [String]
        package var kind: Kind
        package var inputs: [Int]
        package init(id: Int, lines: [String], kind: Kind, inputs: [Int]) {
            (self.id, self.lines, self.kind, self.inputs) = (id, lines, kind, inputs)
        }
    }

    /// The graph in layers, inputs below and the output on top (as `:dot` draws it): each
    /// node a box at the height of its longest path from a leaf, arrows from inputs up.
    package static func graph(_ nodes: [Node], title: String) -> String {
        var layer: [Int: Int] = [:]
        for node in nodes { layer[node.id] = (node.inputs.compactMap { layer[$0] }.max() ?? -1) + 1 }
        let depth = (layer.values.max() ?? 0) + 1
        var columns = [[Node]](repeating: [], count: depth)
        for node in nodes { columns[layer[node.id] ?? 0].append(node) }
        func size(_ node: Node) -> (Double, Double) {
            (Double((node.lines.map(\.count).max() ?? 4) * 7 + 16), Double(node.lines.count * 15 + 10))
        }
        let rowHeight = (nodes.map { size($0).1 }.max() ?? 30) + 40
        let rowWidths = columns.map { row in row.reduce(0.0) { $0 + size($1).0 + 20 } }
        let w = Swift.max(320, (rowWidths.max() ?? 0) + 20), h = Double(depth) * rowHeight + 50
        var centre: [Int: (x: Double, top: Double, bottom: Double)] = [:]
        var boxes: [String] = []
        for (level, row) in columns.enumerated() {
            var x = (w - rowWidths[level]) / 2 + 10
            let y = 40 + Double(depth - 1 - level) * rowHeight
            for node in row {
                let (bw, bh) = size(node)
                centre[node.id] = (x + bw / 2, y, y + bh)
                let fill = node.kind == .param ? "#fde68a" : node.kind == .output ? "#bfdbfe" : node.kind == .constant ? "#e5e7eb" : "#f4f4f4"
                boxes.append("<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(bw))\" height=\"\(n(bh))\" rx=\"6\" fill=\"\(fill)\" stroke=\"#555\"\(node.kind == .param || node.kind == .output ? " stroke-width=\"2\"" : "")/>")
                for (i, line) in node.lines.enumerated() {
                    boxes.append(text(line, x: x + bw / 2, y: y + 17 + Double(i) * 15, anchor: "middle", size: 11))
                }
                x += bw + 20
            }
        }
        var body = [
            text(title, x: 10, y: 22, size: 13, weight: "bold"),
            "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>",
        ]
        for node in nodes {
            guard let to = centre[node.id] else { continue }
            for input in node.inputs {
                guard let from = centre[input] else { continue }
                body.append("<line x1=\"\(n(from.x))\" y1=\"\(n(from.top))\" x2=\"\(n(to.x))\" y2=\"\(n(to.bottom))\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>")
            }
        }
        return document(width: w, height: h, title: title, body + boxes)
    }
}
