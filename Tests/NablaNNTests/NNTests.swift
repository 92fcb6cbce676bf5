import Foundation
import NablaNN
import NablaTensor
import Testing

/// Two steps of an optimizer on J(θ) = θ², θ0 = 1 (so g = 2θ), lr 0.1.
func twoSteps(_ settings: OptimizerSettings) -> (Double, Double) {
    var slot = OptimizerSlot(count: 1)
    var theta = [1.0]
    var out: [Double] = []
    for _ in 0..<2 {
        let at = settings.lookahead(theta, slot)
        theta = settings.step(theta, gradient: [2 * at[0]], slot: &slot)
        out.append(theta[0])
    }
    return (out[0], out[1])
}

@Suite("Optimizers, schedules, initializers, data")
struct NNTests {
    // By hand from the formulas (θ0 = 1, g = 2θ, η = 0.1, β = 0.9, ρ = 0.9, β2 = 0.999, ε = 1e-7):
    // sgd:      θ1 = 1 - 0.1·2 = 0.8;             θ2 = 0.8 - 0.1·1.6 = 0.64
    // momentum: m1 = -0.2, θ1 = 0.8;               m2 = 0.9·(-0.2) - 0.1·1.6 = -0.34, θ2 = 0.46
    // nesterov: m1 = -0.2, θ1 = 0.8;               look-ahead 0.8 + 0.9·(-0.2) = 0.62, g = 1.24,
    //           m2 = -0.18 - 0.124 = -0.304, θ2 = 0.496
    // adagrad:  s1 = 4, θ1 = 1 - 0.2/√4 = 0.9;     s2 = 4 + 1.8² = 7.24, θ2 = 0.9 - 0.18/√7.24 = 0.833104
    // rmsprop:  s1 = 0.4, θ1 = 1 - 0.2/√0.4 = 0.683772;  s2 = 0.36 + 0.1·1.367544² = 0.547018,
    //           θ2 = 0.683772 - 0.1367544/√0.547018 = 0.498871
    // adam:     m1 = -0.2, s1 = 0.004, m̂ = -2, ŝ = 4, θ1 = 1 - 0.1·2/2 = 0.9;
    //           m2 = -0.18 - 0.18 = -0.36, s2 = 0.003996 + 0.00324 = 0.007236,
    //           m̂ = -0.36/0.19, ŝ = 0.007236/0.001999, θ2 = 0.9 - 0.1·1.894737/1.902580 = 0.800412
    @Test("every optimizer's first two steps match the hand computation", arguments: [
        (OptimizerKind.sgd, 0.8, 0.64),
        (.momentum, 0.8, 0.46),
        (.nesterov, 0.8, 0.496),
        (.adagrad, 0.9, 0.8331035),
        (.rmsprop, 0.6837723, 0.4988707),
        (.adam, 0.9, 0.8004122),
    ] as [(OptimizerKind, Double, Double)])
    func optimizers(kind: OptimizerKind, first: Double, second: Double) {
        let (a, b) = twoSteps(OptimizerSettings(kind: kind, lr: 0.1))
        #expect(abs(a - first) < 1e-6, "\(kind) step 1: \(a)")
        #expect(abs(b - second) < 1e-6, "\(kind) step 2: \(b)")
    }

    @Test("weight decay adds λθ to the gradient: one SGD step with λ = 0.5 from θ = 1, g = 2 gives 1 - 0.1·2.5 = 0.75")
    func weightDecay() {
        var slot = OptimizerSlot(count: 1)
        let theta = OptimizerSettings(kind: .sgd, lr: 0.1, decay: 0.5).step([1], gradient: [2], slot: &slot)
        #expect(abs(theta[0] - 0.75) < 1e-12)
    }

