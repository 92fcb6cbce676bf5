#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NablaTensor

/// The optimizers of the course, written as the course writes them
/// (Géron, *Hands-On Machine Learning*, ch. 11; g = ∇J(θ), η the learning rate):
///
/// | optimizer | update |
/// | --- | --- |
/// | sgd | θ ← θ − η g |
/// | momentum | m ← β m − η g;  θ ← θ + m |
/// | nesterov | m ← β m − η ∇J(θ + β m);  θ ← θ + m |
/// | adagrad | s ← s + g ⊗ g;  θ ← θ − η g ⊘ √(s + ε) |
/// | rmsprop | s ← ρ s + (1 − ρ) g ⊗ g;  θ ← θ − η g ⊘ √(s + ε) |
/// | adam | m ← β1 m − (1 − β1) g;  s ← β2 s + (1 − β2) g ⊗ g;  m̂ = m / (1 − β1ᵗ);  ŝ = s / (1 − β2ᵗ);  θ ← θ + η m̂ ⊘ √(ŝ + ε) |
///
/// Weight decay (L2) adds λ θ to g before the update (the gradient of λ/2 ‖θ‖²).
public enum OptimizerKind: String, CaseIterable, Sendable {
    case sgd, momentum, nesterov, adagrad, rmsprop, adam
}

/// An optimizer's settings.
public struct OptimizerSettings: Sendable, Equatable {
    public var kind: OptimizerKind
    public var lr: Double
    /// β for momentum and Nesterov, β1 for Adam.
    public var beta1: Double
    /// β2 for Adam, ρ for RMSProp.
    public var beta2: Double
    public var epsilon: Double
    /// λ of the L2 penalty (weight decay).
    public var decay: Double

    public init(kind: OptimizerKind, lr: Double, beta1: Double? = nil, beta2: Double? = nil, epsilon: Double = 1e-7, decay: Double = 0) {
        self.kind = kind
        self.lr = lr
        self.beta1 = beta1 ?? 0.9
        self.beta2 = beta2 ?? (kind == .rmsprop ? 0.9 : 0.999)
        self.epsilon = epsilon
        self.decay = decay
    }

    /// The update rule as text, for `:opt`.
    public var formula: String {
        switch kind {
        case .sgd: return "θ ← θ − η g"
        case .momentum: return "m ← β m − η g;  θ ← θ + m   (β = \(beta1))"
        case .nesterov: return "m ← β m − η ∇J(θ + β m);  θ ← θ + m   (β = \(beta1))"
        case .adagrad: return "s ← s + g⊗g;  θ ← θ − η g ⊘ √(s + ε)   (ε = \(epsilon))"
        case .rmsprop: return "s ← ρ s + (1−ρ) g⊗g;  θ ← θ − η g ⊘ √(s + ε)   (ρ = \(beta2), ε = \(epsilon))"
        case .adam:
            return "m ← β1 m − (1−β1) g;  s ← β2 s + (1−β2) g⊗g;  m̂ = m/(1−β1ᵗ);  ŝ = s/(1−β2ᵗ);  θ ← θ + η m̂ ⊘ √(ŝ + ε)   "
                + "(β1 = \(beta1), β2 = \(beta2), ε = \(epsilon))"
        }
    }
}

/// What an optimizer keeps per param between steps.
public struct OptimizerSlot: Sendable, Equatable {
    /// Momentum / Nesterov velocity, or Adam's first moment.
    public var m: [Double]
    /// AdaGrad / RMSProp / Adam's second moment.
    public var s: [Double]
    /// Steps taken (Adam's t).
    public var t: Int
    /// Adam's bias-corrected moments after the last step (for `:opt`).
    public var mHat: [Double]
    public var sHat: [Double]

    public init(count: Int) {
        m = [Double](repeating: 0, count: count)
        s = [Double](repeating: 0, count: count)
        t = 0
        mHat = []
        sHat = []
    }
}

extension OptimizerSettings {
    /// Whether the gradient must be taken at the look-ahead point θ + β m (Nesterov).
    public var needsLookahead: Bool { kind == .nesterov }

    /// The look-ahead point θ + β m for Nesterov (θ itself for the others).
    public func lookahead(_ theta: [Double], _ slot: OptimizerSlot) -> [Double] {
        guard kind == .nesterov else { return theta }
        return zip(theta, slot.m).map { $0 + beta1 * $1 }
    }

    /// One step: the new θ, with the slot updated. `g` is ∇J at θ (at θ + β m for Nesterov);
    /// `lr` overrides η (a schedule's value for this step). The rule is `update`'s, the one
    /// both precisions run.
    public func step(_ theta: [Double], gradient g: [Double], slot: inout OptimizerSlot, lr: Double? = nil) -> [Double] {
        var out = theta
        slot.t += 1
        let t = slot.t
        out.withUnsafeMutableBufferPointer { w in
            g.withUnsafeBufferPointer { gp in
                slot.m.withUnsafeMutableBufferPointer { m in
                    slot.s.withUnsafeMutableBufferPointer { v in update(w, gp, m, v, t: t, lr: lr ?? self.lr) }
                }
            }
        }
        if kind == .adam {
            let c1 = 1 - pow(beta1, Double(slot.t)), c2 = 1 - pow(beta2, Double(slot.t))
            slot.mHat = slot.m.map { $0 / c1 }
            slot.sHat = slot.s.map { $0 / c2 }
        }
        return out
    }

