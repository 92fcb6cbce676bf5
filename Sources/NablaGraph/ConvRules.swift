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

    /// Calls `body(r, p, s, n)` for every patch row r (channel, kernel row, kernel column) and
    /// output row: the n output positions p, p + 1, ... read the image at s, s + stride, ...
    /// (the padding skipped): the loops of im2col, a run at a time.
    @inline(__always)
    func forEachRun(_ body: (Int, Int, Int, Int) -> Void) {
        for ch in 0..<c {
            for i in 0..<kh {
                for j in 0..<kw {
                    let r = (ch * kh + i) * kw + j
                    // ox·stride + j - pad in [0, w): ox from ⌈(pad - j)/stride⌉ to before ⌈(w + pad - j)/stride⌉.
                    let lo = Swift.max(0, ConvGeometry.ceilDiv(pad - j, stride))
                    let hi = Swift.min(ow, ConvGeometry.ceilDiv(w + pad - j, stride))
                    guard lo < hi else { continue }
                    for oy in 0..<oh {
                        let y = oy * stride + i - pad
                        guard y >= 0 && y < h else { continue }
                        body(r, oy * ow + lo, (ch * h + y) * w + lo * stride + j - pad, hi - lo)
                    }
                }
            }
        }
    }

    /// ⌈a / b⌉ for b > 0 and any a.
    static func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }
}

extension Op {
    /// `conv2d(x, k, stride, pad)`: the cross-correlation of the course and of every framework,
    /// as matrix products over groups of images: kernels [F, C·kh·kw] @ patches [C·kh·kw, n·oh·ow].
    static func conv2d<T: TensorElement>(_ x: DenseTensor<T>, _ k: DenseTensor<T>, stride: Int, pad: Int) throws(TensorError) -> DenseTensor<T> {
        let g = try ConvGeometry(x: x.shape, k: k.shape, stride: stride, pad: pad)
        try Shape.checkSize(g.outputShape)
        // The patch matrix of one image (C·kh·kw rows, one column per output position) too.
        try Shape.checkSize([g.patchRows, g.oh * g.ow])
        let positions = g.oh * g.ow
        var out = [T](repeating: 0, count: Shape.count(g.outputShape))
        out.withUnsafeMutableBufferPointer { o in
            for images in g.groups {
                let columns = images.count * positions
                let product = DenseTensor<T>.gemm(k.scalars, patches(x.scalars, g, images), m: g.f, k: g.patchRows, n: columns)
                // [F, n, P] to the output's [n, F, P] of these images.
                product.withUnsafeBufferPointer { src in g.regroup(images, src, o, toImages: true) }
            }
        }
        return DenseTensor(shape: g.outputShape, scalars: out)
    }

    /// The patch matrix (im2col) of some images: row r, column j·P + p holds image j's input
    /// under kernel element r when the kernel sits at output position p (0 in the padding).
    static func patches<T: TensorElement>(_ x: [T], _ g: ConvGeometry, _ images: Range<Int>) -> [T] {
        let positions = g.oh * g.ow, columns = images.count * positions, image = g.c * g.h * g.w
        // Without padding every element is written below, so the buffer is not zeroed first.
        let total = g.patchRows * columns
        var cols = g.pad == 0 ? [T](unsafeUninitializedCapacity: total) { _, n in n = total } : [T](repeating: 0, count: total)
        cols.withUnsafeMutableBufferPointer { out in
            x.withUnsafeBufferPointer { src in
                // An image's columns per thread: no two threads write the same element.
                Parallel.forEachRange(images.count, cost: g.patchRows * positions) { part in
                    for j in part {
                        let (column, offset) = (j * positions, (images.lowerBound + j) * image)
                        g.forEachRun { r, p, s, n in
                            let to = r * columns + column + p, from = offset + s
                            if g.stride == 1 {
                                for t in 0..<n { out[to + t] = src[from + t] }
                            } else {
                                for t in 0..<n { out[to + t] = src[from + t * g.stride] }
                            }
                        }
                    }
                }
            }
        }
        return cols
    }

