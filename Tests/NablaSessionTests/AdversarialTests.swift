import Foundation
@testable import NablaRuntime
@testable import NablaSelfCheck
@testable import NablaSession
@testable import NablaTeaching
@testable import NablaTraining
import NablaFuzz
import NablaNN
import NablaTensor
import NablaTestSupport
import Testing

/// The adversarial tester's findings (issue 14), each with the input quoted from the report.
@Suite("Adversarial inputs: shapes, files, values that must not change, verdicts")
struct AdversarialTests {
    // MARK: - 1. Every shape is validated where it is built

    @Test("reshape([1,2,3,4],-2,-2) is an error at the dimension; numpy's single -1 is inferred")
    func negativeReshape() {
        let t = Transcript()
        #expect(!t.run("reshape([1,2,3,4],-2,-2)"))
        #expect(t.stderr.contains("column 19: error: a dimension cannot be negative"), "\(t.stderr)")
        for line in ["transpose(reshape([1,2,3,4],-2,-2))", "reshape([1,2,3,4],-2,-2) @ [1, 2]", "sum(reshape([1,2,3,4],-2,-2), 0)"] {
            #expect(!t.run(line), "\(line)")
        }
        #expect(!t.run("m = [1, 2, 3, 4]\nsum(softmax(reshape(m,-2,-3)))"))
        #expect(t.run("reshape([1,2,3,4],-1,2)"))
        #expect(t.stdout == "[[1, 2],\n [3, 4]]")
        #expect(!t.run("reshape([1,2,3,4],3,-1)"))
        #expect(t.stderr.contains("cannot reshape [4] (4 elements) to [3, -1]"))
        #expect(!t.run("reshape([1,2,3,4],-1,-1)"))
        #expect(t.stderr.contains("only one dimension can be -1"))
        #expect(!t.run("reshape([1,2,3,4], 100000000000000, 100000000000000)"))
    }

    // MARK: - 4. :save/:load keeps values

    @Test("c = randn(3) is saved as the numbers it drew, so :load gives back the same L")
    func savedDrawsKeepTheirValues() throws {
        let dir = FileManagerHelper.temporaryDirectory()
        let t = Transcript()
        #expect(t.run("seed 1\nx = 2\nc = randn(3) + x * he(1, 3)\nparam w = randn(3)\nL = sum(c * w)"))
        let before = try t.session.value("L").scalar
        #expect(t.run(":save \(dir)/s.nabla"))
        let text = try String(contentsOfFile: "\(dir)/s.nabla", encoding: .utf8)
        #expect(!text.contains("randn") && !text.contains("he("), "\(text)")
        #expect(text.contains("+ x * [["), "the formula around the draw is kept: \(text)")
        let u = Transcript(seed: 99)
        #expect(u.run(":load \(dir)/s.nabla"), "\(u.stderr)")
        #expect(try u.session.value("L").scalar == before)
        // Still a live formula: x changes c.
        #expect(u.run("x = 3"))
        #expect(try u.session.value("L").scalar != before)
    }

    // MARK: - 5. :mlp does not replace other definitions

    @Test(":mlp Y 2-4-1 is refused: Y holds the labels; redefining a net by :mlp is allowed")
    func mlpKeepsTheLabels() throws {
        let t = Transcript()
        #expect(t.run("seed 1\n:data moons 40"))
        let labels = try t.session.value("Y")
        #expect(!t.run(":mlp Y 2-4-1"))
        #expect(t.stderr.contains("'Y' is already defined (it holds the data of :data)"), "\(t.stderr)")
        #expect(try t.session.value("Y") == labels)
        #expect(t.run("b = 5"))
        #expect(t.run(":mlp a 2-4-1"), "only a's own names are checked, not b: \(t.stderr)")
        #expect(t.run(":mlp net 2-4-1\nL = bce(net, Y)\n:mlp net 2-3-1"), "\(t.stderr)")
        #expect(try t.session.value("net_W1").shape == [2, 3])
        #expect(t.run(":train L epochs=2"), "the rebuilt net trains: \(t.stderr)")
        #expect(!t.run("param net_b3 = 1\n:mlp net 2-3-3-1"))
        #expect(t.stderr.contains("'net_b3' is already defined"), "\(t.stderr)")
    }

