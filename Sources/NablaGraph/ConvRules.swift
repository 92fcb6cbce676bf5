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
        if pad == 0 {
            // Every run is a whole output row: no bounds to work out.
            for r in 0..<patchRows {
                let (ch, i, j) = (r / (kh * kw), r / kw % kh, r % kw)
                var (p, s) = (0, (ch * h + i) * w + j)
                for _ in 0..<oh {
                    body(r, p, s, ow)
                    p += ow
                    s += stride * w
                }
            }
            return
        }
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

extension ConvGeometry {
    /// Writes the patch matrix (im2col) of one image into `cols`: row r, column p holds the
    /// input under kernel element r when the kernel sits at output position p. What falls in
    /// the padding is never written: `cols` keeps the zeros it was made with.
    @inline(__always)
    func patches<T: TensorElement>(of image: UnsafePointer<T>, into cols: UnsafeMutablePointer<T>) {
        let positions = oh * ow
        forEachRun { r, p, s, n in
            let to = cols + r * positions + p, from = image + s
            if stride == 1 {
                ConvGeometry.copy(from, to, n)
            } else {
                for t in 0..<n { to[t] = from[t * stride] }
            }
        }
    }

    /// Copies a short run (a row of a patch) eight elements to an instruction: element by
    /// element, or as a call to memmove (what a plain loop becomes), the copies of im2col
    /// were a tenth of the convnet's time.
    @inline(__always)
    static func copy<T: TensorElement>(_ from: UnsafePointer<T>, _ to: UnsafeMutablePointer<T>, _ n: Int) {
        var t = 0
        while t + 8 <= n {
            UnsafeMutableRawPointer(to + t).storeBytes(of: UnsafeRawPointer(from + t).loadUnaligned(as: SIMD8<T>.self), as: SIMD8<T>.self)
            t += 8
        }
        while t < n {
            to[t] = from[t]
            t += 1
        }
    }

    /// Adds a short run into another, eight elements at a time (col2im).
    @inline(__always)
    static func add<T: TensorElement>(_ from: UnsafePointer<T>, into to: UnsafeMutablePointer<T>, _ n: Int) {
        var t = 0
        while t + 8 <= n {
            let sum = UnsafeRawPointer(to + t).loadUnaligned(as: SIMD8<T>.self) + UnsafeRawPointer(from + t).loadUnaligned(as: SIMD8<T>.self)
            UnsafeMutableRawPointer(to + t).storeBytes(of: sum, as: SIMD8<T>.self)
            t += 8
        }
        while t < n {
            to[t] += from[t]
            t += 1
        }
    }

    /// col2im: adds each element of a patch matrix back where `patches` took it from.
    @inline(__always)
    func addPatches<T: TensorElement>(_ cols: UnsafePointer<T>, into image: UnsafeMutablePointer<T>) {
        let positions = oh * ow
        forEachRun { r, p, s, n in
            let from = cols + r * positions + p, to = image + s
            if stride == 1 {
                ConvGeometry.add(from, into: to, n)
            } else {
                for t in 0..<n { to[t * stride] += from[t] }
            }
        }
    }

    /// Runs `body(part, groups, scratch)` on `count` groups of images split over the cores,
    /// each part with its own patch matrix of one image (zeros where the padding is): the
    /// image's patches stay in the core's cache between im2col and the product that reads them.
    func forEachPart<T: TensorElement>(groups count: Int, _ body: (Int, Range<Int>, UnsafeMutablePointer<T>) -> Void) {
        let size = Swift.max(patchRows * oh * ow, 1)
        // Each part calls BLAS on its own thread: OpenBLAS must not spread a call over the cores too.
        BLAS.use(.nabla)
        Parallel.forEachPart(count, cost: f * size * Swift.max(1, b / Swift.max(count, 1))) { part, groups in
            let cols = UnsafeMutablePointer<T>.allocate(capacity: size)
            cols.initialize(repeating: 0, count: size)
            defer { cols.deallocate() }
            body(part, groups, cols)
        }
    }