    // η0 = 0.1 over 100 epochs. power s = 10: 0.1/(1 + t/10); exponential s = 20: 0.1·0.1^(t/20);
    // piecewise 5:0.01,10:0.001; 1cycle up to 1: 0.1 → 1 over epochs 0..45, back to 0.1 at 90, then → 0.0001 at 99.
    @Test("every schedule's learning rates", arguments: [
        ("power:10", 0, 0.1), ("power:10", 10, 0.05), ("power:10", 30, 0.025), ("power:10:2", 10, 0.025),
        ("exponential:20", 0, 0.1), ("exponential:20", 20, 0.01), ("exponential:20", 40, 0.001),
        ("piecewise:5:0.01,10:0.001", 4, 0.1), ("piecewise:5:0.01,10:0.001", 5, 0.01), ("piecewise:5:0.01,10:0.001", 50, 0.001),
        // 1cycle over 100 epochs (t = 0...99): the peak halfway at t = 49.5, back to η0 at
        // t = 0.9·99 = 89.1, then down to η0/1000 at t = 99. By hand: η(33) = 0.1 + 0.9·33/49.5 = 0.7;
        // η(66) = 1 - 0.9·16.5/39.6 = 0.625; η(94) = 0.1 - 0.0999·4.9/9.9.
        ("1cycle:1", 0, 0.1), ("1cycle:1", 33, 0.7), ("1cycle:1", 66, 0.625), ("1cycle:1", 94, 0.1 - 0.0999 * 4.9 / 9.9),
        ("1cycle:1", 99, 0.0001),
    ] as [(String, Int, Double)])
    func schedules(text: String, epoch: Int, rate: Double) throws {
        let s = try #require(Schedule.parse(text))
        #expect(abs(s.rate(0.1, epoch: epoch, of: 100) - rate) < 1e-12, "\(text) at \(epoch)")
    }

    // Issue 12, item 9: over 10 epochs 1cycle peaks at t = 4 and 5 (halfway, 4.5), is back at
    // η0 by t = 8 and makes its final drop at t = 9, ending below the start.
    @Test("1cycle over 10 epochs peaks halfway and ends below the start")
    func oneCycleShort() throws {
        let s = try #require(Schedule.parse("1cycle:1"))
        let rates = (0..<10).map { s.rate(0.1, epoch: $0, of: 10) }
        #expect(abs(rates[4] - (0.1 + 0.9 * 4 / 4.5)) < 1e-12 && abs(rates[5] - (1 - 0.9 * 0.5 / 3.5)) < 1e-12, "\(rates)")
        #expect(rates.indices.max { rates[$0] < rates[$1] } == 4)
        #expect(abs(rates[8] - 0.1) < 1e-12 && abs(rates[9] - 0.0001) < 1e-15)
        #expect(rates[9] < rates[0])
    }

    @Test("schedules that do not parse", arguments: ["power", "power:0", "exponential:-1", "piecewise:", "piecewise:5", "warp:3"])
    func badSchedules(text: String) {
        #expect(Schedule.parse(text) == nil)
    }

    // A [400, 300] matrix: 120,000 samples; the sample variance's standard error is about
    // σ²·√(2/n) = 0.4% of σ², so 3% bounds are loose yet would catch a wrong formula.
    @Test("every initializer's sample mean and variance", arguments: [
        ("lecun", 1.0 / 400), ("lecun_uniform", 1.0 / 400), ("glorot", 2.0 / 700), ("glorot_uniform", 2.0 / 700),
        ("he", 2.0 / 400), ("he_uniform", 2.0 / 400), ("normal:0.01", 0.0001),
    ] as [(String, Double)])
    func initializers(text: String, variance: Double) throws {
        let initializer = try #require(Initializer.parse(text))
        var random = RandomSource(seed: 7)
        let w = try initializer.weights(fanIn: 400, fanOut: 300, random: &random)
        #expect(w.shape == [400, 300])
        let n = Double(w.count)
        let mean = w.scalars.reduce(0, +) / n
        let v = w.scalars.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        #expect(abs(mean) < 4 * (variance / n).squareRoot(), "\(text) mean \(mean)")
        #expect(abs(v / variance - 1) < 0.03, "\(text) variance \(v), expected \(variance)")
        if text.hasSuffix("uniform") {
            let r = (3 * variance).squareRoot()
            #expect(w.scalars.allSatisfy { abs($0) <= r })
        }
    }

