import Foundation
@testable import NablaRuntime
@testable import NablaSelfCheck
@testable import NablaSession
@testable import NablaTeaching
@testable import NablaTraining
import Testing

/// The `key=value` arguments are declared once (`CommandKeys`); these tests hold the usage
/// lines, `:help`, TAB and the docs to that declaration.
@Suite("Command settings declared once: usage, :help, TAB, docs and expressions come from the declaration")
struct CommandKeyTests {
    static let docs: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("docs/commands.md"), encoding: .utf8)) ?? ""
    }()

    @Test("every accepted key is in its command's usage line, its :help entry and docs/commands.md")
    func everyKeyDocumented() {
        #expect(!CommandKeyTests.docs.isEmpty)
        for command in Session.commands {
            let t = Transcript()
            #expect(t.run(":help \(command.name)"))
            for key in command.keys {
                #expect(command.usage.contains("[\(key.name)="), ":\(command.name) usage lacks \(key.name)")
                #expect(t.stdout.contains("\(key.name)="), ":help \(command.name) lacks \(key.name)")
                // As a word of its own (`eps=` must not be found inside `steps=`).
                let pattern = "(?<![A-Za-z0-9_])\(key.name)="
                #expect(CommandKeyTests.docs.range(of: pattern, options: .regularExpression) != nil, "docs/commands.md does not document \(key.name)= of :\(command.name)")
            }
        }
    }

    @Test("a key a command does not declare is refused, with did-you-mean and the usage")
    func undeclaredKeyRefused() {
        let t = Transcript()
        #expect(t.run("param w = 1\nJ = w^2\n:backward J"))
        #expect(!t.run(":update lr=0.1 epochs=3"))
        #expect(t.stderr.contains("unknown setting 'epochs'") && t.stderr.contains("usage: :update [opt=sgd] [lr=0.1]"), "\(t.stderr)")
        #expect(!t.run(":update lrr=0.1"))
        #expect(t.stderr.contains("did you mean 'lr'?"), "\(t.stderr)")
        #expect(!t.run(":update opt=adma"))
        #expect(t.stderr.contains("opt must be one of sgd, momentum, nesterov, adagrad, rmsprop, adam, not 'adma'"), "\(t.stderr)")
    }

    @Test("a number may be an expression: lr=1/4, lr=eta/2; a caret points into a bad one")
    func expressionValues() throws {
        let t = Transcript()
        // J = w^2 at w = 1: g = 2; lr = 1/4 gives w = 0.5.
        #expect(t.run("param w = 1\nJ = w^2\n:backward J\n:update lr=1/4"), "\(t.stderr)")
        #expect(try t.session.value("w").scalar == 0.5)
        #expect(t.run("eta = 0.5\n:backward J\n:update lr=eta/2"), "\(t.stderr)")
        #expect(try t.session.value("w").scalar == 0.25)
        #expect(!t.run(":backward J\n:update lr=nope/2"))
        #expect(t.stderr.contains("unknown name 'nope'") && t.stderr.contains("line 2, column 12"), "\(t.stderr)")
        #expect(!t.run(":backward J\n:update lr=[1,2]"))
        #expect(t.stderr.contains("a setting is one number"), "\(t.stderr)")
        #expect(t.run(":descend J steps=2*5 lr=1/10"), "\(t.stderr)")
        #expect(t.stdout.contains("10 steps"), "\(t.stdout)")
    }

    @Test("TAB completes a command's keys and a choice's values")
    func completion() {
        let t = Transcript()
        #expect(t.session.complete(":train L epo").insert == "chs=")
        #expect(t.session.complete(":train L ep").candidates == ["epochs=", "eps=", "eps_form="])
        #expect(t.session.complete(":train L opt=rms").insert == "prop ")
        #expect(t.session.complete(":train L precision=f").candidates == ["f32", "f64"])
        #expect(t.session.complete(":update b").candidates == ["beta2=", "beta="] || t.session.complete(":update b").insert == "eta")
        #expect(t.session.complete(":mlp net 2-3-1 act=re").insert == "lu ")
    }

    @Test("TAB completes :data kinds, the files of :data csv, :dot and dir=, :help topics and :show's views (issue 13)")
    func argumentCompletion() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-tab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("mnist-files"), withIntermediateDirectories: true)
        try Data("1,2,0\n".utf8).write(to: dir.appendingPathComponent("iris.csv"))
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = Transcript()
        #expect(t.session.complete(":data mo").insert == "ons ")
        #expect(t.session.complete(":data c").candidates == ["circles", "csv"])
        #expect(t.session.complete(":data csv \(dir.path)/ir").insert == "is.csv")
        #expect(t.session.complete(":dot L \(dir.path)/ir").insert == "is.csv")
        #expect(t.session.complete(":data mnist dir=\(dir.path)/mn").insert == "ist-files/")
        #expect(t.session.complete(":data moons no").insert == "ise=")
        #expect(t.session.complete(":help cross_en").insert == "tropy")
        #expect(t.session.complete(":show wr").insert == "ong ")
        #expect(t.session.complete(":show 1").insert == "")
    }
}

