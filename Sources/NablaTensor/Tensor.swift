import Synchronization

/// A dense tensor of any rank (up to `Shape.maxRank`): scalar (shape `[]`), vector (`[n]`),
/// matrix (`[m, n]`), a batch of images (`[N, C, H, W]`), ...
///
/// Generic in its element: `Tensor` (float64) is what the live graph and every view hold,
/// `Tensor32` (float32) what the training tape holds; every op is written once for both.
/// Storage is contiguous and row-major; a value type with copy-on-write storage. A tiny tensor
/// (1 to `inlineCapacity` elements: 4 float64s or 8 float32s, in 32 bytes) holds its numbers
/// inline: the live graph's scalar and small-vector nodes and their gradients never allocate
/// (`shape` is shared with the inputs, or `[]`, Swift's shared empty array).
public struct DenseTensor<Element: TensorElement>: Sendable, Equatable {
    /// The extent of each axis; `[]` for a scalar.
    @inlinable public var shape: [Int] { _shape }
    @usableFromInline var _shape: [Int]
    /// The elements, unless they are inline (then empty).
    @usableFromInline var _many: [Element]
    /// The elements of a tiny tensor, packed as in an array, when `_many` is empty and the shape
    /// counts at least one. One SIMD field of fixed layout, not a tuple of `Element`s nor a
    /// count beside it: the tensor stays four scalars to the compiler, so a copy is two
    /// retains and two vector moves, done in place (a fifth field makes Swift copy it through
    /// the generic value witness, looking up the type's metadata each time).
    @usableFromInline var _inline: SIMD4<UInt64>

    /// The most elements held inline: as many as fit in 32 bytes (4 float64s, 8 float32s).
    @inlinable public static var inlineCapacity: Int { 32 / MemoryLayout<Element>.stride }

    /// How many elements are inline: the shape's count while `_many` is empty (0 for an empty
    /// tensor, whose elements are `_many`'s none).
    @inlinable @inline(__always)
    var inlineCount: Int { _many.isEmpty ? Shape.product(_shape) : 0 }

    /// The elements in row-major order (for inline elements, an array made on demand:
    /// hot paths use `scalar`, `count`, `self[flat:]` or `withUnsafeBufferPointer`).
    @inlinable
    public var scalars: [Element] {
        get { _many.isEmpty ? withUnsafeBufferPointer { Array($0) } : _many }
        set {
            precondition(newValue.count == count, "\(newValue.count) elements for a tensor of \(count)")
            store(newValue)
        }
        _modify {
            // The elements may change, their number may not (the shape counts them).
            let n = count
            if inlineCount > 0 {
                var a = withUnsafeBufferPointer { Array($0) }
                defer {
                    precondition(a.count == n, "\(a.count) elements for a tensor of \(n)")
                    store(a)
                }
                yield &a
            } else {
                defer { precondition(_many.count == n, "\(_many.count) elements for a tensor of \(n)") }
                yield &_many
            }
        }
    }

    /// Keeps `scalars` (as many as the shape counts), inline when they fit.
    @inlinable
    mutating func store(_ scalars: [Element]) {
        let n = scalars.count
        if n > 0, n <= Self.inlineCapacity {
            _many = []
            scalars.withUnsafeBytes { s in
                withUnsafeMutableBytes(of: &_inline) { $0.copyMemory(from: s) }
            }
        } else {
            _many = scalars
        }
    }

    /// Makes a tensor from a shape and its row-major elements; the counts must agree.
    public init(shape: [Int], scalars: [Element]) {
        precondition(shape.allSatisfy { $0 >= 0 } && Shape.count(shape) == scalars.count, "shape \(shape) does not hold \(scalars.count) elements")
        _shape = shape
        _many = []
        _inline = .zero
        store(scalars)
    }

    /// A tensor of `count` elements under `shape` (which must hold that many), each written by
    /// `body` (nothing is zeroed first when there are more than fit inline): how ops make
    /// their results, inline when tiny, without an intermediate array.
    @inlinable @inline(__always)
    public init(shape: [Int], count: Int, writing body: (UnsafeMutableBufferPointer<Element>) -> Void) {
        precondition(count == Shape.product(shape), "shape \(shape) does not hold \(count) elements")
        _shape = shape
        _inline = .zero
        if count > 0, count <= Self.inlineCapacity {
            _many = []
            withUnsafeMutableBytes(of: &_inline) { raw in
                raw.withMemoryRebound(to: Element.self) { body(UnsafeMutableBufferPointer(rebasing: $0[0..<count])) }
            }
        } else {
            _many = Self.filled(count, body)
        }
    }