    /// The update rule, written once for float64 and float32: θ (`w`) changes in place, with
    /// the moments `m` and `v` (s) after step `t` (already counted). Raw buffers, so the loops
    /// vectorize; Adam runs eight lanes at a time, each lane computing what the scalar tail
    /// computes, so a weight's result does not depend on where it falls.
    public func update<T: BinaryFloatingPoint & SIMDScalar>(
        _ w: UnsafeMutableBufferPointer<T>, _ gp: UnsafeBufferPointer<T>,
        _ m: UnsafeMutableBufferPointer<T>, _ v: UnsafeMutableBufferPointer<T>, t: Int, lr: Double
    ) {
        // ε below float32's range would round to 0 and make 0/0 of a weight that never moves:
        // float32 takes at least 1e-30; float64 keeps any ε it can hold.
        let floor: T = T.self == Float.self ? T(1e-30) : T.leastNormalMagnitude
        let eta = T(lr), b1 = T(beta1), b2 = T(beta2), eps = Swift.max(T(epsilon), floor), lambda = T(decay)
        let n = Swift.min(w.count, gp.count, m.count, v.count)
        let c1 = T(1 - pow(beta1, Double(t))), c2 = T(1 - pow(beta2, Double(t)))
        switch kind {
        case .sgd:
            for i in 0..<n { w[i] -= eta * (gp[i] + lambda * w[i]) }
        case .momentum, .nesterov:
            for i in 0..<n {
                m[i] = b1 * m[i] - eta * (gp[i] + lambda * w[i])
                w[i] += m[i]
            }
        case .adagrad:
            for i in 0..<n {
                let gi = gp[i] + lambda * w[i]
                v[i] += gi * gi
                w[i] -= eta * gi / (v[i] + eps).squareRoot()
            }
        case .rmsprop:
            for i in 0..<n {
                let gi = gp[i] + lambda * w[i]
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                w[i] -= eta * gi / (v[i] + eps).squareRoot()
            }
        case .adam:
            var i = 0
            if let wp = w.baseAddress, let g = gp.baseAddress, let mp = m.baseAddress, let vp = v.baseAddress {
                typealias V = SIMD8<T>
                while i + 8 <= n {
                    let wv = UnsafeRawPointer(wp + i).loadUnaligned(as: V.self)
                    let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self) + lambda * wv
                    let mv = b1 * UnsafeRawPointer(mp + i).loadUnaligned(as: V.self) - (1 - b1) * gi
                    let vv = b2 * UnsafeRawPointer(vp + i).loadUnaligned(as: V.self) + (1 - b2) * gi * gi
                    UnsafeMutableRawPointer(mp + i).storeBytes(of: mv, as: V.self)
                    UnsafeMutableRawPointer(vp + i).storeBytes(of: vv, as: V.self)
                    let step = eta * (mv / c1) / ((vv / c2) + eps).squareRoot()
                    UnsafeMutableRawPointer(wp + i).storeBytes(of: wv + step, as: V.self)
                    i += 8
                }
            }
            while i < n {
                let gi = gp[i] + lambda * w[i]
                m[i] = b1 * m[i] - (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                w[i] += eta * (m[i] / c1) / ((v[i] / c2) + eps).squareRoot()
                i += 1
            }
        }
    }
}

/// An optimizer's state per param in float32 (the vectorized backend).
public struct OptimizerSlot32: Sendable {
    public var m: [Float]
    public var s: [Float]
    public var t: Int

    public init(count: Int) {
        m = [Float](repeating: 0, count: count)
        s = [Float](repeating: 0, count: count)
        t = 0
    }

    /// The same state in float64, for `:opt`.
    public var asDouble: OptimizerSlot {
        var slot = OptimizerSlot(count: 0)
        slot.m = m.map { Double($0) }
        slot.s = s.map { Double($0) }
        slot.t = t
        return slot
    }
}

extension OptimizerSettings {
    /// The same update as `step`, in place on float32 buffers (for Nesterov, `g` is the gradient
    /// at the look-ahead point, which the trainer computes on the tape).
    public func step32(_ theta: inout [Float], gradient g: [Float], slot: inout OptimizerSlot32, lr: Double) {
        slot.t += 1
        let t = slot.t
        theta.withUnsafeMutableBufferPointer { w in
            g.withUnsafeBufferPointer { gp in
                slot.m.withUnsafeMutableBufferPointer { m in
                    slot.s.withUnsafeMutableBufferPointer { v in update(w, gp, m, v, t: t, lr: lr) }
                }
            }
        }
    }
}
