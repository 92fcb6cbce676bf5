import NablaTensor

// MARK: - Convolution and pooling: forward and VJP side by side, generic over the element

/// The pooling of a window: its largest element, its mean, or the square root of the sum of
/// its squares (the course's L2 pooling).
public enum PoolKind: String, Sendable, Hashable, CaseIterable {
    case max, avg, l2
}

/// Where a convolution reads and writes: x [B, C, H, W] (B = 1 for an image [C, H, W]),
/// kernels [F, C, kh, kw], the output [B, F, oh, ow] with oh = (H + 2 pad - kh) / stride + 1.
struct ConvGeometry {
    let batched: Bool
    let b, c, h, w, f, kh, kw, stride, pad, oh, ow: Int

    init(x: [Int], k: [Int], stride: Int, pad: Int) throws(TensorError) {
        guard x.count == 3 || x.count == 4 else {
            throw .badShape(op: "conv2d", x, expected: "an image [C, H, W] or a batch of images [B, C, H, W]")
        }
        guard k.count == 4 else {
            throw .badShape(op: "conv2d's kernels", k, expected: "[F, C, kh, kw] (F feature maps of C channels)")
        }
        guard stride >= 1, pad >= 0 else { throw .invalid("conv2d: the stride must be at least 1 and the padding at least 0") }
        batched = x.count == 4
        let image = Array(x.suffix(3))
        (b, c, h, w) = (batched ? x[0] : 1, image[0], image[1], image[2])
        (f, kh, kw) = (k[0], k[2], k[3])
        guard k[1] == c else {
            throw .invalid("conv2d: the input has \(c) channel\(c == 1 ? "" : "s") (\(Shape.describe(x))) but the kernels expect \(k[1]) (\(Shape.describe(k)))")
        }
        guard kh <= h + 2 * pad, kw <= w + 2 * pad, kh >= 1, kw >= 1 else {
            throw .invalid("conv2d: a kernel of \(kh)x\(kw) does not fit in the \(h)x\(w) image padded by \(pad)")
        }
        (self.stride, self.pad) = (stride, pad)
        (oh, ow) = ((h + 2 * pad - kh) / stride + 1, (w + 2 * pad - kw) / stride + 1)
    }

    var outputShape: [Int] { batched ? [b, f, oh, ow] : [f, oh, ow] }
    /// Rows of a patch matrix: one per (channel, kernel row, kernel column).
    var patchRows: Int { c * kh * kw }

    /// Calls `body(r, p, s)` for every patch row r (channel, kernel row, kernel column), output
    /// position p and the image offset s it reads, skipping the padding: the loops of im2col.
    @inline(__always)
    func forEachTap(_ body: (Int, Int, Int) -> Void) {
        for ch in 0..<c {
            for i in 0..<kh {
                for j in 0..<kw {
                    let r = (ch * kh + i) * kw + j
                    for oy in 0..<oh {
                        let y = oy * stride + i - pad
                        guard y >= 0 && y < h else { continue }
                        let row = (ch * h + y) * w
                        for ox in 0..<ow {
                            let x = ox * stride + j - pad
                            if x >= 0 && x < w { body(r, oy * ow + ox, row + x) }
                        }
                    }
                }
            }
        }
    }
}

extension Op {
    /// `conv2d(x, k, stride, pad)`: the cross-correlation of the course and of every framework,
    /// as one matrix product for the whole batch: kernels [F, C·kh·kw] @ patches [C·kh·kw, B·oh·ow].
    static func conv2d<T: TensorElement>(_ x: DenseTensor<T>, _ k: DenseTensor<T>, stride: Int, pad: Int) throws(TensorError) -> DenseTensor<T> {
        let g = try ConvGeometry(x: x.shape, k: k.shape, stride: stride, pad: pad)
        try Shape.checkSize(g.outputShape)
        // The patch matrix of the batch (C·kh·kw rows, one column per image and position) too.
        try Shape.checkSize([g.patchRows, g.b * g.oh * g.ow])
        let product = DenseTensor<T>.gemm(k.scalars, patches(x.scalars, g), m: g.f, k: g.patchRows, n: g.b * g.oh * g.ow)
        return DenseTensor(shape: g.outputShape, scalars: g.swapBatchAndMaps(product, maps: g.f, batch: g.b))
    }

