import NablaSession
import Testing

@Suite("Bad input: a clear error with line, column and caret; nothing lost")
struct BadInputTests {
    /// A script, and the exact error it must report (first line, then the caret line).
    @Test("each error names the place and says what is wrong", arguments: [
        ("x = [1, 2", "line 1, column 10: error: expected ']' to close '[' at column 5", "           ^"),
        ("x1 = 2\nz = x2 * 3", "line 2, column 5: error: unknown name 'x2' (did you mean 'x1'?)", "      ^~"),
        ("W = [[1, 2], [3, 4]]\nx = [1, 2, 3]\nh = W @ x",
         "line 3, column 5: error: shape mismatch in @: [2, 2] @ [3]: the inner dimensions 2 and 3 differ", "      ^~~~~"),
        ("a = [1, 2] + [1, 2, 3]", "line 1, column 5: error: shape mismatch in +: [2] and [3]", "      ^~~~~~~~~~~~~~~~~~"),
        ("a = 1\nb = a + 1\na = b * 2", "line 3, column 5: error: this definition would make a cycle: a → b → a", "      ^~~~~"),
        ("x = x + 1", "line 1, column 5: error: 'x' cannot be defined in terms of itself: definitions are live formulas, not assignments (use a new name, or a param and :update)", "      ^~~~~"),
        ("v = [1, 2]\n:backward v", "line 2, column 11: error: v has shape [2], not a scalar: backprop starts from one number, such as a loss (reduce it first, e.g. :backward sum(v))", "            ^"),
        ("W = zeros(100000, 100000)", "line 1, column 5: error: zeros(100000, 100000): a tensor of shape [100000, 100000] would hold 10,000,000,000 numbers (80 GB); the limit is 100,000,000 numbers (:limits elements=N changes it)", "      ^~~~~~~~~~~~~~~~~~~~~"),
        (":load no/such/file.nabla", "line 1, column 7: error: cannot open 'no/such/file.nabla': no such file", "        ^~~~~~~~~~~~~~~~~~"),
        (":grad w", "line 1, column 1: error: no gradients yet: run :backward L first", "  ^~~~~"),
        (":bakward L", "line 1, column 1: error: unknown command ':bakward' (did you mean ':backward'?)", "  ^~~~~~~~"),
        ("y = sigmod(2)", "line 1, column 5: error: unknown function 'sigmod' (did you mean 'sigmoid'?)", "      ^~~~~~"),
        ("y = tanh(1, 2)", "line 1, column 5: error: tanh takes 1 argument, got 2 (usage: tanh(x))", "      ^~~~~~~~~~"),
        ("exp = 3", "line 1, column 1: error: 'exp' is a built-in function; choose another name", "  ^~~"),
        ("param = 3", "line 1, column 1: error: 'param' is a keyword; choose another name", "  ^~~~~"),
        ("x = [1, 2, 3]\ny = x[3]", "line 2, column 5: error: index 3 is out of range for axis 0 of length 3 (valid: 0...2)", "      ^~~~"),
        ("x = [[1, 2], [3]]", "line 1, column 14: error: entry 1 has shape [1] but entry 0 has [2] (rows must have equal length)", "               ^~~"),
        (":expect 1 = 1", "line 1, column 9: error: :expect needs '==' between the expression and the expected value (usage: :expect expr == value [tol t])", "          ^~~~~"),
        (":update lr=-1", "line 1, column 9: error: lr must be a positive number, like lr=0.1", "          ^~~~~"),
        ("x = 1\n:jacobian x", "line 2, column 11: error: :jacobian needs two names (usage: :jacobian y x)", "            ^"),
        ("x = 2\ny = sigmoid", "line 2, column 5: error: 'sigmoid' is a function: call it, as in sigmoid(x)", "      ^~~~~~~"),
        ("z = cross_entropy([1, 2, 3], 5)", "line 1, column 5: error: cross_entropy: class 5 is not an integer in 0...2", "      ^~~~~~~~~~~~~~~~~~~~~~~~~~~"),
    ] as [(String, String, String)])
    func errors(script: String, message: String, caret: String) {
        let t = Transcript()
        let ok = t.run(script)
        #expect(!ok, "a script stops at its first error")
        let lines = t.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == message)
        #expect(lines.count == 3 && lines[2] == caret, "\(t.stderr)")
    }

    @Test("log of a negative number and division by zero warn, naming the node, and the script goes on")
    func nonFinite() {
        let t = Transcript()
        let ok = t.run("p = -1\nL = log(p) + 1\nq = 1/0\n:expect 1 == 1")
        #expect(ok)
        #expect(t.err == [
            "line 2, column 5: warning: log(p) is NaN (log of a negative number)\n  L = log(p) + 1\n      ^~~~~~",
            "line 3, column 5: warning: 1/0 is infinite (division by zero)\n  q = 1/0\n      ^~~",
        ])
        #expect(t.out.first == "L = nan")
        #expect(t.session.passed == 1)
    }

    @Test("after an error the session keeps every definition (the REPL carries on)")
    func nothingLost() {
        let t = Transcript()
        t.run("x = [1, 2]\nparam w = [3, 4]\nL = w · x")
        // Each of these fails; none may change anything.
        for bad in ["x = [1, 2, 3]", "L = w @ [1]", "w = x +", "x = L", "y = (((", ":backward x"] {
            #expect(!t.session.runLine(bad))
        }
        t.run(":expect L == 11\n:expect x == [1, 2]")
        #expect(t.session.passed == 2 && t.session.failed == 0, "\(t.out)")
    }

    @Test("a redefinition that would break a user names it and is refused")
    func brokenUser() {
        let t = Transcript()
        t.run("W = [[1, 2], [3, 4]]\nx = [1, 1]\nh = W @ x")
        t.run("x = [1, 2, 3]")
        #expect(t.err.first?.hasPrefix("line 1, column 5: error: redefining 'x' this way breaks 'h = W @ x' (line 3): shape mismatch in @") == true, "\(t.err)")
        t.run(":expect h == [3, 7]")
        #expect(t.session.failed == 0)
    }

    @Test("10,000 nested parentheses and 100,000 chained definitions are handled")
    func deepInput() {
        let t = Transcript()
        #expect(!t.run("x = " + String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000)))
        #expect(t.err.first?.contains("nested too deeply") == true)
        var script = "param x0 = 0.5\n"
        for i in 1...20_000 { script += "x\(i) = x\(i - 1) + 1\n" }
        script += ":backward x20000\n:expect ∂x20000/∂x0 == 1\n:expect x20000 == 20000.5"
        #expect(t.run(script))
        #expect(t.session.passed == 2, "\(t.out.suffix(3))")
    }
}
