import NablaTensor

/// The result of checking one leaf's gradient against central differences.
public struct GradientCheck: Sendable {
    public var leaf: NodeID
    /// The largest relative error over the checked elements.
    public var maxRelativeError: Double
    /// The flat index where that error occurred.
    public var worstIndex: Int
    /// The backprop and numerical values at `worstIndex`.
    public var analytic: Double
    public var numeric: Double
    /// How many elements were checked, out of how many.
    public var checked: Int
    public var total: Int
}

extension Graph {
    /// The relative error used by gradient checks: |a - n| / max(|a|, |n|, 1e-6).
    ///
    /// The floor keeps gradients that are zero up to rounding from reading as 100% off.
    public static func relativeError(_ a: Double, _ n: Double, floor: Double = 1e-6) -> Double {
        if a == n { return 0 }
        return Swift.abs(a - n) / Swift.max(Swift.abs(a), Swift.abs(n), floor)
    }

    /// The absolute tolerance of a gradient check of a root whose value is `loss`:
    /// 1e-8 · max(1, |L|). A central difference with h = 1e-5 carries rounding of about
    /// 2e-16·|L|/h ≈ 2e-11·|L| (and more through long sums), so a gradient of 1.5e-8 is judged
    /// by an absolute gap: backprop -1.50871e-08 against numeric -1.50546e-08 passes.
    public static func absoluteTolerance(loss: Double) -> Double { 1e-8 * Swift.max(1, Swift.abs(loss)) }

    /// Checks ∂root/∂leaf for each leaf against central differences
    /// (f(x+h) - f(x-h)) / 2h with h = 1e-5 · max(1, |x|), element by element.
    /// Leaves with more than `maxElements` elements are checked on an even sample.
    /// Every leaf value is restored afterwards; `shouldStop` is polled between elements.
    public mutating func checkGradients(
        of root: NodeID, leaves: [NodeID], maxElements: Int = 1000,
        shouldStop: () -> Bool = { false }
    ) throws(GraphError) -> [GradientCheck] {
        let grads: Gradients
        do { grads = try backward(from: root) } catch { throw GraphError(node: root, error) }
        // |a - n| within the absolute tolerance passes: the floor is that tolerance over the relative one.
        let floor = Swift.max(1e-6, Graph.absoluteTolerance(loss: self[root].value.scalar) / 1e-5)
        var results: [GradientCheck] = []
        for leaf in leaves {
            let original = self[leaf].value
            let analytic = grads[leaf] ?? Tensor.zeros(original.shape)
            let total = original.count
            let step = Swift.max(1, total / Swift.max(maxElements, 1))
            var check = GradientCheck(
                leaf: leaf, maxRelativeError: 0, worstIndex: 0, analytic: 0, numeric: 0, checked: 0, total: total)
            defer { try? setValue(leaf, original) }
            for i in stride(from: 0, to: total, by: step) {
                if shouldStop() { break }
                let x = original.scalars[i]
                let h = 1e-5 * Swift.max(1, Swift.abs(x))
                var probe = original
                probe.scalars[i] = x + h
                try setValue(leaf, probe)
                let plus = self[root].value.scalar
                probe.scalars[i] = x - h
                try setValue(leaf, probe)
                let minus = self[root].value.scalar
                let numeric = (plus - minus) / (2 * h)
                let error = Graph.relativeError(analytic.scalars[i], numeric, floor: floor)
                if error > check.maxRelativeError || check.checked == 0 || error.isNaN {
                    check.maxRelativeError = error.isNaN ? .infinity : Swift.max(error, check.maxRelativeError)
                    check.worstIndex = i
                    check.analytic = analytic.scalars[i]
                    check.numeric = numeric
                }
                check.checked += 1
            }
            try setValue(leaf, original)
            _ = takeNonFiniteOrigins()
            results.append(check)
        }
        return results
    }
}