    // MARK: - 2. Files are written as careful tools write them

    @Test(":save writes through a symlink, keeps the mode, refuses read-only files, FIFOs and devices")
    func carefulWrites() throws {
        let dir = FileManagerHelper.temporaryDirectory()
        let fm = FileManager.default
        let t = Transcript()
        #expect(t.run("param w = 1"))
        // A symlink stays a link; its target gets the content and keeps its 0600 mode.
        try "old".write(toFile: "\(dir)/target", atomically: false, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(dir)/target")
        try fm.createSymbolicLink(atPath: "\(dir)/link", withDestinationPath: "target")
        #expect(t.run(":save \(dir)/link"), "\(t.stderr)")
        #expect(try fm.destinationOfSymbolicLink(atPath: "\(dir)/link") == "target")
        #expect(try String(contentsOfFile: "\(dir)/target", encoding: .utf8).contains("param w = 1"))
        #expect(try fm.attributesOfItem(atPath: "\(dir)/target")[.posixPermissions] as? Int == 0o600)
        // The same for weights.
        #expect(t.run(":save \(dir)/link.npz"))
        try fm.setAttributes([.posixPermissions: 0o640], ofItemAtPath: "\(dir)/link.npz")
        #expect(t.run(":save \(dir)/link.npz"))
        #expect(try fm.attributesOfItem(atPath: "\(dir)/link.npz")[.posixPermissions] as? Int == 0o640)
        // Read-only: refused and unchanged (even as root).
        try "keep".write(toFile: "\(dir)/ro", atomically: false, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o444], ofItemAtPath: "\(dir)/ro")
        #expect(!t.run(":save \(dir)/ro"))
        #expect(t.stderr.contains("the file is read-only; left as it is"), "\(t.stderr)")
        #expect(try String(contentsOfFile: "\(dir)/ro", encoding: .utf8) == "keep")
        // A FIFO and a device are not replaced.
        #expect(mkfifo("\(dir)/fifo", 0o600) == 0)
        #expect(!t.run(":save \(dir)/fifo"))
        #expect(t.stderr.contains("it is a FIFO, not a regular file"), "\(t.stderr)")
        #expect(!t.run(":save /dev/null"))
        #expect(t.stderr.contains("it is a device"), "\(t.stderr)")
        var info = stat()
        #expect(lstat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        #expect(lstat("\(dir)/fifo", &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        // Nothing is left behind in the folder.
        #expect(try fm.contentsOfDirectory(atPath: dir).sorted() == ["fifo", "link", "link.npz", "ro", "target"])
    }
}

// MARK: - 3, 9. Weights files: CRC-32, headers before inflating, bounded reads

/// The npz helpers of the fuzz target (a zip of one member, stored deflate blocks, a CRC-32
/// written out rather than zlib's).
func zipArchive(_ entry: String, method: Int, crc: UInt32, payload: [UInt8], claimedSize: Int) -> Data {
    FuzzTargets.zipArchive(entry, method: method, crc: crc, payload: payload, size: claimedSize)
}
func storedDeflate(_ bytes: [UInt8]) -> [UInt8] { FuzzTargets.storedDeflate(bytes) }
func referenceCRC32(_ bytes: [UInt8]) -> UInt32 { FuzzTargets.referenceCRC32(bytes) }

