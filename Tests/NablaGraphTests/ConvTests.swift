import NablaGraph
import NablaTensor
import Testing

/// Convolution and pooling on examples small enough to compute by hand (issue 11).
@Suite("Convolution and pooling by hand")
struct ConvTests {
    let image = Tensor(shape: [1, 3, 3], scalars: [1, 2, 3, 4, 5, 6, 7, 8, 9])

    @Test("a 2x2 kernel on a 3x3 image: each output is the window times the kernel, summed")
    func convolutionByHand() throws {
        let k = Tensor(shape: [2, 1, 2, 2], scalars: [1, 0, 0, -1, 0.5, 0.5, 0, 0])
        let y = try Op.conv2d(stride: 1, pad: 0).forward([image, k])
        #expect(y.shape == [2, 2, 2])
        // Map 0: x[i][j] - x[i+1][j+1] = -4 everywhere; map 1: (x[i][j] + x[i][j+1]) / 2.
        #expect(y.scalars == [-4, -4, -4, -4, 1.5, 2.5, 4.5, 5.5])
        // Stride 2 with padding 1: windows at (-1,-1), (-1,1), (1,-1), (1,1) of the padded image.
        let z = try Op.conv2d(stride: 2, pad: 1).forward([image, Tensor(shape: [1, 1, 2, 2], scalars: [1, 1, 1, 1])])
        #expect(z.shape == [1, 2, 2])
        let corners: [Double] = [1, 5, 11, 28]  // 1; 2 + 3; 4 + 7; 5 + 6 + 8 + 9
        #expect(z.scalars == corners)
    }

    @Test("∂L/∂K sums over the positions where the kernel was applied (weight sharing)")
    func kernelGradientByHand() throws {
        let k = Tensor(shape: [1, 1, 2, 2], scalars: [1, 0, 0, -1])
        let y = try Op.conv2d(stride: 1, pad: 0).forward([image, k])
        // L = sum(y): ∂L/∂K[a, b] = the sum of the four windows' element (a, b).
        let g = Op.conv2d(stride: 1, pad: 0).vjp([image, k], y, Tensor(shape: y.shape, scalars: [1, 1, 1, 1]))
        let sums: [Double] = [12, 16, 24, 28]  // 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9
        #expect(g[1]?.scalars == sums)
        // ∂L/∂x: how many windows read each pixel, times the kernel entries that read it.
        #expect(g[0]?.scalars == [1, 1, 0, 1, 0, -1, 0, -1, -1])
    }

