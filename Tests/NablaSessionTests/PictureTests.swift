import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import NablaRuntime
@testable import NablaSession
@testable import NablaTeaching
@testable import NablaTraining
import NablaTestSupport
import Testing

/// The pictures to keep (:plot) and the page of a session (:export), read back as XML.
@Suite("Pictures and pages to keep (issue 13)")
struct PictureTests {
    static func folder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-pic-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static let neuron = "x1 = 2\nx2 = 1\nparam w1 = -1\nparam w2 = 1\nz = w1*x1 + w2*x2\np = sigmoid(z)\nL = -log(p)\n:backward L"

    @Test(":plot graph L file.svg draws every node with its value and gradient: the course's neuron")
    func graph() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = Transcript()
        #expect(t.run(Self.neuron + "\n:plot graph L \(dir)/g.svg"), "\(t.stderr)")
        let svg = try XMLDocument(contentsOf: URL(fileURLWithPath: dir + "/g.svg"))
        let texts = try svg.nodes(forXPath: "//*[local-name()='text']").compactMap(\.stringValue)
        // ∂L/∂w1 = -σ(-z)·x1 = -0.731059·2 = -1.46212 (the slides' worked example).
        #expect(texts.contains("w1 (param)") && texts.contains("∂L/∂· = -1.46212"), "\(texts)")
        // L = -(log(σ(w1*x1 + w2*x2))): 10 nodes (4 leaves, 2 products, +, σ, log, negation)
        // and 9 inputs (1 + 1 + 1 + 2 + 2 + 2).
        #expect(try svg.nodes(forXPath: "//*[local-name()='rect' and @rx]").count == 10)
        #expect(try svg.nodes(forXPath: "//*[local-name()='line' and @marker-end]").count == 9, "one arrow per input")
    }

    @Test(":plot loss, accuracy and regions after :train; the regions count the same mistakes as the terminal's map")
    func training() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = Transcript()
        #expect(t.run("seed 2\n:data moons 200\n:mlp net 2-8-1\nL = bce(net, Y)\n:train L epochs=15 opt=adam lr=0.05"), "\(t.stderr)")
        let terminal = try #require(t.out.joined(separator: "\n").firstMatch(of: /capitals misclassified \((\d+)\)/))
        #expect(t.run(":plot loss \(dir)/l.svg\n:plot accuracy \(dir)/a.svg\n:plot regions \(dir)/r.svg"), "\(t.stderr)")
        let loss = try XMLDocument(contentsOf: URL(fileURLWithPath: dir + "/l.svg"))
        // Two curves (training, validation), 15 epochs each.
        let lines = try loss.nodes(forXPath: "//*[local-name()='polyline']")
        #expect(lines.count == 2)
        let points = try loss.nodes(forXPath: "//*[local-name()='polyline']/@points").compactMap(\.stringValue)
        #expect(points.map { $0.split(separator: " ").count } == [15, 15])
        let regions = try XMLDocument(contentsOf: URL(fileURLWithPath: dir + "/r.svg"))
        let dots = try regions.nodes(forXPath: "//*[local-name()='circle']").count
        let crosses = try regions.nodes(forXPath: "//*[local-name()='path']").count
        #expect(dots + crosses == 120, "one mark per training point")
        // The two maps classify on different grids, but the points are classified alike.
        #expect(crosses == Int(terminal.1), "\(crosses) vs \(terminal.1)")
        #expect(!t.run(":plot loss \(dir)/l.png"))
        #expect(t.stderr.contains(":plot writes .svg files"))
        #expect(!t.run(":plot los \(dir)/l.svg"))
        #expect(t.stderr.contains("did you mean 'loss'?"))
    }

    @Test(":plot digit and :plot wrong draw images with their labels; :plot kernels colours signs")
    func images() throws {
        let data = try syntheticMNIST(train: 20, test: 20)
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: data) }
        let t = Transcript()
        #expect(t.run(":data mnist dir=\(data)\n:plot digit 0 3 \(dir)/d.svg\nparam K = [[[[1, -1], [0, 2]]]]\n:plot kernels K \(dir)/k.svg"), "\(t.stderr)")
        let digits = try XMLDocument(contentsOf: URL(fileURLWithPath: dir + "/d.svg"))
        let captions = try digits.nodes(forXPath: "//*[local-name()='text']").compactMap(\.stringValue)
        #expect(captions.contains("#0 label 0") && captions.contains("#3 label 3"), "\(captions)")
        // Image k lights pixel k (0 white, 1 black): 16 pixel cells per image, 4x4.
        let fills = try digits.nodes(forXPath: "//*[local-name()='rect' and @width='28.00']/@fill").compactMap(\.stringValue)
        #expect(fills.count == 32, "\(fills.count)")
        #expect(fills.count == 32 && fills[0] == "rgb(0,0,0)" && fills[1] == "rgb(255,255,255)" && fills[16 + 3] == "rgb(0,0,0)", "\(fills)")
        let kernels = try String(contentsOfFile: dir + "/k.svg", encoding: .utf8)
        // Scaled by the largest magnitude, 2: 1 → half red, -1 → half blue, 0 white, 2 full red.
        #expect(kernels.contains("rgb(255,155,155)") && kernels.contains("rgb(155,155,255)") && kernels.contains("rgb(255,55,55)"))
    }

    @Test(":export session.html: one self-contained page, well-formed, with each statement, its output, the graph, the params and the training")
    func export() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = Transcript()
        #expect(t.run(Self.neuron + "\n:grad w1"), "\(t.stderr)")
        #expect(!t.run("oops = nothere"))
        #expect(!t.run("w1 +* 3"))
        #expect(t.run(":export \(dir)/s.html"), "\(t.stderr)")
        let page = try XMLDocument(contentsOf: URL(fileURLWithPath: dir + "/s.html"))
        let inputs = try page.nodes(forXPath: "//*[local-name()='pre' and @class='in']").compactMap(\.stringValue)
        #expect(inputs.count == 11 && inputs.first == "nabla> x1 = 2" && inputs.last == "nabla> w1 +* 3", "\(inputs)")
        let outputs = try page.nodes(forXPath: "//*[local-name()='pre' and @class='out']").compactMap(\.stringValue)
        #expect(outputs.contains("L = 1.31326") && outputs.contains { $0.hasPrefix("∂L/∂w1 = -1.46212") }, "\(outputs)")
        let errors = try page.nodes(forXPath: "//*[local-name()='pre' and @class='err']").compactMap(\.stringValue)
        #expect(errors.count == 2 && errors[0].contains("unknown name 'nothere'") && errors[1].contains("expected a value"), "\(errors)")
        #expect(try page.nodes(forXPath: "//*[local-name()='svg']").count == 1, "the graph")
        let cells = try page.nodes(forXPath: "//*[local-name()='td']").compactMap(\.stringValue)
        #expect(cells.contains("∂L/∂w1 = -1.46212"), "\(cells)")
        let html = try String(contentsOfFile: dir + "/s.html", encoding: .utf8)
        #expect(!html.contains("src=") && !html.contains("http://www.w3.org/1999/xlink"), "nothing to fetch")
        #expect(!t.run(":export \(dir)/s.pdf"))
    }
}