@Suite("Adversarial weights files")
struct AdversarialWeightsTests {
    @Test("one flipped bit in W[0,0] (1.5 reads as 1.5625) is refused by the CRC-32, as numpy refuses it")
    func crcChecked() throws {
        let dir = FileManagerHelper.temporaryDirectory()
        let t = Transcript()
        #expect(t.run("param W = [[1.5, 2], [3, 4]]\n:save \(dir)/w.npz"))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(dir)/w.npz")))
        // 1.5 is 0x3FF8000000000000; 1.5625 is 0x3FF9000000000000: one bit of byte 6.
        let one5: [UInt8] = [0, 0, 0, 0, 0, 0, 0xF8, 0x3F]
        let at = try #require((0...(bytes.count - 8)).first { Array(bytes[$0..<$0 + 8]) == one5 })
        bytes[at + 6] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/flipped.npz"))
        #expect(t.run("param W = zeros(2, 2)"))
        #expect(!t.run(":load \(dir)/flipped.npz"))
        #expect(t.stderr.contains("the CRC-32 does not match"), "\(t.stderr)")
        #expect(try t.session.value("W") == Tensor.zeros([2, 2]))
        #expect(t.run(":load \(dir)/w.npz"), "\(t.stderr)")
        #expect(try t.session.value("W").scalars == [1.5, 2, 3, 4])
    }

    @Test("a deflated member whose directory claims 2.1 GB but whose header says 2x2 is refused before inflating")
    func bombRefusedByItsHeader() throws {
        let dir = FileManagerHelper.temporaryDirectory()
        let npy = [UInt8](Numpy.npy(Tensor(rows: [[1, 2], [3, 4]])))
        let claimed = 2_100_000_000
        let bomb = zipArchive("W.npy", method: 8, crc: referenceCRC32(npy), payload: storedDeflate(npy + [UInt8](repeating: 0, count: 200_000)), claimedSize: claimed)
        try bomb.write(to: URL(fileURLWithPath: "\(dir)/bomb.npz"))
        let t = Transcript()
        #expect(t.run("param W = zeros(2, 2)"))
        #expect(!t.run(":load \(dir)/bomb.npz"))
        #expect(t.stderr.contains("the zip directory claims 2100000000 bytes but the .npy header promises [2, 2] float64 (160 bytes)"), "\(t.stderr)")
        // Honest size, but the deflate data runs on past it.
        let longer = zipArchive("W.npy", method: 8, crc: referenceCRC32(npy), payload: storedDeflate(npy + [0, 0, 0]), claimedSize: npy.count)
        try longer.write(to: URL(fileURLWithPath: "\(dir)/longer.npz"))
        #expect(!t.run(":load \(dir)/longer.npz"))
        #expect(t.stderr.contains("does not end where the zip directory says"), "\(t.stderr)")
        // The same member, correct: loads (deflate through zlib, CRC checked).
        let good = zipArchive("W.npy", method: 8, crc: referenceCRC32(npy), payload: storedDeflate(npy), claimedSize: npy.count)
        try good.write(to: URL(fileURLWithPath: "\(dir)/good.npz"))
        #expect(t.run(":load \(dir)/good.npz"), "\(t.stderr)")
        #expect(try t.session.value("W").scalars == [1, 2, 3, 4])
    }

    @Test("a symlink to /dev/zero is refused before any read; a Ctrl-C while reading stops the load")
    func devicesAndInterrupts() throws {
        let dir = FileManagerHelper.temporaryDirectory()
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/zero.npz", withDestinationPath: "/dev/zero")
        let t = Transcript()
        #expect(t.run("param W = zeros(2, 2)"))
        #expect(!t.run(":load \(dir)/zero.npz"))
        #expect(t.stderr.contains("it is a device, not a file"), "\(t.stderr)")
        #expect(t.run("param W = zeros(300, 300)\n:save \(dir)/big.npz"))
        #expect(t.run("param W = ones(300, 300)"))
        t.session.isInterrupted = { true }
        t.capture { #expect(!$0.runLine(":load \(dir)/big.npz")) }
        #expect(t.stderr.contains("interrupted while reading"), "\(t.stderr)")
        t.session.isInterrupted = { false }
        #expect(try t.session.value("W") == Tensor.filled([300, 300], 1))
    }
}

@Suite("Our rounding is not the student's fault (issue 14, items 13, 15, 16, 17, 19)")
struct RoundingTests {
    @Test("bce(1, 1) is 0; bce(sigmoid(40), 1) is log1p(e^-40) ≈ 4.2e-18 with its gradient, not NaN")
    func bceFromLogits() throws {
        let t = Transcript()
        #expect(t.run("a = bce(1, 1)\nb = bce(0, 0)\nz = 40\nparam w = 1\nL = bce(sigmoid(w*z), 1)\nM = bce(sigmoid(w*z), 0)"))
        #expect(try t.session.value("a").scalar == 0)
        #expect(try t.session.value("b").scalar == 0)
        let exact = log1p(exp(-40.0))  // softplus(-40), computed here on its own
        #expect(isClose(try t.session.value("L").scalar, exact, tol: 1e-30))
        #expect(isClose(try t.session.value("M").scalar, 40 + log1p(exp(-40.0)), tol: 1e-12))
        #expect(t.run(":backward L"))
        let sigmaMinus40 = exp(-40.0) / (1 + exp(-40.0))
        #expect(isClose(try t.session.value("∂L/∂w").scalar, -40 * sigmaMinus40, tol: 1e-28))
        #expect(t.run(":backward M"))
        #expect(isClose(try t.session.value("∂M/∂w").scalar, 40 * (1 - sigmaMinus40), tol: 1e-9))
    }

