import Foundation
@testable import NablaRuntime
@testable import NablaSession
import NablaTestSupport
import Testing

/// conv2d, the poolings and flatten through the language: carets for bad arguments, and a
/// small convnet trained in float32 and in float64 to the same loss (issue 11).
@Suite("Convolutional networks in the language")
struct ConvLanguageTests {
    /// The loss of the last epoch line a script's `:train` prints (the script must not fail).
    func lastLoss(_ script: String) throws -> Double {
        let t = Transcript()
        t.run(script)
        #expect(t.err.isEmpty, "\(t.stderr)")
        let line = try #require(t.out.last { $0.hasPrefix("epoch") }, "\(t.stdout)")
        return try #require(figure(after: "loss", in: line))
    }

    @Test("bad arguments are refused at their place")
    func badArguments() {
        let cases: [(String, String, Int)] = [
            ("y = conv2d(x, K, 0)", "a stride is at least 1", 18),
            ("y = conv2d(x, K, 1, -1)", "a padding is at least 0", 21),
            ("y = maxpool(x, 0)", "a pooling window is at least 1", 16),
            ("y = conv2d(x, reshape(K, 4))", "conv2d's kernels needs [F, C, kh, kw]", 5),
            ("y = maxpool(x, 4)", "a 4x4 window is larger than the 3x3 map", 5),
            ("y = conv2d(reshape(x, 3, 3), K)", "conv2d needs an image [C, H, W] or a batch of images [B, C, H, W], got [3, 3]", 5),
        ]
        for (line, message, column) in cases {
            let t = Transcript()
            t.run("x = reshape([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 3, 3)\nK = ones(1, 1, 2, 2)")
            #expect(!t.run(line), "\(line)")
            #expect(t.stderr.contains(message), "\(line): \(t.stderr)")
            #expect(t.stderr.contains("column \(column):"), "\(line): \(t.stderr)")
        }
    }

    @Test("a small convnet trains to the same loss in float32 and float64")
    func convnetTrainsInBothPrecisions() throws {
        let dir = try syntheticMNIST(train: 60, test: 20)
        func script(_ precision: String) -> String {
            """
                seed 3
                :data mnist dir=\(dir)
                param K = randn(4, 1, 2, 2) * 0.5
                param W = randn(16, 10) * 0.3
                param b = zeros(10)
                h = relu(conv2d(reshape(X, -1, 1, 4, 4), K))
                z = flatten(maxpool(h, 2, 1)) @ W + b
                L = cross_entropy(z, Y)
                :train L epochs=5 batch=20 opt=sgd lr=0.2 every=1 precision=\(precision)
                """
        }
        let (f32, f64) = (try lastLoss(script("f32")), try lastLoss(script("f64")))
        #expect(abs(f32 - f64) <= 1e-3 * max(1, abs(f64)), "\(f32) vs \(f64)")
        #expect(f64 < log(10), "the loss fell below chance: \(f64)")
    }