    /// A scalar (no allocation).
    public init(_ value: Element) {
        self.init(single: value, shape: [])
    }

    /// A tensor of one element under `shape` (`[]`, `[1]`, `[1, 1]`, ...), no allocation.
    @inlinable
    init(single value: Element, shape: [Int]) {
        _shape = shape
        _many = []
        _inline = .zero
        withUnsafeMutableBytes(of: &_inline) { $0.storeBytes(of: value, as: Element.self) }
    }

    /// True when the elements are held inline (1 to `inlineCapacity` of them), not in an array.
    public var isInline: Bool { inlineCount > 0 }

    /// Inline element `i` (no bounds check: callers check against `inlineCount`).
    @inlinable @inline(__always)
    func inlineElement(_ i: Int) -> Element {
        withUnsafeBytes(of: _inline) { $0.load(fromByteOffset: i &* MemoryLayout<Element>.stride, as: Element.self) }
    }

    /// Element `i` in row-major order.
    @inlinable
    public subscript(flat i: Int) -> Element {
        get {
            guard _many.isEmpty else { return _many[i] }
            precondition(i >= 0 && i < inlineCount, "index \(i) of \(inlineCount) elements")
            return inlineElement(i)
        }
        set {
            guard _many.isEmpty else { return _many[i] = newValue }
            precondition(i >= 0 && i < inlineCount, "index \(i) of \(inlineCount) elements")
            withUnsafeMutableBytes(of: &_inline) { $0.storeBytes(of: newValue, toByteOffset: i &* MemoryLayout<Element>.stride, as: Element.self) }
        }
    }