    @Test("saturated weights on moons: ∂L/∂W is mean((σ(z) - y)·x) computed here, and both precisions train without NaN")
    func saturatedTraining() throws {
        let t = Transcript()
        #expect(t.run("seed 1\n:data moons 200\nparam W = [[30], [-30]]\nL = bce(sigmoid(X @ W), Y)\n:backward L"), "\(t.stderr)")
        let x = try t.session.value("X"), y = try t.session.value("Y"), w = try t.session.value("W")
        var expected = [0.0, 0.0]
        let n = x.shape[0]
        for i in 0..<n {
            let z = x.scalars[2 * i] * w.scalars[0] + x.scalars[2 * i + 1] * w.scalars[1]
            // σ(z) - y without rounding σ to 1: for y = 1 it is -σ(-z).
            let residual = y.scalars[i] == 1 ? -1 / (1 + Foundation.exp(z)) : 1 / (1 + Foundation.exp(-z))
            for j in 0..<2 { expected[j] += residual * x.scalars[2 * i + j] / Double(n) }
        }
        let analytic = try t.session.value("∂L/∂W").scalars
        #expect(isClose(analytic[0], expected[0], tol: 1e-12) && isClose(analytic[1], expected[1], tol: 1e-12), "\(analytic) vs \(expected)")
        for precision in ["", " precision=f32"] {
            let u = Transcript()
            #expect(u.run("seed 1\n:data moons 200\nparam W = [[30], [-30]]\nL = bce(sigmoid(X @ W), Y)"))
            let before = try u.session.value("L").scalar
            #expect(u.run(":train L epochs=3 batch=32 lr=0.05\(precision)"), "\(u.stderr)")
            #expect(!u.stdout.contains("NaN") && !u.stderr.contains("NaN"), "\(precision): \(u.stdout)\n\(u.stderr)")
            #expect(try u.session.value("L").scalar < before, "\(precision): training lowers a confidently wrong loss")
        }
    }

    @Test(":check judges a tiny gradient by an absolute gap scaled to the loss, and says which")
    func checkTolerance() throws {
        let t = Transcript()
        // L = 1e-8·w: backprop is exactly 1e-8; with h = 1e-5 and L near 1e6 the numeric one
        // carries rounding of about 1e-16·1e6/1e-5 = 1e-5 relative to... far more than 1e-5 of 1e-8.
        #expect(t.run("param w = 1\nbig = 1000000\nL = big + 0.00000001*w\n:check L"), "\(t.stderr)")
        #expect(t.stdout.contains("✓ w"), "\(t.stdout)")
        #expect(t.stdout.contains("gaps under 0.01 = 1e-8·max(1, |L|) pass too"), "\(t.stdout)")
        // A gradient that is off is still caught: at relu's kink backprop says 0, the central
        // difference 0.5, a gap far above 1e-8·max(1, |M|).
        #expect(t.run("param v = 0\nM = relu(v) + 1\n:check M"))
        #expect(t.stdout.contains("✗ v"), "\(t.stdout)")
    }