    /// The patch matrix (im2col) of the batch: row r, column b·P + p holds image b's input under
    /// kernel element r when the kernel sits at output position p (0 in the padding).
    static func patches<T: TensorElement>(_ x: [T], _ g: ConvGeometry) -> [T] {
        let positions = g.oh * g.ow, columns = g.b * positions, image = g.c * g.h * g.w
        var cols = [T](repeating: 0, count: g.patchRows * columns)
        cols.withUnsafeMutableBufferPointer { out in
            x.withUnsafeBufferPointer { src in
                for b in 0..<g.b {
                    let (column, offset) = (b * positions, b * image)
                    g.forEachTap { r, p, s in out[r * columns + column + p] = src[offset + s] }
                }
            }
        }
        return cols
    }

    /// ∂L/∂x and ∂L/∂k of a convolution over the batch: gK = G · patchesᵀ (the same kernel at every
    /// position and image: its gradient sums over them) and ∂patches = Kᵀ · G, added back where
    /// each came from (G is the output's gradient as [F, B·oh·ow]).
    static func conv2dVJP<T: TensorElement>(
        _ x: DenseTensor<T>, _ k: DenseTensor<T>, _ gOut: DenseTensor<T>, stride: Int, pad: Int, needs: [Bool]?
    ) -> [DenseTensor<T>?] {
        guard let g = try? ConvGeometry(x: x.shape, k: k.shape, stride: stride, pad: pad) else { return [nil, nil] }
        let positions = g.oh * g.ow, columns = g.b * positions, image = g.c * g.h * g.w
        let grad = g.swapBatchAndMaps(gOut.scalars, maps: g.b, batch: g.f)
        var gk: DenseTensor<T>?
        if needs?[1] != false {
            gk = DenseTensor(shape: k.shape, scalars: DenseTensor<T>.gemm(grad, false, patches(x.scalars, g), true, m: g.f, k: columns, n: g.patchRows))
        }
        var gx: DenseTensor<T>?
        if needs?[0] != false {
            let gCols = DenseTensor<T>.gemm(k.scalars, true, grad, false, m: g.patchRows, k: g.f, n: columns)
            var out = [T](repeating: 0, count: x.count)
            out.withUnsafeMutableBufferPointer { o in
                for b in 0..<g.b {
                    let (column, offset) = (b * positions, b * image)
                    g.forEachTap { r, p, s in o[offset + s] += gCols[r * columns + column + p] }
                }
            }
            gx = DenseTensor(shape: x.shape, scalars: out)
        }
        return [gx, gk]
    }
}

extension ConvGeometry {
    /// [A, B, P] to [B, A, P] (P = oh·ow): the product's [F, B·P] to the output's [B, F, P], and
    /// the output's gradient back.
    func swapBatchAndMaps<T>(_ v: [T], maps a: Int, batch b: Int) -> [T] {
        let positions = oh * ow
        guard a > 1 && b > 1 else { return v }
        var out = v
        for i in 0..<a {
            for j in 0..<b {
                let from = (i * b + j) * positions, to = (j * a + i) * positions
                for p in 0..<positions { out[to + p] = v[from + p] }
            }
        }
        return out
    }
}

/// Where a pooling reads: the last two axes of x are the maps (H x W); windows of size x size
/// at steps of `stride`, those that fit (valid).
struct PoolGeometry {
    let planes, h, w, size, stride, oh, ow: Int
    let outputShape: [Int]

