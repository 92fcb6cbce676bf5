import Foundation
import NablaGraph
import NablaNN
import NablaRuntime
import NablaSyntax
import NablaTeaching
import NablaTensor
import NablaTraining

// MARK: - :export session.html

extension Session {
    /// `:export file.html`: the session as one page a teacher can put online, with nothing
    /// to fetch (styles and pictures inline). It is well-formed XHTML, so XML tools read it.
    func exportCommand(_ args: CommandArguments) throws(Diagnostic) {
        guard !args.path.isEmpty else { throw args.missing("a file", usage: ":export session.html") }
        let kind = Session.fileKind(args.path)
        guard kind == "html" || kind == "htm" || kind == "xhtml" else {
            throw Diagnostic(.error, ":export writes a web page: give a file ending in .html", at: args.wholeRange)
        }
        let page = exportPage()
        do { try SafeFile.write(page, to: resolvePath(args.path)) } catch { throw Diagnostic(.error, error.message, at: args.wholeRange) }
        let statements = Swift.max(log.count - (logDepth == 1 ? 1 : 0), 0)
        say("wrote \(args.path): \(statements) statement\(statements == 1 ? "" : "s") with their output"
            + (lastBackward == nil ? "" : ", the graph with its gradients") + (history == nil ? "" : ", the training curves"))
    }

    /// The page: the statements and their output, then the graph, the params, the training.
    func exportPage() -> String {
        let e = SVG.escape
        var body: [String] = ["<h1>nabla session</h1>", "<p class=\"when\">exported \(e(Session.timestamp()))</p>", "<h2>Statements</h2>"]
        // The :export itself is not in the page (inside a :load, the :load stays).
        for entry in logDepth == 1 ? log.dropLast() : log[...] {
            let output = entry.output.map(Session.withoutEscapes).joined(separator: "\n")
            body.append("<div class=\"stmt\"><pre class=\"in\">nabla&gt; \(e(entry.input).replacingOccurrences(of: "\n", with: "\n  ...&gt; "))</pre>"
                + (output.isEmpty ? "" : "<pre class=\"\(entry.failed ? "err" : "out")\">\(e(output))</pre>") + "</div>")
        }
        body += exportedGraph() + exportedParams() + exportedTraining()
        return """
            <!DOCTYPE html>
            <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
            <head>
            <meta charset="utf-8"/>
            <title>nabla session</title>
            <style>
            body { font-family: Helvetica, Arial, sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
            pre { margin: 0; padding: 0.3em 0.6em; white-space: pre-wrap; font-size: 0.9em; }
            .in { background: #eef2ff; font-weight: bold; }
            .out { background: #f8f8f8; }
            .err { background: #fee2e2; color: #991b1b; }
            .stmt { margin: 0.4em 0; border-left: 3px solid #c7d2fe; }
            .when { color: #666; }
            table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 0.2em 0.6em; font-family: monospace; }
            svg { max-width: 100%; height: auto; }
            </style>
            </head>
            <body>
            \(body.joined(separator: "\n"))
            </body>
            </html>

            """
    }

    /// The graph of the last backward pass (else of the newest definition), inline.
    func exportedGraph() -> [String] {
        let root: NodeID?, label: String
        if let b = lastBackward, graph.contains(b.root) {
            (root, label) = (b.root, b.label)
        } else if let newest = definitions.values.filter({ $0.name != "ans" }).max(by: { $0.sequence < $1.sequence }) {
            (root, label) = (newest.slot, newest.name)
        } else {
            return []
        }
        guard let root else { return [] }
        let nodes = drawnNodes(of: root, label: label)
        guard nodes.count <= 60 else { return ["<h2>The graph</h2>", "<p>The graph of \(SVG.escape(label)) has \(nodes.count) nodes: too many to draw here.</p>"] }
        return ["<h2>The graph of \(SVG.escape(label))</h2>", SVG.graph(nodes, title: "the graph of \(label)")]
    }

    /// The params: shape, value and, after a backward pass, the gradient.
    func exportedParams() -> [String] {
        guard !paramNames.isEmpty else { return [] }
        let grads = gradientsToShow()
        var rows = ["<h2>Params</h2>", "<table>", "<tr><th>param</th><th>shape</th><th>value</th><th>gradient</th></tr>"]
        for name in paramNames.prefix(200) {
            guard let leaf = paramLeaf(name) else { continue }
            let value = graph.value(leaf)
            let g = grads.flatMap { $0.0[leaf] }.map { "∂\(Session.partialName(grads?.1 ?? "L"))/∂\(name) = " + Session.inline($0, limit: 6) } ?? ""
            rows.append("<tr><td>\(SVG.escape(name))</td><td>\(SVG.escape(Shape.describe(value.shape)))</td><td>\(SVG.escape(Session.inline(value, limit: 6)))</td><td>\(SVG.escape(g))</td></tr>")
        }
        return rows + ["</table>"]
    }

    /// The last training's curves and, for 2 features, its decision regions.
    func exportedTraining() -> [String] {
        guard let h = history, !h.loss.isEmpty else { return [] }
        var out = ["<h2>Training</h2>"]
        var loss = [(label: "training", values: h.loss)]
        if !h.validationLoss.isEmpty { loss.append(("validation", h.validationLoss)) }
        out.append(SVG.curves(loss, title: "loss"))
        if !h.accuracy.isEmpty {
            var acc = [(label: "training", values: h.accuracy.map { $0 * 100 })]
            if !h.validationAccuracy.isEmpty { acc.append(("validation", h.validationAccuracy.map { $0 * 100 })) }
            out.append(SVG.curves(acc, title: "accuracy (%)"))
        }
        if let test = h.testAccuracy { out.append("<p>test accuracy: \(SVG.escape(Session.percent(test)))</p>") }
        if let map = h.regions { out.append(SVG.regions(map)) }
        return out
    }

    /// Text without terminal escape sequences (colour).
    static func withoutEscapes(_ text: String) -> String {
        text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*[A-Za-z]", with: "", options: .regularExpression)
    }

    static func timestamp() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm"
        f.locale = Locale(identifier: "en_US_POSIX")
        return f.string(from: Date())
    }
}
