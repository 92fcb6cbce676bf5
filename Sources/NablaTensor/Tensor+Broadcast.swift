// MARK: - Broadcasting

/// Numpy's broadcasting rules: align shapes on the right; an axis of extent 1
/// (or a missing axis) stretches to match. Scalar broadcasting and bias
/// broadcasting (`[B, n] + [n]`) are the two cases the course uses.
public enum Broadcast {
    /// The shape two operands broadcast to, or `.shapeMismatch` naming both.
    public static func shape(_ a: [Int], _ b: [Int], op: String) throws(TensorError) -> [Int] {
        if a == b { return a }
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 {
                out[i] = da
            } else if da == 1 {
                out[i] = db
            } else {
                throw .shapeMismatch(op: op, a, b)
            }
        }
        try Shape.checkSize(out)
        return out
    }

    /// True when `inner`, without its leading 1s, is the last axes of `outer`: a tensor of
    /// shape `inner` broadcast to `outer` is then repeated whole, one copy after another.
    @usableFromInline
    static func isTrailing(_ inner: [Int], of outer: [Int]) -> Bool {
        let core = inner.drop { $0 == 1 }
        return core.count <= outer.count && outer.suffix(core.count).elementsEqual(core)  // no arrays made
    }

    /// When `small` (right-aligned, its leading 1s dropped) is a run of `big`'s axes followed only
    /// by 1s (a bias per feature map, [F, 1, 1] on [B, F, H, W]), element i of the big tensor
    /// reads element (i / inner) % count of the small one: no index tables.
    @usableFromInline
    static func block(_ small: [Int], in big: [Int]) -> (inner: Int, count: Int)? {
        guard small.count <= big.count else { return nil }  // [1, 1, 3] + [3] is [1, 1, 3]
        // small = leading 1s, the core (first and last extents not 1), `ones` trailing 1s.
        guard let first = small.firstIndex(where: { $0 != 1 }), let last = small.lastIndex(where: { $0 != 1 }) else { return nil }
        let core = small[first...last], ones = small.count - 1 - last
        guard core.count + ones <= big.count else { return nil }
        let end = big.count - ones
        guard big[(end - core.count)..<end].elementsEqual(core) else { return nil }
        return (big[end...].reduce(1, *), core.reduce(1, *))
    }

    /// Calls `body(start, k)` for each run of `inner` consecutive elements of the big tensor
    /// that read the small one's element k ((i / inner) % n): a call per run, no division
    /// per element.
    @inlinable @inline(__always)
    static func forEachRun(count: Int, inner: Int, n: Int, _ body: (Int, Int) -> Void) {
        guard inner > 0, n > 0 else { return }
        var start = 0
        while start < count {
            for k in 0..<n {
                body(start, k)
                start += inner
            }
        }
    }

    /// For each flat index of `outShape`, the flat index into a tensor of shape
    /// `inShape` that broadcasts to it.
    @usableFromInline
    static func sourceIndices(_ inShape: [Int], to outShape: [Int]) -> [Int] {
        let n = Shape.count(outShape)
        if inShape == outShape { return Array(0..<n) }
        let rank = outShape.count
        let pad = rank - inShape.count
        let inStrides = Shape.strides(inShape)
        // Stride of each output axis in the input (0 where the input is stretched).
        var strides = [Int](repeating: 0, count: rank)
        for axis in 0..<rank where axis >= pad && inShape[axis - pad] != 1 {
            strides[axis] = inStrides[axis - pad]
        }
        var result = [Int](repeating: 0, count: n)
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        for flat in 0..<n {
            result[flat] = offset
            // Advance the multi-index like an odometer, keeping `offset` in step.
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < outShape[axis] { break }
                offset -= strides[axis] * index[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}

extension DenseTensor {
    /// Combines two tensors elementwise after broadcasting them to a common shape.
    @inlinable
    public static func zip(
        _ a: DenseTensor, _ b: DenseTensor, op: String, _ f: (Element, Element) -> Element
    ) throws(TensorError) -> DenseTensor {
        if a.count == 1, b.count == 1, a.shape == b.shape {
            return DenseTensor(single: f(a.scalar, b.scalar), shape: a.shape)
        }
        if a.shape == b.shape {
            return a.withUnsafeBufferPointer { x in
                b.withUnsafeBufferPointer { y in
                    DenseTensor(shape: a.shape, count: x.count) { o in for i in 0..<o.count { o[i] = f(x[i], y[i]) } }
                }
            }
        }
        if b.isScalar {
            let s = b.scalar
            return a.map { f($0, s) }
        }
        if a.isScalar {
            let s = a.scalar
            return b.map { f(s, $0) }
        }
        // A row added to every row of a matrix (the bias of a layer): no index tables.
        if a.rank == 2, b.rank == 1, b.shape[0] == a.shape[1] {
            let n = b.shape[0]
            return a.withUnsafeBufferPointer { x in
                b.withUnsafeBufferPointer { row in
                    DenseTensor(shape: a.shape, count: x.count) { o in
                        for start in stride(from: 0, to: o.count, by: Swift.max(n, 1)) {
                            for j in 0..<n { o[start + j] = f(x[start + j], row[j]) }
                        }
                    }
                }
            }
        }
        // A number per block (the bias of a feature map): raw buffers, a run per block.
        if let (inner, n) = Broadcast.block(b.shape, in: a.shape), n == b.count {
            return a.withUnsafeBufferPointer { x in
                b.withUnsafeBufferPointer { v in
                    DenseTensor(shape: a.shape, count: x.count) { o in
                        Broadcast.forEachRun(count: o.count, inner: inner, n: n) { start, k in
                            let s = v[k]
                            for i in start..<start + inner { o[i] = f(x[i], s) }
                        }
                    }
                }
            }
        }
        if let (inner, n) = Broadcast.block(a.shape, in: b.shape), n == a.count {
            return b.withUnsafeBufferPointer { x in
                a.withUnsafeBufferPointer { v in
                    DenseTensor(shape: b.shape, count: x.count) { o in
                        Broadcast.forEachRun(count: o.count, inner: inner, n: n) { start, k in
                            let s = v[k]
                            for i in start..<start + inner { o[i] = f(s, x[i]) }
                        }
                    }
                }
            }
        }
        let shape = try Broadcast.shape(a.shape, b.shape, op: op)
        let ia = Broadcast.sourceIndices(a.shape, to: shape)
        let ib = Broadcast.sourceIndices(b.shape, to: shape)
        return a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                DenseTensor(shape: shape, count: ia.count) { o in for i in 0..<ia.count { o[i] = f(x[ia[i]], y[ib[i]]) } }
            }
        }
    }

    /// Undoes broadcasting: sums this tensor down to `target`, the shape it was
    /// broadcast from. This is the one helper every binary VJP uses.
    @inlinable
    public func sumTo(_ target: [Int]) -> DenseTensor {
        if shape == target { return self }
        let n = Shape.count(target)
        if n == 1 {
            return DenseTensor(single: withUnsafeBufferPointer { $0.reduce(0, +) }, shape: target)
        }
        if n == 0 { return DenseTensor(shape: target, scalars: []) }
        let trailing = Broadcast.isTrailing(target, of: shape)
        let blocks = trailing ? nil : Broadcast.block(target, in: shape).flatMap { $0.count == n ? $0.inner : nil }
        let src = trailing || blocks != nil ? [] : Broadcast.sourceIndices(target, to: shape)
        return withUnsafeBufferPointer { g in
            DenseTensor(shape: target, count: n) { o in
                for j in 0..<n { o[j] = 0 }
                if trailing {
                    // A row repeated down the rows (the gradient of a bias): column sums, no index tables.
                    for start in stride(from: 0, to: g.count, by: n) { for j in 0..<n { o[j] += g[start + j] } }
                } else if let inner = blocks {
                    Broadcast.forEachRun(count: g.count, inner: inner, n: n) { start, k in
                        o[k] += Self.sum(g, start..<start + inner)
                    }
                } else {
                    for i in 0..<g.count { o[src[i]] += g[i] }
                }
            }
        }
    }

    /// The sum of `range` of `x`: in order when short (so a small example's digits are those
    /// of a sum by hand), in eight running sums when long (a bias's gradient over a batch of
    /// feature maps: one chain of dependent additions was a millisecond a batch).
    @inlinable
    static func sum(_ x: UnsafeBufferPointer<Element>, _ range: Range<Int>) -> Element {
        guard range.count >= 64 else {
            var acc: Element = 0
            for i in range { acc += x[i] }
            return acc
        }
        var s = (Element(0), Element(0), Element(0), Element(0), Element(0), Element(0), Element(0), Element(0))
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            s.0 += x[i]; s.1 += x[i + 1]; s.2 += x[i + 2]; s.3 += x[i + 3]
            s.4 += x[i + 4]; s.5 += x[i + 5]; s.6 += x[i + 6]; s.7 += x[i + 7]
            i += 8
        }
        var acc = ((s.0 + s.1) + (s.2 + s.3)) + ((s.4 + s.5) + (s.6 + s.7))
        while i < range.upperBound {
            acc += x[i]
            i += 1
        }
        return acc
    }

    /// This tensor stretched to `target` (which it must broadcast to).
    @inlinable
    public func broadcast(to target: [Int]) -> DenseTensor {
        if shape == target { return self }
        let total = Shape.count(target)
        if count == 1 {
            let v = scalar
            return DenseTensor(shape: target, count: total) { o in for i in 0..<o.count { o[i] = v } }
        }
        let n = count
        let whole = n > 0 && total % n == 0 && Broadcast.isTrailing(shape, of: target)
        let blocks = whole ? nil : Broadcast.block(shape, in: target).flatMap { $0.count == n ? $0.inner : nil }
        let src = whole || blocks != nil ? [] : Broadcast.sourceIndices(shape, to: target)
        return withUnsafeBufferPointer { v in
            DenseTensor(shape: target, count: total) { o in
                if whole {
                    // Repeated whole (a bias down the rows): copies, no index tables.
                    for start in stride(from: 0, to: total, by: n) { for j in 0..<n { o[start + j] = v[j] } }
                } else if let inner = blocks {
                    Broadcast.forEachRun(count: total, inner: inner, n: n) { start, k in
                        let x = v[k]
                        for i in start..<start + inner { o[i] = x }
                    }
                } else {
                    for i in 0..<total { o[i] = v[src[i]] }
                }
            }
        }
    }

    /// `f(self, a, b)` element by element over tensors of this one's count (no broadcasting).
    @inlinable @inline(__always)
    public func zip(_ a: DenseTensor, _ b: DenseTensor, _ f: (Element, Element, Element) -> Element) -> DenseTensor {
        if count == 1 {
            let x = scalar
            return DenseTensor(single: a.count >= 1 && b.count >= 1 ? f(x, a.scalar, b.scalar) : x, shape: shape)
        }
        return withUnsafeBufferPointer { x in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    let n = Swift.min(Swift.min(x.count, pa.count), pb.count)  // not the variadic min: it builds an array
                    return DenseTensor(shape: shape, count: x.count) { o in
                        for i in 0..<n { o[i] = f(x[i], pa[i], pb[i]) }
                        for i in n..<o.count { o[i] = x[i] }
                    }
                }
            }
        }
    }

    /// `f(self, a, b, c)` element by element over tensors of this one's count (no broadcasting).
    @inlinable @inline(__always)
    public func zip(
        _ a: DenseTensor, _ b: DenseTensor, _ c: DenseTensor, _ f: (Element, Element, Element, Element) -> Element
    ) -> DenseTensor {
        if count == 1 {
            let x = scalar
            return DenseTensor(single: a.count >= 1 && b.count >= 1 && c.count >= 1 ? f(x, a.scalar, b.scalar, c.scalar) : x, shape: shape)
        }
        return withUnsafeBufferPointer { x in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeBufferPointer { pc in
                        let n = Swift.min(Swift.min(x.count, pa.count), Swift.min(pb.count, pc.count))  // not the variadic min: it builds an array
                        return DenseTensor(shape: shape, count: x.count) { o in
                            for i in 0..<n { o[i] = f(x[i], pa[i], pb[i], pc[i]) }
                            for i in n..<o.count { o[i] = x[i] }
                        }
                    }
                }
            }
        }
    }
}