    /// ∂L/∂x and ∂L/∂k of a convolution: gK += G · patchesᵀ over every group of images (the same
    /// kernel at every position and image: its gradient sums over them) and ∂patches = Kᵀ · G,
    /// added back where each came from (G: the output's gradient of the group as [F, n·oh·ow]).
    static func conv2dVJP<T: TensorElement>(
        _ x: DenseTensor<T>, _ k: DenseTensor<T>, _ gOut: DenseTensor<T>, stride: Int, pad: Int, needs: [Bool]?
    ) -> [DenseTensor<T>?] {
        guard let g = try? ConvGeometry(x: x.shape, k: k.shape, stride: stride, pad: pad) else { return [nil, nil] }
        let positions = g.oh * g.ow, image = g.c * g.h * g.w
        var gk = needs?[1] == false ? nil : [T](repeating: 0, count: k.count)
        var gx = needs?[0] == false ? nil : [T](repeating: 0, count: x.count)
        for images in g.groups {
            let columns = images.count * positions
            var grad = [T](repeating: 0, count: g.f * columns)
            grad.withUnsafeMutableBufferPointer { o in
                gOut.scalars.withUnsafeBufferPointer { src in g.regroup(images, src, o, toImages: false) }
            }
            if gk != nil {
                let cols = patches(x.scalars, g, images)
                gk?.withUnsafeMutableBufferPointer {
                    DenseTensor<T>.gemm(grad, false, cols, true, into: $0, m: g.f, k: columns, n: g.patchRows, accumulate: true)
                }
            }
            if gx != nil {
                let gCols = DenseTensor<T>.gemm(k.scalars, true, grad, false, m: g.patchRows, k: g.f, n: columns)
                gx?.withUnsafeMutableBufferPointer { o in
                    gCols.withUnsafeBufferPointer { src in
                        // col2im, an image per thread: each adds only into its own image.
                        Parallel.forEachRange(images.count, cost: g.patchRows * positions) { part in
                            for j in part {
                                let (column, offset) = (j * positions, (images.lowerBound + j) * image)
                                g.forEachRun { r, p, s, n in
                                    let from = r * columns + column + p, to = offset + s
                                    for t in 0..<n { o[to + t * g.stride] += src[from + t] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return [gx.map { DenseTensor(shape: x.shape, scalars: $0) }, gk.map { DenseTensor(shape: k.shape, scalars: $0) }]
    }
}

extension ConvGeometry {
    /// Copies between the product's layout [F, n, P] (a row per feature map, the group's n
    /// images side by side) and the tensor's [B, F, P] for these images, a feature map per thread:
    /// to the images' layout when `toImages`, from it otherwise.
    func regroup<T>(_ images: Range<Int>, _ src: UnsafeBufferPointer<T>, _ dst: UnsafeMutableBufferPointer<T>, toImages: Bool) {
        let positions = oh * ow
        Parallel.forEachRange(f, cost: images.count * positions) { maps in
            for map in maps {
                for (j, b) in images.enumerated() {
                    let grouped = (map * images.count + j) * positions, own = (b * f + map) * positions
                    let (from, to) = toImages ? (grouped, own) : (own, grouped)
                    for p in 0..<positions { dst[to + p] = src[from + p] }
                }
            }
        }
    }

    /// The batch in groups of images whose patch matrix stays under 4 million numbers: one
    /// product for a training batch, a bounded buffer for a window of thousands of images.
    var groups: [Range<Int>] {
        let perImage = Swift.max(patchRows * oh * ow, 1)
        let size = Swift.max(1, 4_000_000 / perImage)
        return Swift.stride(from: 0, to: b, by: size).map { $0..<Swift.min($0 + size, b) }
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

    /// Calls `body(o, top)` for each output element o of some planes (all by default), with the
    /// offset of its window's top-left input.
    @inline(__always)
    func forEachWindow(planes part: Range<Int>? = nil, _ body: (Int, Int) -> Void) {
        let part = part ?? 0..<planes
        var o = part.lowerBound * oh * ow
        for plane in part {
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
        out.withUnsafeMutableBufferPointer { out in
            x.scalars.withUnsafeBufferPointer { v in
                // Planes per thread; one loop per kind, so none decides the kind per element.
                Parallel.forEachRange(g.planes, cost: g.oh * g.ow * size * size) { planes in
                    switch kind {
                    case .max:
                        g.forEachWindow(planes: planes) { o, top in
                            var acc = -T.infinity
                            g.forEachInWindow(top) { s in if v[s] > acc || v[s].isNaN { acc = v[s] } }  // a NaN stays NaN
                            out[o] = acc
                        }
                    case .avg:
                        g.forEachWindow(planes: planes) { o, top in
                            var acc: T = 0
                            g.forEachInWindow(top) { s in acc += v[s] }
                            out[o] = acc / n
                        }
                    case .l2:
                        g.forEachWindow(planes: planes) { o, top in
                            var acc: T = 0
                            g.forEachInWindow(top) { s in acc += v[s] * v[s] }
                            out[o] = acc.squareRoot()
                        }
                    }
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
        gx.withUnsafeMutableBufferPointer { gx in
            x.scalars.withUnsafeBufferPointer { v in
                gOut.scalars.withUnsafeBufferPointer { gOut in
                    y.scalars.withUnsafeBufferPointer { y in
                        // Planes per thread: a window's inputs lie in its own plane.
                        Parallel.forEachRange(g.planes, cost: g.oh * g.ow * size * size) { planes in
                            g.forEachWindow(planes: planes) { o, top in
                                let gv = gOut[o], yv = y[o]
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
                    }
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