    init(_ x: [Int], size: Int, stride: Int, op: String) throws(TensorError) {
        guard x.count >= 2 else { throw .badShape(op: op, x, expected: "maps with at least two axes ([H, W], [C, H, W] or [B, C, H, W])") }
        guard size >= 1, stride >= 1 else { throw .invalid("\(op): the window and the stride must be at least 1") }
        (h, w) = (x[x.count - 2], x[x.count - 1])
        guard size <= h, size <= w else {
            throw .invalid("\(op): a \(size)x\(size) window is larger than the \(h)x\(w) map (\(Shape.describe(x)))")
        }
        planes = Shape.count(Array(x.dropLast(2)))
        (self.size, self.stride) = (size, stride)
        (oh, ow) = ((h - size) / stride + 1, (w - size) / stride + 1)
        outputShape = Array(x.dropLast(2)) + [oh, ow]
    }

    /// Calls `body(o, top)` for each output element o, with the offset of its window's top-left input.
    @inline(__always)
    func forEachWindow(_ body: (Int, Int) -> Void) {
        var o = 0
        for plane in 0..<planes {
            for i in 0..<oh {
                for j in 0..<ow {
                    body(o, (plane * h + i * stride) * w + j * stride)
                    o += 1
                }
            }
        }
    }

    /// The input offsets of the window whose top-left input is `top`, row by row: `body(offset)`.
    @inline(__always)
    func forEachInWindow(_ top: Int, _ body: (Int) -> Void) {
        for a in 0..<size {
            for b in 0..<size { body(top + a * w + b) }
        }
    }
}

extension Op {
    /// max-, average- or L2-pooling over the last two axes.
    static func pool<T: TensorElement>(_ x: DenseTensor<T>, _ kind: PoolKind, size: Int, stride: Int) throws(TensorError) -> DenseTensor<T> {
        let g = try PoolGeometry(x.shape, size: size, stride: stride, op: "\(kind.rawValue)pool")
        var out = [T](repeating: 0, count: g.planes * g.oh * g.ow)
        let n = T(size * size)
        x.scalars.withUnsafeBufferPointer { v in
            g.forEachWindow { o, top in
                var acc: T = kind == .max ? -T.infinity : 0
                g.forEachInWindow(top) { s in
                    switch kind {
                    case .max: if v[s] > acc || v[s].isNaN { acc = v[s] }  // a NaN stays NaN
                    case .avg: acc += v[s]
                    case .l2: acc += v[s] * v[s]
                    }
                }
                switch kind {
                case .max: out[o] = acc
                case .avg: out[o] = acc / n
                case .l2: out[o] = acc.squareRoot()
                }
            }
        }
        return DenseTensor(shape: g.outputShape, scalars: out)
    }

    /// The VJP of a pooling: max sends each gradient to its window's largest element (the first
    /// in row-major order on a tie); avg spreads it evenly; L2 gives each element g·x/y (0 when y = 0).
    static func poolVJP<T: TensorElement>(
        _ x: DenseTensor<T>, _ y: DenseTensor<T>, _ gOut: DenseTensor<T>, _ kind: PoolKind, size: Int, stride: Int
    ) -> [DenseTensor<T>?] {
        guard let g = try? PoolGeometry(x.shape, size: size, stride: stride, op: "pool") else { return [nil] }
        var gx = [T](repeating: 0, count: x.count)
        let n = T(size * size)
        x.scalars.withUnsafeBufferPointer { v in
            g.forEachWindow { o, top in
                let gv = gOut.scalars[o], yv = y.scalars[o]
                switch kind {
                case .max:
                    var best = -1
                    g.forEachInWindow(top) { s in if best < 0 || v[s] > v[best] { best = s } }
                    gx[best] += gv
                case .avg:
                    g.forEachInWindow(top) { s in gx[s] += gv / n }
                case .l2:
                    if yv > 0 { g.forEachInWindow(top) { s in gx[s] += gv * v[s] / yv } }
                }
            }
        }
        return [DenseTensor(shape: x.shape, scalars: gx)]
    }

    /// `flatten(x)`: [B, C, H, W] becomes [B, C·H·W]; rank 3 becomes a vector; lower ranks stay.
    static func flattenedShape(_ shape: [Int]) -> [Int] {
        switch shape.count {
        case 0, 1, 2: return shape
        case 3: return [Shape.count(shape)]
        default: return [shape[0], Shape.count(Array(shape.dropFirst()))]
        }
    }
}