    /// One image's share of a convolution's VJP (G = `gy`, its output gradient [F, oh·ow]):
    /// `sum` += G · patchesᵀ, and ∂patches = Kᵀ · G added back into `gx` (col2im).
    @inline(__always)
    func imageVJP<T: TensorElement>(
        x: UnsafePointer<T>, k: UnsafePointer<T>, gy: UnsafePointer<T>, cols: UnsafeMutablePointer<T>,
        gCols: UnsafeMutablePointer<T>, sum: UnsafeMutablePointer<T>?, gx: UnsafeMutablePointer<T>?
    ) {
        let positions = oh * ow
        if let sum {
            patches(of: x, into: cols)
            T.gemm(transA: false, transB: true, m: f, n: patchRows, k: positions,
                   gy, lda: positions, cols, ldb: positions, beta: 1, sum, ldc: patchRows)
        }
        if let gx {
            T.gemm(transA: true, transB: false, m: patchRows, n: positions, k: f,
                   k, lda: patchRows, gy, ldb: positions, beta: 0, gCols, ldc: positions)
            addPatches(gCols, into: gx)
        }
    }

    /// The kernel's gradient sums over the images in this many groups, each with its own sum,
    /// added up in order at the end: the same digits on any number of cores.
    var gradientGroups: Int { Swift.min(b, 16) }

    /// The images of group `i` of `count`.
    func images(ofGroup i: Int, of count: Int) -> Range<Int> { (b * i / count)..<(b * (i + 1) / count) }
}

extension Op {
    /// `conv2d(x, k, stride, pad)`: the cross-correlation of the course and of every framework,
    /// image by image a matrix product: kernels [F, C·kh·kw] @ patches [C·kh·kw, oh·ow] is the
    /// image's output [F, oh·ow], written in place.
    static func conv2d<T: TensorElement>(_ x: DenseTensor<T>, _ k: DenseTensor<T>, stride: Int, pad: Int) throws(TensorError) -> DenseTensor<T> {
        let g = try ConvGeometry(x: x.shape, k: k.shape, stride: stride, pad: pad)
        try Shape.checkSize(g.outputShape)
        // The patch matrix of one image (C·kh·kw rows, one column per output position) too.
        try Shape.checkSize([g.patchRows, g.oh * g.ow])
        let total = Shape.count(g.outputShape)
        let (positions, image, map) = (g.oh * g.ow, g.c * g.h * g.w, g.f * g.oh * g.ow)
        guard total > 0, x.count > 0, k.count > 0 else { return DenseTensor(shape: g.outputShape, scalars: [T](repeating: 0, count: total)) }
        let out = [T](unsafeUninitializedCapacity: total) { o, initialized in
            x.scalars.withUnsafeBufferPointer { xs in
                k.scalars.withUnsafeBufferPointer { ks in
                    guard let xp = xs.baseAddress, let kp = ks.baseAddress, let op = o.baseAddress else {
                        for i in o.indices { o[i] = 0 }
                        return
                    }
                    g.forEachPart(groups: g.b) { (_, images, cols: UnsafeMutablePointer<T>) in
                        for j in images {
                            g.patches(of: xp + j * image, into: cols)
                            T.gemm(transA: false, transB: false, m: g.f, n: positions, k: g.patchRows,
                                   kp, lda: g.patchRows, cols, ldb: positions, beta: 0, op + j * map, ldc: positions)
                        }
                    }
                }
            }
            initialized = total
        }
        return DenseTensor(shape: g.outputShape, scalars: out)
    }

