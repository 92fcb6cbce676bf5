#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NablaTensor

/// The optimizers of the course, written as the course writes them
/// (Géron, *Hands-On Machine Learning*, ch. 11; Goodfellow et al., ch. 8; g = ∇J(θ), η the
/// learning rate):
///
/// | optimizer | update |
/// | --- | --- |
/// | sgd | θ ← θ − η g |
/// | momentum | m ← β m − η g;  θ ← θ + m |
/// | nesterov | m ← β m − η ∇J(θ + β m);  θ ← θ + m |
/// | adagrad | s ← s + g ⊗ g;  θ ← θ − η g ⊘ (√s + ε) |
/// | rmsprop | s ← ρ s + (1 − ρ) g ⊗ g;  θ ← θ − η g ⊘ (√s + ε) |
/// | adam | m ← β1 m + (1 − β1) g;  s ← β2 s + (1 − β2) g ⊗ g;  m̂ = m / (1 − β1ᵗ);  ŝ = s / (1 − β2ᵗ);  θ ← θ − η m̂ ⊘ (√ŝ + ε) |
///
/// ε sits outside the square root by default, as PyTorch, Keras and Optax put it and as the
/// Adam slide's code does (`x -= lr * m_hat / (sqrt(v_hat) + 1e-7)`); `EpsilonForm.inside`
/// is the other slide's √(s + δ). Weight decay (L2) adds λ θ to g before the update (the
/// gradient of λ/2 ‖θ‖²); `DecayForm.shrink` is the slides' θ ← (1 − ζ)(θ + Δθ).
public enum OptimizerKind: String, CaseIterable, Sendable {
    case sgd, momentum, nesterov, adagrad, rmsprop, adam
}

/// Where ε goes in AdaGrad, RMSProp and Adam: outside the square root, √s + ε (PyTorch, Keras,
/// Optax, the Adam slide), or inside it, √(s + δ) (the AdaGrad/RMSProp slide).
public enum EpsilonForm: String, CaseIterable, Sendable {
    case outside, inside

    func denominator(_ s: String) -> String {
        switch self {
        case .outside: return "(√\(s) + ε)"
        case .inside: return "√(\(s) + ε)"
        }
    }
}

/// How weight decay enters: λθ added to the gradient (L2, the frameworks' `weight_decay`), or
/// the slides' shrink after the step, θ ← (1 − ζ)(θ + Δθ) with ζ = λ.
public enum DecayForm: String, CaseIterable, Sendable {
    case l2, shrink
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
    public var epsilonForm: EpsilonForm
    /// λ of the L2 penalty (weight decay), ζ of the shrink form.
    public var decay: Double
    public var decayForm: DecayForm

    public init(
        kind: OptimizerKind, lr: Double, beta1: Double? = nil, beta2: Double? = nil, epsilon: Double = 1e-7,
        epsilonForm: EpsilonForm = .outside, decay: Double = 0, decayForm: DecayForm = .l2
    ) {
        self.kind = kind
        self.lr = lr
        self.beta1 = beta1 ?? 0.9
        self.beta2 = beta2 ?? (kind == .rmsprop ? 0.9 : 0.999)
        self.epsilon = epsilon
        self.epsilonForm = epsilonForm
        self.decay = decay
        self.decayForm = decayForm
    }