    @Test("constant init gives every weight the same value")
    func constantInit() throws {
        var random = RandomSource(seed: 1)
        let w = try #require(Initializer.parse("constant:0.5")).weights(fanIn: 2, fanOut: 3, random: &random)
        #expect(w.scalars == [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    }

    @Test("truth tables, splits and shuffles")
    func data() throws {
        let xor = try #require(Dataset.truthTable("xor"))
        #expect(xor.x.scalars == [0, 0, 0, 1, 1, 0, 1, 1])
        #expect(xor.y.scalars == [0, 1, 1, 0])
        var random = RandomSource(seed: 3)
        let moons = Dataset.moons(200, noise: 0.1, random: &random)
        #expect(moons.x.shape == [200, 2] && moons.y.shape == [200, 1])
        #expect(moons.y.scalars.reduce(0, +) == 100)
        let (train, val, test) = moons.split(validation: 0.2, test: 0.1, random: &random)
        #expect(train.count == 140 && val.count == 40 && test.count == 20)
        // A split is a permutation: every sample lands in exactly one part.
        let all = (train.x.scalars + val.x.scalars + test.x.scalars).sorted()
        #expect(all == moons.x.scalars.sorted())
        let spirals = Dataset.spirals(300, classes: 3, noise: 0.2, random: &random)
        #expect(spirals.y.shape == [300] && Set(spirals.y.scalars) == [0, 1, 2])
    }

    @Test("CSV: header, classes or regression targets")
    func csv() throws {
        let d = try Dataset.csv("x1,x2,label\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n", name: "xor.csv")
        #expect(d.x.shape == [4, 2] && d.y.shape == [4, 1] && d.classes == 2)
        let r = try Dataset.csv("1.5,2.25\n2,4\n", name: "r.csv")
        #expect(r.classes == nil && r.y.scalars == [2.25, 4])
        let k = try Dataset.csv("1,0\n2,1\n3,2\n", name: "k.csv")
        #expect(k.classes == 3 && k.y.shape == [3])
    }

    @Test("CSV errors name the line and column", arguments: [
        ("", "no data rows (an empty file?)"),
        ("a,b,c\n", "no data rows (an empty file?)"),
        ("1,2,3\n4,5\n", "line 2, column 1: 2 columns, but the first row has 3"),
        ("1,2,3\n4,x,6\n", "line 2, column 3: 'x' is not a number"),
        ("1,2,3\n4,,6\n", "line 2, column 3: an empty cell: a missing value (missing=drop or missing=mean)"),
        ("5\n", "line 1, column 1: a row needs at least 2 columns (features, then the target)"),
    ] as [(String, String)])
    func csvErrors(text: String, message: String) {
        #expect(throws: DataError.self) { try Dataset.csv(text, name: "f.csv") }
        do {
            _ = try Dataset.csv(text, name: "f.csv")
        } catch {
            #expect(error.description == message)
        }
    }
}

@Suite("The float32 optimizer step")
struct Step32Tests {
    @Test("each optimizer's float32 step follows its float64 step, over 13 weights (8 lanes and a tail), for 3 steps", arguments: OptimizerKind.allCases)
    func matchesFloat64(kind: OptimizerKind) {
        let settings = OptimizerSettings(kind: kind, lr: 0.05, decay: 0.01)
        var theta = (0..<13).map { Double($0) / 7 - 0.9 }
        var theta32 = theta.map { Float($0) }
        var slot = OptimizerSlot(count: 13), slot32 = OptimizerSlot32(count: 13)
        for step in 0..<3 {
            let g = theta.indices.map { sin(Double($0 + 3 * step)) }
            theta = settings.step(theta, gradient: g, slot: &slot)
            settings.step32(&theta32, gradient: g.map { Float($0) }, slot: &slot32, lr: 0.05)
        }
        for i in theta.indices {
            #expect(abs(Double(theta32[i]) - theta[i]) < 1e-5, "\(kind) weight \(i): \(theta32[i]) vs \(theta[i])")
        }
        // The weights moved: the comparison is not of two untouched copies.
        #expect(abs(theta[5] - (5.0 / 7 - 0.9)) > 1e-3)
    }

    // A 3x3 image 1..9 moved by one pixel: down [[0,0,0],[1,2,3],[4,5,6]], up [[4,5,6],[7,8,9],[0,0,0]],
    // right [[0,1,2],[0,4,5],[0,7,8]], left [[2,3,0],[5,6,0],[8,9,0]].
    @Test("one-pixel displacements, as the slide expands MNIST: the image, then down, up, right, left")
    func displacements() {
        let d = Dataset(bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9], features: 9, y: Tensor(vector: [4]), classes: 10, name: "t")
        let e = d.displacedByOnePixel(side: 3)
        #expect(e.count == 5 && e.y.scalars == [4, 4, 4, 4, 4])
        #expect(e.bytes == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 1, 2, 3, 4, 5, 6, 4, 5, 6, 7, 8, 9, 0, 0, 0,
                            0, 1, 2, 0, 4, 5, 0, 7, 8, 2, 3, 0, 5, 6, 0, 8, 9, 0])
    }
}
