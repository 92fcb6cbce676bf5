import NablaRuntime
import NablaGraph
import NablaTensor

/// What the convolution chapter shows: weight sharing in ∂L/∂K, and max-pooling's VJP
/// routing each gradient to its window's winner.
extension Session {
    /// After `:explain L K` through a convolution: ∂L/∂K[f, c, 0, 0] written as the sum over
    /// every image and position where the kernel was applied (the same weight at each), with
    /// the terms when there are at most 8 and their count otherwise.
    func weightSharing(_ paths: [ChainPath], gradients: Gradients) -> [String] {
        for f in paths.flatMap(\.factors) {
            guard let edge = f.edges.last(where: { if case .conv2d = graph[$0.node].op { return true }; return false }),
                  edge.input == 1, case let .conv2d(stride, pad) = graph[edge.node].op,
                  let upstream = gradients[edge.node] else { continue }
            let conv = graph[edge.node]
            let x = graph.value(conv.inputs[0]), k = graph.value(conv.inputs[1])
            guard k.rank == 4, x.rank == 3 || x.rank == 4, k.count > 0, x.count > 0, upstream.count > 0 else { return [] }
            return sharingLines(x: x, k: k, upstream: upstream, stride: stride, pad: pad, convLabel: conv.label,
                                xLabel: graph[conv.inputs[0]].label, kLabel: graph[conv.inputs[1]].label)
        }
        return []
    }

    // swiftlint:disable:next function_parameter_count
    private func sharingLines(
        x: Tensor, k: Tensor, upstream g: Tensor, stride: Int, pad: Int, convLabel: String, xLabel: String, kLabel: String
    ) -> [String] {
        let batched = x.rank == 4
        let (b, c, h, w) = batched ? (x.shape[0], x.shape[1], x.shape[2], x.shape[3]) : (1, x.shape[0], x.shape[1], x.shape[2])
        let f = k.shape[0]
        let (oh, ow) = ((h + 2 * pad - k.shape[2]) / stride + 1, (w + 2 * pad - k.shape[3]) / stride + 1)
        guard g.count == b * f * oh * ow else { return [] }
        // The first weight, K[0, 0, 0, 0]: every (image, output position) adds g · the input under it.
        var terms: [(Double, Double)] = []
        for n in 0..<b {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let (y, xx) = (oy * stride - pad, ox * stride - pad)
                    guard y >= 0, y < h, xx >= 0, xx < w else { continue }
                    terms.append((g.scalars[(n * f) * oh * ow + oy * ow + ox], x.scalars[(n * c * h + y) * w + xx]))
                }
            }
        }
        let total = terms.reduce(0) { $0 + $1.0 * $1.1 }
        let where_ = batched ? "\(b) image\(b == 1 ? "" : "s") × \(oh * ow) positions" : "\(oh * ow) positions"
        var lines = ["weight sharing: \(kLabel) is applied at every position, so each of its weights sums one term per position and image:",
                     "  ∂L/∂\(kLabel)[0, 0, 0, 0] = Σ over \(where_) of ∂L/∂(\(convLabel))[\(batched ? "b, " : "")0, y, x] · \(xLabel)[\(batched ? "b, " : "")0, \(stride == 1 ? "y" : "\(stride)y")\(pad > 0 ? "-\(pad)" : ""), \(stride == 1 ? "x" : "\(stride)x")\(pad > 0 ? "-\(pad)" : "")]"]
        if terms.count <= 8 {
            let written = terms.map { "\(Session.factor($0.0))·\(Session.factor($0.1))" }.joined(separator: " + ")
            lines.append("    = \(written) = \(Format.number(total))")
        } else {
            lines.append("    = \(terms.count) terms\(pad > 0 ? " (the padding adds none)" : "") = \(Format.number(total))")
        }
        return lines
    }

    /// Max-pooling's VJP as routing: the first windows, each sending its gradient to its
    /// largest element (the first in reading order on a tie); every other element gets 0.
    static func maxPoolRouting(_ x: Tensor, upstream g: Tensor, size: Int, stride: Int) -> String {
        guard x.rank >= 2, x.count > 0, g.count > 0 else { return "" }
        let (h, w) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
        let (oh, ow) = ((h - size) / stride + 1, (w - size) / stride + 1)
        let windows = g.count
        var lines = ["             routing: each of the \(windows) windows sends its gradient to its largest element alone (the others get nothing from that window)"]
        for o in 0..<Swift.min(windows, 4) {
            let plane = o / Swift.max(oh * ow, 1), (i, j) = (o / ow % oh, o % ow)
            var best = (plane * h + i * stride) * w + j * stride
            for a in 0..<size {
                for b in 0..<size {
                    let s = (plane * h + i * stride + a) * w + j * stride + b
                    if x.scalars[s] > x.scalars[best] { best = s }
                }
            }
            let at = Shape.describe(Session.multiIndex(best, shape: x.shape))
            lines.append("               window \(Shape.describe(Session.multiIndex(o, shape: g.shape))): the largest is \(at) = \(Format.number(x.scalars[best])), which gets \(Format.number(g.scalars[o]))")
        }
        if windows > 4 { lines.append("               ... (\(windows - 4) more windows)") }
        return lines.joined(separator: "\n")
    }
}