    @Test("initializers of kernels count fan-in as C·kh·kw and fan-out as F·kh·kw")
    func kernelInitializers() throws {
        let t = Transcript()
        t.run("seed 1\nK = he(64, 8, 5, 5)\nG = glorot(64, 8, 5, 5)")
        func std(_ name: String) throws -> Double {
            let v = try t.session.value(name).scalars
            let mean = v.reduce(0, +) / Double(v.count)
            return (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        }
        // 12,800 draws: the sample std is within 2% of the true one.
        #expect(abs(try std("K") / (2.0 / 200).squareRoot() - 1) < 0.02)
        #expect(abs(try std("G") / (2.0 / (200 + 1600)).squareRoot() - 1) < 0.02)
    }

    @Test("review findings: empty sums, one prediction against many targets in float32, im2col's size")
    func reviewFindings() throws {
        // 1. A reduction or gradient toward a shape with a 0 dimension gives an empty result.
        let t = Transcript()
        #expect(t.run("a = sum(zeros(2, 0), 0)\nb = mean(zeros(0, 3), 1)"), "\(t.stderr)")
        #expect(try t.session.value("a").shape == [0])
        // 2. bce of one sigmoid against many targets: float32 follows float64 (every label counts).
        let bce = ":data moons 200 val=0 test=0\nparam b = 0.3\nL = bce(sigmoid(b), reshape(Y, 200))\n:train L epochs=3 batch=all opt=sgd lr=1 precision="
        let (f32, f64) = (try lastLoss(bce + "f32"), try lastLoss(bce + "f64"))
        #expect(abs(f32 - f64) <= 1e-4 * max(1, abs(f64)), "\(f32) vs \(f64)")
        // 3. A convolution whose patch matrix would pass the element limit is refused before it is made.
        let v = Transcript()
        #expect(!v.run(":limits elements=2000000\nc = conv2d(zeros(1, 1000, 1000), zeros(1, 1, 50, 50))"))
        #expect(v.stderr.contains("a tensor of shape [2500, 904401] would hold"), "\(v.stderr)")
    }

    @Test("Nesterov trains on the float32 tape too, to float64's loss (the gradient at θ + β m)")
    func nesterovInFloat32() throws {
        let nesterov = "seed 2\n:data moons 200 val=0 test=0\n:mlp net 2-8-1 act=tanh\nL = bce(net, Y)\n:train L epochs=6 batch=50 opt=nesterov lr=0.1 beta=0.9 every=1 precision="
        let (f32, f64) = (try lastLoss(nesterov + "f32"), try lastLoss(nesterov + "f64"))
        #expect(abs(f32 - f64) <= 1e-3 * max(1, abs(f64)), "\(f32) vs \(f64)")
    }

    // By hand: y = conv2d of the 3x3 image with [[1, 0], [0, -1]], L = Σ y·[[1, 2], [3, 4]], so
    // ∂L/∂(y) = [[1, 2], [3, 4]] and ∂L/∂K[0,0,0,0] = 1·x[0,0] + 2·x[0,1] + 3·x[1,0] + 4·x[1,1] = 1 + 4 + 0 + 4 = 9.
    @Test(":explain L K shows weight sharing: one term per position where the kernel was applied")
    func weightSharing() {
        let t = transcript("x = [[1, 2, 0], [0, 1, 3], [2, 1, 1]]\nimg = reshape(x, 1, 3, 3)\nparam K = [[[[1, 0], [0, -1]]]]\ny = conv2d(img, K)\nL = sum(y * [[[1, 2], [3, 4]]])\n:backward L", ":explain L K")
        #expect(t.stdout.contains("weight sharing: K is applied at every position"), "\(t.stdout)")
        #expect(t.stdout.contains("∂L/∂K[0, 0, 0, 0] = Σ over 4 positions of ∂L/∂(conv2d(img, K))[0, y, x] · img[0, y, x]\n    = 1·1 + 2·2 + 3·0 + 4·1 = 9"), "\(t.stdout)")
    }

    // Windows of [[1, 5, 2, 0], [3, 4, 8, 1], [0, 2, 6, 6], [7, 1, 6, 2]]: largest 5, 8, 7, and 6 (a
    // tie of three: the first in reading order, [0, 2, 2]).
    @Test(":step shows max-pooling's VJP routing each gradient to its window's largest element")
    func maxPoolRouting() {
        let t = transcript("x = [[[1, 5, 2, 0], [3, 4, 8, 1], [0, 2, 6, 6], [7, 1, 6, 2]]]\nparam a = 1\nm = maxpool(a * x, 2)\nL = sum(m * [[[1, 2], [3, 4]]])", ":step all L")
        for line in ["window [0, 0, 0]: the largest is [0, 0, 1] = 5, which gets 1", "window [0, 0, 1]: the largest is [0, 1, 2] = 8, which gets 2",
                     "window [0, 1, 0]: the largest is [0, 3, 0] = 7, which gets 3", "window [0, 1, 1]: the largest is [0, 2, 2] = 6, which gets 4"] {
            #expect(t.stdout.contains(line), "\(line)\n\(t.stdout)")
        }
    }

    @Test(":cnn builds the layers it prints: the same value as the formulas written by hand")
    func cnnBuilder() throws {
        let t = Transcript()
        // 4x4 images: conv 2 maps of 3x3 → 2x2x2, max-pool 2 → 2x1x1, dense 3 outputs.
        #expect(t.run("seed 4\nXi = randn(5, 16)\n:cnn net conv2x3-pool2-3 input=Xi"), "\(t.stderr)")
        #expect(t.stdout.contains("layer 1: net_h1 = relu(conv2d(reshape(Xi, -1, 1, 4, 4), net_K1) + net_c1)   K [2, 1, 3, 3], c [2, 1, 1] → 2x2x2 a sample"), "\(t.stdout)")
        #expect(t.stdout.contains("layer 3: net = dense(flatten(net_h2), net_W3, net_b3, linear)   W [2, 3], b [3] → 3 a sample"))
        #expect(t.stdout.contains("29 params"))  // 2·9 + 2 + 2·3 + 3
        t.run("ref = flatten(maxpool(relu(conv2d(reshape(Xi, -1, 1, 4, 4), net_K1) + net_c1), 2)) @ net_W3 + net_b3\n:expect net == ref tol 1e-12")
        #expect(t.session.failed == 0 && t.session.passed == 1, "\(t.out) \(t.err)")
        #expect(try #require(try? t.session.value("net")).shape == [5, 3])
        // Rebuilt under the same name with another architecture: the new layers replace the old.
        let u = Transcript()
        #expect(u.run("Xi = randn(5, 16)\n:cnn net conv2x3-pool2-3 input=Xi\nL = sum(net^2)\n:cnn net conv3x2s2-avgpool2-3 input=Xi"), "\(u.stderr)")
        #expect(try #require(try? u.session.value("net_K1")).shape == [3, 1, 2, 2])
        #expect(try #require(try? u.session.value("net")).shape == [5, 3])
    }

    @Test(":cnn refuses what cannot be built, at its place", arguments: [
        ("conv20x30-10", "a 30x30 kernel does not fit the 4x4 maps"), ("conv2x3-10-pool2", "comes after a dense layer"),
        ("conv2x3", "must end with the number of outputs"), ("convx5-10", "'convx5' is not a layer"), ("conv2x3-pool5-3", "a 5x5 pool does not fit the 2x2 maps"),
    ])
    func cnnErrors(arch: String, message: String) {
        let t = Transcript()
        #expect(!t.run("Xi = zeros(2, 16)\n:cnn net \(arch) input=Xi"))
        #expect(t.stderr.contains(message) && t.stderr.contains("^"), "\(t.stderr)")
        #expect(t.session.definitions["net"] == nil)
    }

    @Test(":reject and :vote on a trained convnet; require= counts like :expect")
    func rejectAndVote() throws {
        // Synthetic 4x4 digits (pixel k lit for class k): 1x1 kernels keep where it is.
        let dir = try syntheticMNIST(train: 200, test: 50)
        let t = Transcript()
        let script = """
            seed 1
            :data mnist dir=\(dir) hold=16
            :cnn a conv8x1-10
            La = cross_entropy(a, Y)
            :train La epochs=20 batch=20 opt=adam lr=0.05 precision=f32 require=0.99
            seed 2
            :cnn b conv6x1-10
            Lb = cross_entropy(b, Y)
            :train Lb epochs=1 batch=200 opt=sgd lr=0.0001 precision=f32 require=0.99
            """
        t.run(script)
        #expect(t.session.passed == 1 && t.session.failed == 1, "\(t.out)")
        #expect(t.stdout.contains("✓ test accuracy 100% ≥ 99%"), "\(t.stdout)")
        #expect(t.stdout.contains("is below require=0.99"))
        #expect(t.run(":reject a margin=0.3"), "\(t.stderr)")
        #expect(t.stdout.contains("on the 50 test images") && t.stdout.contains("  0.3 ←") && t.stdout.contains("answered with 0 errors"), "\(t.stdout)")
        #expect(t.run(":vote a b"), "\(t.stderr)")
        #expect(t.stdout.contains("  a: 100% (0 wrong)") && t.stdout.contains("the committee: "), "\(t.stdout)")
        #expect(t.run(":show wrong a test"), "\(t.stderr)")
        #expect(t.out.last == "0 of 50 test samples misclassified", "\(t.out)")
        #expect(!t.run(":vote a"))
        #expect(!t.run(":reject nothere"))
    }

    @Test(":data mnist expand adds each image moved by one pixel four ways")
    func expand() throws {
        let dir = try syntheticMNIST(train: 20, test: 10)
        let t = Transcript()
        #expect(t.run(":data mnist dir=\(dir) expand"), "\(t.stderr)")
        #expect(t.stdout.contains("mnist: 100 training images (expanded 5x by one-pixel displacements)"), "\(t.stdout)")
    }

    // K = 0..8 scaled to [0, 1] by eighths; a half block shows the mean of two rows in 5 shades:
    // rows 0-1 give (0+3/8)/2, (1/8+4/8)/2, (2/8+5/8)/2 = " ░▒"; row 2 alone gives 3/8, 7/16, 1/2 = "░▒▒".
    @Test(":show kernels draws each kernel in half blocks; :show maps draws an image's feature maps")
    func showKernelsAndMaps() throws {
        let t = Transcript()
        #expect(t.run("param K = reshape([0, 1, 2, 3, 4, 5, 6, 7, 8], 1, 1, 3, 3)\n:show kernels K"), "\(t.stderr)")
        #expect(t.out.last == "K: 1 kernel of 3x3, each from its smallest (blank) to its largest weight (full)\n0    \n│ ░▒│\n│░▒▒│", "\(t.out)")
        let dir = try syntheticMNIST(train: 20, test: 10)
        #expect(t.run(":data mnist dir=\(dir)\n:cnn net conv2x3-10\n:show maps net_h1 3"), "\(t.stderr)")
        #expect(t.out.last?.hasPrefix("#3 of the training set (label 3) and the 2 feature maps of net_h1, 2x2 each") == true, "\(t.out)")
        #expect(!t.run(":show maps net_K1 3"))
        #expect(t.stderr.contains("feature maps are [1, F, h, h]"), "\(t.stderr)")
    }

    @Test("review findings: NaN and empty kernels, a failed rebuild, other definitions, expand elsewhere, the random numbers")
    func cnnEdges() throws {
        let t = Transcript()
        #expect(t.run("K = log(reshape([-1, 1, 2, 3], 1, 1, 2, 2))\n:show kernels K"), "\(t.stderr)")
        #expect(!t.run("E = zeros(2, 0, 3, 3)\n:show kernels E"))
        #expect(t.stderr.contains("kernels are [F, C, k, k]"))
        // A rebuild that fails after the old layers were unhooked (a limit) leaves the name usable.
        #expect(t.run("Xi = randn(5, 16)\n:cnn net conv2x3-10 input=Xi"), "\(t.stderr)")
        #expect(!t.run(":limits elements=30\n:cnn net conv2x3-10 input=Xi"))
        #expect(t.run(":limits elements=100000000\n:cnn net conv2x3-10 input=Xi"), "\(t.stderr)")
        // A definition :cnn did not make is not replaced.
        #expect(!t.run("other_K1 = 5\n:cnn other conv2x3-10 input=Xi"))
        #expect(t.stderr.contains("'other_K1' is already defined; :cnn other would replace it"), "\(t.stderr)")
        #expect(!t.run(":data moons expand"))
        #expect(t.stderr.contains("expand moves images by one pixel"))
        // A refused net draws nothing: the next random number is the one it would have been.
        let a = Transcript(), b = Transcript()
        #expect(!a.run("seed 3\nXi = zeros(2, 16)\n:cnn net conv2x3-conv2x5-3 input=Xi"))
        a.run("r = randn(2)")
        b.run("seed 3\nXi = zeros(2, 16)\nr = randn(2)")
        #expect(try #require(try? a.session.value("r")) == (try #require(try? b.session.value("r"))))
    }

    @Test(":vote and :show wrong measure with dropout off, whatever :mode says")
    func measuresWithoutDropout() throws {
        let dir = try syntheticMNIST(train: 200, test: 50)
        let t = Transcript()
        t.run("seed 1\n:data mnist dir=\(dir) hold=16\n:cnn d conv8x1-32-10 dropout=0.5\nL = cross_entropy(d, Y)\n:train L epochs=3 batch=20 opt=adam lr=0.05 precision=f32")
        #expect(t.run(":mode eval\n:vote d d\n:show wrong d test"), "\(t.stderr)")
        let eval = t.out.suffix(2)
        #expect(t.run(":mode train\n:vote d d\n:show wrong d test"), "\(t.stderr)")
        #expect(Array(t.out.suffix(2)) == Array(eval), "\(t.out) vs \(eval)")
    }
}