    @Test("an interrupted :check says a param was not checked, never ✓; init=constant:nan is refused")
    func interruptedCheck() throws {
        let t = Transcript()
        #expect(t.run("param w = [1, 2]\nL = sum(w^2)"))
        t.session.isInterrupted = { true }
        t.capture { _ = $0.runLine(":check L") }
        #expect(!t.stdout.contains("✓"), "\(t.stdout)")
        #expect(t.stdout.contains("not checked (interrupted"), "\(t.stdout)")
        t.session.isInterrupted = { false }
        #expect(!t.run(":data moons 40\n:mlp net 2-3-1 init=constant:nan"))
        #expect(t.stderr.contains("unknown initializer 'constant:nan'"), "\(t.stderr)")
    }

    @Test("x^y at x = -2: ∂/∂y does not exist (NaN, said); grad of a grad is refused, not silently 0")
    func derivativesThatDoNotExist() throws {
        let t = Transcript()
        #expect(t.run("x = -2\ny = 3\nL = x^y\n:backward L\n:grad y"))
        #expect(t.stdout.contains("∂L/∂y = nan"), "\(t.stdout)")
        #expect(t.stdout.contains("the derivative does not exist at this point"), "\(t.stdout)")
        #expect(!t.run("grad(grad(x^3, x), x)"))
        #expect(t.stderr.contains("a gradient of a gradient is not computed"), "\(t.stderr)")
        #expect(!t.run("g = ∂L/∂x\n∂g/∂x"))
    }

    @Test("cross_entropy refuses a target that is not a distribution; CSV targets {3, 6, 9, 12} are 4 classes; 1e-400 is refused")
    func targetsAndNumbers() throws {
        let t = Transcript()
        #expect(!t.run("cross_entropy([1,2,3], [-1,0,2])"))
        #expect(t.stderr.contains("must be a distribution"), "\(t.stderr)")
        #expect(t.run("cross_entropy([1,2,3], [0.2,0.3,0.5])"))
        let dir = FileManagerHelper.temporaryDirectory()
        try "a,b,t\n1,2,3\n2,3,6\n3,4,9\n4,5,12\n5,6,3\n6,7,6\n".write(toFile: "\(dir)/my data.csv", atomically: true, encoding: .utf8)
        #expect(t.run(":data csv \"\(dir)/my data.csv\" val=0 test=0"), "\(t.stderr)")
        #expect(t.stdout.contains("4 classes"), "\(t.stdout)")
        #expect(t.stdout.contains("3 → 0, 6 → 1, 9 → 2, 12 → 3"), "\(t.stdout)")
        #expect(try t.session.value("Y").scalars == [0, 1, 2, 3, 0, 1])
        #expect(t.run(":data csv \(dir)/my\\ data.csv val=0 test=0"), "a backslash keeps the space: \(t.stderr)")
        #expect(!t.run("x = 1e-400"))
        #expect(t.stderr.contains("smaller than the smallest float64"), "\(t.stderr)")
        #expect(t.run("x = 0e-400\ny = 4.9e-324"))
    }