    @Test("pooling: max, average and L2 of each window; max's gradient goes to the first largest on a tie")
    func poolingByHand() throws {
        let x = Tensor(shape: [2, 2], scalars: [1, 3, 3, 2])
        #expect(try Op.pool(.max, size: 2, stride: 2).forward([x]).scalars == [3])
        #expect(try Op.pool(.avg, size: 2, stride: 2).forward([x]).scalars == [2.25])
        let l2: Double = 23  // 1 + 9 + 9 + 4
        #expect(try Op.pool(.l2, size: 2, stride: 2).forward([x]).scalars == [l2.squareRoot()])
        let y = try Op.pool(.max, size: 2, stride: 2).forward([x])
        let g = Op.pool(.max, size: 2, stride: 2).vjp([x], y, Tensor(shape: [1, 1], scalars: [1]))
        #expect(g[0]?.scalars == [0, 1, 0, 0], "the tie goes to the first in row-major order")
        let avg = Op.pool(.avg, size: 2, stride: 2).vjp([x], y, Tensor(shape: [1, 1], scalars: [1]))
        #expect(avg[0]?.scalars == [0.25, 0.25, 0.25, 0.25])
        // A NaN anywhere in a window (2x2 or 3x3) gives NaN, and the gradient goes to the first NaN.
        for (size, scalars, at) in [(2, [1.0, .nan, 5, .nan], 1), (3, [1, 2, 3, 4, 9, .nan, 7, 8, 0], 5), (3, [.nan, 2, 3, 4, 9, 1, 7, 8, 0], 0)] {
            let n = Tensor(shape: [size, size], scalars: scalars)
            let pool = Op.pool(.max, size: size, stride: size)
            let m = try pool.forward([n])
            #expect(m.scalar.isNaN)
            let routed = try #require(pool.vjp([n], m, Tensor(shape: [1, 1], scalars: [1]))[0])
            #expect(routed.scalars == (0..<size * size).map { $0 == at ? 1 : 0 }, "\(scalars)")
        }
        // Ties at 3x3 (the general loop) and at 2x2 (unrolled) go to the first largest.
        let tie3 = Tensor(shape: [3, 3], scalars: [0, 7, 1, 7, 2, 7, 3, 4, 5])
        let y3 = try Op.pool(.max, size: 3, stride: 3).forward([tie3])
        #expect(Op.pool(.max, size: 3, stride: 3).vjp([tie3], y3, Tensor(shape: [1, 1], scalars: [2]))[0]?.scalars == [0, 2, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test("bad shapes are refused with both shapes named")
    func badShapes() {
        func message(_ op: Op, _ x: [Tensor]) -> String {
            do { _ = try op.forward(x) } catch { return error.message }
            return "accepted"
        }
        let k = Tensor.zeros([1, 2, 2, 2])
        #expect(message(.conv2d(stride: 1, pad: 0), [image, k]).contains("the input has 1 channel ([1, 3, 3]) but the kernels expect 2 ([1, 2, 2, 2])"))
        #expect(message(.conv2d(stride: 1, pad: 0), [image, Tensor.zeros([1, 1, 4, 4])]).contains("a kernel of 4x4 does not fit in the 3x3 image padded by 0"))
        #expect(message(.conv2d(stride: 1, pad: 0), [Tensor.zeros([3, 3]), k]).contains("conv2d needs an image [C, H, W] or a batch"))
        #expect(message(.pool(.max, size: 4, stride: 4), [image]).contains("a 4x4 window is larger than the 3x3 map"))
        #expect(message(.pool(.avg, size: 2, stride: 2), [Tensor.zeros([3])]).contains("maps with at least two axes"))
        let huge = TensorLimits.withMaxElements(1000) { message(.conv2d(stride: 1, pad: 0), [Tensor.zeros([1, 1, 40, 40]), Tensor.zeros([2, 1, 1, 1])]) }
        #expect(huge.contains("would hold 3,200 numbers"), "\(huge)")
    }

    @Test("a batch done in several groups of images gives what each image gives alone")
    func groupsOfImages() throws {
        // 6 images whose patch matrices (900 x 961 each) go in groups of 4 and 2.
        var sampler = SplitMix(seed: 5)
        let x = Tensor(shape: [6, 1, 60, 60], scalars: (0..<21600).map { _ in sampler.next() })
        let k = Tensor(shape: [1, 1, 30, 30], scalars: (0..<900).map { _ in sampler.next() })
        let op = Op.conv2d(stride: 1, pad: 0)
        let y = try op.forward([x, k])
        let g = Tensor(shape: y.shape, scalars: (0..<y.count).map { _ in sampler.next() })
        let local = op.vjp([x, k], y, g)
        var gk = [Double](repeating: 0, count: 900)
        for b in 0..<6 {
            let xb = Tensor(shape: [1, 1, 60, 60], scalars: Array(x.scalars[b * 3600..<(b + 1) * 3600]))
            let yb = try op.forward([xb, k])
            let gb = Tensor(shape: yb.shape, scalars: Array(g.scalars[b * 961..<(b + 1) * 961]))
            #expect(zip(yb.scalars, y.scalars[b * 961..<(b + 1) * 961]).allSatisfy { abs($0 - $1) < 1e-9 })
            let each = op.vjp([xb, k], yb, gb)
            let gxb = try #require(each[0]).scalars, gx = try #require(local[0]).scalars[b * 3600..<(b + 1) * 3600]
            #expect(zip(gxb, gx).allSatisfy { abs($0 - $1) < 1e-9 })
            for i in 0..<900 { gk[i] += try #require(each[1]).scalars[i] }
        }
        #expect(zip(gk, try #require(local[1]).scalars).allSatisfy { abs($0 - $1) < 1e-6 })
    }
}

extension ConvTests {
    /// The convolution written as its definition, four nested loops, for comparison.
    static func direct(_ x: Tensor, _ k: Tensor, stride: Int, pad: Int) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (f, kh, kw) = (k.shape[0], k.shape[2], k.shape[3])
        let (oh, ow) = ((h + 2 * pad - kh) / stride + 1, (w + 2 * pad - kw) / stride + 1)
        var out = [Double](repeating: 0, count: b * f * oh * ow)
        for n in 0..<b { for o in 0..<f { for i in 0..<oh { for j in 0..<ow {
            var acc = 0.0
            for ch in 0..<c { for a in 0..<kh { for d in 0..<kw {
                let (y, xx) = (i * stride + a - pad, j * stride + d - pad)
                guard y >= 0, y < h, xx >= 0, xx < w else { continue }
                acc += x.scalars[((n * c + ch) * h + y) * w + xx] * k.scalars[((o * c + ch) * kh + a) * kw + d]
            } } }
            out[((n * f + o) * oh + i) * ow + j] = acc
        } } } }
        return Tensor(shape: [b, f, oh, ow], scalars: out)
    }

    @Test("big enough to run on every core: conv2d equals the direct sum, and its VJP the direct VJP", arguments: [(1, 0), (2, 1), (3, 2)])
    func parallelConvolution(stride: Int, pad: Int) throws {
        var sampler = SplitMix(seed: 9)
        let x = Tensor(shape: [8, 3, 20, 20], scalars: (0..<9600).map { _ in sampler.next() })
        let k = Tensor(shape: [6, 3, 5, 5], scalars: (0..<450).map { _ in sampler.next() })
        let op = Op.conv2d(stride: stride, pad: pad)
        let y = try op.forward([x, k])
        let expected = Self.direct(x, k, stride: stride, pad: pad)
        #expect(y.shape == expected.shape && zip(y.scalars, expected.scalars).allSatisfy { abs($0 - $1) < 1e-9 })
        // ⟨g, y⟩ is linear in x and in k: the VJP is the gradient of that, checked on a few entries by differences.
        let g = Tensor(shape: y.shape, scalars: (0..<y.count).map { _ in sampler.next() })
        let vjp = op.vjp([x, k], y, g)
        func inner(_ x: Tensor, _ k: Tensor) -> Double { zip(Self.direct(x, k, stride: stride, pad: pad).scalars, g.scalars).reduce(0) { $0 + $1.0 * $1.1 } }
        for i in [0, 401, 4_799, 9_599] {
            var bumped = x.scalars
            bumped[i] += 1
            let slope = inner(Tensor(shape: x.shape, scalars: bumped), k) - inner(x, k)
            #expect(abs(try #require(vjp[0]).scalars[i] - slope) < 1e-9, "x[\(i)]")
        }
        for i in [0, 77, 449] {
            var bumped = k.scalars
            bumped[i] += 1
            let slope = inner(x, Tensor(shape: k.shape, scalars: bumped)) - inner(x, k)
            #expect(abs(try #require(vjp[1]).scalars[i] - slope) < 1e-8, "k[\(i)]")
        }
    }

    @Test("big enough to run on every core: pooling and its VJP equal the window-by-window definition", arguments: PoolKind.allCases)
    func parallelPooling(kind: PoolKind) throws {
        var sampler = SplitMix(seed: 4)
        let x = Tensor(shape: [16, 8, 24, 24], scalars: (0..<73_728).map { _ in sampler.next() })
        let op = Op.pool(kind, size: 2, stride: 2)
        let y = try op.forward([x])
        let g = Tensor(shape: y.shape, scalars: (0..<y.count).map { _ in sampler.next() })
        let gx = try #require(op.vjp([x], y, g)[0])
        for o in [0, 1_000, 18_431] {
            let (plane, i, j) = (o / 144, o / 12 % 12, o % 12)
            let window = [(0, 0), (0, 1), (1, 0), (1, 1)].map { plane * 576 + (2 * i + $0.0) * 24 + 2 * j + $0.1 }
            let v = window.map { x.scalars[$0] }
            switch kind {
            case .max:
                #expect(y.scalars[o] == v.max())
                let winner = window[v.firstIndex(of: v.max() ?? 0) ?? 0]
                #expect(gx.scalars[winner] == g.scalars[o])
            case .avg:
                #expect(abs(y.scalars[o] - v.reduce(0, +) / 4) < 1e-12)
                #expect(abs(gx.scalars[window[3]] - g.scalars[o] / 4) < 1e-12)
            case .l2:
                let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                #expect(abs(y.scalars[o] - norm) < 1e-12)
                #expect(abs(gx.scalars[window[1]] - g.scalars[o] * v[1] / norm) < 1e-12)
            }
        }
    }
}

/// A small deterministic source of numbers in [-1, 1).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 52) - 1
    }
}