    /// Calls `body` with the elements, without copying them to the heap.
    @inlinable @inline(__always)
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        guard _many.isEmpty else { return try _many.withUnsafeBufferPointer(body) }
        let n = inlineCount
        return try withUnsafeBytes(of: _inline) { raw in
            try raw.withMemoryRebound(to: Element.self) { try body(UnsafeBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Calls `body` with the elements to change in place.
    @inlinable @inline(__always)
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Element>) throws -> R) rethrows -> R {
        guard _many.isEmpty else { return try _many.withUnsafeMutableBufferPointer { try body($0) } }
        let n = inlineCount
        return try withUnsafeMutableBytes(of: &_inline) { raw in
            try raw.withMemoryRebound(to: Element.self) { try body(UnsafeMutableBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Same shape and equal elements, element by element: NaN is unequal to itself (even a
    /// tensor compared with itself, which Array's `==` calls equal when the storage is shared),
    /// -0 equals 0.
    @inlinable
    public static func == (a: DenseTensor, b: DenseTensor) -> Bool {
        a.shape == b.shape && a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in x.elementsEqual(y) } }
    }

    /// A vector.
    public init(vector: [Element]) {
        self.init(shape: [vector.count], scalars: vector)
    }

    /// A matrix from its rows; every row must have the same length.
    public init(rows: [[Element]]) {
        let cols = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == cols }, "ragged rows")
        self.init(shape: [rows.count, cols], scalars: rows.flatMap { $0 })
    }

    /// A tensor whose every element is `value`, after checking the size limit.
    public static func filled(_ shape: [Int], _ value: Element) throws(TensorError) -> DenseTensor {
        try Shape.checkSize(shape)
        return DenseTensor(shape: shape, scalars: Array(repeating: value, count: Shape.count(shape)))
    }

    /// A tensor of zeros; the shape must already be known to fit the size limit.
    @inlinable
    public static func zeros(_ shape: [Int]) -> DenseTensor {
        DenseTensor(shape: shape, count: Shape.product(shape)) { o in o.initialize(repeating: 0) }  // inline when tiny
    }

    /// Adds `other` (the same count) into this tensor in place: how gradients accumulate, in
    /// the live graph and on the tape.
    @inlinable
    public mutating func accumulate(_ other: DenseTensor) {
        let n = Swift.min(count, other.count)
        other.withUnsafeBufferPointer { o in withUnsafeMutableBufferPointer { d in for i in 0..<n { d[i] += o[i] } } }
    }

    /// The one-hot tensor: zeros with a 1 at flat position `index`.
    public static func unit(_ shape: [Int], _ index: Int) -> DenseTensor {
        var t = zeros(shape)
        t[flat: index] = 1
        return t
    }

    // MARK: - Shape queries

    public var rank: Int { shape.count }
    @inlinable
    public var count: Int { _many.isEmpty ? inlineCount : _many.count }
    public var isScalar: Bool { shape.isEmpty }
    /// True for a tensor with exactly one element (a scalar, `[1]` or `[1, 1]`).
    public var isSingleElement: Bool { count == 1 }
    /// The first element; the value of a scalar.
    @inlinable
    public var scalar: Element {
        guard _many.isEmpty else { return _many[0] }
        precondition(inlineCount > 0, "the first element of an empty tensor")
        return inlineElement(0)
    }
    /// Number of rows of a matrix, 1 for lower ranks.
    public var rows: Int { rank == 2 ? shape[0] : 1 }
    /// Number of columns of a matrix, the length of a vector, 1 for a scalar.
    public var cols: Int { rank == 0 ? 1 : shape[rank - 1] }

    /// The same elements under another shape with the same count.
    public func reshaped(_ newShape: [Int]) -> DenseTensor {
        precondition(newShape.allSatisfy { $0 >= 0 } && Shape.count(newShape) == count, "shape \(newShape) does not hold \(count) elements")
        var t = self
        t._shape = newShape
        return t
    }

    /// True when every element is finite (no NaN, no infinity).
    @inlinable
    public var isFinite: Bool {
        if _many.isEmpty, _shape.isEmpty { return inlineElement(0).isFinite }  // a scalar
        return withUnsafeBufferPointer { $0.allSatisfy { $0.isFinite } }
    }

    /// Applies `f` to every element (a loop over raw buffers the compiler can vectorize;
    /// Array's own `map` appends one element at a time).
    @inlinable @inline(__always)
    public func map(_ f: (Element) -> Element) -> DenseTensor {
        if _many.isEmpty, _shape.isEmpty { return DenseTensor(single: f(inlineElement(0)), shape: shape) }
        return withUnsafeBufferPointer { x in
            DenseTensor(shape: shape, count: x.count) { o in for i in 0..<x.count { o[i] = f(x[i]) } }
        }
    }

    /// A new array of `count` elements, each written by `body` (nothing is zeroed first).
    @inlinable @inline(__always)
    public static func filled(_ count: Int, _ body: (UnsafeMutableBufferPointer<Element>) -> Void) -> [Element] {
        [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            body(buffer)
            initialized = count
        }
    }

    /// The same numbers in another precision.
    @inlinable
    public func converted<Other: TensorElement>(to: Other.Type = Other.self) -> DenseTensor<Other> {
        DenseTensor<Other>(shape: shape, scalars: scalars.map { Other($0) })
    }
}

/// The float64 tensor: what the live graph, the views and the files hold.
public typealias Tensor = DenseTensor<Double>
/// The float32 tensor: what the training tape holds on big batches.
public typealias Tensor32 = DenseTensor<Float>

/// The size limits every tensor is built under.
public enum TensorLimits {
    /// The largest number of elements a tensor may hold (800 MB of Doubles).
    ///
    /// Builders and ops check against it before allocating, so a typo like
    /// `zeros(100000, 100000)` is refused with a message, not an out-of-memory crash.
    /// A session's `:limits elements=N` binds it (up to `elementsCeiling`) while the session
    /// runs a statement (`withMaxElements`): task-local, so two sessions never see each
    /// other's limit. While nothing anywhere is bound it is the default, read without asking
    /// the task-local (a read is not free, and builders ask at every op).
    public static var maxElements: Int {
        bindings.load(ordering: .relaxed) == 0 ? defaultMaxElements : bound
    }
    public static let defaultMaxElements = 100_000_000
    @TaskLocal private static var bound = 100_000_000
    /// How many bindings are in force on any thread (0: every task sees the default).
    private static let bindings = Atomic<Int>(0)

    /// Runs `body` with `maxElements` bound to `limit` for this task and the tasks it starts.
    public static func withMaxElements<T>(_ limit: Int, _ body: () throws -> T) rethrows -> T {
        bindings.add(1, ordering: .relaxed)
        defer { bindings.subtract(1, ordering: .relaxed) }
        return try $bound.withValue(limit, operation: body)
    }
    /// The most `:limits` allows: 2 billion numbers (16 GB).
    public static let elementsCeiling = 2_000_000_000
}

/// Why a tensor operation could not be done. Messages name the shapes involved.
public enum TensorError: Error, Equatable, Sendable {
    /// Two shapes cannot be combined by the named operation.
    case shapeMismatch(op: String, [Int], [Int])
    /// The named operation needs a different rank or shape.
    case badShape(op: String, [Int], expected: String)
    /// The result would hold more than `TensorLimits.maxElements` elements.
    case tooLarge(shape: [Int])
    /// An index is out of range.
    case indexOutOfRange(index: Int, axis: Int, extent: Int)
    /// Any other invalid argument, with its message.
    case invalid(String)

    /// One line, naming the shapes.
    public var message: String {
        switch self {
        case let .shapeMismatch(op, a, b):
            return "shape mismatch in \(op): \(Shape.describe(a)) and \(Shape.describe(b))"
        case let .badShape(op, s, expected):
            return "\(op) needs \(expected), got \(Shape.describe(s))"
        case let .tooLarge(shape):
            let n = shape.reduce(1.0) { $0 * Double($1) }
            return "a tensor of shape \(Shape.describe(shape)) would hold \(Format.grouped(n)) numbers "
                + "(\(Format.bytes(n * 8))); the limit is \(Format.grouped(Double(TensorLimits.maxElements))) numbers (:limits elements=N changes it)"
        case let .indexOutOfRange(index, axis, extent):
            return extent == 0
                ? "index \(index) is out of range: axis \(axis) is empty"
                : "index \(index) is out of range for axis \(axis) of length \(extent) (valid: 0...\(extent - 1))"
        case let .invalid(message):
            return message
        }
    }
}

/// Helpers on shapes (`[Int]`).
public enum Shape {
    /// Number of elements: the product of the extents (1 for a scalar).
    public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The same, inlinable (a tensor's hot paths read it) and without overflow checks (a
    /// tensor's shape has been checked against the size limit).
    @inlinable @inline(__always)
    public static func product(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape { n &*= d }
        return n
    }

    /// Throws `.tooLarge` when a shape exceeds `TensorLimits.maxElements`, computing without overflow.
    public static func checkSize(_ shape: [Int]) throws(TensorError) {
        var n = 1.0
        for d in shape {
            if d < 0 { throw .invalid("a dimension cannot be negative: \(d)") }
            n *= Double(d)
        }
        if n > Double(TensorLimits.maxElements) { throw .tooLarge(shape: shape) }
    }

    /// The shape `reshape` asks for, checked: every extent at least 0, except one `-1` that
    /// takes whatever fits (numpy's rule), and as many elements as the tensor has.
    public static func resolve(_ dims: [Int], count: Int, from shape: [Int]) throws(TensorError) -> [Int] {
        let fail = TensorError.invalid(
            "cannot reshape \(describe(shape)) (\(count) elements) to \(describe(dims))")
        guard dims.allSatisfy({ $0 >= -1 }), dims.filter({ $0 == -1 }).count <= 1 else { throw fail }
        var known = 1
        for d in dims where d != -1 {
            let (product, overflow) = known.multipliedReportingOverflow(by: d)
            guard !overflow, product <= Swift.max(count, 1) || d == 0 else { throw fail }
            known = product
        }
        guard let free = dims.firstIndex(of: -1) else {
            guard known == count else { throw fail }
            return dims
        }
        guard known > 0, count % known == 0 else { throw fail }
        var resolved = dims
        resolved[free] = count / known
        return resolved
    }

    /// `scalar`, `[3]` or `[3, 4]`: how shapes are shown to the user.
    public static func describe(_ shape: [Int]) -> String {
        shape.isEmpty ? "scalar" : "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }

    /// The most axes a tensor may have (literals, `reshape`, builders, `.npy` files).
    public static let maxRank = 8

    /// Row-major strides of a shape.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = Array(repeating: 1, count: shape.count)
        var s = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = s
            s *= shape[axis]
        }
        return strides
    }
}