    @Test("Ctrl-C while a definition evaluates leaves the old definition in place")
    func interruptedDefinition() throws {
        let t = Transcript()
        #expect(t.run("A = ones(3, 3)\nB = A"))
        t.session.isInterrupted = { true }
        t.capture { #expect(!$0.runLine("B = A @ A @ A")) }
        #expect(t.stderr.contains("interrupted: the statement was not finished"), "\(t.stderr)")
        t.session.isInterrupted = { false }
        #expect(try t.session.value("B") == Tensor.filled([3, 3], 1))
    }

    @Test("a total-memory limit beside the per-tensor one: :limits total=N, refused with the sizes")
    func totalMemory() throws {
        let t = Transcript()
        #expect(t.run(":limits total=1000\nA = ones(20, 20)\nB = A * A"), "\(t.stderr)")
        #expect(!t.run("C = A * A * A"))
        #expect(t.stderr.contains("all values together would hold 1,200 numbers"), "\(t.stderr)")
        #expect(t.stderr.contains("the limit is total=1,000"), "\(t.stderr)")
        #expect(t.run("D = 1"), "the refused C left nothing: D = 1 fits")
        #expect(t.run(":limits"))
        #expect(t.stdout.contains("total"))
    }

    @Test("with both a plain and a .gz IDX file present, :data mnist says which is read")
    func plainAndGzip() throws {
        let gz = try syntheticMNIST(train: 20, test: 10, gzip: true)
        let plain = try syntheticMNIST(train: 20, test: 10, gzip: false)
        let name = "train-images-idx3-ubyte"
        try FileManager.default.copyItem(atPath: "\(plain)/\(name)", toPath: "\(gz)/\(name)")
        let t = Transcript()
        #expect(t.run(":data mnist dir=\(gz)"), "\(t.stderr)")
        #expect(t.stdout.contains("holds both a plain and a .gz copy of \(name): the plain file is read"), "\(t.stdout)")
    }

    @Test("accuracy of ±1 targets that are all +1 uses the sign, as when a -1 is among them")
    func accuracyOfPlusOnes() throws {
        let t = Transcript()
        // Scores of a ±1 net: 0.3 and -0.2 against +1, +1: one right (by the sign), not zero (by 0.5).
        #expect(t.run("a = accuracy([[0.3], [-0.2]], [[1], [1]])\nb = accuracy([[0.3], [-0.2]], [[1], [-1]])\nc = accuracy([[0.7], [0.3]], [[1], [1]])"))
        #expect(try t.session.value("a").scalar == 0.5)
        #expect(try t.session.value("b").scalar == 1)
        #expect(try t.session.value("c").scalar == 0.5, "probabilities of 0/1 targets: 0.7 right, 0.3 wrong")
    }

    @Test(":limits belongs to its session: another session, made before or after, keeps the defaults")
    func limitsPerSession() throws {
        let a = Transcript(), b = Transcript()
        #expect(a.run(":limits elements=10 nesting=3 total=50"))
        #expect(!a.run("zeros(4, 4)"))
        #expect(a.stderr.contains("the limit is 10 numbers"), "\(a.stderr)")
        #expect(!a.run("((((1))))"))
        #expect(b.run("zeros(4, 4)\n((((1))))"), "\(b.stderr)")
        let c = Transcript()
        #expect(c.run("zeros(40, 40)\n((((1))))"), "\(c.stderr)")
        #expect(a.run(":limits"))
        #expect(a.stdout.contains("every limit holds for this session only"))
    }

    @Test("redefining a param resets its optimizer state: :update with momentum starts afresh")
    func redefinedParamForgetsMomentum() throws {
        // Momentum, lr 0.1, β 0.9, J = w^2 at w = 1: m = -0.2, w = 0.8; then J at 0.8: g = 1.6,
        // m = 0.9·(-0.2) - 0.16 = -0.34, w = 0.46. After `param w = 1` again the first step is
        // w = 0.8 (fresh m), not 0.8 - 0.18 = 0.62 (m carried over).
        let t = Transcript()
        #expect(t.run("param w = 1\nJ = w^2\n:backward J\n:update lr=0.1 opt=momentum\n:backward J\n:update lr=0.1 opt=momentum"))
        #expect(isClose(try t.session.value("w").scalar, 0.46, tol: 1e-12))
        #expect(t.run("param w = 1\n:backward J\n:update lr=0.1 opt=momentum"))
        #expect(isClose(try t.session.value("w").scalar, 0.8, tol: 1e-12))
    }

    @Test(":train, :update and :descend share one optimizer store: two :descend steps equal one of two steps")
    func oneOptimizerStore() throws {
        let once = Transcript(), twice = Transcript()
        let setup = "param a = 2\nparam b = -1\nJ = a^2 + 3*b^2"
        #expect(once.run(setup + "\n:descend J steps=2 opt=momentum lr=0.05"))
        #expect(twice.run(setup + "\n:descend J steps=1 opt=momentum lr=0.05\n:descend J steps=1 opt=momentum lr=0.05"))
        #expect(try once.session.value("a") == twice.session.value("a"))
        #expect(try once.session.value("b") == twice.session.value("b"))
        // By hand: m1 = -0.05·4 = -0.2, a1 = 1.8; m2 = 0.9·(-0.2) - 0.05·3.6 = -0.36, a2 = 1.44.
        #expect(isClose(try once.session.value("a").scalar, 1.44, tol: 1e-12))
        // :update goes on with the same momentum.
        #expect(twice.run(":backward J\n:update opt=momentum lr=0.05"))
        #expect(isClose(try twice.session.value("a").scalar, 1.44 + (0.9 * -0.36 - 0.05 * 2 * 1.44), tol: 1e-12))
    }
}

@Suite("Tensors of any rank (issue 10, item 1; the language of issue 11)")
struct AnyRankTests {
    @Test("nested literals, reshape, indexing x[i, j, k, l], numpy broadcasting [F, 1, 1] + [B, F, H, W]")
    func language() throws {
        let t = Transcript()
        #expect(t.run("x = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]\ny = reshape(x, 2, 1, 2, 2)\nb = [[[10]], [[20]]]\nz = b + y"), "\(t.stderr)")
        #expect(try t.session.value("x").shape == [2, 2, 2])
        #expect(try t.session.value("x[1, 0, 1]").scalar == 6)
        #expect(try t.session.value("y[1, 0, 1, 1]").scalar == 8)
        let z = try t.session.value("z")
        #expect(z.shape == [2, 2, 2, 2])
        // z[b, f, h, w] = b[f] + y[b, 0, h, w]: b = 1, f = 0, h = 1, w = 0 is 10 + 7.
        #expect(try t.session.value("z[1, 0, 1, 0]").scalar == 17)
        #expect(try t.session.value("x'").shape == [2, 2, 2])
        #expect(try t.session.value("x'[1, 0, 0]").scalar == 2, "axes reversed: x'[k, j, i] = x[i, j, k]")
        #expect(try t.session.value("zeros(2, 3, 4, 5)").shape == [2, 3, 4, 5])
        #expect(!t.run("[[[[[[[[[1]]]]]]]]]"))
        #expect(t.stderr.contains("at most 8 levels of brackets"), "\(t.stderr)")
    }