    /// ∂L/∂x and ∂L/∂k of a convolution, image by image (G: the image's output gradient
    /// [F, oh·ow]): ∂k += G · patchesᵀ (the same kernel at every position and image: its
    /// gradient sums over them, in `gradientGroups` sums added up in order at the end) and
    /// ∂patches = Kᵀ · G, added back where each patch element came from (col2im).
    static func conv2dVJP<T: TensorElement>(
        _ x: DenseTensor<T>, _ k: DenseTensor<T>, _ gOut: DenseTensor<T>, stride: Int, pad: Int, needs: [Bool]?
    ) -> [DenseTensor<T>?] {
        guard let g = try? ConvGeometry(x: x.shape, k: k.shape, stride: stride, pad: pad),
              gOut.count == Shape.count(g.outputShape) else { return [nil, nil] }
        let (wantX, wantK) = (needs?[0] != false, needs?[1] != false)
        let (positions, image, map, rows) = (g.oh * g.ow, g.c * g.h * g.w, g.f * g.oh * g.ow, g.patchRows)
        var gx = [T](repeating: 0, count: wantX ? x.count : 0)
        let groups = g.gradientGroups
        var sums = [T](repeating: 0, count: wantK ? groups * k.count : 0)
        let gCols = UnsafeMutablePointer<T>.allocate(capacity: Parallel.parts * Swift.max(rows * positions, 1))
        defer { gCols.deallocate() }
        x.scalars.withUnsafeBufferPointer { xs in
            k.scalars.withUnsafeBufferPointer { ks in
                gOut.scalars.withUnsafeBufferPointer { gs in
                    gx.withUnsafeMutableBufferPointer { gxs in
                        sums.withUnsafeMutableBufferPointer { sumParts in
                            guard let xp = xs.baseAddress, let kp = ks.baseAddress, let gp = gs.baseAddress else { return }
                            g.forEachPart(groups: groups) { (part, someGroups, cols: UnsafeMutablePointer<T>) in
                                for group in someGroups {
                                    for j in g.images(ofGroup: group, of: groups) {
                                        g.imageVJP(x: xp + j * image, k: kp, gy: gp + j * map, cols: cols,
                                                   gCols: gCols + part * rows * positions,
                                                   // (an empty array's buffer may have an address: ask wantK and wantX)
                                                   sum: wantK ? sumParts.baseAddress.map { $0 + group * k.count } : nil,
                                                   gx: wantX ? gxs.baseAddress.map { $0 + j * image } : nil)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var gk: [T]? = nil
        if wantK {
            var total = [T](repeating: 0, count: k.count)
            for group in 0..<groups {
                for i in 0..<k.count { total[i] += sums[group * k.count + i] }
            }
            gk = total
        }
        return [wantX ? DenseTensor(shape: x.shape, scalars: gx) : nil, gk.map { DenseTensor(shape: k.shape, scalars: $0) }]
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

    /// Calls `body(o, top)` for each output element o of some planes, with the offset of its
    /// window's top-left input.
    @inline(__always)
    func forEachWindow(planes part: Range<Int>, _ body: (Int, Int) -> Void) {
        var o = part.lowerBound * oh * ow
        for plane in part {
            for i in 0..<oh {
                let row = (plane * h + i * stride) * w
                for j in 0..<ow {
                    body(o, row + j * stride)
                    o += 1
                }
            }
        }
    }

    /// Runs `body` on the planes split over the cores: a window's inputs lie in its own plane.
    func forEachPlanePart(_ body: (Range<Int>) -> Void) {
        Parallel.forEachRange(planes, cost: oh * ow * size * size, body)
    }
}

extension Op {
    /// max-, average- or L2-pooling over the last two axes.
    static func pool<T: TensorElement>(_ x: DenseTensor<T>, _ kind: PoolKind, size: Int, stride: Int) throws(TensorError) -> DenseTensor<T> {
        let g = try PoolGeometry(x.shape, size: size, stride: stride, op: "\(kind.rawValue)pool")
        let total = g.planes * g.oh * g.ow
        let out = [T](unsafeUninitializedCapacity: total) { out, initialized in
            x.scalars.withUnsafeBufferPointer { v in
                // One loop per kind, so none decides the kind per element.
                g.forEachPlanePart { planes in
                    switch kind {
                    case .max: g.forEachWindow(planes: planes) { o, top in out[o] = g.largest(v, top).value }
                    case .avg: g.forEachWindow(planes: planes) { o, top in out[o] = g.sum(v, top, squared: false) / T(size * size) }
                    case .l2: g.forEachWindow(planes: planes) { o, top in out[o] = g.sum(v, top, squared: true).squareRoot() }
                    }
                }
            }
            initialized = total
        }
        return DenseTensor(shape: g.outputShape, scalars: out)
    }

    /// The VJP of a pooling: max sends each gradient to its window's largest element (the first
    /// in row-major order on a tie); avg spreads it evenly; L2 gives each element g·x/y (0 when y = 0).
    static func poolVJP<T: TensorElement>(
        _ x: DenseTensor<T>, _ y: DenseTensor<T>, _ gOut: DenseTensor<T>, _ kind: PoolKind, size: Int, stride: Int
    ) -> [DenseTensor<T>?] {
        guard let g = try? PoolGeometry(x.shape, size: size, stride: stride, op: "pool"),
              gOut.count == g.planes * g.oh * g.ow, y.count == gOut.count else { return [nil] }
        var gx = [T](repeating: 0, count: x.count)
        let n = T(size * size)
        gx.withUnsafeMutableBufferPointer { gx in
            x.scalars.withUnsafeBufferPointer { v in
                gOut.scalars.withUnsafeBufferPointer { gOut in
                    y.scalars.withUnsafeBufferPointer { y in
                        g.forEachPlanePart { planes in
                            switch kind {
                            case .max:
                                g.forEachWindow(planes: planes) { o, top in gx[g.largest(v, top).at] += gOut[o] }
                            case .avg:
                                g.forEachWindow(planes: planes) { o, top in g.forEachInWindow(top) { gx[$0] += gOut[o] / n } }
                            case .l2:
                                g.forEachWindow(planes: planes) { o, top in
                                    let (gv, yv) = (gOut[o], y[o])
                                    if yv > 0 { g.forEachInWindow(top) { gx[$0] += gv * v[$0] / yv } }
                                }
                            }
                        }
                    }
                }
            }
        }
        return [DenseTensor(shape: x.shape, scalars: gx)]
    }
}

extension PoolGeometry {
    /// The input offsets of the window whose top-left input is `top`, row by row: `body(offset)`.
    @inline(__always)
    func forEachInWindow(_ top: Int, _ body: (Int) -> Void) {
        for a in 0..<size {
            let row = top + a * w
            for b in 0..<size { body(row + b) }
        }
    }

    /// A window's largest element and where it is: the first in row-major order on a tie, a
    /// NaN as soon as one is met (it stays NaN, and its gradient goes to it).
    @inline(__always)
    func largest<T: TensorElement>(_ v: UnsafeBufferPointer<T>, _ top: Int) -> (value: T, at: Int) {
        if size == 2 {
            // The course's 2x2 windows, unrolled; with a NaN after the first, the loop below.
            let (b, c, d) = (v[top + 1], v[top + w], v[top + w + 1])
            if !(b.isNaN || c.isNaN || d.isNaN) {
                var (best, at) = (v[top], top)
                if b > best { (best, at) = (b, top + 1) }
                if c > best { (best, at) = (c, top + w) }
                if d > best { (best, at) = (d, top + w + 1) }
                return (best, at)
            }
        }
        var (best, at) = (v[top], top)
        if best.isNaN { return (best, at) }
        for a in 0..<size {
            let row = top + a * w
            for b in 0..<size where v[row + b] > best || v[row + b].isNaN {
                (best, at) = (v[row + b], row + b)
                if best.isNaN { return (best, at) }
            }
        }
        return (best, at)
    }

    /// The sum of a window's elements, or of their squares.
    @inline(__always)
    func sum<T: TensorElement>(_ v: UnsafeBufferPointer<T>, _ top: Int, squared: Bool) -> T {
        var acc: T = 0
        for a in 0..<size {
            let row = top + a * w
            for b in 0..<size { acc += squared ? v[row + b] * v[row + b] : v[row + b] }
        }
        return acc
    }
}

extension Op {
    /// `flatten(x)`: [B, C, H, W] becomes [B, C·H·W]; rank 3 becomes a vector; lower ranks stay.
    static func flattenedShape(_ shape: [Int]) -> [Int] {
        switch shape.count {
        case 0, 1, 2: return shape
        case 3: return [Shape.count(shape)]
        default: return [shape[0], Shape.count(Array(shape.dropFirst()))]
        }
    }
}