    /// The update rule as text, for `:opt` and `:help`.
    public var formula: String {
        let e = "ε = \(epsilon), " + (epsilonForm == .outside ? "outside √ (eps_form=outside)" : "inside √ (eps_form=inside)")
        let rule: String
        switch kind {
        case .sgd: rule = "θ ← θ − η g"
        case .momentum: rule = "m ← β m − η g;  θ ← θ + m   (β = \(beta1))"
        case .nesterov: rule = "m ← β m − η ∇J(θ + β m);  θ ← θ + m   (β = \(beta1))"
        case .adagrad: rule = "s ← s + g⊗g;  θ ← θ − η g ⊘ \(epsilonForm.denominator("s"))   (\(e))"
        case .rmsprop: rule = "s ← ρ s + (1−ρ) g⊗g;  θ ← θ − η g ⊘ \(epsilonForm.denominator("s"))   (ρ = \(beta2), \(e))"
        case .adam:
            rule = "m ← β1 m + (1−β1) g;  s ← β2 s + (1−β2) g⊗g;  m̂ = m/(1−β1ᵗ);  ŝ = s/(1−β2ᵗ);  "
                + "θ ← θ − η m̂ ⊘ \(epsilonForm.denominator("ŝ"))   (β1 = \(beta1), β2 = \(beta2), \(e))"
        }
        guard decay > 0 else { return rule }
        switch decayForm {
        case .l2: return rule + ";  g includes λθ (λ = \(decay), decay_form=l2)"
        case .shrink: return rule + ";  then θ ← (1 − ζ) θ (ζ = \(decay), decay_form=shrink)"
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
    /// vectorize.
    public func update<T: BinaryFloatingPoint & SIMDScalar>(
        _ w: UnsafeMutableBufferPointer<T>, _ gp: UnsafeBufferPointer<T>,
        _ m: UnsafeMutableBufferPointer<T>, _ v: UnsafeMutableBufferPointer<T>, t: Int, lr: Double
    ) {
        // ε below float32's range would round to 0 and make 0/0 of a weight that never moves:
        // float32 takes at least 1e-30; float64 keeps any ε it can hold.
        let floor: T = T.self == Float.self ? T(1e-30) : T.leastNormalMagnitude
        let eta = T(lr), b1 = T(beta1), b2 = T(beta2), eps = Swift.max(T(epsilon), floor)
        let lambda = decayForm == .l2 ? T(decay) : 0
        let n = Swift.min(Swift.min(w.count, gp.count), Swift.min(m.count, v.count))  // the variadic min builds an array
        let c1 = T(1 - pow(beta1, Double(t))), c2 = T(1 - pow(beta2, Double(t)))
        let inside = epsilonForm == .inside
        switch kind {
        case .sgd:
            for i in 0..<n { w[i] -= eta * (gp[i] + lambda * w[i]) }
        case .momentum, .nesterov:
            for i in 0..<n {
                m[i] = b1 * m[i] - eta * (gp[i] + lambda * w[i])
                w[i] += m[i]
            }
        case .adagrad, .rmsprop:
            let keep: T = kind == .adagrad ? 1 : b2, add: T = kind == .adagrad ? 1 : 1 - b2
            for i in 0..<n {
                let gi = gp[i] + lambda * w[i]
                v[i] = keep * v[i] + add * gi * gi
                w[i] -= eta * gi / (inside ? (v[i] + eps).squareRoot() : v[i].squareRoot() + eps)
            }
        case .adam:
            adam(w, gp, m, v, n: n, eta: eta, b1: b1, b2: b2, c1: c1, c2: c2, eps: eps, lambda: lambda)
        }
        if decayForm == .shrink, decay > 0 {
            let keep = 1 - T(decay)
            for i in 0..<n { w[i] *= keep }
        }
    }

    /// Adam's step, eight lanes at a time; each lane computes what the scalar tail computes, so
    /// a weight's result does not depend on where it falls.
    private func adam<T: BinaryFloatingPoint & SIMDScalar>(
        _ w: UnsafeMutableBufferPointer<T>, _ gp: UnsafeBufferPointer<T>,
        _ m: UnsafeMutableBufferPointer<T>, _ v: UnsafeMutableBufferPointer<T>,
        n: Int, eta: T, b1: T, b2: T, c1: T, c2: T, eps: T, lambda: T
    ) {
        let inside = epsilonForm == .inside
        var i = 0
        if let wp = w.baseAddress, let g = gp.baseAddress, let mp = m.baseAddress, let vp = v.baseAddress {
            typealias V = SIMD8<T>
            while i + 8 <= n {
                let wv = UnsafeRawPointer(wp + i).loadUnaligned(as: V.self)
                let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self) + lambda * wv
                let mv = b1 * UnsafeRawPointer(mp + i).loadUnaligned(as: V.self) + (1 - b1) * gi
                let vv = b2 * UnsafeRawPointer(vp + i).loadUnaligned(as: V.self) + (1 - b2) * gi * gi
                UnsafeMutableRawPointer(mp + i).storeBytes(of: mv, as: V.self)
                UnsafeMutableRawPointer(vp + i).storeBytes(of: vv, as: V.self)
                let sHat = vv / c2
                let denominator = inside ? (sHat + eps).squareRoot() : sHat.squareRoot() + eps
                UnsafeMutableRawPointer(wp + i).storeBytes(of: wv - eta * (mv / c1) / denominator, as: V.self)
                i += 8
            }
        }
        while i < n {
            let gi = gp[i] + lambda * w[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            let sHat = v[i] / c2
            w[i] -= eta * (m[i] / c1) / (inside ? (sHat + eps).squareRoot() : sHat.squareRoot() + eps)
            i += 1
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