    @Test("rank 3 and 4 print as labelled matrices, summarised past ten; :save and :load keep the shape")
    func printingAndSaving() throws {
        let t = Transcript()
        #expect(t.run("x = reshape([1, 2, 3, 4, 5, 6, 7, 8], 2, 2, 2)\nx + 0"))
        #expect(t.stdout.contains("tensor of shape [2, 2, 2], as 2 matrices 2x2:\n  [0] =\n  [[1, 2],\n   [3, 4]]\n  [1] =\n  [[5, 6],\n   [7, 8]]"), "\(t.stdout)")
        #expect(t.run("ones(12, 2, 2) + 0"))
        #expect(t.stdout.contains("  [2] =") && t.stdout.contains("  ... (6 more)") && t.stdout.contains("  [11] =") && !t.stdout.contains("  [5] ="), "\(t.stdout)")
        let dir = FileManagerHelper.temporaryDirectory()
        #expect(t.run("seed 4\nparam K = randn(2, 1, 3, 3)\n:save \(dir)/k.nabla\n:save \(dir)/k.npz"))
        let saved = try t.session.value("K")
        let u = Transcript()
        #expect(u.run(":load \(dir)/k.nabla"), "\(u.stderr)")
        #expect(try u.session.value("K") == saved)
        #expect(u.run("param K = zeros(2, 1, 3, 3)\n:load \(dir)/k.npz"), "\(u.stderr)")
        #expect(try u.session.value("K") == saved)
    }

    @Test("gradients through rank-4 broadcasting match central differences")
    func gradients() throws {
        let t = Transcript()
        #expect(t.run("seed 2\nparam b = randn(3, 1, 1)\nx = randn(2, 3, 2, 2)\nL = sum(tanh(x + b) * x)\n:backward L"))
        let analytic = try t.session.value("∂L/∂b")
        let x = try t.session.value("x"), b = try t.session.value("b")
        let numeric = numericalGradient(at: b) { bb in
            var total = 0.0
            for i in 0..<x.count {
                let f = (i / 4) % 3  // [B, F, H, W] = [2, 3, 2, 2]: the feature map of element i
                total += Foundation.tanh(x.scalars[i] + bb.scalars[f]) * x.scalars[i]
            }
            return total
        }
        #expect(isClose(analytic, numeric, tol: 1e-7), "\(analytic.scalars) vs \(numeric.scalars)")
    }
}

@Suite("Review findings on this work")
struct ReviewFindingTests {
    @Test("cross_entropy of empty logits is an error, not a crash")
    func emptyCrossEntropy() {
        let t = Transcript()
        for line in ["cross_entropy([], [])", "cross_entropy(zeros(0), zeros(0))", "cross_entropy(zeros(2, 0), zeros(2, 0))"] {
            #expect(!t.run(line), "\(line)")
        }
        #expect(t.stderr.contains("at least one logit per row"), "\(t.stderr)")
    }

    @Test("a :mlp rebuild that fails part-way leaves a name :mlp can rebuild")
    func failedRebuild() throws {
        let t = Transcript()
        #expect(t.run("seed 1\n:data moons 40\n:mlp net 2-4-1\n:limits elements=1000"))
        #expect(!t.run(":mlp net 2-600-1"))
        #expect(t.run(":limits elements=100000000\n:mlp net 2-4-1"), "\(t.stderr)")
        #expect(try t.session.value("net_W1").shape == [2, 4])
        #expect(t.run(":mlp net 2-3-3-1\n:mlp net 2-4-1"), "\(t.stderr)")
        #expect(try t.session.value("net_h2").shape == [24, 3], "a hidden layer the new net lacks keeps its shape")
    }

    @Test("the total limit counts literals, builders and params too")
    func totalCountsLeaves() {
        let t = Transcript()
        #expect(t.run(":limits total=1000\nA = ones(20, 20)\nparam B = ones(20, 20)"), "\(t.stderr)")
        #expect(!t.run("C = ones(20, 20)"))
        #expect(t.stderr.contains("the limit is total=1,000"), "\(t.stderr)")
        #expect(!t.run("D = randn(500)"))
        #expect(t.run("E = 1"), "the refusals left nothing behind")
    }

    @Test(":save and :load take a quoted path; :data seed= is checked; a FIFO is not read")
    func pathsSeedsFifos() throws {
        let dir = FileManagerHelper.temporaryDirectory()
        let t = Transcript()
        #expect(t.run("param w = 2\n:save \"\(dir)/my file.nabla\"\n:save \"\(dir)/w.npz\""), "\(t.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/my file.nabla"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/w.npz")).prefix(2) == Data([0x50, 0x4b]), "a zip, not a script")
        #expect(t.run(":load \"\(dir)/my file.nabla\"\n:load \(dir)/my file.nabla"), "\(t.stderr)")
        #expect(!t.run(":data moons 40 seed=-1"))
        #expect(t.stderr.contains("seed must be"), "\(t.stderr)")
        #expect(t.run(":data moons 40 seed=2*3"), "\(t.stderr)")
        #expect(mkfifo("\(dir)/fifo.npz", 0o600) == 0)
        #expect(!t.run(":load \(dir)/fifo.npz"))
        #expect(t.stderr.contains("it is a FIFO"), "\(t.stderr)")
    }

    @Test("a written exponent gets no gradient: (w - 3)^2 at w = 1 shows no NaN")
    func constantExponent() throws {
        let t = Transcript()
        #expect(t.run("param w = 1\nL = (w - 3)^2\n:backward L\n:grad w\n:graph L"), "\(t.stderr)")
        #expect(t.stdout.contains("∂L/∂w = -4"), "\(t.stdout)")
        #expect(!t.stdout.lowercased().contains("nan"), "\(t.stdout)")
    }

    @Test("a mistake inside an open bracket is reported by the second line, not at the end")
    func earlySyntaxError() {
        let t = Transcript()
        #expect(!t.run("x = [1,\n2 @@ 3,\n4]"))
        #expect(t.stderr.contains("line 2") || t.stderr.contains("line 1"), "\(t.stderr)")
    }
}
